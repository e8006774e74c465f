//! The keyring: named keys with purposes, versions, states and a rotation
//! period, their material wrapped by the root key at rest.
//!
//! Which operation should I use?
//! - [`Keyring::create`], [`Keyring::rotate`], [`Keyring::set_state`],
//!   [`Keyring::set_min_decryption_version`], [`Keyring::delete`]: lifecycle.
//! - [`Keyring::encrypt`] / [`Keyring::decrypt`] / [`Keyring::rewrap`]: sealed
//!   values (`SR` v1, docs/formats.md) under the key's versions.
//! - [`Keyring::rotate_due`]: automatic rotation, called on a schedule.
//!
//! Invariants a reader must not break:
//! - Key material exists at rest only wrapped by the root key, with associated
//!   data naming the key and version, so material moved between keys or
//!   versions does not unwrap. In memory it is in zeroizing containers.
//! - Lifecycle operations read the key's metadata from the store. Using a
//!   key (encrypt, decrypt, MAC, sign) reads it from the store or from the
//!   metadata cache, which `crate::freshness` keeps honest: dropped after
//!   every change made here, and after every change the poller sees in the
//!   store, so a key disabled or destroyed by another instance is refused
//!   here within `database.cache_refresh_ms`. The material cache only saves
//!   unwrapping, never a state check.
//! - `destroyed` is final: the material is erased in the store, the cache
//!   entries dropped, and what the key protected is unreadable (crypto-shredded).
//! - Every change is audited in the same transaction as the change itself
//!   (the store call carries the sealed event); a refused change is audited
//!   as a failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use strongroom_crypto::{
    AssociatedData, Kek, SealedHeader, SecretBytes, SecretKey, generate_ed25519_pkcs8, random_bytes,
};

use crate::audit::{AUDIT_SIGNING_KEY, AuditContext, AuditEvent, AuditLog, CheckpointKey, EventType, Outcome, Target};
use crate::freshness::{Cached, Freshness};
use crate::{Clock, CoreError, KeyStore, StoreError, StoredKey, StoredKeyVersion};

/// What a key is for. Each purpose has its own keys, so a key never serves two roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Wraps the data keys of one matter (case or tenant).
    MatterData,
    /// Signs access tokens (JWT, EdDSA).
    JwtSigning,
    /// Signs audit checkpoints.
    AuditSigning,
    /// MACs session and refresh tokens.
    TokenHmac,
    /// Blind indexes for exact-match search on encrypted fields.
    BlindIndexHmac,
    /// Keyed hashes of API keys.
    ApiKeyHash,
    /// Pseudonyms of personal values in audit events (searchable, not readable).
    AuditHmac,
    /// Seals users' own secrets at rest (TOTP seeds).
    UserSecret,
    /// Encryption as a service for applications (the transit API).
    Transit,
}

/// Algorithms of keyring keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// AES-256-GCM sealed values (`SR` v1).
    Aes256Gcm,
    /// Ed25519 signatures.
    Ed25519,
    /// HMAC-SHA256.
    HmacSha256,
}

/// Lifecycle states of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Encrypts, decrypts, signs, verifies.
    Active,
    /// Decrypts and verifies only (being retired).
    DecryptOnly,
    /// Refuses everything until re-enabled (reversible).
    Disabled,
    /// Suspected exposed: decrypts only, so its data can be re-encrypted under a fresh key.
    Compromised,
    /// Material erased: nothing it protected can be read again. Final.
    Destroyed,
}

macro_rules! string_enum {
    ($type:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $type {
            /// The stable name used in storage and on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            /// Parses [`as_str`](Self::as_str)'s form.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

string_enum!(KeyPurpose {
    MatterData => "matter_data",
    JwtSigning => "jwt_signing",
    AuditSigning => "audit_signing",
    TokenHmac => "token_hmac",
    BlindIndexHmac => "blind_index_hmac",
    ApiKeyHash => "api_key_hash",
    AuditHmac => "audit_hmac",
    UserSecret => "user_secret",
    Transit => "transit",
});

string_enum!(KeyAlgorithm { Aes256Gcm => "aes256-gcm96", Ed25519 => "ed25519", HmacSha256 => "hmac-sha256" });

string_enum!(KeyState {
    Active => "active",
    DecryptOnly => "decrypt_only",
    Disabled => "disabled",
    Compromised => "compromised",
    Destroyed => "destroyed",
});

impl KeyPurpose {
    /// The algorithm a purpose uses unless the caller picks one (transit keys may).
    pub fn default_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::MatterData | Self::Transit | Self::UserSecret => KeyAlgorithm::Aes256Gcm,
            Self::JwtSigning | Self::AuditSigning => KeyAlgorithm::Ed25519,
            Self::TokenHmac | Self::BlindIndexHmac | Self::ApiKeyHash | Self::AuditHmac => KeyAlgorithm::HmacSha256,
        }
    }
}

/// How to create a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// What it is for.
    pub purpose: KeyPurpose,
    /// Its algorithm; `None` takes the purpose's default.
    pub algorithm: Option<KeyAlgorithm>,
    /// Automatic rotation period in seconds.
    pub rotation_period_seconds: Option<i64>,
    /// Whether the key may be deleted later.
    pub deletion_allowed: bool,
}

/// A key's public description (never its material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Name.
    pub name: String,
    /// Purpose.
    pub purpose: KeyPurpose,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// State.
    pub state: KeyState,
    /// The version used for new ciphertexts.
    pub latest_version: u32,
    /// Versions below this no longer decrypt.
    pub min_decryption_version: u32,
    /// Automatic rotation period.
    pub rotation_period_seconds: Option<i64>,
    /// Whether deletion is allowed.
    pub deletion_allowed: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// A key's rotation as monitoring sees it ([`Keyring::rotation_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotationStatus {
    /// Name.
    pub name: String,
    /// Purpose.
    pub purpose: KeyPurpose,
    /// Seconds since its current version was made.
    pub age_seconds: i64,
    /// Whether it is active with a rotation period that has passed.
    pub rotation_due: bool,
}

impl KeyInfo {
    /// Whether automatic rotation is due at `now` (Unix seconds): an active
    /// key whose rotation period has passed since its last change.
    pub fn rotation_due(&self, now: i64) -> bool {
        self.state == KeyState::Active
            && self.rotation_period_seconds.is_some_and(|period| now - self.updated_at >= period)
    }

    fn from_stored(stored: &StoredKey) -> Result<Self, CoreError> {
        let corrupt = |what: &str| {
            CoreError::Store(StoreError::Backend(format!("key {:?} has an unknown {what}", stored.name).into()))
        };
        Ok(Self {
            name: stored.name.clone(),
            purpose: KeyPurpose::parse(&stored.purpose).ok_or_else(|| corrupt("purpose"))?,
            algorithm: KeyAlgorithm::parse(&stored.algorithm).ok_or_else(|| corrupt("algorithm"))?,
            state: KeyState::parse(&stored.state).ok_or_else(|| corrupt("state"))?,
            latest_version: stored.latest_version,
            min_decryption_version: stored.min_decryption_version,
            rotation_period_seconds: stored.rotation_period_seconds,
            deletion_allowed: stored.deletion_allowed,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        })
    }

    fn to_stored(&self) -> StoredKey {
        StoredKey {
            name: self.name.clone(),
            purpose: self.purpose.as_str().into(),
            algorithm: self.algorithm.as_str().into(),
            state: self.state.as_str().into(),
            latest_version: self.latest_version,
            min_decryption_version: self.min_decryption_version,
            rotation_period_seconds: self.rotation_period_seconds,
            deletion_allowed: self.deletion_allowed,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn require(&self, operation: &'static str, allowed: &[KeyState]) -> Result<(), CoreError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(CoreError::KeyUnusable { name: self.name.clone(), state: self.state.as_str(), operation })
        }
    }

    fn require_algorithm(&self, operation: &'static str, algorithm: KeyAlgorithm) -> Result<(), CoreError> {
        if self.algorithm == algorithm {
            Ok(())
        } else {
            Err(CoreError::WrongAlgorithm { name: self.name.clone(), algorithm: self.algorithm.as_str(), operation })
        }
    }
}

/// Checks a key name: 1-128 of `a-z 0-9 . _ -`, starting with a letter or digit.
/// Names appear in paths and ciphertext headers, so they are kept plain.
pub fn validate_key_name(name: &str) -> Result<(), CoreError> {
    let valid = (1..=128).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if valid { Ok(()) } else { Err(CoreError::InvalidKeyName(name.to_owned())) }
}

/// The namespaces of the keys the server makes for itself, created on first
/// use, and the purposes a key named there may have. Reserving them stops a
/// caller who may create keys (transit) from taking such a name first: the
/// server would then find a key it cannot use and refuse its own work (new
/// records of a matter, searches on a field).
const SERVER_NAMESPACES: &[(&str, &[KeyPurpose])] = &[
    ("matter.", &[KeyPurpose::MatterData]),
    ("blind.", &[KeyPurpose::BlindIndexHmac]),
    (
        "system.",
        &[
            KeyPurpose::JwtSigning,
            KeyPurpose::AuditSigning,
            KeyPurpose::TokenHmac,
            KeyPurpose::ApiKeyHash,
            KeyPurpose::AuditHmac,
            KeyPurpose::UserSecret,
        ],
    ),
];

/// Refuses a key of `purpose` named in a server namespace it does not belong to.
fn check_namespace(name: &str, purpose: KeyPurpose) -> Result<(), CoreError> {
    match SERVER_NAMESPACES.iter().find(|(prefix, _)| name.starts_with(prefix)) {
        Some((prefix, purposes)) if !purposes.contains(&purpose) => Err(CoreError::ReservedKeyName {
            name: name.to_owned(),
            prefix,
            purposes: purposes.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("/"),
        }),
        _ => Ok(()),
    }
}

/// Material of one key version, unwrapped.
type Material = Arc<SecretBytes>;

/// The keyring service.
#[derive(Debug)]
pub struct Keyring {
    store: Arc<dyn KeyStore>,
    kek: Arc<dyn Kek>,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    cache: Mutex<HashMap<(String, u32), Material>>,
    freshness: Arc<Freshness>,
    infos: Cached<String, KeyInfo>,
}

pub(crate) fn wrap_aad(name: &str, version: u32) -> Vec<u8> {
    format!("strongroom/keyring/{name}/{version}").into_bytes()
}

fn new_material(algorithm: KeyAlgorithm) -> Result<SecretBytes, CoreError> {
    Ok(match algorithm {
        KeyAlgorithm::Aes256Gcm | KeyAlgorithm::HmacSha256 => SecretBytes::new(random_bytes::<32>()?.to_vec()),
        KeyAlgorithm::Ed25519 => generate_ed25519_pkcs8()?,
    })
}

impl Keyring {
    /// A keyring over `store`, with material wrapped by `kek`, its changes
    /// recorded in `audit`.
    pub fn new(store: Arc<dyn KeyStore>, kek: Arc<dyn Kek>, clock: Arc<dyn Clock>, audit: Arc<AuditLog>) -> Self {
        let freshness = Arc::new(Freshness::off());
        Self { store, kek, clock, audit, cache: Mutex::new(HashMap::new()), freshness, infos: Cached::default() }
    }

    /// Caches key metadata under `freshness` (shared with the services that
    /// cache what depends on keys, and confirmed by the server's poller).
    #[must_use]
    pub fn with_freshness(mut self, freshness: Arc<Freshness>) -> Self {
        self.freshness = freshness;
        self
    }

    /// When cached metadata may be used; the API keys cache under it too.
    pub fn freshness(&self) -> &Arc<Freshness> {
        &self.freshness
    }

    /// The audit log changes are recorded in.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    fn key_event(&self, event_type: EventType, name: &str, context: &AuditContext) -> AuditEvent {
        self.audit.event(event_type, context).target(Target::new("key", name))
    }

    /// Records `event` as refused by `error` (unless the audit itself
    /// failed), then returns the error.
    async fn refused<T>(&self, event: AuditEvent, error: CoreError) -> Result<T, CoreError> {
        if error.is_refusal() {
            self.audit.record_refusal(&event.failed(Outcome::Failure, error.kind())).await;
        }
        Err(error)
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    pub(crate) fn now_seconds(&self) -> i64 {
        self.now()
    }

    pub(crate) fn store_ref(&self) -> &dyn KeyStore {
        self.store.as_ref()
    }

    pub(crate) fn kek_ref(&self) -> &dyn Kek {
        self.kek.as_ref()
    }

    fn wrapped_version(
        &self,
        name: &str,
        version: u32,
        algorithm: KeyAlgorithm,
    ) -> Result<StoredKeyVersion, CoreError> {
        let material = new_material(algorithm)?;
        let wrapped_material = self.kek.wrap(material.expose(), &wrap_aad(name, version))?;
        Ok(StoredKeyVersion { version, wrapped_material, created_at: self.now() })
    }

    /// Creates key `name` with version 1.
    pub async fn create(&self, name: &str, spec: KeySpec, context: &AuditContext) -> Result<KeyInfo, CoreError> {
        let event = self
            .key_event(EventType::KeyCreate, name, context)
            .detail("purpose", spec.purpose.as_str())
            .detail("algorithm", spec.algorithm.unwrap_or(spec.purpose.default_algorithm()).as_str());
        match self.create_audited(name, spec, &event).await {
            Err(error) => self.refused(event, error).await,
            ok => ok,
        }
    }

    async fn create_audited(&self, name: &str, spec: KeySpec, event: &AuditEvent) -> Result<KeyInfo, CoreError> {
        validate_key_name(name)?;
        check_namespace(name, spec.purpose)?;
        let algorithm = spec.algorithm.unwrap_or(spec.purpose.default_algorithm());
        if let Some(period) = spec.rotation_period_seconds
            && period < 3600
        {
            return Err(CoreError::InvalidKeyChange("a rotation period is at least 3600 seconds".into()));
        }
        let now = self.now();
        let info = KeyInfo {
            name: name.to_owned(),
            purpose: spec.purpose,
            algorithm,
            state: KeyState::Active,
            latest_version: 1,
            min_decryption_version: 1,
            rotation_period_seconds: spec.rotation_period_seconds,
            deletion_allowed: spec.deletion_allowed,
            created_at: now,
            updated_at: now,
        };
        let first = self.wrapped_version(name, 1, algorithm)?;
        let record = self.audit.seal(event)?;
        match self.freshness.after_change(self.store.insert_key(&info.to_stored(), &first, &[record])).await {
            Ok(()) => Ok(info),
            Err(StoreError::Conflict(_)) => Err(CoreError::KeyExists(name.to_owned())),
            Err(other) => Err(other.into()),
        }
    }

    /// A key's description, read from the store.
    pub async fn info(&self, name: &str) -> Result<KeyInfo, CoreError> {
        let stored = self.store.key(name).await?.ok_or_else(|| CoreError::KeyNotFound(name.to_owned()))?;
        KeyInfo::from_stored(&stored)
    }

    /// A key's description for using it: from the metadata cache while it
    /// is fresh (see `crate::freshness`), else from the store.
    async fn info_for_use(&self, name: &str) -> Result<KeyInfo, CoreError> {
        if let Some(info) = self.infos.get(&self.freshness, name) {
            return Ok(info);
        }
        let epoch = self.freshness.before_read();
        let info = self.info(name).await?;
        self.infos.put(epoch, name.to_owned(), info.clone());
        Ok(info)
    }

    /// Creation time (Unix seconds) of every version of a key, oldest first.
    pub async fn version_times(&self, name: &str) -> Result<Vec<(u32, i64)>, CoreError> {
        Ok(self.store.key_version_times(name).await?)
    }

    /// Every key with the age of its current version and whether automatic
    /// rotation is due (the rule [`rotate_due`](Self::rotate_due) applies),
    /// for monitoring.
    pub async fn rotation_status(&self) -> Result<Vec<KeyRotationStatus>, CoreError> {
        let now = self.now();
        let created: std::collections::HashMap<String, i64> =
            self.store.current_version_times().await?.into_iter().collect();
        Ok(self
            .list()
            .await?
            .into_iter()
            .map(|info| KeyRotationStatus {
                age_seconds: now.saturating_sub(created.get(&info.name).copied().unwrap_or(info.updated_at)).max(0),
                rotation_due: info.rotation_due(now),
                name: info.name,
                purpose: info.purpose,
            })
            .collect())
    }

    /// Every key.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, CoreError> {
        self.store.list_keys().await?.iter().map(KeyInfo::from_stored).collect()
    }

    /// Adds a new version and makes it the one new ciphertexts use. Old
    /// versions keep decrypting until `min_decryption_version` passes them.
    pub async fn rotate(&self, name: &str, context: &AuditContext) -> Result<KeyInfo, CoreError> {
        match self.rotate_where(name, |_| true, context).await {
            Ok(Some(info)) => Ok(info),
            Ok(None) => Err(CoreError::KeyNotFound(name.to_owned())),
            Err(error) => self.refused(self.key_event(EventType::KeyRotate, name, context), error).await,
        }
    }

    /// Rotates every active key whose rotation period has elapsed; returns
    /// their names. Safe to run on every instance at once: the period is
    /// re-checked on the freshly read key, so a key another instance just
    /// rotated is not rotated again.
    pub async fn rotate_due(&self) -> Result<Vec<String>, CoreError> {
        let context = AuditContext::service("key-rotation-scheduler");
        let now = self.now();
        let due = |info: &KeyInfo| {
            info.state == KeyState::Active
                && info.rotation_period_seconds.is_some_and(|period| now - info.updated_at >= period)
        };
        let mut rotated = Vec::new();
        for info in self.list().await? {
            if due(&info) && self.rotate_where(&info.name, due, &context).await?.is_some() {
                rotated.push(info.name);
            }
        }
        Ok(rotated)
    }

    /// Rotates `name` if `condition` holds on its current metadata; `None` if it did not.
    async fn rotate_where(
        &self,
        name: &str,
        condition: impl Fn(&KeyInfo) -> bool,
        context: &AuditContext,
    ) -> Result<Option<KeyInfo>, CoreError> {
        // A concurrent rotation on another instance makes the append fail;
        // then re-read (and re-check) and try again on top of it.
        for _ in 0..5 {
            let mut info = self.info(name).await?;
            info.require("rotate", &[KeyState::Active, KeyState::DecryptOnly])?;
            if !condition(&info) {
                return Ok(None);
            }
            let next = info.latest_version + 1;
            let version = self.wrapped_version(name, next, info.algorithm)?;
            let event = self.key_event(EventType::KeyRotate, name, context).detail("version", next);
            let records = [self.audit.seal(&event)?];
            let append = self.store.append_key_version(name, info.latest_version, &version, &records);
            if self.freshness.after_change(append).await? {
                info.latest_version = next;
                info.updated_at = version.created_at;
                return Ok(Some(info));
            }
        }
        Err(CoreError::InvalidKeyChange(format!("key {name:?} is being rotated concurrently; retry")))
    }

    /// Retires versions below `version` from decryption. It may not pass the
    /// latest version, and never goes backwards (retired material stays retired).
    pub async fn set_min_decryption_version(
        &self,
        name: &str,
        version: u32,
        context: &AuditContext,
    ) -> Result<KeyInfo, CoreError> {
        let event = self.key_event(EventType::KeyConfig, name, context).detail("min_decryption_version", version);
        match self.set_min_audited(name, version, &event).await {
            Err(error) => self.refused(event, error).await,
            ok => ok,
        }
    }

    async fn set_min_audited(&self, name: &str, version: u32, event: &AuditEvent) -> Result<KeyInfo, CoreError> {
        let mut info = self.info(name).await?;
        if version < info.min_decryption_version || version > info.latest_version {
            return Err(CoreError::InvalidKeyChange(format!(
                "min_decryption_version must be between the current {} and the latest version {}",
                info.min_decryption_version, info.latest_version
            )));
        }
        info.min_decryption_version = version;
        self.save(&mut info, event).await?;
        Ok(info)
    }

    /// Allows or forbids deletion and sets the rotation period.
    pub async fn configure(
        &self,
        name: &str,
        deletion_allowed: Option<bool>,
        rotation_period_seconds: Option<Option<i64>>,
        context: &AuditContext,
    ) -> Result<KeyInfo, CoreError> {
        let mut event = self.key_event(EventType::KeyConfig, name, context);
        if let Some(allowed) = deletion_allowed {
            event = event.detail("deletion_allowed", allowed);
        }
        if let Some(period) = rotation_period_seconds {
            event = event.detail("rotation_period_seconds", period.unwrap_or(0));
        }
        match self.configure_audited(name, deletion_allowed, rotation_period_seconds, &event).await {
            Err(error) => self.refused(event, error).await,
            ok => ok,
        }
    }

    async fn configure_audited(
        &self,
        name: &str,
        deletion_allowed: Option<bool>,
        rotation_period_seconds: Option<Option<i64>>,
        event: &AuditEvent,
    ) -> Result<KeyInfo, CoreError> {
        let mut info = self.info(name).await?;
        if let Some(allowed) = deletion_allowed {
            info.deletion_allowed = allowed;
        }
        if let Some(period) = rotation_period_seconds {
            if period.is_some_and(|p| p < 3600) {
                return Err(CoreError::InvalidKeyChange("a rotation period is at least 3600 seconds".into()));
            }
            info.rotation_period_seconds = period;
        }
        self.save(&mut info, event).await?;
        Ok(info)
    }

    /// Moves a key to `state`, for the stated `justification`. `destroyed`
    /// is final and erases the material; a compromised key can only be destroyed.
    pub async fn set_state(
        &self,
        name: &str,
        state: KeyState,
        justification: &str,
        context: &AuditContext,
    ) -> Result<KeyInfo, CoreError> {
        let event = self
            .key_event(EventType::KeyStateChange, name, context)
            .detail("state", state.as_str())
            .justification(justification);
        match self.set_state_audited(name, state, event.clone()).await {
            Err(error) => self.refused(event, error).await,
            ok => ok,
        }
    }

    async fn set_state_audited(&self, name: &str, state: KeyState, event: AuditEvent) -> Result<KeyInfo, CoreError> {
        let mut info = self.info(name).await?;
        let mut event = event.detail("previous_state", info.state.as_str());
        let allowed = match (info.state, state) {
            (KeyState::Destroyed, _) => false,
            (KeyState::Compromised, target) => target == KeyState::Destroyed || target == KeyState::Compromised,
            _ => true,
        };
        if !allowed {
            return Err(CoreError::Conflict(format!(
                "key {name:?} is {}: it cannot become {}",
                info.state.as_str(),
                state.as_str()
            )));
        }
        if state == KeyState::Destroyed {
            event.severity = crate::audit::Severity::Critical;
            let destroyed = self.store.destroy_key_material(name, self.now(), &[self.audit.seal(&event)?]).await;
            self.forget(name);
            destroyed?;
            return self.info(name).await;
        }
        info.state = state;
        self.save(&mut info, &event).await?;
        Ok(info)
    }

    /// Deletes a key whose deletion is allowed. Like destruction, this makes
    /// everything it protected unreadable.
    pub async fn delete(&self, name: &str, context: &AuditContext) -> Result<(), CoreError> {
        let event = self.key_event(EventType::KeyDelete, name, context);
        match self.delete_audited(name, &event).await {
            Err(error) => self.refused(event, error).await,
            ok => ok,
        }
    }

    async fn delete_audited(&self, name: &str, event: &AuditEvent) -> Result<(), CoreError> {
        let info = self.info(name).await?;
        if !info.deletion_allowed {
            return Err(CoreError::InvalidKeyChange(format!(
                "key {name:?} is protected from deletion; allow it with its configuration first"
            )));
        }
        let deleted = self.store.delete_key(name, &[self.audit.seal(event)?]).await;
        self.forget(name);
        deleted?;
        Ok(())
    }

    async fn save(&self, info: &mut KeyInfo, event: &AuditEvent) -> Result<(), CoreError> {
        info.updated_at = self.now();
        let record = self.audit.seal(event)?;
        if self.freshness.after_change(self.store.update_key(&info.to_stored(), &[record])).await? {
            Ok(())
        } else {
            Err(CoreError::KeyNotFound(info.name.clone()))
        }
    }

    /// Drops what is cached of `name` (its material, and all metadata).
    fn forget(&self, name: &str) {
        self.freshness.changed();
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).retain(|(key, _), _| key != name);
    }

    async fn material(&self, info: &KeyInfo, version: u32) -> Result<Material, CoreError> {
        let cache_key = (info.name.clone(), version);
        if let Some(found) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&cache_key) {
            return Ok(Arc::clone(found));
        }
        let stored = self
            .store
            .key_version(&info.name, version)
            .await?
            .filter(|v| !v.wrapped_material.is_empty())
            .ok_or_else(|| CoreError::KeyVersionNotFound { name: info.name.clone(), version })?;
        let material = Arc::new(self.kek.unwrap(&stored.wrapped_material, &wrap_aad(&info.name, version))?);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(cache_key, Arc::clone(&material));
        Ok(material)
    }

    fn aes_key(material: &SecretBytes) -> Result<SecretKey, CoreError> {
        Ok(SecretKey::from_slice(material.expose())?)
    }

    /// Creates `name` unless it exists (for the server's own keys, created on
    /// first start by whichever instance gets there first), and returns it.
    pub async fn ensure(&self, name: &str, spec: KeySpec, context: &AuditContext) -> Result<KeyInfo, CoreError> {
        let purpose = spec.purpose;
        if let Ok(info) = self.info(name).await {
            return same_purpose(info, purpose);
        }
        let event = self.key_event(EventType::KeyCreate, name, context).detail("purpose", purpose.as_str());
        match self.create_audited(name, spec, &event).await {
            Err(CoreError::KeyExists(_)) => same_purpose(self.info(name).await?, purpose),
            Err(error) => self.refused(event, error).await,
            ok => ok,
        }
    }

    /// Loads the audit HMAC key (creating it on first start) into a
    /// [`crate::audit::Pseudonymizer`] holding every readable version.
    pub async fn audit_pseudonymizer(&self, context: &AuditContext) -> Result<crate::audit::Pseudonymizer, CoreError> {
        let spec = KeySpec {
            purpose: KeyPurpose::AuditHmac,
            algorithm: None,
            rotation_period_seconds: None,
            deletion_allowed: false,
        };
        let info = self.ensure(crate::audit::AUDIT_HMAC_KEY, spec, context).await?;
        let mut keys = Vec::new();
        for version in info.min_decryption_version..=info.latest_version {
            keys.push((version, Self::aes_key(&*self.material(&info, version).await?)?));
        }
        crate::audit::Pseudonymizer::new(keys)
    }

    /// HMAC-SHA256 of `data` under the latest version; returns the version used,
    /// which the caller stores beside the MAC to verify it after rotations.
    pub async fn mac(&self, name: &str, data: &[u8]) -> Result<(u32, [u8; 32]), CoreError> {
        let info = self.info_for_use(name).await?;
        info.require("compute a MAC", &[KeyState::Active])?;
        info.require_algorithm("compute a MAC", KeyAlgorithm::HmacSha256)?;
        let material = self.material(&info, info.latest_version).await?;
        Ok((info.latest_version, strongroom_crypto::hmac_sha256(material.expose(), data)))
    }

    /// Checks, in constant time, that `expected` is the MAC of `data` under `version`.
    pub async fn verify_mac(&self, name: &str, version: u32, data: &[u8], expected: &[u8]) -> Result<bool, CoreError> {
        let info = self.info_for_use(name).await?;
        info.require("verify a MAC", &[KeyState::Active, KeyState::DecryptOnly])?;
        info.require_algorithm("verify a MAC", KeyAlgorithm::HmacSha256)?;
        if version < info.min_decryption_version || version > info.latest_version {
            return Ok(false);
        }
        let material = self.material(&info, version).await?;
        Ok(strongroom_crypto::ct_eq(&strongroom_crypto::hmac_sha256(material.expose(), data), expected))
    }

    /// The key `name` if it serves `purpose`; a key of another purpose does
    /// not exist for this caller (so transit cannot reach the server's own keys).
    pub async fn info_for(&self, purpose: KeyPurpose, name: &str) -> Result<KeyInfo, CoreError> {
        serving(self.info(name).await?, purpose)
    }

    /// Looks `name` up once for a run of operations (a request, a batch):
    /// the key must serve `purpose`, and its state and versions are those read
    /// now, or cached while fresh (`crate::freshness`). Material comes from
    /// the keyring's cache.
    pub async fn use_key(&self, purpose: KeyPurpose, name: &str) -> Result<KeyUse<'_>, CoreError> {
        Ok(KeyUse { keyring: self, info: serving(self.info_for_use(name).await?, purpose)? })
    }

    /// Seals `plaintext` under the latest version of `name` (which must serve
    /// `purpose`), bound to `context`.
    pub async fn encrypt(
        &self,
        purpose: KeyPurpose,
        name: &str,
        plaintext: &[u8],
        context: &AssociatedData,
    ) -> Result<Vec<u8>, CoreError> {
        self.use_key(purpose, name).await?.encrypt(plaintext, context).await
    }

    /// Opens a sealed value made by `name` (which must serve `purpose`), for `context`.
    pub async fn decrypt(
        &self,
        purpose: KeyPurpose,
        name: &str,
        sealed: &[u8],
        context: &AssociatedData,
    ) -> Result<SecretBytes, CoreError> {
        self.use_key(purpose, name).await?.decrypt(sealed, context).await
    }

    /// Re-encrypts a sealed value under the latest version without the
    /// plaintext leaving this call; works with any context, unlike Vault's
    /// rewrap with associated data (hashicorp/vault#29532).
    pub async fn rewrap(
        &self,
        purpose: KeyPurpose,
        name: &str,
        sealed: &[u8],
        context: &AssociatedData,
    ) -> Result<Vec<u8>, CoreError> {
        self.use_key(purpose, name).await?.rewrap(sealed, context).await
    }
}

/// The key `ensure` found, if it has the purpose asked for: one made
/// before the namespaces were reserved may not. Unlike [`serving`], a
/// mismatch is the server's own misconfiguration, so it is named, not hidden.
fn same_purpose(info: KeyInfo, purpose: KeyPurpose) -> Result<KeyInfo, CoreError> {
    if info.purpose == purpose {
        Ok(info)
    } else {
        Err(CoreError::InvalidKeyChange(format!(
            "key {:?} exists with purpose {}, not {}",
            info.name,
            info.purpose.as_str(),
            purpose.as_str()
        )))
    }
}

/// The audit log's checkpoint signer uses [`AUDIT_SIGNING_KEY`] through
/// this port (see [`CheckpointKey`]).
#[async_trait::async_trait]
impl CheckpointKey for Keyring {
    async fn ensure_checkpoint_key(&self, context: &AuditContext) -> Result<(), CoreError> {
        let spec = KeySpec {
            purpose: KeyPurpose::AuditSigning,
            algorithm: None,
            rotation_period_seconds: None,
            deletion_allowed: false,
        };
        self.ensure(AUDIT_SIGNING_KEY, spec, context).await.map(|_| ())
    }

    async fn checkpoint_public_keys(&self) -> Result<Vec<[u8; 32]>, CoreError> {
        let key = self.use_key(KeyPurpose::AuditSigning, AUDIT_SIGNING_KEY).await?;
        let info = key.info();
        let mut keys = Vec::new();
        for version in (info.min_decryption_version..=info.latest_version).rev() {
            keys.push(key.public_key(version).await?);
        }
        Ok(keys)
    }

    async fn sign_checkpoint(&self, message: &[u8]) -> Result<([u8; 64], [u8; 32]), CoreError> {
        let key = self.use_key(KeyPurpose::AuditSigning, AUDIT_SIGNING_KEY).await?;
        let (version, signature) = key.sign(message).await?;
        Ok((signature, key.public_key(version).await?))
    }
}

/// `info` if its key serves `purpose`; a key of another purpose does not
/// exist for the caller.
fn serving(info: KeyInfo, purpose: KeyPurpose) -> Result<KeyInfo, CoreError> {
    if info.purpose == purpose { Ok(info) } else { Err(CoreError::KeyNotFound(info.name)) }
}

/// A key looked up once for several operations (see [`Keyring::use_key`]).
#[derive(Debug)]
pub struct KeyUse<'a> {
    keyring: &'a Keyring,
    info: KeyInfo,
}

impl KeyUse<'_> {
    /// The key as it was when looked up.
    pub fn info(&self) -> &KeyInfo {
        &self.info
    }

    /// Seals `plaintext` under the latest version, bound to `context`.
    pub async fn encrypt(&self, plaintext: &[u8], context: &AssociatedData) -> Result<Vec<u8>, CoreError> {
        let info = &self.info;
        info.require("encrypt", &[KeyState::Active])?;
        info.require_algorithm("encrypt", KeyAlgorithm::Aes256Gcm)?;
        let material = self.keyring.material(info, info.latest_version).await?;
        let header = SealedHeader { key_name: info.name.clone(), key_version: info.latest_version };
        Ok(strongroom_crypto::seal(&Keyring::aes_key(&material)?, &header, plaintext, context)?)
    }

    /// Opens a sealed value made by this key, for `context`.
    pub async fn decrypt(&self, sealed: &[u8], context: &AssociatedData) -> Result<SecretBytes, CoreError> {
        let info = &self.info;
        info.require("decrypt", &[KeyState::Active, KeyState::DecryptOnly, KeyState::Compromised])?;
        info.require_algorithm("decrypt", KeyAlgorithm::Aes256Gcm)?;
        let (header, _) = SealedHeader::parse(sealed)?;
        if header.key_name != info.name {
            return Err(CoreError::WrongKeyForCiphertext(info.name.clone()));
        }
        self.check_readable_version(header.key_version)?;
        let material = self.keyring.material(info, header.key_version).await?;
        Ok(strongroom_crypto::open(&Keyring::aes_key(&material)?, sealed, context)?)
    }

    /// HMAC-SHA256 of `data` under the latest version. For an AES key the MAC
    /// key is an HKDF sub-key of its material, never the AES key itself.
    pub async fn hmac(&self, data: &[u8]) -> Result<(u32, [u8; 32]), CoreError> {
        let info = &self.info;
        info.require("compute a MAC", &[KeyState::Active])?;
        let key = self.mac_key(info.latest_version).await?;
        Ok((info.latest_version, strongroom_crypto::hmac_sha256(key.expose(), data)))
    }

    /// Checks an HMAC made by [`hmac`](Self::hmac) with `version`, in constant time.
    pub async fn verify_hmac(&self, version: u32, data: &[u8], mac: &[u8]) -> Result<bool, CoreError> {
        let info = &self.info;
        info.require("verify a MAC", &[KeyState::Active, KeyState::DecryptOnly, KeyState::Compromised])?;
        self.check_readable_version(version)?;
        let key = self.mac_key(version).await?;
        Ok(strongroom_crypto::ct_eq(&strongroom_crypto::hmac_sha256(key.expose(), data), mac))
    }

    async fn mac_key(&self, version: u32) -> Result<SecretKey, CoreError> {
        let material = self.keyring.material(&self.info, version).await?;
        Ok(match self.info.algorithm {
            KeyAlgorithm::HmacSha256 => SecretKey::from_slice(material.expose())?,
            KeyAlgorithm::Aes256Gcm => strongroom_crypto::derive_subkey(material.expose(), "strongroom/transit/hmac"),
            KeyAlgorithm::Ed25519 => {
                return Err(CoreError::WrongAlgorithm {
                    name: self.info.name.clone(),
                    algorithm: self.info.algorithm.as_str(),
                    operation: "compute a MAC",
                });
            }
        })
    }

    /// Ed25519 signature of `message` with the latest version.
    pub async fn sign(&self, message: &[u8]) -> Result<(u32, [u8; 64]), CoreError> {
        let info = &self.info;
        info.require("sign", &[KeyState::Active])?;
        info.require_algorithm("sign", KeyAlgorithm::Ed25519)?;
        let material = self.keyring.material(info, info.latest_version).await?;
        Ok((info.latest_version, strongroom_crypto::ed25519_sign(material.expose(), message)?))
    }

    /// Verifies a signature made with `version`.
    pub async fn verify_signature(&self, version: u32, message: &[u8], signature: &[u8]) -> Result<bool, CoreError> {
        let info = &self.info;
        info.require("verify", &[KeyState::Active, KeyState::DecryptOnly, KeyState::Compromised])?;
        info.require_algorithm("verify", KeyAlgorithm::Ed25519)?;
        self.check_readable_version(version)?;
        let material = self.keyring.material(info, version).await?;
        let public = strongroom_crypto::ed25519_public_key(material.expose())?;
        Ok(strongroom_crypto::ed25519_verify(&public, message, signature))
    }

    /// The Ed25519 public key of `version`.
    pub async fn public_key(&self, version: u32) -> Result<[u8; 32], CoreError> {
        let info = &self.info;
        info.require_algorithm("verify", KeyAlgorithm::Ed25519)?;
        self.check_readable_version(version)?;
        let material = self.keyring.material(info, version).await?;
        Ok(strongroom_crypto::ed25519_public_key(material.expose())?)
    }

    fn check_readable_version(&self, version: u32) -> Result<(), CoreError> {
        let info = &self.info;
        if version < info.min_decryption_version {
            return Err(CoreError::KeyVersionRetired {
                name: info.name.clone(),
                version,
                min: info.min_decryption_version,
            });
        }
        if version == 0 || version > info.latest_version {
            return Err(CoreError::KeyVersionNotFound { name: info.name.clone(), version });
        }
        Ok(())
    }

    /// Decrypts and re-encrypts under the latest version, with the same context.
    pub async fn rewrap(&self, sealed: &[u8], context: &AssociatedData) -> Result<Vec<u8>, CoreError> {
        let plaintext = self.decrypt(sealed, context).await?;
        self.encrypt(plaintext.expose(), context).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_plain() {
        for good in ["a", "matter-42", "jwt.signing_v2", "0abc"] {
            assert!(validate_key_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "A", "a/b", "a b", "..", &"x".repeat(129), "é"] {
            assert!(validate_key_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_round_trip_through_their_text_form() {
        for state in
            [KeyState::Active, KeyState::DecryptOnly, KeyState::Disabled, KeyState::Compromised, KeyState::Destroyed]
        {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
        }
        assert_eq!(KeyAlgorithm::parse("aes256-gcm96"), Some(KeyAlgorithm::Aes256Gcm));
        assert_eq!(KeyPurpose::parse("nope"), None);
    }
}
