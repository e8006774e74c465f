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
pub enum StoreError {
    /// A uniqueness rule was violated (duplicate name or id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached, dropped the connection, or
    /// refused for now (shutting down, too many connections, its database
    /// gone, a serialization failure or lock timeout): transient, nothing
    /// was written, retry.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database's storage is full or read-only: nothing was written.
    #[error("the database's storage is full or read-only: {0}")]
    StorageFull(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database or the blob store (a directory, S3) could not be
    /// reached or answered with an error.
    #[error("storage error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The audit records of a write could not be appended, so the write was
    /// rolled back with them (fail closed).
    #[error("the audit log refused the write: {0}")]
    AuditRefused(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Names of instance settings. One place, so two features never pick the same name.
pub mod settings {
    /// Random id of this installation (the database, not the process).
    pub const INSTALLATION_ID: &str = "installation_id";
    /// Id of the root key the database was initialised with.
    pub const ROOT_KEY_ID: &str = "root_key.id";
    /// A random value wrapped by the root key; unwrapping it proves the key is right.
    pub const ROOT_KEY_CHECK: &str = "root_key.check";
    /// The keyring key, wrapped by an external root-key provider (transit, KMS).
    pub const ROOT_KEY_WRAPPED_KEYRING_KEY: &str = "root_key.wrapped_keyring_key";
    /// The keyring key wrapped by AWS KMS under the installation's encryption
    /// context. Installations from before contexts keep theirs, without, in
    /// `ROOT_KEY_WRAPPED_KEYRING_KEY`, and gain this one on their next start.
    pub const ROOT_KEY_WRAPPED_KEYRING_KEY_WITH_CONTEXT: &str = "root_key.wrapped_keyring_key.with_context";
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

    /// The change generation: a counter the database moves, as each change
    /// commits, whenever keys, key versions, API keys, grants or access
    /// requests change, whoever changes them (see `crate::freshness`).
    async fn change_generation(&self) -> Result<u64, StoreError>;

    /// Reads an instance setting.
    async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` under `name` unless a value is there already, and returns
    /// whatever is stored afterwards: ours, or the one a concurrent instance
    /// wrote first. Settings written this way never change.
    async fn setting_or_insert(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Stores several settings atomically if none of them exists yet, and
    /// returns `true`; returns `false` (writing nothing) if any already exists.
    async fn insert_settings_if_absent(&self, entries: &[(&str, &[u8])]) -> Result<bool, StoreError>;
}

/// A named key as stored: metadata only; the material is in [`StoredKeyVersion`]s.
/// Serialisable because a key backup carries it as it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredKey {
    /// Unique name.
    pub name: String,
    /// What the key is for (`crate::KeyPurpose::as_str`).
    pub purpose: String,
    /// Its algorithm (`crate::KeyAlgorithm::as_str`).
    pub algorithm: String,
    /// Its state (`crate::KeyState::as_str`).
    pub state: String,
    /// The version new ciphertexts and signatures use.
    pub latest_version: u32,
    /// Versions below this no longer decrypt.
    pub min_decryption_version: u32,
    /// Rotate automatically after this many seconds, if set.
    pub rotation_period_seconds: Option<i64>,
    /// Whether the key may be deleted (off by default: deletion is crypto-shredding).
    pub deletion_allowed: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change (rotation included).
    pub updated_at: i64,
}

/// One version of a key: its material, wrapped by the root key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKeyVersion {
    /// 1, 2, 3, …
    pub version: u32,
    /// The material wrapped by the root key; empty once destroyed.
    pub wrapped_material: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The keyring's storage port.
///
/// Invariants for implementers:
/// - A new version and the key's `latest_version` change in one transaction,
///   and only if `latest_version` is still what the caller read, so two
///   instances rotating at once add one version, not two with the same number.
/// - Every method that changes something takes the `audit` records of the
///   change and appends them to the audit tree in the same transaction
///   (see `crate::audit::AuditStore`): both commit, or neither. When nothing
///   changes (`false` answers) nothing is appended.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// Creates a key with its first version; [`StoreError::Conflict`] if the name exists.
    async fn insert_key(
        &self,
        key: &StoredKey,
        first: &StoredKeyVersion,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        self.insert_keys(&[(key.clone(), vec![first.clone()])], audit).await
    }

    /// Creates several keys with all their versions in one transaction (a
    /// restore): all of them, or on any conflict or failure none.
    async fn insert_keys(
        &self,
        keys: &[(StoredKey, Vec<StoredKeyVersion>)],
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;

    /// A key's metadata.
    async fn key(&self, name: &str) -> Result<Option<StoredKey>, StoreError>;

    /// Every key, ordered by name.
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// One version's wrapped material.
    async fn key_version(&self, name: &str, version: u32) -> Result<Option<StoredKeyVersion>, StoreError>;

    /// Every version's number and creation time, oldest first (no material).
    async fn key_version_times(&self, name: &str) -> Result<Vec<(u32, i64)>, StoreError>;

    /// Every key's name with the creation time of its latest version, in
    /// one query (monitoring reads it every few seconds, over every matter key).
    async fn current_version_times(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// Adds `version` (which must be `expected_latest + 1`) and makes it the
    /// latest; `false` (writing nothing) if `latest_version` moved meanwhile.
    async fn append_key_version(
        &self,
        name: &str,
        expected_latest: u32,
        version: &StoredKeyVersion,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;

    /// Saves state, minimum decryption version, rotation period, deletion
    /// protection and `updated_at`; `false` if the key does not exist.
    async fn update_key(&self, key: &StoredKey, audit: &[AuditRecord]) -> Result<bool, StoreError>;

    /// Erases every version's material and marks the key destroyed, in one transaction.
    async fn destroy_key_material(
        &self,
        name: &str,
        updated_at: i64,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;

    /// Deletes the key and its versions; `false` if it did not exist.
    async fn delete_key(&self, name: &str, audit: &[AuditRecord]) -> Result<bool, StoreError>;
}

/// A sealed audit event, ready to become a leaf of the audit tree: its
/// canonical bytes plus the columns that queries filter on (copies of values
/// inside `entry`). It sits with the ports because every port that changes
/// state takes the records of the change, to append them in the same
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The canonical JSON bytes: the leaf content, never changed.
    pub entry: Vec<u8>,
    /// Unix milliseconds.
    pub time_ms: i64,
    /// `login.failure`, `record.decrypt`, …
    pub event_type: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The actor's id.
    pub actor_id: String,
    /// The target's id, if any.
    pub target_id: Option<String>,
    /// The matter, if any.
    pub matter: Option<String>,
    /// The client address as logged (clear, or `hmac:<hex>`), for per-IP alert rules.
    pub ip_key: Option<String>,
    /// The HMACs inside the entry (raw bytes), for search by value.
    pub hmacs: Vec<Vec<u8>>,
    /// The severity's rank, 0 (info) to 3 (critical) (`Severity::rank`).
    pub severity: i16,
}
