//! Root keys (key-encryption keys, KEKs). A root key never encrypts data: it
//! wraps the keyring, which holds the keys that do. Each provider is one struct
//! implementing [`Kek`]; the server only ever sees the trait.
//!
//! Wrapped form (version 1): `0x01 || nonce(12) || AES-256-GCM(ciphertext || tag)`,
//! with associated data `"strongroom/kek/v1\0" || caller's aad`. The version byte
//! lets a later format coexist; the label keeps a wrapped key from being
//! mistaken for any other AES-GCM ciphertext made under the same key.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use ring::digest::{SHA256, digest};
use zeroize::Zeroizing;

use crate::{AeadKey, CryptoError, SecretBytes, SecretKey};

const WRAP_FORMAT_V1: u8 = 0x01;
const WRAP_LABEL: &[u8] = b"strongroom/kek/v1\0";

/// Identifies a root key without revealing it: provider name and a short
/// fingerprint (`local:3f2a…`). Safe to log and store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KekId(String);

impl KekId {
    /// The textual form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `provider:<first 8 bytes of SHA-256(label || key) in hex>`. The label
    /// separates this fingerprint from any other hash of the key.
    fn fingerprint(provider: &str, key: &SecretKey) -> Self {
        let mut input = Zeroizing::new(b"strongroom/kek-id\0".to_vec());
        input.extend_from_slice(key.expose());
        let hash = digest(&SHA256, &input);
        let hex = crate::to_hex(&hash.as_ref()[..8]);
        Self(format!("{provider}:{hex}"))
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A root key: wraps and unwraps key material, bound to associated data.
pub trait Kek: Send + Sync + fmt::Debug {
    /// Which root key this is (safe to log).
    fn id(&self) -> &KekId;

    /// Encrypts `plaintext` (key material) so that only this root key, given the
    /// same `aad`, can recover it.
    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Recovers what [`wrap`](Self::wrap) produced. Fails with
    /// [`CryptoError::Decrypt`] for another key, another `aad` or any alteration.
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError>;
}

fn labelled_aad(aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(WRAP_LABEL.len() + aad.len());
    full.extend_from_slice(WRAP_LABEL);
    full.extend_from_slice(aad);
    full
}

fn wrap_with(key: &AeadKey, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sealed = key.seal(plaintext, &labelled_aad(aad))?;
    let mut out = Vec::with_capacity(1 + sealed.len());
    out.push(WRAP_FORMAT_V1);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn unwrap_with(key: &AeadKey, wrapped: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
    match wrapped.split_first() {
        Some((&WRAP_FORMAT_V1, sealed)) => key.open(sealed, &labelled_aad(aad)),
        _ => Err(CryptoError::Decrypt),
    }
}

/// A root key held in memory from a local key file. For development only:
/// anyone who can read the file can read everything (profiles production and
/// high_security refuse it).
pub struct LocalKek {
    id: KekId,
    key: AeadKey,
}

impl LocalKek {
    /// Uses `key` as the root key.
    pub fn new(key: SecretKey) -> Self {
        Self::named("local", key)
    }

    /// Uses `key`, unwrapped from an external provider (`transit`, `aws-kms`,
    /// …) at start, as the key that wraps the keyring; `provider` names it in the id.
    pub fn named(provider: &str, key: SecretKey) -> Self {
        Self { id: KekId::fingerprint(provider, &key), key: AeadKey::new(&key) }
    }
}

impl fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKek").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Kek for LocalKek {
    fn id(&self) -> &KekId {
        &self.id
    }
    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        wrap_with(&self.key, plaintext, aad)
    }
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        unwrap_with(&self.key, wrapped, aad)
    }
}

/// Argon2id cost parameters for deriving a root key from a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassphraseParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PassphraseParams {
    /// 64 MiB, 3 passes, 1 lane: stronger than the OWASP minimum for
    /// passwords, affordable because the root key is derived once at start.
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

/// A root key derived with Argon2id from an operator's passphrase and a
/// stored random salt. The passphrase itself is dropped after derivation.
pub struct PassphraseKek {
    id: KekId,
    key: AeadKey,
}

impl PassphraseKek {
    /// Minimum passphrase length in bytes; shorter ones are refused.
    pub const MIN_PASSPHRASE_LEN: usize = 16;

    /// Derives the root key. `salt` must be at least 16 random bytes, stored
    /// beside the data (it is not secret) so every instance derives the same key.
    pub fn derive(passphrase: &[u8], salt: &[u8], params: PassphraseParams) -> Result<Self, CryptoError> {
        if passphrase.len() < Self::MIN_PASSPHRASE_LEN {
            return Err(CryptoError::InvalidKey("the root-key passphrase must be at least 16 bytes"));
        }
        if salt.len() < 16 {
            return Err(CryptoError::InvalidKey("the passphrase salt must be at least 16 bytes"));
        }
        let argon_params = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
            .map_err(|e| CryptoError::Derivation(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon.hash_password_into(passphrase, salt, out.as_mut()).map_err(|e| CryptoError::Derivation(e.to_string()))?;
        let key = SecretKey::from_bytes(*out);
        Ok(Self { id: KekId::fingerprint("passphrase", &key), key: AeadKey::new(&key) })
    }
}

impl fmt::Debug for PassphraseKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseKek").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Kek for PassphraseKek {
    fn id(&self) -> &KekId {
        &self.id
    }
    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        wrap_with(&self.key, plaintext, aad)
    }
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        unwrap_with(&self.key, wrapped, aad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: PassphraseParams = PassphraseParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn local_kek_round_trip_and_aad_binding() {
        let kek = LocalKek::new(SecretKey::from_bytes([7; 32]));
        let wrapped = kek.wrap(b"material", b"slot-a").unwrap();
        assert_eq!(wrapped[0], WRAP_FORMAT_V1);
        assert_eq!(kek.unwrap(&wrapped, b"slot-a").unwrap().expose(), b"material");
        assert_eq!(kek.unwrap(&wrapped, b"slot-b").unwrap_err(), CryptoError::Decrypt);
    }

    #[test]
    fn fail_unwrap_with_another_key_or_unknown_version() {
        let a = LocalKek::new(SecretKey::from_bytes([1; 32]));
        let b = LocalKek::new(SecretKey::from_bytes([2; 32]));
        let mut wrapped = a.wrap(b"material", b"").unwrap();
        assert!(b.unwrap(&wrapped, b"").is_err());
        wrapped[0] = 0x02;
        assert!(a.unwrap(&wrapped, b"").is_err());
    }

    #[test]
    fn id_is_stable_and_does_not_reveal_the_key() {
        let a = LocalKek::new(SecretKey::from_bytes([1; 32]));
        let again = LocalKek::new(SecretKey::from_bytes([1; 32]));
        assert_eq!(a.id(), again.id());
        assert!(a.id().as_str().starts_with("local:"));
        assert!(!format!("{a:?}").contains("0101"));
    }

    #[test]
    fn passphrase_kek_is_deterministic_per_salt() {
        let salt = [9u8; 16];
        let a = PassphraseKek::derive(b"correct horse battery staple", &salt, CHEAP).unwrap();
        let b = PassphraseKek::derive(b"correct horse battery staple", &salt, CHEAP).unwrap();
        let wrapped = a.wrap(b"x", b"").unwrap();
        assert_eq!(b.unwrap(&wrapped, b"").unwrap().expose(), b"x");
        let other_salt = PassphraseKek::derive(b"correct horse battery staple", &[8; 16], CHEAP).unwrap();
        assert!(other_salt.unwrap(&wrapped, b"").is_err());
        let other_pass = PassphraseKek::derive(b"correct horse battery stapler", &salt, CHEAP).unwrap();
        assert!(other_pass.unwrap(&wrapped, b"").is_err());
    }

    #[test]
    fn fail_short_passphrase_or_salt() {
        assert!(PassphraseKek::derive(b"short", &[0; 16], CHEAP).is_err());
        assert!(PassphraseKek::derive(b"long enough passphrase", &[0; 8], CHEAP).is_err());
    }
}
