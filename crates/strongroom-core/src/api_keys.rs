//! API keys for machines: `sr_<id>_<secret>`, shown once at creation and
//! stored only as an HMAC of the secret under the keyring's API-key hashing
//! key, so a copy of the database does not yield usable keys.
//!
//! Invariants: the presented secret is compared in constant time
//! (`Keyring::verify_mac`); an unknown id costs the same MAC as a known one,
//! so timing does not reveal which ids exist; every failure of the secret is
//! the one opaque [`CoreError::Unauthenticated`]. A valid key used from an
//! address outside its allow-list is `Forbidden`; over its rate limit,
//! `TooManyAttempts`. The rate limit (GCRA, `crate::rate_limits`) is
//! counted where every instance sees it, so N instances together admit the
//! key's rate, not N times it.
//! After a rotation the previous secret keeps working until its grace ends.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use strongroom_crypto::random_bytes;
use zeroize::Zeroizing;

use crate::audit::{Actor, ActorKind, AuditContext, AuditRecord, EventType, Outcome, Target};
use crate::freshness::Cached;
pub use crate::principal::APP_SCOPE_PREFIX;
use crate::principal::{PrincipalAccess, Subject, api_key_facts};
use crate::rate_limits::{Limited, Rate, RateLimits};
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
    /// Manage users: create, lock, reset, end sessions (only users whose
    /// roles the key covers: service accounts).
    UsersManage,
    /// Assign roles (to new users too), within what the key holds itself.
    RolesAssign,
    /// Create, list, rotate and revoke API keys.
    ApiKeysManage,
    /// Create matters and manage their grants (an application opening a case).
    MattersManage,
    /// Create collections and change their schemas.
    CollectionsManage,
    /// Reveal records and secret blobs of the matters the key holds a grant
    /// on, with a justification per call (a worker that needs the audio).
    RecordsDecrypt,
    /// Write the application's own events (`app.*`) into the audit log.
    AuditWrite,
    /// Introspect tokens and API keys (RFC 7662, `POST /v1/auth/introspect`):
    /// what an application protecting its own endpoints holds.
    AuthIntrospect,
}

/// Sorts scope names into Strongroom's scopes and application scopes;
/// `InvalidInput` naming the first that is neither.
pub fn parse_scope_names(names: &[String]) -> Result<(Vec<Scope>, Vec<String>), CoreError> {
    let (mut scopes, mut app_scopes) = (Vec::new(), Vec::new());
    for name in names {
        if name.starts_with(APP_SCOPE_PREFIX) {
            app_scopes.push(parse_app_scope(name).ok_or_else(|| {
                CoreError::InvalidInput(format!(
                    "scopes: {name:?}: an application scope reads app:<name>, the name 1 to 64 of a-z 0-9 _ . : -"
                ))
            })?);
        } else {
            scopes.push(Scope::parse(name).ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                CoreError::InvalidInput(format!(
                    "scopes: {name:?} is not one of {}, nor an application scope app:<name>",
                    known.join(", ")
                ))
            })?);
        }
    }
    Ok((scopes, app_scopes))
}

/// Checks an application scope: `app:` then 1 to 64 of `a-z 0-9 _ . : -`.
pub fn parse_app_scope(text: &str) -> Option<String> {
    let name = text.strip_prefix(APP_SCOPE_PREFIX)?;
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b));
    ok.then(|| text.to_owned())
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 12] = [
        Scope::TransitUse,
        Scope::TransitManage,
        Scope::KeysManage,
        Scope::AuditRead,
        Scope::UsersManage,
        Scope::RolesAssign,
        Scope::ApiKeysManage,
        Scope::MattersManage,
        Scope::CollectionsManage,
        Scope::RecordsDecrypt,
        Scope::AuditWrite,
        Scope::AuthIntrospect,
    ];

    /// The stable name (`transit:use`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransitUse => "transit:use",
            Self::TransitManage => "transit:manage",
            Self::KeysManage => "keys:manage",
            Self::AuditRead => "audit:read",
            Self::UsersManage => "users:manage",
            Self::RolesAssign => "roles:assign",
            Self::ApiKeysManage => "api_keys:manage",
            Self::MattersManage => "matters:manage",
            Self::CollectionsManage => "collections:manage",
            Self::RecordsDecrypt => "records:decrypt",
            Self::AuditWrite => "audit:write",
            Self::AuthIntrospect => "auth:introspect",
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
    /// Application scopes (`app:<scope>`); a key with any is an application
    /// key and holds no [`Scope`].
    pub app_scopes: Vec<String>,
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
    /// Addresses it may be used from (CIDR blocks); empty: anywhere.
    pub allowed_cidrs: Vec<String>,
    /// Requests per minute it may make (all instances together); `None`: unlimited.
    pub rate_limit_per_minute: Option<u32>,
    /// Requests it may make at once after a quiet spell; `None`: a second's
    /// worth of `rate_limit_per_minute` (at least one).
    pub rate_limit_burst: Option<u32>,
    /// The user (a service account) that owns it, if any.
    pub owner_user_id: Option<String>,
    /// Whether that owner is locked or disabled, as read with the key: a
    /// locked user's keys are refused with the user's sessions.
    pub owner_blocked: bool,
    /// During a rotation's grace period: the previous secret's hash, its
    /// hash-key version and the end of the grace (Unix seconds).
    pub previous_secret: Option<(Vec<u8>, u32, i64)>,
}

impl ApiKeyRecord {
    /// Whether it is an application key (see [`APP_SCOPE_PREFIX`]).
    pub fn is_application_key(&self) -> bool {
        !self.app_scopes.is_empty()
    }

    /// Its rate limit, if it has one.
    pub fn rate(&self) -> Option<Rate> {
        self.rate_limit_per_minute.and_then(|per_minute| Rate::per_minute(per_minute, self.rate_limit_burst))
    }

    /// Every scope by name: Strongroom's, then the application's.
    pub fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(|s| s.as_str()).chain(self.app_scopes.iter().map(String::as_str))
    }
}

/// The API-key storage port.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug {
    /// Stores a new key with the audit records of its creation, in one
    /// transaction; `Conflict` if the id exists.
    async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &[AuditRecord]) -> Result<(), StoreError>;
    /// One key by id.
    async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// One key with its matter grants and elevations live at `now`, in one query.
    async fn api_key_with_access(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(ApiKeyRecord, PrincipalAccess)>, StoreError>;
    /// Every key, newest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Marks a key revoked at `at` unless it already is, with the audit
    /// records of the revocation; `false` (nothing written) if unknown or already revoked.
    async fn revoke_api_key(&self, id: &str, at: i64, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// Replaces a live key's secret hash, keeping `previous` (hash, version,
    /// valid until) for the grace period, with the audit records; `false` if
    /// unknown or revoked.
    async fn rotate_api_key_secret(
        &self,
        id: &str,
        secret_hash: &[u8],
        hash_key_version: u32,
        previous: Option<(Vec<u8>, u32, i64)>,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
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
    /// Its application scopes (only an application key has any; such a
    /// principal is only ever introspected, never admitted to a route).
    pub app_scopes: Vec<String>,
    /// Unix seconds after which it is refused.
    pub expires_at: Option<i64>,
    /// The user (a service account) owning it.
    pub owner_user_id: Option<String>,
    /// Matter grants and live elevations, loaded with the key.
    pub access: PrincipalAccess,
}

impl ApiKeyPrincipal {
    /// The key as the actor of the audit events its requests cause, its
    /// scopes as roles.
    pub fn actor(&self) -> Actor {
        Actor {
            kind: ActorKind::ApiKey,
            id: self.id.clone(),
            name: Some(self.name.clone()),
            roles: self.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }

    /// The principal as authorization sees it.
    pub fn subject(&self) -> Subject {
        Subject {
            facts: api_key_facts(
                &self.id,
                &self.name,
                self.scopes.iter().map(|s| s.as_str()).chain(self.app_scopes.iter().map(String::as_str)),
                self.access.matters.clone(),
            ),
            elevations: self.access.elevations.clone(),
            mfa_at: None,
            session: None,
            trail: Default::default(),
        }
    }

    /// `Forbidden` unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), CoreError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!("this API key lacks the scope {}", scope.as_str())))
        }
    }
}

/// What a new key may do, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewApiKey {
    /// A label (1-100 characters).
    pub name: String,
    /// At least one scope, or at least one application scope.
    pub scopes: Vec<Scope>,
    /// Application scopes (`app:<scope>`, checked by [`parse_app_scope`]);
    /// not together with `scopes`: a key is Strongroom's or the application's.
    pub app_scopes: Vec<String>,
    /// Refuse the key after this many days (1-3650).
    pub expires_in_days: Option<u32>,
    /// Addresses it may be used from (CIDR blocks or single addresses); empty: anywhere.
    pub allowed_cidrs: Vec<String>,
    /// Requests per minute (1-1,000,000).
    pub rate_limit_per_minute: Option<u32>,
    /// Requests at once (1-1,000,000); used only with `rate_limit_per_minute`
    /// (a burst alone limits nothing, and is kept as given).
    pub rate_limit_burst: Option<u32>,
    /// The id of the user (a service account, role `system`) owning it.
    pub owner_user_id: Option<String>,
}

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `address/prefix` or a single address.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let invalid =
            || CoreError::InvalidInput(format!("allowed_cidrs: {text:?} is not an address block such as 10.0.0.0/8"));
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: std::net::IpAddr = address.parse().map_err(|_| invalid())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(invalid)?,
            None => max,
        };
        Ok(Self { network, prefix })
    }

    /// Whether `address` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        if address.is_ipv4() != self.network.is_ipv4() {
            return false;
        }
        // Both forms sit at the top of 128 bits, so the prefix masks from the top.
        let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
        bits(address) & mask == bits(self.network) & mask
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
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
    /// Where each key's requests are counted against its rate limit.
    rate_limits: Arc<RateLimits>,
    /// Keys with their access, by id, while the keyring's freshness allows.
    principals: Cached<String, (ApiKeyRecord, PrincipalAccess)>,
}

fn hash_input(id: &str, secret: &str) -> Vec<u8> {
    // The id is bound into the MAC so a secret cannot be moved to another id.
    format!("strongroom/api-key/{id}/{secret}").into_bytes()
}

impl ApiKeys {
    /// The service over `store`, hashing with `keyring`'s [`API_KEY_HASH_KEY`].
    /// Rate limits are counted in `rate_limits`.
    pub fn new(
        store: Arc<dyn ApiKeyStore>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        rate_limits: Arc<RateLimits>,
    ) -> Self {
        Self { store, keyring, clock, pending_usage: Default::default(), rate_limits, principals: Cached::default() }
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

    /// Issues a key (see [`NewApiKey`] for the rules of each field).
    pub async fn create(
        &self,
        new: &NewApiKey,
        context: &AuditContext,
    ) -> Result<(ApiKeyRecord, IssuedApiKey), CoreError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(CoreError::InvalidInput("name: 1 to 100 printable characters".into()));
        }
        if new.scopes.is_empty() && new.app_scopes.is_empty() {
            return Err(CoreError::InvalidInput("scopes: grant at least one scope".into()));
        }
        if !new.scopes.is_empty() && !new.app_scopes.is_empty() {
            return Err(CoreError::InvalidInput(
                "scopes: an application key (app:<scope>) holds application scopes only, never Strongroom's".into(),
            ));
        }
        if new.app_scopes.len() > 50 || new.app_scopes.iter().any(|s| parse_app_scope(s).is_none()) {
            return Err(CoreError::InvalidInput(
                "scopes: application scopes read app:<name>, the name 1 to 64 of a-z 0-9 _ . : - (at most 50)".into(),
            ));
        }
        if new.expires_in_days.is_some_and(|days| !(1..=3650).contains(&days)) {
            return Err(CoreError::InvalidInput("expires_in_days: between 1 and 3650".into()));
        }
        if new.rate_limit_per_minute.is_some_and(|limit| !(1..=1_000_000).contains(&limit)) {
            return Err(CoreError::InvalidInput("rate_limit_per_minute: between 1 and 1000000".into()));
        }
        if new.rate_limit_burst.is_some_and(|burst| !(1..=1_000_000).contains(&burst)) {
            return Err(CoreError::InvalidInput("rate_limit_burst: between 1 and 1000000".into()));
        }
        if new.allowed_cidrs.len() > 100 {
            return Err(CoreError::InvalidInput("allowed_cidrs: at most 100 blocks".into()));
        }
        let allowed_cidrs = new
            .allowed_cidrs
            .iter()
            .map(|text| Cidr::parse(text).map(|c| c.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        self.ensure_hash_key(context).await?;
        let id = strongroom_crypto::to_hex(&random_bytes::<8>()?);
        let (secret, hash_key_version, hash) = self.new_secret(&id).await?;
        let now = self.now();
        let mut unique = new.scopes.clone();
        unique.dedup();
        let mut app_scopes = new.app_scopes.clone();
        app_scopes.sort();
        app_scopes.dedup();
        let record = ApiKeyRecord {
            id: id.clone(),
            name: name.to_owned(),
            scopes: unique,
            app_scopes,
            secret_hash: hash.to_vec(),
            hash_key_version,
            created_at: now,
            expires_at: new.expires_in_days.map(|days| now + i64::from(days) * 86_400),
            revoked_at: None,
            last_used_at: None,
            use_count: 0,
            allowed_cidrs,
            rate_limit_per_minute: new.rate_limit_per_minute,
            rate_limit_burst: new.rate_limit_burst,
            owner_user_id: new.owner_user_id.clone(),
            owner_blocked: false,
            previous_secret: None,
        };
        let audit = self.keyring.audit();
        let event = audit
            .event(EventType::ApiKeyCreate, context)
            .target(Target::new("api_key", record.id.clone()))
            .detail("name", record.name.clone())
            .detail("scopes", record.scope_names().map(str::to_owned).collect::<Vec<_>>())
            .detail("expires_at", record.expires_at.unwrap_or(0))
            .detail("allowed_cidrs", record.allowed_cidrs.clone())
            .detail("rate_limit_per_minute", i64::from(record.rate_limit_per_minute.unwrap_or(0)))
            .detail("rate_limit_burst", i64::from(record.rate_limit_burst.unwrap_or(0)))
            .detail("owner_user_id", record.owner_user_id.clone().unwrap_or_default());
        let sealed = audit.seal(&event)?;
        self.keyring.freshness().after_change(self.store.insert_api_key(&record, &[sealed])).await?;
        let issued = IssuedApiKey(Zeroizing::new(format!("sr_{id}_{}", secret.as_str())));
        Ok((record, issued))
    }

    /// A fresh secret for key `id` and its HMAC under the hash key's latest version.
    async fn new_secret(&self, id: &str) -> Result<(Zeroizing<String>, u32, [u8; 32]), CoreError> {
        let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
        let (version, hash) = self.keyring.mac(API_KEY_HASH_KEY, &hash_input(id, &secret)).await?;
        Ok((secret, version, hash))
    }

    /// Gives a key a new secret. The old one keeps working for
    /// `grace_seconds` (0 to 30 days), so clients can switch without a gap.
    pub async fn rotate(
        &self,
        id: &str,
        grace_seconds: i64,
        context: &AuditContext,
    ) -> Result<(ApiKeyRecord, IssuedApiKey), CoreError> {
        if !(0..=30 * 86_400).contains(&grace_seconds) {
            return Err(CoreError::InvalidInput("grace_seconds: between 0 and 2592000 (30 days)".into()));
        }
        let audit = self.keyring.audit();
        let event = audit
            .event(EventType::ApiKeyRotate, context)
            .target(Target::new("api_key", id))
            .detail("grace_seconds", grace_seconds);
        let record = match self.store.api_key(id).await? {
            Some(record) if record.revoked_at.is_none() => record,
            _ => {
                let error = CoreError::NotFound(format!("no active API key with id {id:?}"));
                audit.record_refusal(&event.failed(Outcome::Failure, error.kind())).await;
                return Err(error);
            }
        };
        let (secret, version, hash) = self.new_secret(id).await?;
        let previous = (grace_seconds > 0)
            .then(|| (record.secret_hash.clone(), record.hash_key_version, self.now() + grace_seconds));
        let sealed = [audit.seal(&event)?];
        let rotate = self.store.rotate_api_key_secret(id, &hash, version, previous, &sealed);
        if !self.keyring.freshness().after_change(rotate).await? {
            return Err(CoreError::NotFound(format!("no active API key with id {id:?}")));
        }
        let record = self.store.api_key(id).await?.ok_or_else(|| CoreError::NotFound(id.to_owned()))?;
        Ok((record, IssuedApiKey(Zeroizing::new(format!("sr_{id}_{}", secret.as_str())))))
    }

    /// Checks a presented key used from `client` on one of Strongroom's
    /// routes and counts its use. An application key is refused here,
    /// whatever it holds: it is for its application's endpoints only.
    pub async fn authenticate(
        &self,
        presented: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<ApiKeyPrincipal, CoreError> {
        let principal = self.check(presented, client).await?;
        refuse_application_key(&principal)?;
        Ok(principal)
    }

    /// Checks a presented key used from `client` and counts its use, an
    /// application key too: for introspection and the client credentials
    /// grant, whose callers decide what the key may do.
    pub async fn check(&self, presented: &str, client: Option<std::net::IpAddr>) -> Result<ApiKeyPrincipal, CoreError> {
        let (id, secret) = parse(presented).ok_or(CoreError::Unauthenticated)?;
        let Some((record, access)) = self.with_access(id).await? else {
            // Spend the same MAC as for a known id, so timing does not tell.
            let _ = self.keyring.mac(API_KEY_HASH_KEY, &hash_input(id, secret)).await;
            return Err(CoreError::Unauthenticated);
        };
        let input = hash_input(id, secret);
        let now = self.now();
        let mut valid =
            self.keyring.verify_mac(API_KEY_HASH_KEY, record.hash_key_version, &input, &record.secret_hash).await?;
        if !valid && let Some((hash, version, until)) = &record.previous_secret {
            valid = now < *until && self.keyring.verify_mac(API_KEY_HASH_KEY, *version, &input, hash).await?;
        }
        if !valid {
            return Err(CoreError::Unauthenticated);
        }
        self.admit(record, access, client).await
    }

    /// The key `id`, already proven (a service token it was issued), used
    /// from `client`: its state, address and rate checked and its use
    /// counted as for a presented key.
    pub async fn check_id(&self, id: &str, client: Option<std::net::IpAddr>) -> Result<ApiKeyPrincipal, CoreError> {
        let (record, access) = self.with_access(id).await?.ok_or(CoreError::Unauthenticated)?;
        self.admit(record, access, client).await
    }

    /// Refuses a key that is revoked, expired or whose owner is blocked,
    /// used from outside its addresses or over its rate; counts its use.
    async fn admit(
        &self,
        record: ApiKeyRecord,
        access: PrincipalAccess,
        client: Option<std::net::IpAddr>,
    ) -> Result<ApiKeyPrincipal, CoreError> {
        let now = self.now();
        let live = record.revoked_at.is_none() && record.expires_at.is_none_or(|at| now < at) && !record.owner_blocked;
        if !live {
            return Err(CoreError::Unauthenticated);
        }
        if !record.allowed_cidrs.is_empty() {
            let allowed = client.is_some_and(|ip| {
                record.allowed_cidrs.iter().filter_map(|c| Cidr::parse(c).ok()).any(|cidr| cidr.contains(ip))
            });
            if !allowed {
                return Err(CoreError::Forbidden("this API key may not be used from this address".into()));
            }
        }
        let rate = record.rate();
        let principal = ApiKeyPrincipal {
            id: record.id,
            name: record.name,
            scopes: record.scopes,
            app_scopes: record.app_scopes,
            expires_at: record.expires_at,
            owner_user_id: record.owner_user_id,
            access,
        };
        if let Some(rate) = rate {
            let context = AuditContext { actor: principal.actor(), ip: client, user_agent: None, request_id: None };
            self.rate_limits.spend(Limited::ApiKey(&principal.id), rate, 1, &context).await?;
        }
        {
            let mut pending = self.pending_usage.lock().unwrap_or_else(|p| p.into_inner());
            let entry = pending.entry(principal.id.clone()).or_insert((0, now));
            entry.0 += 1;
            entry.1 = entry.1.max(now);
        }
        Ok(principal)
    }

    /// Spends `units` more of key `id`'s rate limit, beyond the one its
    /// request took: audit ingestion counts every event of a batch as a
    /// request. All or nothing: over the limit nothing is spent and the
    /// answer is `TooManyAttempts`. A key without a limit spends nothing.
    pub async fn spend(&self, id: &str, units: u32, context: &AuditContext) -> Result<(), CoreError> {
        let Some((record, _)) = self.with_access(id).await? else {
            return Err(CoreError::Unauthenticated);
        };
        match record.rate() {
            Some(rate) if units > 0 => self.rate_limits.spend(Limited::ApiKey(&record.id), rate, units, context).await,
            _ => Ok(()),
        }
    }

    /// The key `id` with its grants and elevations: cached while fresh
    /// (`crate::freshness`; elevations are checked against the clock at
    /// every use, so a cached one still ends on time), else from the store.
    async fn with_access(&self, id: &str) -> Result<Option<(ApiKeyRecord, PrincipalAccess)>, CoreError> {
        let freshness = self.keyring.freshness();
        if let Some(found) = self.principals.get(freshness, id) {
            return Ok(Some(found));
        }
        let epoch = freshness.before_read();
        let found = self.store.api_key_with_access(id, self.now()).await?;
        if let Some(found) = &found {
            self.principals.put(epoch, id.to_owned(), found.clone());
        }
        Ok(found)
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

    /// One key (without secrets).
    pub async fn get(&self, id: &str) -> Result<ApiKeyRecord, CoreError> {
        self.store.api_key(id).await?.ok_or_else(|| CoreError::NotFound(format!("no API key with id {id:?}")))
    }

    /// Revokes every live key owned by user `user_id` (incident response:
    /// everything of the user ends); returns how many.
    pub async fn revoke_owned_by(&self, user_id: &str, context: &AuditContext) -> Result<u64, CoreError> {
        let owned: Vec<ApiKeyRecord> = self
            .store
            .list_api_keys()
            .await?
            .into_iter()
            .filter(|key| key.owner_user_id.as_deref() == Some(user_id) && key.revoked_at.is_none())
            .collect();
        for key in &owned {
            self.revoke(&key.id, context).await?;
        }
        Ok(owned.len() as u64)
    }

    /// Revokes a key at once; `NotFound` if it is unknown or already revoked
    /// (as rotating one is: there is no active key by that id).
    pub async fn revoke(&self, id: &str, context: &AuditContext) -> Result<(), CoreError> {
        let audit = self.keyring.audit();
        let event = audit.event(EventType::ApiKeyRevoke, context).target(Target::new("api_key", id));
        let sealed = audit.seal(&event)?;
        if self.keyring.freshness().after_change(self.store.revoke_api_key(id, self.now(), &[sealed])).await? {
            Ok(())
        } else {
            let error = CoreError::NotFound(format!("no active API key with id {id:?}"));
            audit.record_refusal(&event.failed(Outcome::Failure, error.kind())).await;
            Err(error)
        }
    }
}

/// Refuses an application key on Strongroom's own routes (deny by default:
/// the policy `application_key.none` would refuse it again).
pub fn refuse_application_key(principal: &ApiKeyPrincipal) -> Result<(), CoreError> {
    if principal.app_scopes.is_empty() {
        return Ok(());
    }
    Err(CoreError::Denied(crate::error::Denial {
        kind: crate::error::DenialKind::Forbidden,
        detail: "an application key (app: scopes) is for the application that issued it, which validates it by \
                 introspection; it cannot call Strongroom's routes"
            .into(),
        policies: vec!["default/application_key.none".into()],
    }))
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

    #[test]
    fn cidr_blocks_contain_what_they_should() {
        let block = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(block.contains("10.1.200.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.9".parse().unwrap()), "IPv4-mapped IPv6");
        let single = Cidr::parse("127.0.0.1").unwrap();
        assert!(single.contains("127.0.0.1".parse().unwrap()) && !single.contains("127.0.0.2".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()) && !v6.contains("2001:db9::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Cidr::parse(" 10.0.0.0/8 ").unwrap().to_string(), "10.0.0.0/8");
    }
}
