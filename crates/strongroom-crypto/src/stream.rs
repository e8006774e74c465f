//! Chunked authenticated encryption of a long stream (the STREAM construction
//! of Hoang, Reyhanitabar, Rogaway and Vizár, "Online authenticated-encryption
//! and its nonce-reuse misuse-resistance", 2015) with AES-256-GCM: the stream
//! is cut into chunks, each sealed on its own under the nonce
//! `prefix(7) || counter(4, big-endian) || last(1)`. The counter fixes each
//! chunk's position, so chunks cannot be reordered, dropped or duplicated;
//! the last flag marks the final chunk, so a truncated stream is noticed.
//! Each chunk opens on its own: a reader can name the damaged chunk and carry
//! on with the next, where one tag over the whole stream could only say that
//! something, somewhere, changed.
//!
//! Invariant: one key seals one stream. The prefix is random per stream and
//! the caller counts chunks from 0 without gaps; at most 2^32 chunks.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::{CryptoError, SecretBytes, SecretKey};

/// Bytes of the random nonce prefix of a stream.
pub const STREAM_PREFIX_LEN: usize = 7;
/// Bytes a sealed chunk is longer than its plaintext (the GCM tag).
pub const STREAM_TAG_LEN: usize = 16;

/// A stream key with its nonce prefix: seals or opens chunk number `counter`.
pub struct StreamCipher {
    key: LessSafeKey,
    prefix: [u8; STREAM_PREFIX_LEN],
}

impl std::fmt::Debug for StreamCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamCipher(<hidden>)")
    }
}

impl StreamCipher {
    /// Prepares `key` for the stream that starts with `prefix`.
    pub fn new(key: &SecretKey, prefix: [u8; STREAM_PREFIX_LEN]) -> Self {
        // Invariant: AES-256-GCM takes exactly 32 bytes and SecretKey holds exactly 32.
        let unbound = UnboundKey::new(&AES_256_GCM, key.expose()).expect("32-byte AES-256 key");
        Self { key: LessSafeKey::new(unbound), prefix }
    }

    fn nonce(&self, counter: u32, last: bool) -> Nonce {
        let mut bytes = [0u8; 12];
        bytes[..STREAM_PREFIX_LEN].copy_from_slice(&self.prefix);
        bytes[STREAM_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
        bytes[11] = u8::from(last);
        Nonce::assume_unique_for_key(bytes)
    }

    /// Seals chunk `counter` (`last` for the final one), bound to `aad`:
    /// `ciphertext || tag`.
    pub fn seal_chunk(&self, counter: u32, last: bool, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::with_capacity(plaintext.len() + STREAM_TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(counter, last), Aad::from(aad), &mut out)
            .map_err(|_| CryptoError::Decrypt)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`seal_chunk`](Self::seal_chunk) made with the same
    /// `counter`, `last` and `aad`; anything else is [`CryptoError::Decrypt`].
    pub fn open_chunk(&self, counter: u32, last: bool, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
        let mut buffer = sealed.to_vec();
        match self.key.open_in_place(self.nonce(counter, last), Aad::from(aad), &mut buffer) {
            Ok(plain) => {
                let len = plain.len();
                buffer.truncate(len);
                Ok(SecretBytes::new(buffer))
            }
            Err(_) => {
                zeroize::Zeroize::zeroize(&mut buffer);
                Err(CryptoError::Decrypt)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> StreamCipher {
        StreamCipher::new(&SecretKey::from_bytes([7; 32]), [1; STREAM_PREFIX_LEN])
    }

    #[test]
    fn a_chunk_opens_only_at_its_position_with_its_flag_and_aad() {
        let sealed = cipher().seal_chunk(3, false, b"part 1", b"rows").unwrap();
        assert_eq!(cipher().open_chunk(3, false, b"part 1", &sealed).unwrap().expose(), b"rows");
        assert!(cipher().open_chunk(4, false, b"part 1", &sealed).is_err(), "moved");
        assert!(cipher().open_chunk(3, true, b"part 1", &sealed).is_err(), "claimed last");
        assert!(cipher().open_chunk(3, false, b"part 2", &sealed).is_err(), "other aad");
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(cipher().open_chunk(3, false, b"part 1", &flipped).is_err(), "flipped byte");
        let other = StreamCipher::new(&SecretKey::from_bytes([7; 32]), [2; STREAM_PREFIX_LEN]);
        assert!(other.open_chunk(3, false, b"part 1", &sealed).is_err(), "another stream");
    }
}
