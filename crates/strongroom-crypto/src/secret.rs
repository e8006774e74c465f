//! Containers for secret bytes. They zeroize on drop and their `Debug` prints
//! `<hidden>`, so a stray `{:?}` in a log line leaks nothing.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretBox};

use crate::CryptoError;

/// Fills a fresh buffer of `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// A 256-bit symmetric key.
pub struct SecretKey(SecretBox<[u8; 32]>);

impl SecretKey {
    /// Takes ownership of key bytes. The caller's copy should be zeroized.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// Reads a key from a slice, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] =
            bytes.try_into().map_err(|_| CryptoError::InvalidKey("a 256-bit key is exactly 32 bytes"))?;
        Ok(Self::from_bytes(array))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self::from_bytes(random_bytes()?))
    }

    /// The key bytes. Callers use them for a cryptographic operation and
    /// nothing else: never log, serialise or compare them with `==`.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<hidden>)")
    }
}

/// Variable-length secret bytes, such as an unwrapped key or keyring.
pub struct SecretBytes(SecretBox<[u8]>);

impl SecretBytes {
    /// Takes ownership of secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(SecretBox::new(bytes.into_boxed_slice()))
    }

    /// The bytes; see [`SecretKey::expose`] for what callers may do with them.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<hidden>, {} bytes)", self.expose().len())
    }
}

/// A fresh Ed25519 private key as a PKCS#8 v2 document (ring's form), the
/// material of a signing key in the keyring.
pub fn generate_ed25519_pkcs8() -> Result<SecretBytes, CryptoError> {
    let document =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| CryptoError::Random)?;
    Ok(SecretBytes::new(document.as_ref().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_key_material() {
        let key = SecretKey::from_bytes([0x41; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("65") && !shown.contains("41") && !shown.contains('A'));
        assert!(shown.contains("<hidden>"));
        let bytes = SecretBytes::new(b"hunter2hunter2".to_vec());
        assert!(!format!("{bytes:?}").contains("hunter2"));
    }

    #[test]
    fn generated_keys_differ() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn fail_from_slice_with_wrong_length() {
        assert!(SecretKey::from_slice(&[0u8; 31]).is_err());
    }
}
