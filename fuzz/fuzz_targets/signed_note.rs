//! Fuzzes the C2SP signed-note and checkpoint parsers
//! (crates/strongroom-crypto/src/note.rs): checkpoints come back from
//! witnesses, anchors and offline copies, so their parser sees anything.
//!
//! The input is read three ways, none of which may panic:
//! - as a signed note: `open_note` against the key of the shared vector and
//!   the fuzz key. What opens is a prefix of the input, followed by the blank
//!   line; it re-signs and opens to the same text;
//! - as a checkpoint text and as a verifier key: what parses re-serialises to
//!   exactly the input (the formats have one spelling);
//! - as a note text: `sign_note` then `open_note` gives it back, and a note
//!   with a failing signature by a second trusted key is refused.
//!
//! The seeds in `fuzz/seeds/signed_note/` are the shared checkpoint vector
//! (crates/strongroom-crypto/tests/vectors/tlog) and its verifier key.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use strongroom_crypto::ed25519_public_key;
use strongroom_crypto::note::{Checkpoint, MAX_NOTE_LEN, NoteVerifier, open_note, sign_note};

/// ring's PKCS#8 v2 form of the Ed25519 key with seed 0x20..=0x3f (fuzzing only).
const PKCS8: [u8; 83] = [
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, 0x20, 0x21, 0x22,
    0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
    0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x81, 0x21, 0x00, 0x29, 0xac, 0xba, 0xe1, 0x41, 0xbc,
    0xca, 0xf0, 0xb2, 0x2e, 0x1a, 0x94, 0xd3, 0x4d, 0x0b, 0xc7, 0x36, 0x1e, 0x52, 0x6d, 0x0b, 0xfe, 0x12, 0xc8, 0x97,
    0x94, 0xbc, 0x93, 0x22, 0x96, 0x6d, 0xd7,
];

/// The key name of the fuzz key.
const NAME: &str = "fuzz.example/log";

/// The verifier key of the shared vector.
const VECTOR_KEY: &str = include_str!("../../crates/strongroom-crypto/tests/vectors/tlog/vkey.txt");

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let fuzz_key = NoteVerifier::new(NAME, ed25519_public_key(&PKCS8).expect("valid PKCS#8")).expect("valid name");
    let trusted = [NoteVerifier::parse(VECTOR_KEY).expect("the vector's key parses"), fuzz_key.clone()];

    // 1. The input as a signed note.
    if let Ok(text) = open_note(input, &trusted) {
        assert!(input.len() <= MAX_NOTE_LEN, "a note of {} bytes opened", input.len());
        assert!(input.starts_with(text) && input[text.len()..].starts_with('\n'), "the text is not the note's prefix");
        let resigned = sign_note(text, NAME, &PKCS8).expect("an opened text can be signed");
        assert_eq!(open_note(&resigned, std::slice::from_ref(&fuzz_key)), Ok(text));
    }

    // 2. The input as a checkpoint text and as a verifier key.
    if let Ok(checkpoint) = Checkpoint::parse(input) {
        assert_eq!(checkpoint.to_text(), input, "a checkpoint has a second spelling");
    }
    if let Ok(verifier) = NoteVerifier::parse(input) {
        assert_eq!(verifier.encode(), input.trim(), "a verifier key has a second spelling");
        assert_eq!(NoteVerifier::parse(&verifier.encode()), Ok(verifier));
    }

    // 3. The input as a note text.
    if let Ok(note) = sign_note(input, NAME, &PKCS8) {
        assert_eq!(open_note(&note, std::slice::from_ref(&fuzz_key)), Ok(input), "a signed text does not open");
        // The vector key's name with a signature that cannot be its own.
        let (vector_name, _) = VECTOR_KEY.split_once('+').expect("name+id+key");
        let vector_id = VECTOR_KEY.trim().splitn(3, '+').nth(1).expect("name+id+key");
        let forged = forged_line(vector_name, vector_id);
        assert!(open_note(&format!("{note}{forged}"), &trusted).is_err(), "a failing trusted signature was skipped");
    }
});

/// A signature line by `name` with key id `id_hex` and an all-zero signature.
fn forged_line(name: &str, id_hex: &str) -> String {
    let mut blob: Vec<u8> = (0..4).map(|i| u8::from_str_radix(&id_hex[2 * i..2 * i + 2], 16).expect("hex")).collect();
    blob.extend_from_slice(&[0; 64]);
    format!("\u{2014} {name} {}\n", STANDARD.encode(&blob))
}
