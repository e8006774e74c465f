//! AES-256-GCM with random 96-bit nonces (ring, the fastest implementation on
//! our CPUs, see FIELD-NOTES). The sealed form is `nonce || ciphertext || tag`.
//!
//! Invariant: a key sealed with random nonces must stay far below 2^32
//! messages; callers that seal many messages (data keys) count their uses.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{CryptoError, SecretBytes, SecretKey, random_bytes};

/// Bytes added by [`AeadKey::seal`]: nonce and tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// An AES-256-GCM key ready for use.
pub struct AeadKey(LessSafeKey);

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey(<hidden>)")
    }
}

impl AeadKey {
    /// Prepares `key` for AES-256-GCM.
    pub fn new(key: &SecretKey) -> Self {
        // Invariant: AES-256-GCM takes exactly 32 bytes and SecretKey holds exactly 32.
        let unbound = UnboundKey::new(&AES_256_GCM, key.expose()).expect("32-byte AES-256 key");
        Self(LessSafeKey::new(unbound))
    }

    /// Encrypts `plaintext` bound to `aad`, with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_appending(Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD), random_bytes()?, plaintext, aad)
    }

    /// Appends `nonce || ciphertext || tag` to `out`. The nonce must never
    /// repeat under this key: callers pass a random one (tests: a fixed one).
    pub(crate) fn seal_appending(
        &self,
        mut out: Vec<u8>,
        nonce_bytes: [u8; NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let body_start = out.len() + NONCE_LEN;
        out.reserve(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut out[body_start..],
            )
            .map_err(|_| CryptoError::Decrypt)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `aad`.
    /// Any change to the bytes or the associated data gives [`CryptoError::Decrypt`].
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(CryptoError::Decrypt);
        }
        let (nonce_bytes, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| CryptoError::Decrypt)?;
        let mut buffer = rest.to_vec();
        let result = self.0.open_in_place(nonce, Aad::from(aad), &mut buffer);
        match result {
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

    #[test]
    fn round_trip() {
        let key = AeadKey::new(&SecretKey::generate().unwrap());
        let sealed = key.seal(b"hello", b"ad").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(key.open(&sealed, b"ad").unwrap().expose(), b"hello");
    }

    #[test]
    fn fail_open_with_other_aad_or_flipped_bit_or_truncation() {
        let key = AeadKey::new(&SecretKey::generate().unwrap());
        let sealed = key.seal(b"hello", b"ad").unwrap();
        assert_eq!(key.open(&sealed, b"other").unwrap_err(), CryptoError::Decrypt);
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(key.open(&tampered, b"ad").is_err(), "bit flip at byte {i} not detected");
        }
        assert!(key.open(&sealed[..sealed.len() - 1], b"ad").is_err());
        assert!(key.open(&[], b"ad").is_err());
    }
}
