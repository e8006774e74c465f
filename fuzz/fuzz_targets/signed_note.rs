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

#[path = "fuzz_key.rs"]
mod fuzz_key;
use fuzz_key::PKCS8;

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
