//! Self-describing sealed values (format `SR` v1): a ciphertext that names
//! its algorithm, the key that made it and that key's version, and is bound
//! to [`AssociatedData`] saying where it belongs.
//!
//! ```text
//! "SR" | 0x01 format | 0x01 AES-256-GCM | name length (u8) | key name (UTF-8)
//!      | key version (u32 BE) | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! The AEAD's associated data is `header || associated_data.encode()`, where
//! the header is every byte before the nonce: changing the named key, the
//! version or the algorithm byte, or presenting the value for another record
//! or field, makes it fail with the one opaque [`CryptoError::Decrypt`].
//!
//! Invariant: the format is public (docs/formats.md). Change it only with a
//! new format byte, never in place.

use ring::aead::NONCE_LEN;

use crate::{AeadKey, CryptoError, SecretBytes, SecretKey, random_bytes};

const MAGIC: &[u8; 2] = b"SR";
const FORMAT_V1: u8 = 0x01;
const ALG_AES_256_GCM: u8 = 0x01;

/// Where a ciphertext belongs, as labelled fields (`collection`, `record`,
/// `field`, …). Encoded with length prefixes so that no two different lists
/// encode alike (`("ab","c")` ≠ `("a","bc")`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssociatedData {
    encoded: Vec<u8>,
}

impl AssociatedData {
    /// No context (the value is bound only to its key and version).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a labelled field. Order matters: callers add fields in a fixed order.
    pub fn with(mut self, label: &str, value: &[u8]) -> Self {
        for part in [label.as_bytes(), value] {
            // Invariant: labels and context values are far below 4 GiB.
            let len = u32::try_from(part.len()).expect("associated data part below 4 GiB");
            self.encoded.extend_from_slice(&len.to_be_bytes());
            self.encoded.extend_from_slice(part);
        }
        self
    }

    /// The canonical encoding.
    pub fn encode(&self) -> &[u8] {
        &self.encoded
    }
}

/// The public part of a sealed value's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// The name of the key that sealed the value.
    pub key_name: String,
    /// Its version.
    pub key_version: u32,
}

impl SealedHeader {
    /// Reads the header of a sealed value without decrypting it, to learn
    /// which key and version to use. Fails on anything not in format v1.
    pub fn parse(sealed: &[u8]) -> Result<(Self, usize), CryptoError> {
        let malformed = || CryptoError::Decrypt;
        let rest = sealed.strip_prefix(MAGIC).ok_or_else(malformed)?;
        let (&[format, algorithm, name_len], rest) = rest.split_first_chunk::<3>().ok_or_else(malformed)?;
        if format != FORMAT_V1 || algorithm != ALG_AES_256_GCM {
            return Err(malformed());
        }
        let name_len = usize::from(name_len);
        let name = rest.get(..name_len).ok_or_else(malformed)?;
        let version = rest.get(name_len..name_len + 4).ok_or_else(malformed)?;
        let key_name = std::str::from_utf8(name).map_err(|_| malformed())?.to_owned();
        let key_version = u32::from_be_bytes(version.try_into().map_err(|_| malformed())?);
        let header_len = MAGIC.len() + 3 + name_len + 4;
        Ok((Self { key_name, key_version }, header_len))
    }

    fn encode(&self) -> Result<Vec<u8>, CryptoError> {
        let name_len = u8::try_from(self.key_name.len())
            .map_err(|_| CryptoError::InvalidKey("key names are at most 255 bytes"))?;
        let mut header = Vec::with_capacity(2 + 3 + self.key_name.len() + 4);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&[FORMAT_V1, ALG_AES_256_GCM, name_len]);
        header.extend_from_slice(self.key_name.as_bytes());
        header.extend_from_slice(&self.key_version.to_be_bytes());
        Ok(header)
    }
}

fn full_aad(header: &[u8], context: &AssociatedData) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.encode().len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context.encode());
    aad
}

/// Seals `plaintext` under `key`, naming it `header` and binding it to `context`.
pub fn seal(
    key: &SecretKey,
    header: &SealedHeader,
    plaintext: &[u8],
    context: &AssociatedData,
) -> Result<Vec<u8>, CryptoError> {
    let nonce_bytes: [u8; NONCE_LEN] = random_bytes()?;
    seal_with_nonce(key, header, nonce_bytes, plaintext, context)
}

fn seal_with_nonce(
    key: &SecretKey,
    header: &SealedHeader,
    nonce_bytes: [u8; NONCE_LEN],
    plaintext: &[u8],
    context: &AssociatedData,
) -> Result<Vec<u8>, CryptoError> {
    let header_bytes = header.encode()?;
    let aad = full_aad(&header_bytes, context);
    AeadKey::new(key).seal_appending(header_bytes, nonce_bytes, plaintext, &aad)
}

/// Opens a sealed value with `key` (the one its header names) for `context`.
pub fn open(key: &SecretKey, sealed: &[u8], context: &AssociatedData) -> Result<SecretBytes, CryptoError> {
    let (_, header_len) = SealedHeader::parse(sealed)?;
    let (header, body) = sealed.split_at(header_len);
    AeadKey::new(key).open(body, &full_aad(header, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u32) -> SealedHeader {
        SealedHeader { key_name: "matter-42".into(), key_version: version }
    }

    fn field(record: &str, name: &str) -> AssociatedData {
        AssociatedData::new()
            .with("collection", b"interviews")
            .with("record", record.as_bytes())
            .with("field", name.as_bytes())
    }

    #[test]
    fn round_trip_and_header_is_readable_without_the_key() {
        let key = SecretKey::from_bytes([1; 32]);
        let sealed = seal(&key, &header(3), b"candidate answer", &field("r1", "text")).unwrap();
        let (parsed, _) = SealedHeader::parse(&sealed).unwrap();
        assert_eq!(parsed, header(3));
        assert_eq!(open(&key, &sealed, &field("r1", "text")).unwrap().expose(), b"candidate answer");
    }

    #[test]
    fn fail_decrypt_when_ciphertext_moved_to_another_record_or_field() {
        let key = SecretKey::from_bytes([1; 32]);
        let sealed = seal(&key, &header(1), b"secret", &field("r1", "text")).unwrap();
        assert_eq!(open(&key, &sealed, &field("r2", "text")).unwrap_err(), CryptoError::Decrypt);
        assert_eq!(open(&key, &sealed, &field("r1", "tokens")).unwrap_err(), CryptoError::Decrypt);
    }

    #[test]
    fn fail_decrypt_when_header_claims_another_version() {
        let key = SecretKey::from_bytes([1; 32]);
        let mut sealed = seal(&key, &header(1), b"secret", &AssociatedData::new()).unwrap();
        let (_, header_len) = SealedHeader::parse(&sealed).unwrap();
        sealed[header_len - 1] = 2;
        assert!(open(&key, &sealed, &AssociatedData::new()).is_err());
    }

    #[test]
    fn associated_data_encoding_is_unambiguous() {
        let a = AssociatedData::new().with("ab", b"c");
        let b = AssociatedData::new().with("a", b"bc");
        assert_ne!(a.encode(), b.encode());
    }

    #[test]
    fn fail_parse_of_foreign_or_short_input() {
        for input in [&b""[..], b"SR", b"XX\x01\x01\x00\0\0\0\x01", b"SR\x02\x01\x00\0\0\0\x01", b"SR\x01\x01\x05ab"] {
            assert!(SealedHeader::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn matches_the_published_vector() {
        let key = SecretKey::from_bytes([0x42; 32]);
        let context = AssociatedData::new().with("collection", b"c").with("record", b"1").with("field", b"f");
        let sealed =
            seal_with_nonce(&key, &SealedHeader { key_name: "k".into(), key_version: 1 }, [7; 12], b"hello", &context)
                .unwrap();
        let expected = include_str!("../tests/vectors/sealed_v1.hex").trim();
        assert_eq!(
            crate::to_hex(&sealed),
            expected,
            "the format changed: update docs/formats.md and the vector only with a new format byte"
        );
    }
}
