//! The domain error.

use strongroom_crypto::CryptoError;

use crate::StoreError;

/// Everything the domain can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Blob storage failed; the variant says whether it is data loss, a
    /// transient outage, a full store or a fault.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A cryptographic operation failed (other than a root-key mismatch).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The credential is missing, malformed, unknown, revoked or expired.
    /// Deliberately says nothing more.
    #[error("invalid, revoked or expired credentials")]
    Unauthenticated,
    /// The caller is known but lacks the permission; the text names it.
    #[error("{0}")]
    Forbidden(String),
    /// The authorizer refused: no policy permits, one forbids, a second
    /// factor or an approved access request is missing.
    #[error("{}", .0.detail)]
    Denied(Denial),
    /// Policies do not parse or validate; each error names its text, line and column.
    #[error("invalid policies: {0}")]
    InvalidPolicy(strongroom_policy::PolicyErrors),
    /// A request value breaks a rule; the text names the field and the rule.
    #[error("{0}")]
    InvalidInput(String),
    /// A body (an uploaded blob) exceeds its limit; the text names the limit.
    #[error("{0}")]
    TooLarge(String),
    /// A requested byte range lies outside the content.
    #[error("the range is outside the content's {0} bytes")]
    RangeNotSatisfiable(u64),
    /// A key name breaks the naming rule; the text says which.
    #[error(
        "invalid key name {0:?}: use 1-128 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
    )]
    InvalidKeyName(String),
    /// A key name in a namespace kept for the server's own keys
    /// (`matter.`, `blind.`, `system.`), asked for a key of another purpose.
    #[error(
        "key name {name:?} is reserved: names starting with {prefix:?} are kept for the server's own {purposes} keys"
    )]
    ReservedKeyName {
        /// The name asked for.
        name: String,
        /// The reserved prefix it starts with.
        prefix: &'static str,
        /// The purposes that namespace is kept for, `/`-separated.
        purposes: String,
    },
    /// No key has this name.
    #[error("no key named {0:?}")]
    KeyNotFound(String),
    /// A key with this name exists already.
    #[error("a key named {0:?} exists already")]
    KeyExists(String),
    /// The key has no such version.
    #[error("key {name:?} has no version {version}")]
    KeyVersionNotFound {
        /// The key.
        name: String,
        /// The version asked for.
        version: u32,
    },
    /// The version is below the key's `min_decryption_version`.
    #[error("version {version} of key {name:?} is retired (min_decryption_version is {min})")]
    KeyVersionRetired {
        /// The key.
        name: String,
        /// The version of the ciphertext.
        version: u32,
        /// The key's minimum decryption version.
        min: u32,
    },
    /// The key's state forbids the operation (encrypting with a decrypt-only
    /// key, anything with a disabled or destroyed one).
    #[error("key {name:?} is {state}: it cannot {operation}")]
    KeyUnusable {
        /// The key.
        name: String,
        /// Its state.
        state: &'static str,
        /// What was attempted.
        operation: &'static str,
    },
    /// The key's algorithm does not do this operation (signing with an AES key).
    #[error("key {name:?} is a {algorithm} key: it cannot {operation}")]
    WrongAlgorithm {
        /// The key.
        name: String,
        /// Its algorithm.
        algorithm: &'static str,
        /// What was attempted.
        operation: &'static str,
    },
    /// The ciphertext names another key than the one it was presented to.
    #[error("the ciphertext was not made with key {0:?}")]
    WrongKeyForCiphertext(String),
    /// A change to a key that its rules forbid; the text says which rule.
    #[error("{0}")]
    InvalidKeyChange(String),
    /// A login failed: unknown user, wrong password or code, or an account that
    /// may not log in. Deliberately one answer for all (no enumeration).
    #[error("invalid username, password or code")]
    LoginFailed,
    /// A password-reset token that is unknown, used or expired (one answer for all).
    #[error("the reset token is unknown, used or expired")]
    InvalidResetToken,
    /// Too many failed attempts: locked for a while.
    #[error("too many failed attempts; retry in {retry_after_seconds} s")]
    TooManyAttempts {
        /// Seconds until the lock ends.
        retry_after_seconds: i64,
    },
    /// Nothing by that name or id (users, sessions).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state; the text says how.
    #[error("{0}")]
    Conflict(String),
    /// The audit log cannot record right now, so the action is refused (fail closed).
    #[error("the audit log is unavailable: {0}")]
    AuditUnavailable(String),
    /// The stored audit tree is damaged or rolled back; the text says how.
    #[error("the audit log is damaged: {0}")]
    AuditDamaged(String),
    /// The stored audit tree does not extend a checkpoint signed earlier, so
    /// appending would fork the log: every audited action is refused until
    /// an operator resolves it. The text says what was found.
    #[error("the audit log was rolled back or forked: {0}")]
    AuditRolledBack(String),
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
    /// The root-key provider (a key file, Vault, a KMS, an HSM) could not
    /// be used: unreachable, refused, or holding another key than the
    /// database's. The text names the provider and the cause, never a secret.
    #[error("{0}")]
    RootKeyProvider(String),
}

impl CoreError {
    /// A stable snake_case name of the failure, for audit events (`reason`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Store(StoreError::Conflict(_)) => "conflict",
            Self::Store(StoreError::AuditRefused(_)) | Self::AuditUnavailable(_) => "audit_unavailable",
            Self::Store(StoreError::Unavailable(_)) => "database_unavailable",
            Self::Store(StoreError::StorageFull(_)) => "storage_full",
            Self::Store(StoreError::Backend(_)) => "storage_error",
            Self::Blob(BlobError::Missing(_)) => "blob_missing",
            Self::Blob(BlobError::Unavailable(_)) => "blob_storage_unavailable",
            Self::Blob(BlobError::Full(_)) => "blob_storage_full",
            Self::Blob(BlobError::Failed(_)) => "storage_error",
            Self::Crypto(CryptoError::Decrypt) => "decryption_failed",
            Self::Crypto(_) => "crypto_error",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::Denied(denial) => denial.kind.as_str(),
            Self::InvalidPolicy(_) => "invalid_policy",
            Self::InvalidInput(_) | Self::InvalidKeyName(_) | Self::InvalidKeyChange(_) => "invalid_request",
            Self::TooLarge(_) => "payload_too_large",
            Self::RangeNotSatisfiable(_) => "range_not_satisfiable",
            Self::ReservedKeyName { .. } => "reserved_key_name",
            Self::KeyNotFound(_) => "key_not_found",
            Self::KeyExists(_) => "conflict",
            Self::KeyVersionNotFound { .. } => "key_version_not_found",
            Self::KeyVersionRetired { .. } => "key_version_retired",
            Self::KeyUnusable { .. } => "key_unusable",
            Self::WrongAlgorithm { .. } => "wrong_key_type",
            Self::WrongKeyForCiphertext(_) => "wrong_key",
            Self::AuditDamaged(_) => "audit_damaged",
            Self::AuditRolledBack(_) => "audit_rolled_back",
            Self::LoginFailed => "login_failed",
            Self::InvalidResetToken => "invalid_reset_token",
            Self::TooManyAttempts { .. } => "rate_limited",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::RootKeyMismatch { .. } => "root_key_mismatch",
            Self::RootKeyProvider(_) => "root_key_unavailable",
        }
    }

    /// Whether this is a refusal of the request (bad input, a rule, a
    /// missing permission) rather than a fault of the server or the audit
    /// log: refusals are audited as failed attempts.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Self::Store(_)
                | Self::Blob(_)
                | Self::AuditUnavailable(_)
                | Self::AuditDamaged(_)
                | Self::AuditRolledBack(_)
                | Self::RootKeyMismatch { .. }
                | Self::RootKeyProvider(_)
        ) && !matches!(self, Self::Crypto(error) if !matches!(error, CryptoError::Decrypt))
    }
}

/// Why a request was refused, for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Which kind of refusal (the problem code).
    pub kind: DenialKind,
    /// What to tell the caller.
    pub detail: String,
    /// The policies that decided (empty: no policy permits).
    pub policies: Vec<String>,
}

/// Kinds of refusal with their own problem code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// No policy permits, or one forbids.
    Forbidden,
    /// A second factor must be proven (again) first, on the session
    /// (`POST /v1/auth/step-up`).
    MfaRequired,
    /// A login without a session yet needs the account's second factor, or
    /// its enrolment first: the detail says which, as there is nothing to
    /// step up.
    MfaRequiredAtLogin,
    /// An approved access request is needed (two-person rule).
    AccessRequestRequired,
    /// The requester may not decide their own access request.
    SelfApproval,
}

impl DenialKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forbidden => "forbidden",
            Self::MfaRequired | Self::MfaRequiredAtLogin => "mfa_required",
            Self::AccessRequestRequired => "access_request_required",
            Self::SelfApproval => "self_approval",
        }
    }
}

/// Why blob storage failed, sorted by what the caller can do about it: the
/// one error type of every [`BlobStorage`](crate::records::BlobStorage), so each backend decides once
/// what its failures mean and the server maps each kind to one answer.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The object a record names is not in storage (deleted behind the
    /// server's back, a lost volume or bucket): data loss, not a retry.
    #[error("blob object {0:?} is missing from storage")]
    Missing(String),
    /// The storage cannot be reached or failed transiently (connection
    /// refused, timeouts, 5xx after retries): retrying later may succeed.
    #[error("blob storage is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The storage has no room (disk full, quota exceeded).
    #[error("blob storage is full: {0}")]
    Full(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: a fault of the server or of its setup (an invalid
    /// name, a permission, a read error of the disk).
    #[error("blob storage failed: {0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl BlobError {
    /// Sorts a local I/O error; `object` names what was read, for `NotFound`.
    pub fn from_io(error: std::io::Error, object: Option<&str>) -> Self {
        use std::io::ErrorKind;
        match (error.kind(), object) {
            (ErrorKind::NotFound, Some(object)) => Self::Missing(object.to_owned()),
            (ErrorKind::StorageFull | ErrorKind::QuotaExceeded, _) => Self::Full(error.into()),
            (
                ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::NotConnected
                | ErrorKind::TimedOut
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkUnreachable
                | ErrorKind::NetworkDown,
                _,
            ) => Self::Unavailable(error.into()),
            _ => Self::Failed(error.into()),
        }
    }
}
