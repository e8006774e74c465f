//! Strongroom's cryptography: small, synchronous, without I/O.
//!
//! Which API should I use?
//! - To protect key material at rest under the root key: a [`Kek`]
//!   ([`LocalKek`] for development, [`PassphraseKek`] for a passphrase-derived
//!   key). `wrap` binds the result to associated data, so a wrapped key copied
//!   to another slot fails to unwrap.
//! - To encrypt a value where it belongs: [`seal`] / [`open`], self-describing
//!   (`SR` v1: key name and version in the header) and bound to
//!   [`AssociatedData`] (collection, record, field), so a moved ciphertext fails.
//! - To encrypt a file of any size in constant memory: [`BlobSealer`] with
//!   [`EncryptingWriter`], and [`DecryptingReader`] or [`BlobOpener`] (random
//!   access) to read it back (`SRBLOB` v1). Formats: `docs/formats.md`.
//! - To compare two secrets (tokens, codes, MACs): [`ct_eq`], never `==`.
//! - For the audit log's Merkle tree and its signed checkpoints: [`merkle`]
//!   (RFC 6962/9162 hashing and proofs) and [`note`] (C2SP signed notes).
//! - For people: [`hash_password`] / [`verify_password`] (Argon2id, legacy
//!   bcrypt), [`verify_totp`] (RFC 6238), and access tokens as EdDSA JWTs
//!   ([`jwt_signing_input`], [`ParsedJwt`]).
//! - To make fresh random bytes: [`random_bytes`].
//!
//! ```
//! use strongroom_crypto::{Kek, LocalKek, SecretKey};
//! let kek = LocalKek::new(SecretKey::generate().unwrap());
//! let wrapped = kek.wrap(b"keyring bytes", b"slot:keyring").unwrap();
//! let plain = kek.unwrap(&wrapped, b"slot:keyring").unwrap();
//! assert_eq!(plain.expose(), b"keyring bytes");
//! assert!(kek.unwrap(&wrapped, b"slot:other").is_err());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aead;
mod blob;
mod compare;
mod error;
mod hex;
mod jwt;
mod kek;
pub mod merkle;
pub mod note;
mod password;
mod sealed;
mod secret;
mod sign;
mod stream;
mod totp;

pub use aead::AeadKey;
pub use blob::{
    BlobHeader, BlobLayout, BlobOpener, BlobSealer, DEFAULT_SEGMENT_SIZE, DecryptingReader, EncryptingWriter,
    FIXED_HEADER_LEN, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, SEGMENT_OVERHEAD,
};
pub use compare::{Sha256Stream, ct_eq, hmac_sha256, sha256};
pub use error::CryptoError;
pub use hex::{from_hex, to_hex};
pub use jwt::{JwtError, MAX_TOKEN_LEN, ParsedJwt, jwt_assemble, jwt_signing_input};
pub use kek::{Kek, KekId, LocalKek, PassphraseKek, PassphraseParams};
pub use password::{
    PasswordCheck, PasswordParams, hash_password, is_supported_password_hash, spend_password_check, verify_password,
};
pub use sealed::{AssociatedData, SealedHeader, open, seal};
pub use secret::{SecretBytes, SecretKey, generate_ed25519_pkcs8, random_bytes};
pub use sign::{derive_subkey, ed25519_public_key, ed25519_sign, ed25519_verify};
pub use stream::{STREAM_PREFIX_LEN, STREAM_TAG_LEN, StreamCipher};
pub use totp::{
    TOTP_DIGITS, TOTP_SKEW_STEPS, TOTP_STEP_SECONDS, base32, generate_totp_secret, hotp, totp_step, verify_totp,
};
