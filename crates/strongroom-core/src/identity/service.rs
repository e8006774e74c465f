//! The identity service: users, passwords, logins with TOTP, access and
//! refresh tokens, sessions, lockout and password resets.
//!
//! Invariants a reader must not break:
//! - No enumeration: an unknown user, a wrong password, a disabled or locked
//!   account all answer [`CoreError::LoginFailed`] after the same Argon2 work.
//! - Every request's access token is checked against its session and user in
//!   the database ([`Identity::authenticate`]): revoking a session, locking or
//!   disabling a user ends its tokens at once, whatever their expiry.
//! - Refresh tokens are single use: a used one presented again revokes the
//!   whole session and records `token.reuse` (theft suspected).
//! - Secrets (tokens, codes, seeds) exist in clear only in the answer that
//!   hands them out; the store holds keyed hashes, and TOTP seeds sealed by
//!   the keyring.
//! - Personal data (e-mail, full name, a session's address and user agent)
//!   is stored sealed under [`USER_SECRETS_KEY`], bound to its row and
//!   column, and opened only to be shown; what is compared (a session's
//!   address and user agent) is compared by keyed hash.
//! - Every change writes its audit event in the same transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use strongroom_crypto::{AssociatedData, PasswordCheck, jwt_assemble, jwt_signing_input, random_bytes};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::model::{
    Grantor, IdentityStore, OneTimeKind, RefreshOutcome, Role, SealedSessionFields, SealedUserFields, SessionRecord,
    UserRecord,
};
use super::settings::IdentitySettings;
use super::signer;
use crate::audit::{Actor, ActorKind, AuditContext, AuditEvent, AuditLog, EventType, Outcome, Target};
use crate::authz::{PrincipalAccess, Subject, user_facts};
use crate::{Clock, CoreError, KeyPurpose, KeySpec, KeyState, Keyring};

/// The keyring key that signs access tokens (Ed25519, rotated every 30 days;
/// old versions stay in the JWKS).
pub const JWT_SIGNING_KEY: &str = "system.jwt-signing";
/// The keyring key whose HMACs stand for refresh, reset and MFA tokens and recovery codes.
pub const TOKEN_HMAC_KEY: &str = "system.token-hmac";
/// The keyring key that seals TOTP seeds and users' personal data.
pub const USER_SECRETS_KEY: &str = "system.user-secrets";
/// How many old rows one transaction of [`Identity::seal_old_rows`] seals.
const SEALING_BATCH: u32 = 100;

const JWT_ROTATION_SECONDS: i64 = 30 * 86_400;
/// How long a public key of the JWT signer is trusted from memory.
const PUBLIC_KEY_CACHE: Duration = Duration::from_secs(60);
/// Clock skew tolerated on `nbf`/`iat`.
const CLOCK_SKEW_SECONDS: i64 = 60;
const RECOVERY_CODES: usize = 10;

/// A secret handed out once (a token, a recovery code): zeroized on drop,
/// hidden from `Debug`.
#[derive(Clone)]
pub struct OneTimeSecret(Zeroizing<String>);

impl OneTimeSecret {
    fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret, to put in the one answer that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OneTimeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Tokens of a started or refreshed session.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The JWT for `Authorization: Bearer`.
    pub access_token: OneTimeSecret,
    /// The opaque, single-use refresh token.
    pub refresh_token: OneTimeSecret,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The session.
    pub session_id: String,
}

/// What a password login leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Logged in.
    Tokens(TokenPair),
    /// The password was right; a TOTP code (or recovery code) must follow with this token.
    MfaRequired {
        /// For `POST /v1/auth/mfa`.
        mfa_token: OneTimeSecret,
    },
    /// The password was right, the user's role requires a second factor and
    /// none is enrolled: this token allows enrolling one (and nothing else).
    MfaEnrollmentRequired {
        /// For `POST /v1/auth/totp/enroll` and `…/confirm`.
        enrollment_token: OneTimeSecret,
    },
}

/// An authenticated user, as every request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    /// User id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Roles, as stored now (not as the token said).
    pub roles: Vec<Role>,
    /// The session.
    pub session_id: String,
    /// Unix seconds of the session's last MFA, if any.
    pub mfa_at: Option<i64>,
    /// Matter grants and live elevations, loaded with the session.
    pub access: PrincipalAccess,
}

impl UserPrincipal {
    /// Whether one of the user's roles includes `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.iter().any(|mine| mine.includes(role))
    }

    /// The principal as authorization sees it.
    pub fn subject(&self) -> Subject {
        Subject {
            facts: user_facts(
                &self.user_id,
                &self.username,
                self.roles.iter().map(|r| r.as_str()),
                self.access.matters.clone(),
            ),
            elevations: self.access.elevations.clone(),
            mfa_at: self.mfa_at,
            session: Some(self.session_id.clone()),
            trail: Default::default(),
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> Actor {
        Actor {
            kind: ActorKind::User,
            id: self.user_id.clone(),
            name: Some(self.username.clone()),
            roles: self.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (lower-cased).
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// How the password is set.
    pub password: NewPassword,
}

/// How a new user's password is set.
#[derive(Clone)]
pub enum NewPassword {
    /// A password, checked against the policy and hashed.
    Plain(Zeroizing<String>),
    /// A hash imported from another system (Argon2id or bcrypt), upgraded at the first login.
    ImportedHash(String),
    /// None: a service account, which only owns API keys.
    None,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Plain(<hidden>)",
            Self::ImportedHash(_) => "ImportedHash(<hidden>)",
            Self::None => "None",
        })
    }
}

/// A user's personal data, opened to be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub full_name: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Profile(<hidden>)")
    }
}

/// Where a session was started from, opened to be shown.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionClient {
    /// The client address at login.
    pub ip: Option<String>,
    /// The user agent at login.
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for SessionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionClient(<hidden>)")
    }
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// New e-mail address.
    pub email: Option<String>,
    /// New full name.
    pub full_name: Option<String>,
    /// Disable or re-enable.
    pub disabled: Option<bool>,
}

fn random_id() -> Result<String, CoreError> {
    Ok(random_bytes::<16>()?.iter().map(|b| format!("{b:02x}")).collect())
}

fn random_token(prefix: &str) -> Result<OneTimeSecret, CoreError> {
    Ok(OneTimeSecret::new(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))))
}

/// Checks a username: 1-64 of `a-z 0-9 . _ - @`, starting with a letter or digit.
pub fn normalize_username(username: &str) -> Result<String, CoreError> {
    let name = username.trim().to_lowercase();
    let valid = (1..=64).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if valid {
        Ok(name)
    } else {
        Err(CoreError::InvalidInput(
            "username: 1-64 characters of a-z, 0-9, '.', '_', '-', '@', starting with a letter or digit".into(),
        ))
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<String, CoreError> {
    let value = value.trim();
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(CoreError::InvalidInput(format!("{field}: at most {max} printable characters")));
    }
    Ok(value.to_owned())
}

fn check_email(email: &str) -> Result<String, CoreError> {
    let email = check_text("email", email, 254)?;
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
    }) && !email.contains(' ');
    if valid { Ok(email) } else { Err(CoreError::InvalidInput("email: an address such as ann@example.com".into())) }
}

/// A version of the JWT signer: (generation, version).
type SignerVersion = (u32, u32);

/// The identity service.
#[derive(Debug)]
pub struct Identity {
    store: Arc<dyn IdentityStore>,
    keyring: Arc<Keyring>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    settings: IdentitySettings,
    hashing: Arc<Semaphore>,
    /// Session activity since the last flush: id → Unix seconds.
    pending_seen: Mutex<HashMap<String, i64>>,
    /// Public keys of signer versions, by (generation, version), trusted from
    /// memory only after the key's state was checked.
    public_keys: Mutex<HashMap<SignerVersion, ([u8; 32], Instant)>>,
}

impl Identity {
    /// The service. Creates its keyring keys on first use.
    pub fn new(
        store: Arc<dyn IdentityStore>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: IdentitySettings,
    ) -> Self {
        let audit = Arc::clone(keyring.audit());
        let hashing = Arc::new(Semaphore::new(settings.hashing_concurrency.max(1)));
        Self {
            store,
            keyring,
            audit,
            clock,
            settings,
            hashing,
            pending_seen: Mutex::default(),
            public_keys: Mutex::default(),
        }
    }

    /// The settings in effect.
    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    /// Creates the keys this service uses (JWT signing, token HMAC, user secrets).
    pub async fn ensure_keys(&self, context: &AuditContext) -> Result<(), CoreError> {
        let spec = |purpose, rotation| KeySpec {
            purpose,
            algorithm: None,
            rotation_period_seconds: rotation,
            deletion_allowed: false,
        };
        self.keyring.ensure(JWT_SIGNING_KEY, jwt_key_spec(), context).await?;
        self.keyring.ensure(TOKEN_HMAC_KEY, spec(KeyPurpose::TokenHmac, None), context).await?;
        self.keyring.ensure(USER_SECRETS_KEY, spec(KeyPurpose::UserSecret, None), context).await?;
        Ok(())
    }

    // ---- passwords -------------------------------------------------------

    /// Runs `work` on the blocking pool, at most `hashing_concurrency` at once.
    async fn hashing<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, CoreError> {
        let _permit = Arc::clone(&self.hashing)
            .acquire_owned()
            .await
            .map_err(|_| CoreError::InvalidInput("the server is shutting down".into()))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| CoreError::Store(crate::StoreError::Backend(Box::new(e))))
    }

    async fn hash_password(&self, password: &str) -> Result<String, CoreError> {
        let password = Zeroizing::new(password.to_owned());
        let params = self.settings.password_params;
        Ok(self.hashing(move || strongroom_crypto::hash_password(password.as_bytes(), &params)).await??)
    }

    async fn check_password(&self, password: &str, stored: Option<String>) -> Result<PasswordCheck, CoreError> {
        let password = Zeroizing::new(password.to_owned());
        let params = self.settings.password_params;
        self.hashing(move || match stored {
            Some(stored) => strongroom_crypto::verify_password(password.as_bytes(), &stored, &params)
                .unwrap_or(PasswordCheck::Invalid),
            None => {
                strongroom_crypto::spend_password_check(password.as_bytes(), &params);
                PasswordCheck::Invalid
            }
        })
        .await
    }

    async fn token_hash(&self, kind: &str, token: &str) -> Result<Vec<u8>, CoreError> {
        Ok(self.keyring.mac(TOKEN_HMAC_KEY, format!("strongroom/{kind}/{token}").as_bytes()).await?.1.to_vec())
    }

    // ---- personal data ---------------------------------------------------

    /// Seals `value` of `table`.`column` for row `id`: a sealed value
    /// copied into another row or column does not open there.
    async fn seal_personal(&self, table: &str, column: &str, id: &str, value: &str) -> Result<Vec<u8>, CoreError> {
        let context = personal_context(table, column, id);
        self.keyring.encrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, value.as_bytes(), &context).await
    }

    async fn open_personal(&self, table: &str, column: &str, id: &str, sealed: &[u8]) -> Result<String, CoreError> {
        let context = personal_context(table, column, id);
        let opened = self.keyring.decrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, sealed, &context).await?;
        String::from_utf8(opened.expose().to_vec()).map_err(|_| {
            CoreError::Store(crate::StoreError::Backend(format!("{table}.{column} of {id:?} is not text").into()))
        })
    }

    /// The keyed hash a session's `column` (`ip`, `user_agent`) is compared
    /// by, bound to the session so equal values of two sessions differ.
    async fn session_mac(&self, column: &str, session_id: &str, value: &str) -> Result<Vec<u8>, CoreError> {
        self.token_hash(&format!("session-{column}"), &format!("{session_id}/{value}")).await
    }

    /// A user's e-mail and full name, opened to be shown.
    pub async fn profile(&self, user: &UserRecord) -> Result<Profile, CoreError> {
        Ok(Profile {
            email: self.open_personal("users", "email", &user.id, &user.sealed_email).await?,
            full_name: self.open_personal("users", "full_name", &user.id, &user.sealed_full_name).await?,
        })
    }

    /// Where a session was started from, opened to be shown.
    pub async fn session_client(&self, session: &SessionRecord) -> Result<SessionClient, CoreError> {
        let mut client = SessionClient::default();
        if let Some(sealed) = &session.sealed_ip {
            client.ip = Some(self.open_personal("sessions", "ip", &session.id, sealed).await?);
        }
        if let Some(sealed) = &session.sealed_user_agent {
            client.user_agent = Some(self.open_personal("sessions", "user_agent", &session.id, sealed).await?);
        }
        Ok(client)
    }

    async fn sealed_session_fields(
        &self,
        id: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<SealedSessionFields, CoreError> {
        let mut fields = SealedSessionFields {
            id: id.to_owned(),
            sealed_ip: None,
            sealed_user_agent: None,
            ip_mac: None,
            user_agent_mac: None,
        };
        if let Some(ip) = ip {
            fields.sealed_ip = Some(self.seal_personal("sessions", "ip", id, ip).await?);
            fields.ip_mac = Some(self.session_mac("ip", id, ip).await?);
        }
        if let Some(agent) = user_agent {
            fields.sealed_user_agent = Some(self.seal_personal("sessions", "user_agent", id, agent).await?);
            fields.user_agent_mac = Some(self.session_mac("user_agent", id, agent).await?);
        }
        Ok(fields)
    }

    /// Seals the personal data of rows written before it was sealed
    /// (migration 0014) and empties their clear columns, a batch per
    /// transaction; then has the store forget the emptied values. Run before
    /// serving; a second run finds nothing to do. Returns how many rows it sealed.
    pub async fn seal_old_rows(&self) -> Result<u64, CoreError> {
        let mut sealed = 0u64;
        loop {
            let users = self.store.unsealed_users(SEALING_BATCH).await?;
            let sessions = self.store.unsealed_sessions(SEALING_BATCH).await?;
            if users.is_empty() && sessions.is_empty() {
                break;
            }
            let mut user_fields = Vec::with_capacity(users.len());
            for user in &users {
                user_fields.push(SealedUserFields {
                    id: user.id.clone(),
                    sealed_email: self.seal_personal("users", "email", &user.id, &user.email).await?,
                    sealed_full_name: self.seal_personal("users", "full_name", &user.id, &user.full_name).await?,
                });
            }
            let mut session_fields = Vec::with_capacity(sessions.len());
            for session in &sessions {
                session_fields.push(
                    self.sealed_session_fields(&session.id, session.ip.as_deref(), session.user_agent.as_deref())
                        .await?,
                );
            }
            self.store.seal_old_rows(&user_fields, &session_fields).await?;
            sealed += (users.len() + sessions.len()) as u64;
        }
        if sealed > 0 {
            self.store.forget_cleared_values().await?;
        }
        Ok(sealed)
    }

    // ---- users -----------------------------------------------------------

    fn user_event(&self, event_type: EventType, user: &UserRecord, context: &AuditContext) -> AuditEvent {
        self.audit
            .event(event_type, context)
            .target(Target::new("user", user.id.clone()))
            .detail("username", user.username.clone())
    }

    /// Refuses (and audits the refusal of) `event`'s action when `grantor`
    /// does not cover one of `roles`: nobody grants a role above their own
    /// or manages a user above them (see [`Grantor`]).
    async fn check_grantor(&self, grantor: &Grantor, roles: &[Role], event: &AuditEvent) -> Result<(), CoreError> {
        let Some(role) = grantor.first_uncovered(roles) else { return Ok(()) };
        let refused = event.clone().failed(Outcome::Denied, "privilege_above_own").detail("role", role.as_str());
        self.audit.record_refusal(&refused).await;
        Err(CoreError::Forbidden(format!(
            "role {:?} is above the caller's own: only its holders and admins grant it or manage its users",
            role.as_str()
        )))
    }

    /// The user `id`, for `grantor` to manage with `event_type`: refused
    /// (and audited) when the user holds a role above the grantor's.
    async fn user_to_manage(
        &self,
        id: &str,
        grantor: &Grantor,
        event_type: EventType,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let user = self.user(id).await?;
        self.check_grantor(grantor, &user.roles, &self.user_event(event_type, &user, context)).await?;
        Ok(user)
    }

    /// Creates a user; the password must satisfy the policy, and `grantor`
    /// must cover every role given.
    pub async fn create_user(
        &self,
        new: NewUser,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let username = normalize_username(&new.username)?;
        if new.roles.is_empty() {
            return Err(CoreError::InvalidInput("roles: give at least one role".into()));
        }
        let password_hash = match &new.password {
            NewPassword::Plain(password) => {
                self.settings.password_policy.check(password, &username).map_err(CoreError::InvalidInput)?;
                Some(self.hash_password(password).await?)
            }
            NewPassword::ImportedHash(hash) => {
                if !strongroom_crypto::is_supported_password_hash(hash) {
                    return Err(CoreError::InvalidInput(
                        "password_hash: an Argon2id ($argon2id$…) or bcrypt ($2b$…) hash".into(),
                    ));
                }
                Some(hash.clone())
            }
            NewPassword::None => None,
        };
        let now = self.now();
        let mut roles = new.roles.clone();
        roles.sort();
        roles.dedup();
        let id = random_id()?;
        let (email, full_name) = (check_email(&new.email)?, check_text("full_name", &new.full_name, 200)?);
        let user = UserRecord {
            sealed_email: self.seal_personal("users", "email", &id, &email).await?,
            sealed_full_name: self.seal_personal("users", "full_name", &id, &full_name).await?,
            id,
            username,
            roles,
            password_hash,
            disabled: false,
            locked: false,
            totp_sealed_secret: None,
            totp_enabled: false,
            totp_last_step: None,
            created_at: now,
            updated_at: now,
            row_version: 0,
        };
        let event = self
            .user_event(EventType::UserCreate, &user, context)
            .detail("roles", user.roles.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>())
            .detail("imported_hash", matches!(new.password, NewPassword::ImportedHash(_)));
        self.check_grantor(grantor, &user.roles, &event).await?;
        match self.store.insert_user(&user, &[self.audit.seal(&event)?]).await {
            Ok(()) => Ok(user),
            Err(crate::StoreError::Conflict(_)) => {
                Err(CoreError::Conflict(format!("a user named {:?} exists already", user.username)))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Whether any user exists.
    pub async fn any_user(&self) -> Result<bool, CoreError> {
        Ok(self.store.any_user().await?)
    }

    /// One user.
    pub async fn user(&self, id: &str) -> Result<UserRecord, CoreError> {
        self.store.user(id).await?.ok_or_else(|| CoreError::NotFound(format!("no user with id {id:?}")))
    }

    /// One user by username or id.
    pub async fn find_user(&self, name_or_id: &str) -> Result<UserRecord, CoreError> {
        let by_name = match normalize_username(name_or_id) {
            Ok(name) => self.store.user_by_username(&name).await?,
            Err(_) => None,
        };
        match by_name {
            Some(user) => Ok(user),
            None => self.user(name_or_id).await,
        }
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<UserRecord>, CoreError> {
        Ok(self.store.list_users().await?)
    }

    /// Saves `user` over the version it was read at. If someone changed the
    /// user meanwhile nothing is written and the answer is `Conflict`: the
    /// change was made from a stale copy and must be made again.
    async fn save_user(&self, user: &mut UserRecord, event: &AuditEvent) -> Result<(), CoreError> {
        user.updated_at = self.now();
        if self.store.update_user(user, &[self.audit.seal(event)?]).await? {
            user.row_version += 1;
            return Ok(());
        }
        match self.store.user(&user.id).await? {
            Some(_) => Err(CoreError::Conflict(format!(
                "user {:?} changed while this change was made; read it again and retry",
                user.username
            ))),
            None => Err(CoreError::NotFound(format!("no user with id {:?}", user.id))),
        }
    }

    /// Changes e-mail, full name or the disabled flag. Disabling revokes every session.
    pub async fn update_profile(
        &self,
        id: &str,
        change: ProfileChange,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let mut user = self.user_to_manage(id, grantor, EventType::UserUpdate, context).await?;
        let mut changed = Vec::new();
        if let Some(email) = &change.email {
            user.sealed_email = self.seal_personal("users", "email", &user.id, &check_email(email)?).await?;
            changed.push("email".to_owned());
        }
        if let Some(full_name) = &change.full_name {
            let full_name = check_text("full_name", full_name, 200)?;
            user.sealed_full_name = self.seal_personal("users", "full_name", &user.id, &full_name).await?;
            changed.push("full_name".to_owned());
        }
        if let Some(disabled) = change.disabled {
            user.disabled = disabled;
            changed.push("disabled".to_owned());
        }
        let event = self.user_event(EventType::UserUpdate, &user, context).fields(changed);
        self.save_user(&mut user, &event).await?;
        if change.disabled == Some(true) {
            self.revoke_all_sessions(&user.id, "disabled", context).await?;
        }
        Ok(user)
    }

    /// Replaces a user's roles, for a stated reason of at least 20 characters.
    pub async fn set_roles(
        &self,
        id: &str,
        roles: Vec<Role>,
        justification: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let justification = justification.trim();
        if justification.chars().count() < 20 {
            return Err(CoreError::InvalidInput("justification: at least 20 characters saying why".into()));
        }
        if roles.is_empty() {
            return Err(CoreError::InvalidInput("roles: give at least one role".into()));
        }
        let mut user = self.user(id).await?;
        let names = |roles: &[Role]| roles.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>();
        let event = self
            .user_event(EventType::RoleChange, &user, context)
            .detail("previous_roles", names(&user.roles))
            .detail("roles", names(&roles))
            .justification(justification);
        // Both what is taken away and what is given must be within the grantor's own.
        self.check_grantor(grantor, &[user.roles.clone(), roles.clone()].concat(), &event).await?;
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        user.roles = roles;
        self.save_user(&mut user, &event).await?;
        Ok(user)
    }

    /// Locks a user (no login, every session revoked) until unlocked.
    pub async fn lock(
        &self,
        id: &str,
        reason: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let mut user = self.user_to_manage(id, grantor, EventType::UserLock, context).await?;
        user.locked = true;
        let event = self.user_event(EventType::UserLock, &user, context).detail("reason", reason);
        self.save_user(&mut user, &event).await?;
        self.revoke_all_sessions(&user.id, "locked", context).await?;
        Ok(user)
    }

    /// Unlocks a user, and forgets their failed logins.
    pub async fn unlock(&self, id: &str, grantor: &Grantor, context: &AuditContext) -> Result<UserRecord, CoreError> {
        let mut user = self.user_to_manage(id, grantor, EventType::UserUnlock, context).await?;
        user.locked = false;
        let event = self.user_event(EventType::UserUnlock, &user, context);
        self.save_user(&mut user, &event).await?;
        self.store.clear_failures(&self.account_key(&user.username)?).await?;
        Ok(user)
    }

    /// Issues a single-use password-reset token for a user.
    pub async fn issue_password_reset(
        &self,
        id: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<(OneTimeSecret, i64), CoreError> {
        let user = self.user_to_manage(id, grantor, EventType::PasswordReset, context).await?;
        let token = random_token("sr_reset_")?;
        let expires_at = self.now() + self.settings.reset_token_seconds;
        let event = self.user_event(EventType::PasswordReset, &user, context).detail("stage", "issued");
        let hash = self.token_hash(OneTimeKind::PasswordReset.as_str(), token.expose()).await?;
        self.store
            .insert_one_time(OneTimeKind::PasswordReset, &hash, &user.id, expires_at, &[self.audit.seal(&event)?])
            .await?;
        Ok((token, expires_at))
    }

    /// Sets a new password with a reset token (policy applies) and revokes every session.
    pub async fn reset_password(&self, token: &str, password: &str, context: &AuditContext) -> Result<(), CoreError> {
        let hash = self.token_hash(OneTimeKind::PasswordReset.as_str(), token.trim()).await?;
        let Some(user_id) = self.store.consume_one_time(OneTimeKind::PasswordReset, &hash, self.now()).await? else {
            let event = self.audit.event(EventType::PasswordReset, context).failed(Outcome::Failure, "invalid_token");
            self.audit.record(&event).await?;
            return Err(CoreError::InvalidInput("token: unknown, used or expired reset token".into()));
        };
        let mut user = self.user(&user_id).await?;
        self.settings.password_policy.check(password, &user.username).map_err(CoreError::InvalidInput)?;
        user.password_hash = Some(self.hash_password(password).await?);
        let actor = AuditContext { actor: user_actor(&user), ..context.clone() };
        let event = self.user_event(EventType::PasswordReset, &user, &actor).detail("stage", "used");
        self.save_user(&mut user, &event).await?;
        self.store.clear_failures(&self.account_key(&user.username)?).await?;
        self.revoke_all_sessions(&user.id, "password_reset", &actor).await?;
        Ok(())
    }

    // ---- login -----------------------------------------------------------

    async fn check_throttle(&self, keys: &[String]) -> Result<(), CoreError> {
        let now = self.now();
        for key in keys {
            if let Some(until) = self.store.locked_until(key).await?
                && until > now
            {
                return Err(CoreError::TooManyAttempts { retry_after_seconds: until - now });
            }
        }
        Ok(())
    }

    /// Counts a failure against `key`; past `threshold` locks it for a
    /// doubling time, and returns the lock's length in seconds.
    async fn count_failure(&self, key: &str, threshold: u64) -> Result<Option<i64>, CoreError> {
        let now = self.now();
        let failures = self.store.count_failure(key, now, self.settings.lockout_window_seconds).await?;
        if failures < threshold {
            return Ok(None);
        }
        let doublings = u32::try_from(failures - threshold).unwrap_or(u32::MAX).min(20);
        let lock =
            self.settings.lockout_base_seconds.saturating_mul(1 << doublings).min(self.settings.lockout_max_seconds);
        self.store.lock_key(key, now + lock).await?;
        Ok(Some(lock))
    }

    /// The throttling key of an account, for all addresses: by normalised
    /// name, whether or not it exists (locking tells nothing about
    /// existence), as an HMAC so the store holds no usernames.
    fn account_key(&self, username: &str) -> Result<String, CoreError> {
        Ok(format!("account:{}", self.audit.pseudonym(&username.trim().to_lowercase())?))
    }

    /// The throttling key of an account tried from one client address. It
    /// starts with the account's key and `|`, so clearing the account's
    /// failures clears every address's too.
    fn pair_key(&self, username: &str, ip: Option<std::net::IpAddr>) -> Result<String, CoreError> {
        let address = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        Ok(format!("{}|ip:{}", self.account_key(username)?, self.audit.pseudonym(&address)?))
    }

    /// The throttling key of a client address, for all accounts.
    fn address_key(&self, ip: std::net::IpAddr) -> Result<String, CoreError> {
        Ok(format!("ip:{}", self.audit.pseudonym(&ip.to_string())?))
    }

    /// Counts a failed login or second factor of `username` from the
    /// request's address. Past `lockout_threshold` the account is locked for
    /// that address only; past the much higher `account_lockout_threshold`
    /// for everyone. No session ends: the failures may come from anyone, and
    /// ending the owner's sessions would hand an outsider a way to log them
    /// out. Each lock is an audit event (`user.lock`, reason `brute_force`),
    /// which the failed-login alerts also count.
    async fn count_login_failure(
        &self,
        username: &str,
        user: Option<&UserRecord>,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let defence = AuditContext::service("brute-force-defence");
        let target = match user {
            Some(user) => Target::new("user", user.id.clone()),
            None => Target::new("account", self.audit.pseudonym(username)?),
        };
        let pair = self.pair_key(username, context.ip)?;
        let account = self.account_key(username)?;
        for (key, threshold, scope) in [
            (pair, self.settings.lockout_threshold, "address"),
            (account, self.settings.account_lockout_threshold, "account"),
        ] {
            if let Some(seconds) = self.count_failure(&key, threshold).await? {
                let event = self
                    .audit
                    .event(EventType::UserLock, &defence)
                    .target(target.clone())
                    .detail("reason", "brute_force")
                    .detail("scope", scope)
                    .detail("seconds", seconds);
                self.audit.record(&event).await?;
            }
        }
        if let Some(ip) = context.ip
            && let Some(seconds) =
                self.count_failure(&self.address_key(ip)?, self.settings.ip_lockout_threshold).await?
        {
            let event = self
                .audit
                .event(EventType::AttackSuspected, context)
                .detail("reason", "failed logins from one address")
                .detail("locked_seconds", seconds);
            self.audit.record(&event).await?;
        }
        Ok(())
    }

    async fn login_failed(
        &self,
        username: &str,
        user: Option<&UserRecord>,
        reason: &str,
        context: &AuditContext,
    ) -> Result<CoreError, CoreError> {
        let mut event = self
            .audit
            .event(EventType::LoginFailure, context)
            .target(Target::new("account", self.audit.pseudonym(username)?))
            .failed(Outcome::Failure, reason);
        if let Some(user) = user {
            event = event.detail("user_id", user.id.clone());
        }
        self.audit.record(&event).await?;
        self.count_login_failure(username, user, context).await?;
        Ok(CoreError::LoginFailed)
    }

    /// A password login. Unknown users, wrong passwords and locked or
    /// disabled accounts are the same [`CoreError::LoginFailed`].
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        context: &AuditContext,
    ) -> Result<LoginOutcome, CoreError> {
        let name = username.trim().to_lowercase();
        let mut throttle_keys = vec![self.pair_key(&name, context.ip)?, self.account_key(&name)?];
        if let Some(ip) = context.ip {
            throttle_keys.push(self.address_key(ip)?);
        }
        if let Err(error) = self.check_throttle(&throttle_keys).await {
            let event = self
                .audit
                .event(EventType::LoginFailure, context)
                .target(Target::new("account", self.audit.pseudonym(&name)?))
                .failed(Outcome::Denied, "rate_limited");
            self.audit.record(&event).await?;
            return Err(error);
        }
        let user = match normalize_username(&name) {
            Ok(valid) => self.store.user_by_username(&valid).await?,
            Err(_) => None,
        };
        let check = self.check_password(password, user.as_ref().and_then(|u| u.password_hash.clone())).await?;
        let Some(mut user) = user else {
            return Err(self.login_failed(&name, None, "invalid_credentials", context).await?);
        };
        let rehash = match check {
            PasswordCheck::Invalid => {
                return Err(self.login_failed(&name, Some(&user), "invalid_credentials", context).await?);
            }
            PasswordCheck::Valid { rehash } => rehash,
        };
        if user.disabled || user.locked {
            let reason = if user.disabled { "disabled" } else { "locked" };
            return Err(self.login_failed(&name, Some(&user), reason, context).await?);
        }
        // Only this address's failures are forgiven: failures from elsewhere
        // still count towards the lock for everyone.
        self.store.clear_failures(&self.pair_key(&name, context.ip)?).await?;
        let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
        if rehash {
            // An old-parameter or imported bcrypt hash becomes Argon2id with today's parameters.
            user.password_hash = Some(self.hash_password(password).await?);
            let event = self.user_event(EventType::PasswordChange, &user, &as_user).detail("reason", "rehash");
            match self.save_user(&mut user, &event).await {
                Ok(()) => {}
                // Someone changed the user meanwhile (an admin's lock, say):
                // the login goes on from the user as stored now, and the
                // rehash waits for the next login.
                Err(CoreError::Conflict(_)) => {
                    user = self.user(&user.id).await?;
                    if user.disabled || user.locked {
                        return Err(self.login_failed(&name, Some(&user), "locked", context).await?);
                    }
                }
                Err(other) => return Err(other),
            }
        }
        if user.totp_enabled {
            let token = random_token("sr_mfa_")?;
            self.issue_one_time(OneTimeKind::MfaChallenge, &token, &user, &as_user, "mfa_required").await?;
            return Ok(LoginOutcome::MfaRequired { mfa_token: token });
        }
        if self.requires_mfa(&user) {
            let token = random_token("sr_enrol_")?;
            self.issue_one_time(OneTimeKind::MfaEnrollment, &token, &user, &as_user, "mfa_enrollment_required").await?;
            return Ok(LoginOutcome::MfaEnrollmentRequired { enrollment_token: token });
        }
        Ok(LoginOutcome::Tokens(self.start_session(&user, None, &as_user).await?))
    }

    /// Whether `user`'s roles require a second factor.
    pub fn requires_mfa(&self, user: &UserRecord) -> bool {
        user.roles.iter().any(|role| self.settings.mfa_required_roles.contains(role))
    }

    async fn issue_one_time(
        &self,
        kind: OneTimeKind,
        token: &OneTimeSecret,
        user: &UserRecord,
        context: &AuditContext,
        stage: &str,
    ) -> Result<(), CoreError> {
        let hash = self.token_hash(kind.as_str(), token.expose()).await?;
        let expires_at = self.now() + self.settings.mfa_token_seconds;
        let event = self.user_event(EventType::LoginSuccess, user, context).detail("stage", stage);
        self.store.insert_one_time(kind, &hash, &user.id, expires_at, &[self.audit.seal(&event)?]).await?;
        Ok(())
    }

    /// Completes a login with a TOTP code or a recovery code.
    pub async fn complete_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<TokenPair, CoreError> {
        let hash = self.token_hash(OneTimeKind::MfaChallenge.as_str(), mfa_token.trim()).await?;
        let Some(user_id) = self.store.consume_one_time(OneTimeKind::MfaChallenge, &hash, self.now()).await? else {
            let event = self.audit.event(EventType::MfaFailure, context).failed(Outcome::Failure, "invalid_mfa_token");
            self.audit.record(&event).await?;
            return Err(CoreError::LoginFailed);
        };
        let mut user = self.user(&user_id).await?;
        let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
        if user.disabled || user.locked || !self.second_factor(&mut user, code, &as_user).await? {
            let event =
                self.user_event(EventType::MfaFailure, &user, &as_user).failed(Outcome::Failure, "invalid_code");
            self.audit.record(&event).await?;
            self.count_login_failure(&user.username, Some(&user), context).await?;
            return Err(CoreError::LoginFailed);
        }
        self.start_session(&user, Some(self.now()), &as_user).await
    }

    /// Checks a TOTP code (refusing replays) or uses up a recovery code.
    async fn second_factor(
        &self,
        user: &mut UserRecord,
        code: &str,
        context: &AuditContext,
    ) -> Result<bool, CoreError> {
        let code = code.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.totp_secret(user).await?;
            let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
            let now = u64::try_from(self.now()).unwrap_or(0);
            let Some(step) = strongroom_crypto::verify_totp(secret.expose(), code, now, last) else { return Ok(false) };
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            let event = self.user_event(EventType::MfaSuccess, user, context).detail("method", "totp");
            // Compare-and-set on the step alone: of two logins racing with one
            // code only one advances it, and no other column is rewritten.
            if !self.store.advance_totp_step(&user.id, step, &[self.audit.seal(&event)?]).await? {
                return Ok(false);
            }
            user.totp_last_step = Some(step);
            user.row_version += 1;
            return Ok(true);
        }
        let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
        let hash = self.token_hash("recovery", &format!("{}/{normalized}", user.id)).await?;
        if self.store.use_recovery_code(&user.id, &hash, self.now()).await? {
            let left = self.store.recovery_codes_left(&user.id).await?;
            let event =
                self.user_event(EventType::MfaRecoveryCodeUsed, user, context).detail("codes_left", left as i64);
            self.audit.record(&event).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn totp_secret(&self, user: &UserRecord) -> Result<strongroom_crypto::SecretBytes, CoreError> {
        let sealed =
            user.totp_sealed_secret.as_ref().ok_or_else(|| CoreError::InvalidInput("no TOTP enrolled".into()))?;
        self.keyring.decrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, sealed, &totp_context(&user.id)).await
    }

    /// Creates a session and its tokens; evicts the oldest sessions beyond the limit.
    async fn start_session(
        &self,
        user: &UserRecord,
        mfa_at: Option<i64>,
        context: &AuditContext,
    ) -> Result<TokenPair, CoreError> {
        let now = self.now();
        let id = random_id()?;
        let ip = context.ip.map(|ip| ip.to_string());
        let client = self.sealed_session_fields(&id, ip.as_deref(), context.user_agent.as_deref()).await?;
        let session = SessionRecord {
            id,
            user_id: user.id.clone(),
            created_at: now,
            created_ms: i64::try_from(self.clock.now().as_millis()).unwrap_or(i64::MAX),
            last_seen_at: now,
            expires_at: now + self.settings.session_absolute_seconds,
            sealed_ip: client.sealed_ip,
            sealed_user_agent: client.sealed_user_agent,
            ip_mac: client.ip_mac,
            user_agent_mac: client.user_agent_mac,
            mfa_at,
            revoked_at: None,
            revoked_reason: None,
        };
        let live = self.store.sessions_of(&user.id, false).await?;
        let keep = self.settings.max_sessions_per_user.max(1) - 1;
        let evicted: Vec<String> = live.iter().skip(keep).map(|s| s.id.clone()).collect();
        let refresh = random_token("sr_rt_")?;
        let refresh_hash = self.token_hash("refresh", refresh.expose()).await?;
        let event = self
            .user_event(EventType::LoginSuccess, user, context)
            .target(Target::new("session", session.id.clone()))
            .detail("mfa", mfa_at.is_some())
            .detail("evicted_sessions", evicted.clone());
        self.store.insert_session(&session, &refresh_hash, &evicted, &[self.audit.seal(&event)?]).await?;
        Ok(TokenPair {
            access_token: self.access_token(user, &session).await?,
            refresh_token: refresh,
            expires_in: self.settings.access_token_seconds,
            session_id: session.id,
        })
    }

    async fn access_token(&self, user: &UserRecord, session: &SessionRecord) -> Result<OneTimeSecret, CoreError> {
        let generation = self.signer_generation().await?;
        let key = self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await?;
        let version = key.info().latest_version;
        let now = self.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.settings.issuer.clone().into());
        claims.insert("aud".into(), self.settings.audience.clone().into());
        claims.insert("sub".into(), user.id.clone().into());
        claims.insert("preferred_username".into(), user.username.clone().into());
        claims.insert("sid".into(), session.id.clone().into());
        claims.insert("roles".into(), user.roles.iter().map(|r| Value::from(r.as_str())).collect());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), (now + self.settings.access_token_seconds).into());
        claims.insert("jti".into(), random_id()?.into());
        if let Some(mfa_at) = session.mfa_at {
            claims.insert("mfa_time".into(), mfa_at.into());
        }
        let input = jwt_signing_input(&signer::kid(generation, version), &claims);
        let (signed_with, signature) = key.sign(input.as_bytes()).await?;
        debug_assert_eq!(signed_with, version);
        Ok(OneTimeSecret::new(jwt_assemble(&input, &signature)))
    }

    /// Trades a refresh token for a new pair. A used token presented again
    /// revokes its session (theft suspected) and is refused.
    pub async fn refresh(&self, refresh_token: &str, context: &AuditContext) -> Result<TokenPair, CoreError> {
        let presented = self.token_hash("refresh", refresh_token.trim()).await?;
        let found = match self.store.refresh_session(&presented).await? {
            Some(session_id) => self.store.session_with_user(&session_id, self.now()).await?,
            None => None,
        };
        let Some((session, user, _)) = found else {
            let event = self.audit.event(EventType::TokenRefresh, context).failed(Outcome::Failure, "unknown_token");
            self.audit.record(&event).await?;
            return Err(CoreError::Unauthenticated);
        };
        let as_user = AuditContext { actor: user_actor(&user), ..context.clone() };
        let target = Target::new("session", session.id.clone());
        let rotated = self.audit.event(EventType::TokenRefresh, &as_user).target(target.clone());
        let reused = self
            .audit
            .event(EventType::TokenReuse, &as_user)
            .target(target)
            .detail("action", "session revoked: a used refresh token was presented again");
        let next = random_token("sr_rt_")?;
        let next_hash = self.token_hash("refresh", next.expose()).await?;
        let outcome = self
            .store
            .rotate_refresh_token(
                &presented,
                &next_hash,
                self.now(),
                &[self.audit.seal(&rotated)?],
                &[self.audit.seal(&reused)?],
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated { session_id } => {
                let (session, user, _) = self.live_session(&session_id).await?;
                Ok(TokenPair {
                    access_token: self.access_token(&user, &session).await?,
                    refresh_token: next,
                    expires_in: self.settings.access_token_seconds,
                    session_id,
                })
            }
            RefreshOutcome::Reused { .. } | RefreshOutcome::Unknown => Err(CoreError::Unauthenticated),
        }
    }

    /// A session that is live now, with its user who may use it.
    async fn live_session(&self, session_id: &str) -> Result<(SessionRecord, UserRecord, PrincipalAccess), CoreError> {
        let (session, user, access) =
            self.store.session_with_user(session_id, self.now()).await?.ok_or(CoreError::Unauthenticated)?;
        let now = self.now();
        let seen = self.pending_seen.lock().unwrap_or_else(|p| p.into_inner()).get(session_id).copied();
        let last_seen = seen.unwrap_or(session.last_seen_at).max(session.last_seen_at);
        let alive = session.revoked_at.is_none()
            && now < session.expires_at
            && now - last_seen <= self.settings.session_idle_seconds
            && !user.disabled
            && !user.locked;
        if alive { Ok((session, user, access)) } else { Err(CoreError::Unauthenticated) }
    }

    /// The generation of the signer new tokens are signed by: the first
    /// that is neither compromised nor destroyed, created on first use (see
    /// [`signer`]).
    async fn signer_generation(&self) -> Result<u32, CoreError> {
        for generation in 1..=signer::MAX_GENERATIONS {
            let name = signer::key_name(generation);
            match self.keyring.use_key(KeyPurpose::JwtSigning, &name).await {
                Ok(key) if matches!(key.info().state, KeyState::Compromised | KeyState::Destroyed) => continue,
                Ok(_) => return Ok(generation),
                Err(CoreError::KeyNotFound(_)) => {
                    let context = AuditContext::service("identity");
                    self.keyring.ensure(&name, jwt_key_spec(), &context).await?;
                    return Ok(generation);
                }
                Err(error) => return Err(error),
            }
        }
        Err(CoreError::InvalidKeyChange("every generation of the JWT signing key is compromised".into()))
    }

    /// The public key of version `version` of generation `generation` of the
    /// JWT signer. The key's state is read on every call (from the keyring's
    /// metadata cache, which follows changes): a compromised signer's tokens
    /// could be forged, so none of them is accepted from the moment it is
    /// marked. Only the derived public key is remembered.
    async fn jwt_public_key(&self, generation: u32, version: u32) -> Result<[u8; 32], CoreError> {
        let key = match self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await {
            Ok(key) => key,
            Err(CoreError::KeyNotFound(_)) => return Err(CoreError::Unauthenticated),
            Err(error) => return Err(error),
        };
        if !matches!(key.info().state, KeyState::Active | KeyState::DecryptOnly) {
            return Err(CoreError::Unauthenticated);
        }
        if let Some((public, at)) =
            self.public_keys.lock().unwrap_or_else(|p| p.into_inner()).get(&(generation, version))
            && at.elapsed() < PUBLIC_KEY_CACHE
        {
            return Ok(*public);
        }
        let public = key.public_key(version).await.map_err(|_| CoreError::Unauthenticated)?;
        self.public_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((generation, version), (public, Instant::now()));
        Ok(public)
    }

    /// Checks an access token and its session: signature (EdDSA only), issuer,
    /// times, then the session and user as stored now, and the binding of
    /// the session to its address or user agent when configured.
    pub async fn authenticate(&self, token: &str, context: &AuditContext) -> Result<UserPrincipal, CoreError> {
        let parsed = strongroom_crypto::ParsedJwt::parse(token).map_err(|_| CoreError::Unauthenticated)?;
        let (generation, version) = signer::parse_kid(&parsed.kid).ok_or(CoreError::Unauthenticated)?;
        if !parsed.verify(&self.jwt_public_key(generation, version).await?) {
            return Err(CoreError::Unauthenticated);
        }
        let claims = &parsed.claims;
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let now = self.now();
        let timely = number("exp").is_some_and(|exp| now < exp)
            && number("nbf").is_some_and(|nbf| nbf <= now + CLOCK_SKEW_SECONDS)
            && number("iat").is_some_and(|iat| iat <= now + CLOCK_SKEW_SECONDS);
        // RFC 7519: `aud` is one string or an array of them; ours must be among them.
        let audience = self.settings.audience.as_str();
        let for_us = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
            _ => false,
        };
        if !timely || !for_us || text("iss") != Some(self.settings.issuer.as_str()) {
            return Err(CoreError::Unauthenticated);
        }
        let (session_id, subject) = (text("sid").ok_or(CoreError::Unauthenticated)?, text("sub"));
        let (session, user, access) = self.live_session(session_id).await?;
        if subject != Some(user.id.as_str()) {
            return Err(CoreError::Unauthenticated);
        }
        let ip_moved = self.settings.bind_session_to_ip
            && !self
                .same_client("ip", &session.id, session.ip_mac.as_deref(), context.ip.map(|ip| ip.to_string()))
                .await?;
        let agent_moved = self.settings.bind_session_to_user_agent
            && !self
                .same_client("user_agent", &session.id, session.user_agent_mac.as_deref(), context.user_agent.clone())
                .await?;
        if ip_moved || agent_moved {
            let actor = AuditContext { actor: user_actor(&user), ..context.clone() };
            let event = self
                .audit
                .event(EventType::AttackSuspected, &actor)
                .target(Target::new("session", session.id.clone()))
                .detail(
                    "reason",
                    if ip_moved { "token used from another address" } else { "token used from another user agent" },
                )
                .failed(Outcome::Denied, "session_binding");
            self.audit.record(&event).await?;
            return Err(CoreError::Unauthenticated);
        }
        self.pending_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(session.id.clone(), now);
        Ok(UserPrincipal {
            user_id: user.id,
            username: user.username,
            roles: user.roles,
            session_id: session.id,
            mfa_at: session.mfa_at,
            access,
        })
    }

    /// Whether a request's `column` value is the one the session was started
    /// with, by keyed hash (absent on both sides counts as the same).
    async fn same_client(
        &self,
        column: &str,
        session_id: &str,
        at_login: Option<&[u8]>,
        now: Option<String>,
    ) -> Result<bool, CoreError> {
        Ok(match (at_login, now) {
            (None, None) => true,
            (Some(stored), Some(value)) => {
                strongroom_crypto::ct_eq(stored, &self.session_mac(column, session_id, &value).await?)
            }
            _ => false,
        })
    }

    /// Writes the session activity seen since the last flush (the server
    /// calls it every second). On failure the activity is kept for the next.
    pub async fn flush_session_activity(&self) -> Result<(), CoreError> {
        let pending: Vec<(String, i64)> =
            std::mem::take(&mut *self.pending_seen.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        if pending.is_empty() {
            return Ok(());
        }
        if let Err(error) = self.store.touch_sessions(&pending).await {
            let mut back = self.pending_seen.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in pending {
                let entry = back.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
            return Err(error.into());
        }
        Ok(())
    }

    /// The JWKS: every version of the serving signer that may have live
    /// tokens. Earlier generations are compromised or destroyed, so none of
    /// their keys is published (verifiers elsewhere must drop them too).
    pub async fn jwks(&self) -> Result<Vec<(String, [u8; 32])>, CoreError> {
        let generation = self.signer_generation().await?;
        let key = self.keyring.use_key(KeyPurpose::JwtSigning, &signer::key_name(generation)).await?;
        let info = key.info().clone();
        let mut keys = Vec::new();
        for version in (info.min_decryption_version..=info.latest_version).rev() {
            keys.push((signer::kid(generation, version), key.public_key(version).await?));
        }
        Ok(keys)
    }

    // ---- sessions --------------------------------------------------------

    /// A user's live sessions, newest first.
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, CoreError> {
        Ok(self.store.sessions_of(user_id, false).await?)
    }

    /// One session.
    pub async fn session(&self, id: &str) -> Result<SessionRecord, CoreError> {
        self.store.session(id).await?.ok_or_else(|| CoreError::NotFound(format!("no session {id:?}")))
    }

    /// Revokes one session (logout, or a user or admin ending it).
    pub async fn revoke_session(&self, id: &str, reason: &str, context: &AuditContext) -> Result<(), CoreError> {
        let event_type = if reason == "logout" { EventType::Logout } else { EventType::SessionRevoke };
        let event = self.audit.event(event_type, context).target(Target::new("session", id)).detail("reason", reason);
        if self.store.revoke_session(id, self.now(), reason, &[self.audit.seal(&event)?]).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("no live session {id:?}")))
        }
    }

    /// Ends every session of user `id` for `grantor` (incident response).
    pub async fn revoke_sessions_of(
        &self,
        id: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<u64, CoreError> {
        let user = self.user_to_manage(id, grantor, EventType::SessionRevoke, context).await?;
        self.revoke_all_sessions(&user.id, "admin", context).await
    }

    /// Revokes every session of a user; returns how many.
    pub async fn revoke_all_sessions(
        &self,
        user_id: &str,
        reason: &str,
        context: &AuditContext,
    ) -> Result<u64, CoreError> {
        let event = self
            .audit
            .event(EventType::SessionRevoke, context)
            .target(Target::new("user", user_id))
            .detail("reason", reason)
            .detail("scope", "all sessions");
        Ok(self.store.revoke_user_sessions(user_id, self.now(), reason, &[self.audit.seal(&event)?]).await?)
    }

    // ---- TOTP ------------------------------------------------------------

    /// The user an MFA enrolment token was issued for (used up).
    pub async fn redeem_enrollment_token(&self, token: &str) -> Result<UserRecord, CoreError> {
        let hash = self.token_hash(OneTimeKind::MfaEnrollment.as_str(), token.trim()).await?;
        let user_id = self
            .store
            .consume_one_time(OneTimeKind::MfaEnrollment, &hash, self.now())
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        self.user(&user_id).await
    }

    /// Starts TOTP enrolment for the holder of an enrolment token (a user
    /// whose role requires a second factor and has none yet, or one an admin
    /// is helping in): the token is the credential and is used up. Answers
    /// the `otpauth://` URI and a fresh token for [`confirm_totp_by_token`](Self::confirm_totp_by_token).
    pub async fn enroll_totp_by_token(
        &self,
        token: &str,
        context: &AuditContext,
    ) -> Result<(OneTimeSecret, OneTimeSecret), CoreError> {
        let user = self.redeem_enrollment_token(token).await?;
        let context = AuditContext { actor: user_actor(&user), ..context.clone() };
        let uri = self.enroll_totp(&user.id, &context).await?;
        let next = self.issue_enrollment_token(&user.id, &context).await?;
        Ok((uri, next))
    }

    /// Activates TOTP for the holder of an enrolment token with a first valid
    /// code; returns ten one-time recovery codes.
    pub async fn confirm_totp_by_token(
        &self,
        token: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<Vec<OneTimeSecret>, CoreError> {
        let user = self.redeem_enrollment_token(token).await?;
        let context = AuditContext { actor: user_actor(&user), ..context.clone() };
        self.confirm_totp(&user.id, code, &context).await
    }

    /// An enrolment token for user `id`, issued by `grantor` for someone else
    /// (an admin helping someone in).
    pub async fn issue_enrollment_token_for(
        &self,
        id: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<OneTimeSecret, CoreError> {
        self.user_to_manage(id, grantor, EventType::MfaEnroll, context).await?;
        self.issue_enrollment_token(id, context).await
    }

    /// An enrolment token for user `id` (the user's own enrolment flow).
    pub async fn issue_enrollment_token(&self, id: &str, context: &AuditContext) -> Result<OneTimeSecret, CoreError> {
        let user = self.user(id).await?;
        let token = random_token("sr_enrol_")?;
        let hash = self.token_hash(OneTimeKind::MfaEnrollment.as_str(), token.expose()).await?;
        let expires_at = self.now() + self.settings.reset_token_seconds;
        let event = self.user_event(EventType::MfaEnroll, &user, context).detail("stage", "enrollment token issued");
        self.store
            .insert_one_time(OneTimeKind::MfaEnrollment, &hash, &user.id, expires_at, &[self.audit.seal(&event)?])
            .await?;
        Ok(token)
    }

    /// Starts TOTP enrolment: a fresh seed, stored sealed and not yet active.
    /// Returns the `otpauth://` URI (which carries the seed: show it once).
    pub async fn enroll_totp(&self, user_id: &str, context: &AuditContext) -> Result<OneTimeSecret, CoreError> {
        let mut user = self.user(user_id).await?;
        if user.totp_enabled {
            return Err(CoreError::Conflict("TOTP is already active; disable it first to enrol again".into()));
        }
        let secret = strongroom_crypto::generate_totp_secret()?;
        let sealed = self
            .keyring
            .encrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, secret.expose(), &totp_context(&user.id))
            .await?;
        user.totp_sealed_secret = Some(sealed);
        user.totp_last_step = None;
        let event = self.user_event(EventType::MfaEnroll, &user, context).detail("stage", "started");
        self.save_user(&mut user, &event).await?;
        let issuer = urlencode(&self.settings.issuer);
        let uri = format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
            urlencode(&user.username),
            strongroom_crypto::base32(secret.expose())
        );
        Ok(OneTimeSecret::new(uri))
    }

    /// Activates TOTP with a first valid code; returns ten one-time recovery codes.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<Vec<OneTimeSecret>, CoreError> {
        let mut user = self.user(user_id).await?;
        if user.totp_enabled {
            return Err(CoreError::Conflict("TOTP is already active".into()));
        }
        let secret = self.totp_secret(&user).await.map_err(|_| {
            CoreError::InvalidInput("no TOTP enrolment in progress: call POST /v1/auth/totp/enroll first".into())
        })?;
        let now = u64::try_from(self.now()).unwrap_or(0);
        let Some(step) = strongroom_crypto::verify_totp(secret.expose(), code, now, None) else {
            let event = self.user_event(EventType::MfaFailure, &user, context).failed(Outcome::Failure, "invalid_code");
            self.audit.record(&event).await?;
            return Err(CoreError::InvalidInput("code: not the current code of this enrolment".into()));
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut hashes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let raw = strongroom_crypto::base32(&random_bytes::<8>()?).to_lowercase();
            let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12]);
            hashes.push(self.token_hash("recovery", &format!("{}/{}", user.id, raw[..12].to_owned())).await?);
            codes.push(OneTimeSecret::new(code));
        }
        self.store.replace_recovery_codes(&user.id, &hashes).await?;
        user.totp_enabled = true;
        user.totp_last_step = Some(i64::try_from(step).unwrap_or(i64::MAX));
        let event = self.user_event(EventType::MfaEnroll, &user, context).detail("stage", "confirmed");
        self.save_user(&mut user, &event).await?;
        Ok(codes)
    }

    /// Turns TOTP off (the recovery codes go with it).
    pub async fn disable_totp(&self, user_id: &str, context: &AuditContext) -> Result<(), CoreError> {
        let mut user = self.user(user_id).await?;
        user.totp_enabled = false;
        user.totp_sealed_secret = None;
        user.totp_last_step = None;
        let event = self.user_event(EventType::MfaDisable, &user, context);
        self.save_user(&mut user, &event).await?;
        self.store.replace_recovery_codes(&user.id, &[]).await?;
        Ok(())
    }

    /// Records a step-up: a fresh TOTP code on an existing session.
    pub async fn step_up(
        &self,
        user_id: &str,
        session_id: &str,
        code: &str,
        context: &AuditContext,
    ) -> Result<i64, CoreError> {
        let mut user = self.user(user_id).await?;
        if !user.totp_enabled || !self.second_factor(&mut user, code, context).await? {
            let event = self.user_event(EventType::MfaFailure, &user, context).failed(Outcome::Failure, "invalid_code");
            self.audit.record(&event).await?;
            return Err(CoreError::InvalidInput("code: not a valid current code".into()));
        }
        let now = self.now();
        self.store.set_session_mfa(session_id, now).await?;
        Ok(now)
    }
}

/// The audit actor of a user.
pub fn user_actor(user: &UserRecord) -> Actor {
    Actor {
        kind: ActorKind::User,
        id: user.id.clone(),
        name: Some(user.username.clone()),
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
    }
}

/// What a sealed personal value is bound to: its table, column and row.
fn personal_context(table: &str, column: &str, id: &str) -> AssociatedData {
    AssociatedData::new()
        .with("purpose", b"personal-data")
        .with("table", table.as_bytes())
        .with("column", column.as_bytes())
        .with("id", id.as_bytes())
}

fn totp_context(user_id: &str) -> AssociatedData {
    AssociatedData::new().with("purpose", b"totp-seed").with("user", user_id.as_bytes())
}

/// The keyring spec of every generation of the JWT signer.
fn jwt_key_spec() -> KeySpec {
    KeySpec {
        purpose: KeyPurpose::JwtSigning,
        algorithm: None,
        rotation_period_seconds: Some(JWT_ROTATION_SECONDS),
        deletion_allowed: false,
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(normalize_username(" Ann.Smith@Example ").unwrap(), "ann.smith@example");
        for bad in ["", "-ann", "ann smith", "ann/x", &"a".repeat(65)] {
            assert!(normalize_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_and_labels_are_checked() {
        assert!(check_email("ann@example.com").is_ok());
        for bad in ["ann", "ann@", "@example.com", "ann@example", "a n@example.com"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert_eq!(urlencode("Strong Room:ann"), "Strong%20Room%3Aann");
    }

    #[test]
    fn one_time_secrets_hide_in_debug() {
        assert_eq!(format!("{:?}", OneTimeSecret::new("sr_rt_secret".into())), "<hidden>");
        assert_eq!(format!("{:?}", NewPassword::Plain(Zeroizing::new("pw".into()))), "Plain(<hidden>)");
    }
}
