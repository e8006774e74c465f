//! API keys for machines: `sr_<id>_<secret>`, shown once at creation and
//! stored only as an HMAC of the secret under the keyring's API-key hashing
//! key, so a copy of the database does not yield usable keys.
//!
//! Invariants: the presented secret is compared in constant time
//! (`Keyring::verify_mac`); an unknown id costs the same MAC as a known one,
//! so timing does not reveal which ids exist; every failure is the one opaque
//! [`CoreError::Unauthenticated`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use strongroom_crypto::random_bytes;
use zeroize::Zeroizing;

use crate::audit::{AuditContext, AuditRecord, EventType, Outcome, Target};
use crate::{Clock, CoreError, KeyPurpose, KeySpec, Keyring, StoreError};

/// Name of the keyring key that hashes API-key secrets.
pub const API_KEY_HASH_KEY: &str = "system.api-key-hash";

/// What an API key may do. Stable strings; more areas follow with their issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Encrypt, decrypt, rewrap and the other transit operations.
    TransitUse,
    /// Create, configure, rotate and delete transit keys.
    TransitManage,
    /// Read and manage every keyring key (`/v1/keys`): rotate, change state.
    KeysManage,
    /// Read the audit log: events, proofs, statistics, alerts.
    AuditRead,
    /// Manage users, their roles, locks, sessions and resets.
    UsersManage,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] =
        [Scope::TransitUse, Scope::TransitManage, Scope::KeysManage, Scope::AuditRead, Scope::UsersManage];

    /// The stable name (`transit:use`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransitUse => "transit:use",
            Self::TransitManage => "transit:manage",
            Self::KeysManage => "keys:manage",
            Self::AuditRead => "audit:read",
            Self::UsersManage => "users:manage",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

/// An API key as stored (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (16 hex digits), the middle part of the key.
    pub id: String,
    /// Operator's label.
    pub name: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// HMAC-SHA256 of the secret.
    pub secret_hash: Vec<u8>,
    /// Version of [`API_KEY_HASH_KEY`] that made the hash.
    pub hash_key_version: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the key is refused.
    pub expires_at: Option<i64>,
    /// Unix seconds of revocation.
    pub revoked_at: Option<i64>,
    /// Unix seconds of the last successful use.
    pub last_used_at: Option<i64>,
    /// Successful uses.
    pub use_count: i64,
}

/// The API-key storage port.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug {
    /// Stores a new key with the audit records of its creation, in one
    /// transaction; `Conflict` if the id exists.
    async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &[AuditRecord]) -> Result<(), StoreError>;
    /// One key by id.
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Every key, newest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Marks a key revoked at `at` unless it already is, with the audit
    /// records of the revocation; `false` (nothing written) if unknown or already revoked.
    async fn revoke_api_key(&self, id: &str, at: i64, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// Adds `count` uses and moves `last_used_at` forward to `last_at` (never
    /// back), in one statement, so instances flushing at once all count.
    async fn add_api_key_uses(&self, id: &str, count: i64, last_at: i64) -> Result<(), StoreError>;
}

/// A freshly issued key: the only time the full key exists outside the
/// caller. Zeroized on drop; `Debug` hides it.
pub struct IssuedApiKey(Zeroizing<String>);

impl IssuedApiKey {
    /// The full key (`sr_<id>_<secret>`), to show the operator once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuedApiKey(<hidden>)")
    }
}

/// An authenticated API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyPrincipal {
    /// Its id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl ApiKeyPrincipal {
    /// `Forbidden` unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), CoreError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!("this API key lacks the scope {}", scope.as_str())))
        }
    }
}

/// Issuing, checking and revoking API keys.
///
/// Usage (count, last use) is tallied in memory and written by
/// [`ApiKeys::flush_usage`], which the server calls every second and at
/// shutdown: a write per request would put a durable commit on every
/// encrypt call. A crash loses at most that second's tally, never a key's
/// revocation or expiry, which are checked against the store on every call.
#[derive(Debug)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    keyring: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    pending_usage: std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>,
}

fn hash_input(id: &str, secret: &str) -> Vec<u8> {
    // The id is bound into the MAC so a secret cannot be moved to another id.
    format!("strongroom/api-key/{id}/{secret}").into_bytes()
}

impl ApiKeys {
    /// The service over `store`, hashing with `keyring`'s [`API_KEY_HASH_KEY`].
    pub fn new(store: Arc<dyn ApiKeyStore>, keyring: Arc<Keyring>, clock: Arc<dyn Clock>) -> Self {
        Self { store, keyring, clock, pending_usage: Default::default() }
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    /// Creates the hashing key on first use.
    async fn ensure_hash_key(&self, context: &AuditContext) -> Result<(), CoreError> {
        let spec = KeySpec {
            purpose: KeyPurpose::ApiKeyHash,
            algorithm: None,
            rotation_period_seconds: None,
            deletion_allowed: false,
        };
        self.keyring.ensure(API_KEY_HASH_KEY, spec, context).await.map(|_| ())
    }

    /// Issues a key. `name` is a label (1-100 characters); at least one scope;
    /// expiry between 1 and 3650 days if given.
    pub async fn create(
        &self,
        name: &str,
        scopes: &[Scope],
        expires_in_days: Option<u32>,
        context: &AuditContext,
    ) -> Result<(ApiKeyRecord, IssuedApiKey), CoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(CoreError::InvalidInput("name: 1 to 100 printable characters".into()));
        }
        if scopes.is_empty() {
            return Err(CoreError::InvalidInput("scopes: grant at least one scope".into()));
        }
        if expires_in_days.is_some_and(|days| !(1..=3650).contains(&days)) {
            return Err(CoreError::InvalidInput("expires_in_days: between 1 and 3650".into()));
        }
        self.ensure_hash_key(context).await?;
        let id: String = random_bytes::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
        let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
        let (hash_key_version, hash) = self.keyring.mac(API_KEY_HASH_KEY, &hash_input(&id, &secret)).await?;
        let now = self.now();
        let mut unique = scopes.to_vec();
        unique.dedup();
        let record = ApiKeyRecord {
            id: id.clone(),
            name: name.to_owned(),
            scopes: unique,
            secret_hash: hash.to_vec(),
            hash_key_version,
            created_at: now,
            expires_at: expires_in_days.map(|days| now + i64::from(days) * 86_400),
            revoked_at: None,
            last_used_at: None,
            use_count: 0,
        };
        let audit = self.keyring.audit();
        let event = audit
            .event(EventType::ApiKeyCreate, context)
            .target(Target::new("api_key", record.id.clone()))
            .detail("name", record.name.clone())
            .detail("scopes", record.scopes.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>())
            .detail("expires_at", record.expires_at.unwrap_or(0));
        self.store.insert_api_key(&record, &[audit.seal(&event)?]).await?;
        let issued = IssuedApiKey(Zeroizing::new(format!("sr_{id}_{}", secret.as_str())));
        Ok((record, issued))
    }

    /// Checks a presented key and counts its use.
    pub async fn authenticate(&self, presented: &str) -> Result<ApiKeyPrincipal, CoreError> {
        let (id, secret) = parse(presented).ok_or(CoreError::Unauthenticated)?;
        let record = self.store.api_key(id).await?;
        let Some(record) = record else {
            // Spend the same MAC as for a known id, so timing does not tell.
            let _ = self.keyring.mac(API_KEY_HASH_KEY, &hash_input(id, secret)).await;
            return Err(CoreError::Unauthenticated);
        };
        let input = hash_input(id, secret);
        let valid =
            self.keyring.verify_mac(API_KEY_HASH_KEY, record.hash_key_version, &input, &record.secret_hash).await?;
        let now = self.now();
        if !valid || record.revoked_at.is_some() || record.expires_at.is_some_and(|at| now >= at) {
            return Err(CoreError::Unauthenticated);
        }
        {
            let mut pending = self.pending_usage.lock().unwrap_or_else(|p| p.into_inner());
            let entry = pending.entry(record.id.clone()).or_insert((0, now));
            entry.0 += 1;
            entry.1 = entry.1.max(now);
        }
        Ok(ApiKeyPrincipal { id: record.id, name: record.name, scopes: record.scopes })
    }

    /// Writes the usage tallied since the last flush. On failure the tally
    /// is put back, to be written by the next flush.
    pub async fn flush_usage(&self) -> Result<(), CoreError> {
        let pending = std::mem::take(&mut *self.pending_usage.lock().unwrap_or_else(|p| p.into_inner()));
        let mut entries = pending.into_iter();
        while let Some((id, (count, last_at))) = entries.next() {
            if let Err(error) = self.store.add_api_key_uses(&id, count, last_at).await {
                let mut back = self.pending_usage.lock().unwrap_or_else(|p| p.into_inner());
                for (id, (count, last_at)) in std::iter::once((id, (count, last_at))).chain(entries) {
                    let entry = back.entry(id).or_insert((0, last_at));
                    entry.0 += count;
                    entry.1 = entry.1.max(last_at);
                }
                return Err(error.into());
            }
        }
        Ok(())
    }

    /// The public id of a presented key (`sr_<id>_…`), if it is well formed:
    /// safe to record, unlike the rest of what was presented.
    pub fn public_id(presented: &str) -> Option<&str> {
        parse(presented).map(|(id, _)| id)
    }

    /// Every key (without secrets).
    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, CoreError> {
        Ok(self.store.list_api_keys().await?)
    }

    /// Revokes a key at once; `InvalidInput` if it is unknown or already revoked.
    pub async fn revoke(&self, id: &str, context: &AuditContext) -> Result<(), CoreError> {
        let audit = self.keyring.audit();
        let event = audit.event(EventType::ApiKeyRevoke, context).target(Target::new("api_key", id));
        if self.store.revoke_api_key(id, self.now(), &[audit.seal(&event)?]).await? {
            Ok(())
        } else {
            let error = CoreError::InvalidInput(format!("no active API key with id {id:?}"));
            audit.record_refusal(&event.failed(Outcome::Failure, error.kind())).await;
            Err(error)
        }
    }
}

/// Splits `sr_<16 hex>_<43 base64url>`; `None` for anything else.
fn parse(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix("sr_")?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_well_formed_keys() {
        let secret = "A".repeat(43);
        let key = format!("sr_0123456789abcdef_{secret}");
        assert_eq!(parse(&key), Some(("0123456789abcdef", secret.as_str())));
        for bad in
            ["", "sr_", "sr_0123_x", &format!("sr_0123456789ABCDEF_{secret}"), &format!("xx_0123456789abcdef_{secret}")]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("admin"), None);
    }
}
