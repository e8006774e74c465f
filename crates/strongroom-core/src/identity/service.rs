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
use strongroom_crypto::{AssociatedData, random_bytes};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::model::{IdentityStore, Role, SessionRecord, UserRecord};
use super::settings::IdentitySettings;
use crate::audit::{Actor, ActorKind, AuditContext, AuditLog};
use crate::freshness::Cached;
use crate::principal::{PrincipalAccess, Subject, user_facts};
use crate::{Clock, CoreError, KeyPurpose, KeySpec, Keyring};

/// The keyring key that signs access tokens (Ed25519, rotated every 30 days;
/// old versions stay in the JWKS).
pub const JWT_SIGNING_KEY: &str = "system.jwt-signing";
/// The keyring key whose HMACs stand for refresh, reset and MFA tokens and recovery codes.
pub const TOKEN_HMAC_KEY: &str = "system.token-hmac";
/// The keyring key that seals TOTP seeds and users' personal data.
pub const USER_SECRETS_KEY: &str = "system.user-secrets";
/// How many old rows one transaction of [`Identity::seal_old_rows`] seals.
pub(super) const SEALING_BATCH: u32 = 100;

pub(super) const JWT_ROTATION_SECONDS: i64 = 30 * 86_400;
/// How long a public key of the JWT signer is trusted from memory.
pub(super) const PUBLIC_KEY_CACHE: Duration = Duration::from_secs(60);
/// Token digests remembered as verified before the set is emptied.
pub(super) const VERIFIED_TOKENS_KEPT: usize = 100_000;
/// How long introspection trusts a session it read (see `Identity::introspected`).
pub(super) const INTROSPECTED_SESSION_KEPT: Duration = Duration::from_secs(1);
/// The longest life of a service token (client credentials grant), seconds.
pub(super) const SERVICE_TOKEN_SECONDS: i64 = 300;
/// Clock skew tolerated on `nbf`/`iat`.
pub(super) const CLOCK_SKEW_SECONDS: i64 = 60;
pub(super) const RECOVERY_CODES: usize = 10;

/// A secret handed out once (a token, a recovery code): zeroized on drop,
/// hidden from `Debug`.
#[derive(Clone)]
pub struct OneTimeSecret(Zeroizing<String>);

impl OneTimeSecret {
    pub(super) fn new(text: String) -> Self {
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
    pub fn has_role(&self, role: &Role) -> bool {
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

pub(super) fn random_id() -> Result<String, CoreError> {
    Ok(strongroom_crypto::to_hex(&random_bytes::<16>()?))
}

pub(super) fn random_token(prefix: &str) -> Result<OneTimeSecret, CoreError> {
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

pub(super) fn check_text(field: &str, value: &str, max: usize) -> Result<String, CoreError> {
    let value = value.trim();
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(CoreError::InvalidInput(format!("{field}: at most {max} printable characters")));
    }
    Ok(value.to_owned())
}

pub(super) fn check_email(email: &str) -> Result<String, CoreError> {
    let email = check_text("email", email, 254)?;
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
    }) && !email.contains(' ');
    if valid { Ok(email) } else { Err(CoreError::InvalidInput("email: an address such as ann@example.com".into())) }
}

/// A version of the JWT signer: (generation, version).
pub(super) type SignerVersion = (u32, u32);

/// The identity service.
#[derive(Debug)]
pub struct Identity {
    pub(super) store: Arc<dyn IdentityStore>,
    pub(super) keyring: Arc<Keyring>,
    pub(super) audit: Arc<AuditLog>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: IdentitySettings,
    pub(super) hashing: Arc<Semaphore>,
    /// Session activity since the last flush: id → Unix seconds.
    pub(super) pending_seen: Mutex<HashMap<String, i64>>,
    /// Public keys of signer versions, by (generation, version), trusted from
    /// memory only after the key's state was checked.
    pub(super) public_keys: Mutex<HashMap<SignerVersion, ([u8; 32], Instant)>>,
    /// SHA-256 digests of tokens whose signature verified (see
    /// `Identity::verify_access_token`); emptied when full.
    pub(super) verified: Mutex<std::collections::HashSet<[u8; 32]>>,
    /// Sessions with their users as introspection read them, by id: kept
    /// while the keyring's freshness allows (changes made here drop them at
    /// once) and at most [`INTROSPECTED_SESSION_KEPT`] (a logout through
    /// another instance moves no change generation).
    pub(super) introspected: Cached<String, (IntrospectedSession, Instant)>,
}

/// A session, its user and their access, as one store read answers them.
pub(super) type IntrospectedSession = (SessionRecord, UserRecord, PrincipalAccess);

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
            verified: Mutex::default(),
            introspected: Cached::default(),
        }
    }

    /// The settings in effect.
    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }

    pub(super) fn now(&self) -> i64 {
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
pub(super) fn personal_context(table: &str, column: &str, id: &str) -> AssociatedData {
    AssociatedData::new()
        .with("purpose", b"personal-data")
        .with("table", table.as_bytes())
        .with("column", column.as_bytes())
        .with("id", id.as_bytes())
}

pub(super) fn totp_context(user_id: &str) -> AssociatedData {
    AssociatedData::new().with("purpose", b"totp-seed").with("user", user_id.as_bytes())
}

/// The keyring spec of every generation of the JWT signer.
pub(super) fn jwt_key_spec() -> KeySpec {
    KeySpec {
        purpose: KeyPurpose::JwtSigning,
        algorithm: None,
        rotation_period_seconds: Some(JWT_ROTATION_SECONDS),
        deletion_allowed: false,
    }
}

pub(super) fn urlencode(text: &str) -> String {
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
