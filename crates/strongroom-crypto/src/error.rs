//! The crypto error. Decryption has exactly one failure, [`CryptoError::Decrypt`],
//! as in rustls and age: the caller must never learn *why* a ciphertext was
//! refused (wrong key, tampering, moved to another record all look the same).

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The ciphertext was not produced by this key for this associated data,
    /// or was altered. Deliberately says nothing more.
    #[error("decryption failed")]
    Decrypt,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Key material had the wrong length or form; the message names what was expected.
    #[error("invalid key material: {0}")]
    InvalidKey(&'static str),
    /// Deriving a key from a passphrase failed (parameters out of range).
    #[error("key derivation failed: {0}")]
    Derivation(String),
}
