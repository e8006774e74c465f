//! The storage port. Implementations live in `strongroom-store`; the same
//! conformance suite runs against each of them.
//!
//! Invariant for implementers: nothing may assume a single process. Several
//! servers share one PostgreSQL database, so every read-modify-write is a
//! single statement or a transaction, and "create if absent" must converge
//! when two instances race.

use async_trait::async_trait;

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file in the data directory.
    Sqlite,
    /// A PostgreSQL server, shareable by several Strongroom instances.
    Postgres,
}

impl Backend {
    /// `"sqlite"` or `"postgres"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Storage failures, as the domain sees them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule was violated (duplicate name or id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Names of instance settings. One place, so two features never pick the same name.
pub mod settings {
    /// Random id of this installation (the database, not the process).
    pub const INSTALLATION_ID: &str = "installation_id";
    /// Id of the root key the database was initialised with.
    pub const ROOT_KEY_ID: &str = "root_key.id";
    /// A random value wrapped by the root key; unwrapping it proves the key is right.
    pub const ROOT_KEY_CHECK: &str = "root_key.check";
    /// Salt of the passphrase root-key provider (not secret).
    pub const ROOT_KEY_PASSPHRASE_SALT: &str = "root_key.passphrase_salt";
}

/// The storage port.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which engine this is.
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The highest migration version applied.
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Reads an instance setting.
    async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` under `name` unless a value is there already, and returns
    /// whatever is stored afterwards: ours, or the one a concurrent instance
    /// wrote first. Settings written this way never change.
    async fn setting_or_insert(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Stores several settings atomically if none of them exists yet, and
    /// returns `true`; returns `false` (writing nothing) if any already exists.
    async fn insert_settings_if_absent(
        &self,
        entries: &[(&str, &[u8])],
    ) -> Result<bool, StoreError>;
}
