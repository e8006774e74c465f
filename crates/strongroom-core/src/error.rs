//! The domain error.

use strongroom_crypto::CryptoError;

use crate::StoreError;

/// Everything the domain can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A cryptographic operation failed (other than a root-key mismatch).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The configured root key is not the one this database was initialised
    /// with, so nothing stored could be decrypted. Names both key ids, never keys.
    #[error(
        "the configured root key ({configured}) is not the one this database was initialised with ({recorded}); configure the original root key"
    )]
    RootKeyMismatch {
        /// Id of the root key in the configuration.
        configured: String,
        /// Id recorded in the database at initialisation.
        recorded: String,
    },
}
