//! Bodies of Vault's own endpoints that Vault clients call besides transit:
//! `GET /v1/sys/health` and `GET /v1/auth/token/lookup-self`, field for
//! field as Vault answers them, so hvac, the `vault`/`bao` CLI, the Go API
//! client and Spring Vault read them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `GET /v1/sys/health`: Vault's members, without an envelope (as
/// Vault). It tells only what a load balancer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VaultHealth {
    /// Always true: a running Strongroom has been initialised.
    pub initialized: bool,
    /// True when the instance cannot serve (a readiness check fails): what
    /// a sealed Vault means to its clients. `/readyz` says which check.
    pub sealed: bool,
    /// Always false: every instance serves.
    pub standby: bool,
    /// Always false.
    pub performance_standby: bool,
    /// Always `"disabled"`.
    pub replication_performance_mode: String,
    /// Always `"disabled"`.
    pub replication_dr_mode: String,
    /// The server's clock, Unix seconds.
    pub server_time_utc: i64,
    /// Strongroom's version.
    pub version: String,
    /// Always `"strongroom"`.
    pub cluster_name: String,
}

/// `data` of `GET /v1/auth/token/lookup-self`: the caller's credential in
/// Vault's token shape. Never the credential itself: `id` (the token, in
/// Vault) is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenLookup {
    /// The API key's public id, or the session id: a name for the
    /// credential that cannot be used as it.
    pub accessor: String,
    /// Unix seconds of the key's or session's creation.
    pub creation_time: i64,
    /// Seconds from creation to expiry; 0: no expiry.
    pub creation_ttl: i64,
    /// The API key's name, or the username.
    pub display_name: String,
    /// Always empty (no Vault entities).
    pub entity_id: String,
    /// RFC 3339 expiry; null: none.
    pub expire_time: Option<String>,
    /// Always 0.
    pub explicit_max_ttl: i64,
    /// RFC 3339 creation time.
    pub issue_time: String,
    /// `credential`: `api_key` or `session`.
    pub meta: BTreeMap<String, String>,
    /// Always 0 (unlimited).
    pub num_uses: i64,
    /// Always true.
    pub orphan: bool,
    /// Where the credential was made: `api-keys` or `auth/login`.
    pub path: String,
    /// The API key's scopes, or the user's roles.
    pub policies: Vec<String>,
    /// Always false: a key is renewed by rotating it, a session by refreshing.
    pub renewable: bool,
    /// Seconds left before expiry; 0: no expiry.
    pub ttl: i64,
    /// Always `"service"`.
    #[serde(rename = "type")]
    pub token_type: String,
}
