//! Field sealing and blob streaming against raw ring AES-256-GCM, the fastest
//! implementation on our CPUs (FIELD-NOTES), measured in the same run so the
//! ratio is meaningful: `cargo bench -p strongroom-crypto --bench aead`.

use std::hint::black_box;
use std::io::Write;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use strongroom_crypto::{
    AssociatedData, BlobSealer, DEFAULT_SEGMENT_SIZE, EncryptingWriter, SealedHeader, SecretKey, seal,
};

fn field_sealing(c: &mut Criterion) {
    let key = SecretKey::from_bytes([7; 32]);
    let header = SealedHeader { key_name: "matter-1".into(), key_version: 3 };
    let context = AssociatedData::new().with("collection", b"interviews").with("record", b"42").with("field", b"text");
    let mut group = c.benchmark_group("seal");
    for size in [64usize, 4096, 65536] {
        let plaintext = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("strongroom_sealed_value", size), &plaintext, |b, p| {
            b.iter(|| seal(&key, &header, black_box(p), &context).unwrap())
        });
        let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
        group.bench_with_input(BenchmarkId::new("ring_aes256gcm_in_place", size), &plaintext, |b, p| {
            let mut buffer = p.clone();
            b.iter(|| {
                buffer.copy_from_slice(p);
                raw.seal_in_place_separate_tag(Nonce::assume_unique_for_key([1; 12]), Aad::empty(), &mut buffer)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn blob_streaming(c: &mut Criterion) {
    let key = SecretKey::from_bytes([9; 32]);
    let total = 64 * 1024 * 1024;
    let chunk = vec![0xa5u8; 256 * 1024];
    let mut group = c.benchmark_group("blob");
    group.throughput(Throughput::Bytes(total as u64));
    group.sample_size(10);
    group.bench_function("encrypt_64MiB_to_sink", |b| {
        b.iter(|| {
            let sealer = BlobSealer::new(&key, b"wrapped", DEFAULT_SEGMENT_SIZE).unwrap();
            let mut writer = EncryptingWriter::new(std::io::sink(), sealer).unwrap();
            for _ in 0..total / chunk.len() {
                writer.write_all(black_box(&chunk)).unwrap();
            }
            writer.finish().unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, field_sealing, blob_streaming);
criterion_main!(benches);
