//! Fuzzes the `SR` v1 sealed-value format (docs/formats.md, crates/strongroom-crypto/src/sealed.rs).
//!
//! Arbitrary bytes go to `SealedHeader::parse` and to `open`: neither may panic,
//! whatever the input. The same bytes are then used as a plaintext: `seal` followed
//! by `open` must give them back, and opening for another context must fail.
//!
//! The key and context are those of `tests/vectors/sealed_v1.hex`, so that the seed
//! in `fuzz/seeds/sealed_value/` decrypts and the fuzzer starts on the success path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_crypto::{AssociatedData, SealedHeader, SecretKey, open, seal};

/// The key of the published vector.
const KEY: [u8; 32] = [0x42; 32];

/// The context of the published vector.
fn context() -> AssociatedData {
    AssociatedData::new().with("collection", b"c").with("record", b"1").with("field", b"f")
}

/// The same fields with another record: a value sealed for `context()` must not open here.
fn other_context() -> AssociatedData {
    AssociatedData::new().with("collection", b"c").with("record", b"2").with("field", b"f")
}

fuzz_target!(|data: &[u8]| {
    let key = SecretKey::from_bytes(KEY);
    let context = context();

    // 1. Untrusted input: the header parser and `open` must return, never panic.
    let parsed = SealedHeader::parse(data);
    if let Ok((header, header_len)) = &parsed {
        assert!(*header_len <= data.len(), "header length {header_len} beyond the {} input bytes", data.len());
        assert_eq!(*header_len, 2 + 3 + header.key_name.len() + 4, "header length disagrees with the parsed header");
    }
    let opened = open(&key, data, &context);
    if opened.is_ok() {
        assert!(parsed.is_ok(), "open accepted an input whose header does not parse");
    }
    let _ = open(&key, data, &AssociatedData::new());

    // 2. Round trip: the input as a plaintext. Every length, the empty plaintext
    //    included (a legitimate edge case of the format), so no minimum length.
    let header = SealedHeader { key_name: "k".into(), key_version: 1 };
    let sealed = seal(&key, &header, data, &context).expect("seal with a valid key and header");
    let (reparsed, _) = SealedHeader::parse(&sealed).expect("a freshly sealed value parses");
    assert_eq!(reparsed, header, "the header does not survive a round trip");
    let plain = open(&key, &sealed, &context).expect("a freshly sealed value opens");
    assert_eq!(plain.expose(), data, "the plaintext does not survive a round trip");
    assert!(open(&key, &sealed, &other_context()).is_err(), "a value opened for another record");
});
