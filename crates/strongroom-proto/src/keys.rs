//! Wire types of the keyring API (`/v1/keys`): descriptions of keys and their
//! versions, never material.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One version of a key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyVersionView {
    /// 1, 2, 3, …
    pub version: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Records' data keys this version still wraps (keys that wrap record
    /// data only; see `census`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_keys: Option<u64>,
    /// Sealed values and blobs under those data keys: what would become
    /// unreadable if this version were retired or destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertexts: Option<u64>,
}

/// A key job (`GET /v1/jobs/{id}`): what a rotation or a compromise started.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// `job_<hex>`.
    pub id: String,
    /// `rewrap` (data keys to the key's latest version, after a rotation) or
    /// `reencrypt` (records to new data keys under a fresh key, after a compromise).
    pub kind: String,
    /// The key whose data it moves.
    pub key: String,
    /// Rewrap: the version every data key reaches; re-encryption: the key the records move to.
    pub target: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Records to move, counted at the start.
    pub total: u64,
    /// Records moved so far.
    pub done: u64,
    /// Percent done, 0-100.
    pub percent: u8,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Who started it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last progress.
    pub updated_at: i64,
}

/// A keyring key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    /// Name.
    pub name: String,
    /// `matter_data`, `jwt_signing`, `audit_signing`, `token_hmac`, `blind_index_hmac`, `api_key_hash`, `transit`.
    pub purpose: String,
    /// `aes256-gcm96`, `ed25519` or `hmac-sha256`.
    pub algorithm: String,
    /// `active`, `decrypt_only`, `disabled`, `compromised` or `destroyed`.
    pub state: String,
    /// The version new ciphertexts use.
    pub latest_version: u32,
    /// Versions below this no longer decrypt.
    pub min_decryption_version: u32,
    /// Automatic rotation period in seconds, if any.
    pub rotation_period_seconds: Option<i64>,
    /// Whether the key may be deleted.
    pub deletion_allowed: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Every version (only in the single-key answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<KeyVersionView>,
    /// What the per-version counts cover, or why there are none (only in
    /// the single-key answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<String>,
    /// The key's recent jobs, newest first (only in the single-key answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<JobView>,
}

/// `GET /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    /// Every key, by name.
    pub keys: Vec<KeyView>,
}

/// `POST /v1/keys/{name}/state`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetKeyState {
    /// The new state.
    #[schema(schema_with = crate::rules::key_state)]
    pub state: String,
    /// Why, at least 20 characters: key changes are accountable.
    #[schema(schema_with = crate::rules::plain_justification)]
    pub justification: String,
}

/// `POST /v1/keys/{name}/config`: each field given is changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureKey {
    /// Retire versions below this from decryption (never lowered, at most
    /// the latest version). Check the census first: what those versions
    /// still protect becomes unreadable.
    #[serde(default)]
    pub min_decryption_version: Option<u32>,
    /// Allow or forbid deleting the key.
    #[serde(default)]
    pub deletion_allowed: Option<bool>,
    /// Automatic rotation period in seconds (at least 3600); 0 turns it off.
    #[serde(default)]
    pub rotation_period_seconds: Option<i64>,
}

/// The answer of a state change: the key, for `compromised` the
/// re-encryption job, and for `destroyed` what it means.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyStateChanged {
    /// The key after the change.
    pub key: KeyView,
    /// For `destroyed`: what the key protected, which is now unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// For `compromised` (matter keys): the job re-encrypting its records under a fresh key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobView>,
}
