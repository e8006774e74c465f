//! C2SP signed notes with Ed25519 keys, and C2SP `tlog-checkpoint` bodies:
//! the format transparency logs (Go's sumdb, Sigstore, witnesses) use for
//! signed tree heads, so their verifiers check Strongroom's audit checkpoints.
//!
//! Which API should I use?
//! - [`NoteVerifier::new`] / [`NoteVerifier::parse`]: a verifier key
//!   (`<name>+<hex key id>+<base64(0x01 || public key)>`).
//! - [`sign_note`] (or [`signed_note`] with a signature made elsewhere): text → signed note; [`open_note`]: signed note → text,
//!   once a known key's signature verifies.
//! - [`Checkpoint`]: the body (origin, tree size, root hash, extension lines).
//!
//! Invariant: a note opens only when a signature by a key the caller trusts
//! verifies over the exact text bytes, and no signature line naming a trusted
//! key fails (as Go's `note.Open` does: a bad signature from a known key is an
//! attack or a bug, never noise to skip). Signatures by unknown keys are
//! ignored, as the spec asks, but never count. The parser's work is bounded
//! ([`MAX_NOTE_LEN`] bytes, [`MAX_SIGNATURES`] signature lines) before any
//! signature is checked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{Context, SHA256};

use crate::merkle::Hash;
use crate::{CryptoError, ed25519_public_key, ed25519_sign, ed25519_verify};

/// Signature type byte of Ed25519 in C2SP signed notes.
const ED25519_TYPE: u8 = 0x01;
/// What starts each signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// The longest note (or checkpoint text) parsed, in bytes: the limit of Go's
/// `tlog` and of the `signed_note` crate. A checkpoint is a few hundred bytes.
pub const MAX_NOTE_LEN: usize = 1_000_000;
/// The most signature lines a note may carry, Go's `note.Open` limit: a
/// verifier never spends more than this many signature checks on one note.
pub const MAX_SIGNATURES: usize = 100;
/// The most extension lines a checkpoint may carry.
pub const MAX_EXTENSION_LINES: usize = 100;

/// Why a note or verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The text breaks the format; the message says how.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature by a trusted key verifies, or one by a trusted key fails.
    #[error("no valid signature by a trusted key, or an invalid one")]
    Unverified,
    /// A verifier key string is malformed; the message says how.
    #[error("malformed verifier key: {0}")]
    BadKey(&'static str),
}

/// The 4-byte key id: the first bytes of `SHA-256(name || "\n" || 0x01 || public key)`.
pub fn note_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut context = Context::new(&SHA256);
    context.update(name.as_bytes());
    context.update(b"\n");
    context.update(&[ED25519_TYPE]);
    context.update(public_key);
    let mut id = [0u8; 4];
    id.copy_from_slice(&context.finish().as_ref()[..4]);
    id
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// A trusted Ed25519 note key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    public_key: [u8; 32],
    id: [u8; 4],
}

impl NoteVerifier {
    /// The verifier for `public_key` under `name`.
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::BadKey("the name must be non-empty, without spaces or '+'"));
        }
        Ok(Self { name: name.to_owned(), id: note_key_id(name, &public_key), public_key })
    }

    /// Parses `<name>+<hex key id>+<base64(0x01 || public key)>`, checking the id.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("expected <name>+<hex id>+<base64 key>"));
        };
        let key = STANDARD.decode(key_b64).map_err(|_| NoteError::BadKey("the key is not base64"))?;
        if key.len() != 33 || key[0] != ED25519_TYPE {
            return Err(NoteError::BadKey("only Ed25519 keys (type 0x01, 32 bytes) are accepted"));
        }
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(&key[1..]);
        let verifier = Self::new(name, public_key)?;
        if id_hex.len() != 8 || crate::to_hex(&verifier.id) != id_hex {
            return Err(NoteError::BadKey("the key id does not match the name and key"));
        }
        Ok(verifier)
    }

    /// The key name (for checkpoints, the log's origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The verifier key string, `<name>+<hex id>+<base64(0x01 || key)>`.
    pub fn encode(&self) -> String {
        let mut key = vec![ED25519_TYPE];
        key.extend_from_slice(&self.public_key);
        format!("{}+{}+{}", self.name, crate::to_hex(&self.id), STANDARD.encode(key))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text must be non-empty and end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("the text must not contain control characters"));
    }
    Ok(())
}

/// Signs `text` (which must end with a newline) as key `name` with the
/// Ed25519 key in `pkcs8`, returning the whole signed note.
pub fn sign_note(text: &str, name: &str, pkcs8: &[u8]) -> Result<String, CryptoError> {
    check_text(text)
        .map_err(|_| CryptoError::InvalidKey("a note text must end with a newline, no control characters"))?;
    let verifier = NoteVerifier::new(name, ed25519_public_key(pkcs8)?)
        .map_err(|_| CryptoError::InvalidKey("a note key name must not contain spaces or '+'"))?;
    let signature = ed25519_sign(pkcs8, text.as_bytes())?;
    Ok(signed_note(text, &verifier, &signature))
}

/// Assembles a signed note from `text` and an Ed25519 `signature` of it made
/// elsewhere (by a keyring key) with the key `verifier` describes.
pub fn signed_note(text: &str, verifier: &NoteVerifier, signature: &[u8; 64]) -> String {
    let mut blob = verifier.id.to_vec();
    blob.extend_from_slice(signature);
    format!("{text}\n{SIGNATURE_PREFIX}{} {}\n", verifier.name, STANDARD.encode(blob))
}

/// Splits a signed note, verifies its signatures against `trusted` and
/// returns the text once at least one trusted key's signature verifies and
/// none fails. A repeated signature line by the same name and key id is
/// skipped after the first, as in Go's `note.Open`; every trusted key that
/// matches a line's name and id must accept it.
pub fn open_note<'a>(note: &'a str, trusted: &[NoteVerifier]) -> Result<&'a str, NoteError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(NoteError::Malformed("the note is too long"));
    }
    let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    check_text(text)?;
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::Malformed("the signature block must end with a newline"));
    }
    // Split on '\n' only (not `lines()`), so a '\r' stays and fails the base64.
    let lines: Vec<&str> = signatures[..signatures.len() - 1].split('\n').take(MAX_SIGNATURES + 1).collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    let mut parsed = Vec::with_capacity(lines.len());
    for line in lines {
        parsed.push(parse_signature_line(line)?);
    }
    let mut seen: Vec<(&str, [u8; 4])> = Vec::new();
    let mut verified = false;
    for (name, id, signature) in &parsed {
        let mut keys = trusted.iter().filter(|key| key.name == *name && key.id == *id).peekable();
        if keys.peek().is_none() || seen.contains(&(*name, *id)) {
            continue;
        }
        seen.push((*name, *id));
        for key in keys {
            if !ed25519_verify(&key.public_key, text.as_bytes(), signature) {
                return Err(NoteError::Unverified);
            }
            verified = true;
        }
    }
    if verified { Ok(text) } else { Err(NoteError::Unverified) }
}

/// `— <name> <base64(key id || signature)>` → (name, key id, signature).
fn parse_signature_line(line: &str) -> Result<(&str, [u8; 4], Vec<u8>), NoteError> {
    let rest =
        line.strip_prefix(SIGNATURE_PREFIX).ok_or(NoteError::Malformed("a signature line must start with '— '"))?;
    let (name, encoded) =
        rest.split_once(' ').ok_or(NoteError::Malformed("a signature line is '— <name> <base64>'"))?;
    if !valid_key_name(name) {
        return Err(NoteError::Malformed("a signature's key name is empty or has spaces or '+'"));
    }
    let mut blob = STANDARD.decode(encoded).map_err(|_| NoteError::Malformed("a signature is not base64"))?;
    if blob.len() < 5 {
        return Err(NoteError::Malformed("a signature is too short"));
    }
    let signature = blob.split_off(4);
    let mut id = [0u8; 4];
    id.copy_from_slice(&blob);
    Ok((name, id, signature))
}

/// A C2SP `tlog-checkpoint` body: the log's origin, its size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique name of the log (a schema-less URL by convention).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extra lines after the root (none are written by Strongroom).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n` plus extension lines.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note text (as [`open_note`] returns it).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        if text.len() > MAX_NOTE_LEN {
            return Err(NoteError::Malformed("the checkpoint is too long"));
        }
        let body = text.strip_suffix('\n').ok_or(NoteError::Malformed("a checkpoint ends with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or(NoteError::Malformed("no origin line"))?;
        let size_text = lines.next().ok_or(NoteError::Malformed("no tree size line"))?;
        let size_ok = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        let size = size_text
            .parse()
            .ok()
            .filter(|_| size_ok)
            .ok_or(NoteError::Malformed("the tree size is not a decimal number"))?;
        let root_bytes = STANDARD
            .decode(lines.next().ok_or(NoteError::Malformed("no root hash line"))?)
            .map_err(|_| NoteError::Malformed("the root hash is not base64"))?;
        let root: Hash = root_bytes.try_into().map_err(|_| NoteError::Malformed("the root hash is not 32 bytes"))?;
        let extensions: Vec<String> = lines.take(MAX_EXTENSION_LINES + 1).map(str::to_owned).collect();
        if extensions.len() > MAX_EXTENSION_LINES {
            return Err(NoteError::Malformed("too many extension lines"));
        }
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Malformed("extension lines must not be empty"));
        }
        Ok(Self { origin: origin.to_owned(), size, root, extensions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_note_opens_with_its_key_and_not_with_another() {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let checkpoint = Checkpoint { origin: "example.com/log".into(), size: 3, root: [7; 32], extensions: vec![] };
        let note = sign_note(&checkpoint.to_text(), "example.com/log", pkcs8.expose()).unwrap();
        let verifier = NoteVerifier::new("example.com/log", ed25519_public_key(pkcs8.expose()).unwrap()).unwrap();
        let reparsed = NoteVerifier::parse(&verifier.encode()).unwrap();
        assert_eq!(reparsed, verifier);
        let text = open_note(&note, &[reparsed]).unwrap();
        assert_eq!(Checkpoint::parse(text).unwrap(), checkpoint);

        let other = crate::generate_ed25519_pkcs8().unwrap();
        let stranger = NoteVerifier::new("example.com/log", ed25519_public_key(other.expose()).unwrap()).unwrap();
        assert_eq!(open_note(&note, &[stranger]), Err(NoteError::Unverified));
        let altered = note.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(open_note(&altered, &[verifier]), Err(NoteError::Unverified));
    }

    /// A trusted key and a note over `text` signed by it.
    fn signer(name: &str, text: &str) -> (NoteVerifier, String) {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let verifier = NoteVerifier::new(name, ed25519_public_key(pkcs8.expose()).unwrap()).unwrap();
        (verifier, sign_note(text, name, pkcs8.expose()).unwrap())
    }

    /// The signature line (with its newline) of a note signed once.
    fn signature_line(note: &str) -> &str {
        &note[note.rfind("\n\n").unwrap() + 2..]
    }

    #[test]
    fn fail_a_note_whose_trusted_signature_fails_even_when_another_trusted_one_verifies() {
        let text = "example.com/log\n3\nAAAA\n";
        let (good, good_note) = signer("example.com/log", text);
        let (witness, witness_note) = signer("witness.example", text);
        let mut bad_line = signature_line(&witness_note).to_owned();
        // Flip one base64 character of the signature proper (past the key id).
        let flip = bad_line.len() - 10;
        let replacement = if &bad_line[flip..=flip] == "A" { "B" } else { "A" };
        bad_line.replace_range(flip..=flip, replacement);

        let bad_after_good = format!("{good_note}{bad_line}");
        let trusted = [good.clone(), witness.clone()];
        assert_eq!(open_note(&bad_after_good, &trusted), Err(NoteError::Unverified));
        let bad_before_good = format!("{text}\n{bad_line}{}", signature_line(&good_note));
        assert_eq!(open_note(&bad_before_good, &trusted), Err(NoteError::Unverified));
        // The same bad line by a key the caller does not trust is ignored.
        assert_eq!(open_note(&bad_after_good, std::slice::from_ref(&good)), Ok(text));
        let both = format!("{good_note}{}", signature_line(&witness_note));
        assert_eq!(open_note(&both, &trusted), Ok(text));
    }

    #[test]
    fn a_repeated_signature_line_by_a_trusted_key_is_checked_once() {
        let text = "o\n1\nAAAA\n";
        let (verifier, note) = signer("o", text);
        let repeated = format!("{note}{}", signature_line(&note));
        assert_eq!(open_note(&repeated, &[verifier]), Ok(text));
    }

    #[test]
    fn fail_notes_with_more_than_the_maximum_signatures_or_bytes() {
        let text = "o\n1\nAAAA\n";
        let (verifier, note) = signer("o", text);
        let unknown = format!("\u{2014} stranger {}\n", STANDARD.encode([7u8; 68]));
        let at_limit = format!("{note}{}", unknown.repeat(MAX_SIGNATURES - 1));
        assert_eq!(open_note(&at_limit, std::slice::from_ref(&verifier)), Ok(text));
        let over_limit = format!("{at_limit}{unknown}");
        assert!(matches!(open_note(&over_limit, std::slice::from_ref(&verifier)), Err(NoteError::Malformed(_))));

        let long_text = format!("o\n1\nAAAA\n{}\n", "x".repeat(MAX_NOTE_LEN));
        let (long_verifier, long_note) = signer("o", &long_text);
        assert!(matches!(open_note(&long_note, &[long_verifier]), Err(NoteError::Malformed(_))));
        assert!(Checkpoint::parse(&long_text).is_err());
    }

    #[test]
    fn fail_signature_lines_with_invalid_key_names_or_carriage_returns() {
        let text = "o\n1\nAAAA\n";
        let (verifier, note) = signer("o", text);
        let blob = STANDARD.encode([7u8; 68]);
        for bad in [format!("\u{2014} a+b {blob}\n"), format!("\u{2014}  {blob}\n")] {
            let with_bad = format!("{note}{bad}");
            assert!(matches!(open_note(&with_bad, std::slice::from_ref(&verifier)), Err(NoteError::Malformed(_))));
        }
        let crlf = format!("{}\r\n", note.strip_suffix('\n').unwrap());
        assert!(open_note(&crlf, &[verifier]).is_err());
    }

    #[test]
    fn fail_checkpoints_with_more_than_the_maximum_extension_lines() {
        let head = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let at_limit = format!("{head}{}", "ext\n".repeat(MAX_EXTENSION_LINES));
        assert_eq!(Checkpoint::parse(&at_limit).unwrap().extensions.len(), MAX_EXTENSION_LINES);
        assert!(Checkpoint::parse(&format!("{at_limit}ext\n")).is_err());
    }

    #[test]
    fn checkpoint_sizes_must_be_canonical_decimals() {
        for bad in ["o\n01\nAAAA\n", "o\n-1\nAAAA\n", "o\n\nAAAA\n", "o\n1\n", "\n1\nAAAA\n"] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verifier_keys_with_a_wrong_id_or_type_are_refused() {
        let verifier = NoteVerifier::new("log", [9; 32]).unwrap();
        let good = verifier.encode();
        let wrong_id = format!("log+00000000+{}", good.rsplit('+').next().unwrap());
        assert!(NoteVerifier::parse(&wrong_id).is_err());
        assert!(NoteVerifier::parse("log+12345678").is_err());
        assert!(NoteVerifier::new("a b", [0; 32]).is_err());
    }
}
