//! Fuzzes the `SRBLOB` v1 blob format (docs/formats.md, crates/strongroom-crypto/src/blob.rs).
//!
//! Arbitrary bytes are read as a whole blob in two ways, neither of which may panic:
//! - streaming: `DecryptingReader` (the DEK callback returns a fixed key) and `read_to_end`;
//! - random access: `BlobHeader::parse`, then `BlobOpener::layout` for the input's length
//!   and `open_segment` on segment 0 with both values of `last` (and on every segment
//!   the layout names).
//!
//! When the streaming reader accepts a blob, the random-access path must accept it too
//! and give the same plaintext. The DEK is that of `tests/vectors/blob_v1.txt`, so the
//! seeds in `fuzz/seeds/blob/` decrypt and the fuzzer starts on the success path.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use strongroom_crypto::{BlobHeader, BlobOpener, SEGMENT_OVERHEAD, SecretKey};

/// The data key of the published vectors.
const DEK: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
    0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

/// Streaming decryption of the whole input; `Some(plaintext)` only if the blob is accepted.
fn stream(data: &[u8]) -> Option<Vec<u8>> {
    let mut reader = strongroom_crypto::DecryptingReader::new(data, |_wrapped| Ok(SecretKey::from_bytes(DEK))).ok()?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}

/// Random-access decryption of the whole input; `Some(plaintext)` only if every segment opens.
fn random_access(data: &[u8]) -> Option<Vec<u8>> {
    let header = BlobHeader::parse(data).ok()?;
    let header_len = header.encoded().len();
    assert!(header_len <= data.len(), "header of {header_len} bytes parsed from {} bytes", data.len());
    let stride = header.segment_size() as usize + SEGMENT_OVERHEAD;
    let opener = BlobOpener::new(header, &SecretKey::from_bytes(DEK));

    let layout = opener.layout(data.len() as u64);

    // Segment 0, with both claims about being the last. Where the layout is
    // refused, segment 0 is whatever follows the header, up to one stride.
    let (start, len) = match &layout {
        Ok(layout) => {
            let (start, len) = layout.segment_range(0);
            (usize::try_from(start).unwrap(), usize::try_from(len).unwrap())
        }
        Err(_) => (header_len, (data.len() - header_len).min(stride)),
    };
    let first = data.get(start..start + len).expect("segment 0 lies within the input");
    let mut as_last = first.to_vec();
    let opened_as_last = opener.open_segment(0, &mut as_last, true).is_ok();
    let mut as_not_last = first.to_vec();
    let opened_as_not_last = opener.open_segment(0, &mut as_not_last, false).is_ok();
    assert!(!(opened_as_last && opened_as_not_last), "segment 0 opened both as last and as not last");

    // Every segment the layout names, as a range reader would.
    let layout = layout.ok()?;
    assert!(layout.segments() >= 1, "a valid layout has at least one segment");
    let mut plaintext = Vec::new();
    for index in 0..u32::try_from(layout.segments()).unwrap() {
        assert_eq!(layout.plaintext_start(index), plaintext.len() as u64, "segment {index} starts elsewhere");
        let (start, len) = layout.segment_range(index);
        let (start, len) = (usize::try_from(start).unwrap(), usize::try_from(len).unwrap());
        let mut segment = data.get(start..start + len).expect("layout range lies within the input").to_vec();
        opener.open_segment(index, &mut segment, layout.is_last(index)).ok()?;
        plaintext.extend_from_slice(&segment);
    }
    assert_eq!(layout.plaintext_len(), plaintext.len() as u64, "layout's plaintext length is wrong");
    for offset in [0, plaintext.len() as u64 / 2, plaintext.len().saturating_sub(1) as u64] {
        let index = layout.segment_of(offset);
        assert!(u64::from(index) < layout.segments(), "segment_of({offset}) is out of range");
    }
    Some(plaintext)
}

fuzz_target!(|data: &[u8]| {
    let streamed = stream(data);
    let random = random_access(data);
    if let Some(streamed) = streamed {
        let random = random.expect("the streaming reader accepted a blob the random-access path refuses");
        assert_eq!(streamed, random, "streaming and random-access decryption disagree");
    }
});
