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
    pub state: String,
    /// Why, at least 20 characters: key changes are accountable.
    pub justification: String,
}

/// The answer of a state change: the key, and for `destroyed` what it means.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyStateChanged {
    /// The key after the change.
    pub key: KeyView,
    /// For `destroyed`: that everything the key protected is now unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}
