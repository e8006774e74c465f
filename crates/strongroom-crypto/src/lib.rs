//! Strongroom's cryptography: small, synchronous, without I/O.
//!
//! Which API should I use?
//! - To protect key material at rest under the root key: a [`Kek`]
//!   ([`LocalKek`] for development, [`PassphraseKek`] for a passphrase-derived
//!   key). `wrap` binds the result to associated data, so a wrapped key copied
//!   to another slot fails to unwrap.
//! - To compare two secrets (tokens, codes, MACs): [`ct_eq`], never `==`.
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
mod compare;
mod error;
mod kek;
mod secret;

pub use aead::AeadKey;
pub use compare::ct_eq;
pub use error::CryptoError;
pub use kek::{Kek, KekId, LocalKek, PassphraseKek, PassphraseParams};
pub use secret::{SecretBytes, SecretKey, random_bytes};
