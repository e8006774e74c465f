//! Streams N MiB (default 1024) of generated plaintext through blob
//! encryption into a temporary file and back through decryption, comparing
//! as it goes, then prints throughput and the process's peak RSS. Used by
//! `bench/blob-memory.sh` to show memory stays constant for any size.

use std::io::{self, Read, Write};
use std::time::Instant;

use strongroom_crypto::{BlobSealer, DEFAULT_SEGMENT_SIZE, DecryptingReader, EncryptingWriter, SecretKey};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() -> io::Result<()> {
    let mebibytes: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let key = SecretKey::from_bytes([3; 32]);
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();

    // Encrypt into a temporary file in chunks, then decrypt it back in chunks:
    // at no point is more than a chunk and a segment in memory.
    let path = std::env::temp_dir().join(format!("strongroom-blob-{}.bin", std::process::id()));
    let started = Instant::now();
    {
        let file = io::BufWriter::new(std::fs::File::create(&path)?);
        let sealer = BlobSealer::new(&key, b"wrapped", DEFAULT_SEGMENT_SIZE).map_err(io::Error::other)?;
        let mut writer = EncryptingWriter::new(file, sealer)?;
        for _ in 0..mebibytes {
            writer.write_all(&chunk)?;
        }
        writer.finish()?.flush()?;
    }
    let encrypted = started.elapsed();
    let started = Instant::now();
    let file = io::BufReader::new(std::fs::File::open(&path)?);
    let mut reader = DecryptingReader::new(file, |_| Ok(SecretKey::from_bytes([3; 32])))?;
    let mut buffer = vec![0u8; chunk.len()];
    let mut total = 0usize;
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        assert_eq!(buffer[..filled], chunk[..filled], "decrypted data differs");
        total += filled;
    }
    let decrypted = started.elapsed();
    std::fs::remove_file(&path)?;
    assert_eq!(total, mebibytes * 1024 * 1024);
    let gib = mebibytes as f64 / 1024.0;
    println!(
        "blob {mebibytes} MiB: encrypt {:.2} GB/s, decrypt {:.2} GB/s (including file I/O), peak RSS {} KiB",
        gib * 1.073_741_824 / encrypted.as_secs_f64(),
        gib * 1.073_741_824 / decrypted.as_secs_f64(),
        peak_rss_kib()
    );
    Ok(())
}
