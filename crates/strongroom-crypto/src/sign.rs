//! Ed25519 signatures and HKDF sub-keys, for keyring keys that sign (JWTs,
//! audit checkpoints, transit `sign`) or MAC with a key derived from an
//! encryption key's material (transit `hmac`), so one secret never serves
//! two algorithms directly.

use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretKey};

/// Signs `message` with the Ed25519 key in `pkcs8` (ring's PKCS#8 v2 form).
pub fn ed25519_sign(pkcs8: &[u8], message: &[u8]) -> Result<[u8; 64], CryptoError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::InvalidKey("not an Ed25519 PKCS#8 key"))?;
    let mut out = [0u8; 64];
    out.copy_from_slice(pair.sign(message).as_ref());
    Ok(out)
}

/// The 32-byte public key of the Ed25519 key in `pkcs8`.
pub fn ed25519_public_key(pkcs8: &[u8]) -> Result<[u8; 32], CryptoError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::InvalidKey("not an Ed25519 PKCS#8 key"))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(pair.public_key().as_ref());
    Ok(out)
}

/// Whether `signature` is `public_key`'s Ed25519 signature of `message`.
pub fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key).verify(message, signature).is_ok()
}

struct Len32;

impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// A 32-byte sub-key of `material` for one `purpose` label (HKDF-SHA256, no salt).
pub fn derive_subkey(material: &[u8], purpose: &str) -> SecretKey {
    let prk = Salt::new(HKDF_SHA256, &[]).extract(material);
    let info = [purpose.as_bytes()];
    // Invariant: 32 bytes is far below HKDF-SHA256's output limit.
    let okm = prk.expand(&info, Len32).expect("HKDF output length is valid");
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(out.as_mut()).expect("HKDF fill of the declared length");
    SecretKey::from_bytes(*out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_fail_for_other_messages() {
        let pkcs8 = crate::generate_ed25519_pkcs8().unwrap();
        let signature = ed25519_sign(pkcs8.expose(), b"checkpoint").unwrap();
        let public = ed25519_public_key(pkcs8.expose()).unwrap();
        assert!(ed25519_verify(&public, b"checkpoint", &signature));
        assert!(!ed25519_verify(&public, b"checkpoinT", &signature));
        assert!(ed25519_sign(b"not a key", b"x").is_err());
    }

    #[test]
    fn subkeys_differ_by_purpose_and_are_stable() {
        let a = derive_subkey(&[1; 32], "hmac");
        assert_eq!(a.expose(), derive_subkey(&[1; 32], "hmac").expose());
        assert_ne!(a.expose(), derive_subkey(&[1; 32], "other").expose());
    }
}
