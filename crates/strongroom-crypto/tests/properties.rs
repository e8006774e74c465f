//! Property tests: round trips for any input, and "any single-bit change is
//! detected" for both formats.

use std::io::{Read, Write};

use proptest::prelude::*;
use strongroom_crypto::{
    AssociatedData, BlobSealer, DecryptingReader, EncryptingWriter, SealedHeader, SecretKey, open, seal,
};

fn key() -> SecretKey {
    SecretKey::from_bytes([0x33; 32])
}

fn encrypt_blob(plaintext: &[u8], segment_size: u32, write_size: usize) -> Vec<u8> {
    let sealer = BlobSealer::new(&key(), b"wrapped", segment_size).unwrap();
    let mut writer = EncryptingWriter::new(Vec::new(), sealer).unwrap();
    for chunk in plaintext.chunks(write_size.max(1)) {
        writer.write_all(chunk).unwrap();
    }
    writer.finish().unwrap()
}

fn decrypt_blob(blob: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut reader = DecryptingReader::new(blob, |_| Ok(key()))?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sealed_values_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..512),
                                name in "[a-z0-9_-]{1,40}", version in 1u32..1000,
                                record in any::<u64>()) {
        let context = AssociatedData::new().with("record", &record.to_be_bytes());
        let header = SealedHeader { key_name: name, key_version: version };
        let sealed = seal(&key(), &header, &plaintext, &context).unwrap();
        let opened = open(&key(), &sealed, &context).unwrap();
        prop_assert_eq!(opened.expose(), &plaintext[..]);
    }

    #[test]
    fn any_bit_flip_in_a_sealed_value_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 0..64),
                                                  position in any::<prop::sample::Index>(), bit in 0u8..8) {
        let header = SealedHeader { key_name: "k".into(), key_version: 1 };
        let mut sealed = seal(&key(), &header, &plaintext, &AssociatedData::new()).unwrap();
        let i = position.index(sealed.len());
        sealed[i] ^= 1 << bit;
        prop_assert!(open(&key(), &sealed, &AssociatedData::new()).is_err());
    }

    #[test]
    fn blobs_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
                        segment_size in 16u32..300, write_size in 1usize..700) {
        let blob = encrypt_blob(&plaintext, segment_size, write_size);
        prop_assert_eq!(decrypt_blob(&blob).unwrap(), plaintext);
    }

    #[test]
    fn any_bit_flip_or_truncation_in_a_blob_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 0..600),
                                                        position in any::<prop::sample::Index>(), bit in 0u8..8,
                                                        cut in any::<prop::sample::Index>()) {
        let blob = encrypt_blob(&plaintext, 64, 100);
        let mut flipped = blob.clone();
        let i = position.index(flipped.len());
        flipped[i] ^= 1 << bit;
        prop_assert!(decrypt_blob(&flipped).is_err(), "flip at {} not detected", i);
        let keep = cut.index(blob.len());
        prop_assert!(decrypt_blob(&blob[..keep]).is_err(), "truncation to {} not detected", keep);
    }
}
