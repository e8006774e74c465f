//! Users, roles, sessions and one-time tokens as the domain sees them, and
//! the identity storage port.
//!
//! Invariants for implementers of [`IdentityStore`]: every method that
//! changes something takes the audit records of the change and appends them
//! in the same transaction (as `crate::KeyStore` does); secrets never reach
//! the store in clear: passwords as Argon2id/bcrypt hashes, tokens as keyed
//! hashes, TOTP seeds sealed by the keyring; personal data (a user's
//! e-mail and full name, a session's client address and user agent) sealed
//! by the keyring too, bound to its row and column.

use async_trait::async_trait;

use crate::StoreError;
use crate::audit::AuditRecord;
use crate::principal::PrincipalAccess;

/// A role. `admin ⊃ analyst ⊃ reader`; `system` is for service accounts;
/// operators define their own (`attorney`, `paralegal`) as named sets of
/// permissions (`crate::authz` keeps their definitions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Metadata and anonymised values.
    Reader,
    /// Also redacted renditions.
    Analyst,
    /// Also decrypt with justification, and user, role and key management.
    Admin,
    /// Service accounts that own API keys for background jobs.
    System,
    /// An operator-defined role, by its name (never a built-in one). Only
    /// the name is checked here: whether it is defined is the catalogue's
    /// question, asked wherever roles are assigned.
    Custom(String),
}

impl Role {
    /// The built-in roles.
    pub const BUILT_IN: [Role; 4] = [Role::Reader, Role::Analyst, Role::Admin, Role::System];

    /// The stable name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Reader => "reader",
            Self::Analyst => "analyst",
            Self::Admin => "admin",
            Self::System => "system",
            Self::Custom(name) => name,
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form: a built-in name, or a name an
    /// operator could give a role of their own ([`strongroom_policy::check_role_name`]).
    pub fn parse(text: &str) -> Option<Self> {
        match Self::BUILT_IN.into_iter().find(|role| role.as_str() == text) {
            Some(role) => Some(role),
            None => strongroom_policy::check_role_name(text).ok().map(|()| Self::Custom(text.to_owned())),
        }
    }

    /// Whether holding `self` includes what `other` may do (`admin` includes
    /// `analyst` and `reader`; `system` and operator-defined roles only
    /// themselves).
    pub fn includes(&self, other: &Role) -> bool {
        match (self, other) {
            (Self::Admin, Self::Analyst | Self::Reader) | (Self::Analyst, Self::Reader) => true,
            (mine, theirs) => mine == theirs,
        }
    }
}

/// Who grants or manages privilege, by what they hold themselves: nobody
/// may grant a role above their own, nor manage (lock, reset, re-role) a
/// user whose roles are above their own, since taking over such a user is
/// gaining their privilege.
///
/// `admin` covers every role (service accounts' `system` included: it can
/// do nothing an admin cannot); otherwise a role covers the roles it
/// includes ([`Role::includes`]). An API key holds role `system`, so a key
/// with `users:manage` and `roles:assign` manages service accounts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantor {
    /// The operator at the server's own command line, above every role.
    Operator,
    /// A person or an API key, with the roles it holds.
    Holding(Vec<Role>),
}

impl Grantor {
    /// Whether this grantor may grant `role`, or manage a user who holds it.
    pub fn covers(&self, role: &Role) -> bool {
        match self {
            Self::Operator => true,
            Self::Holding(roles) => roles.contains(&Role::Admin) || roles.iter().any(|mine| mine.includes(role)),
        }
    }

    /// The first of `roles` this grantor does not cover.
    pub fn first_uncovered(&self, roles: &[Role]) -> Option<Role> {
        roles.iter().find(|role| !self.covers(role)).cloned()
    }
}

/// A user as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Random id (32 hex digits), stable for the user's life.
    pub id: String,
    /// Login name, lower case, unique.
    pub username: String,
    /// E-mail address, sealed by the keyring (bound to the user id and the
    /// column); `Identity::profile` opens it.
    pub sealed_email: Vec<u8>,
    /// Full name, sealed like [`sealed_email`](Self::sealed_email).
    pub sealed_full_name: Vec<u8>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Argon2id (or imported bcrypt) hash; `None` for service accounts.
    pub password_hash: Option<String>,
    /// Disabled by an admin: no login, no tokens.
    pub disabled: bool,
    /// Locked by an admin (or by brute-force defence) until unlocked.
    pub locked: bool,
    /// The TOTP seed, sealed by the keyring (bound to the user id).
    pub totp_sealed_secret: Option<Vec<u8>>,
    /// Whether TOTP is confirmed (a first valid code was given).
    pub totp_enabled: bool,
    /// The last TOTP step accepted: codes at or before it are replays.
    pub totp_last_step: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Bumped by every stored change: a change is saved only over the
    /// version it was made from (compare-and-set).
    pub row_version: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("roles", &self.roles)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<hidden>"))
            .field("disabled", &self.disabled)
            .field("locked", &self.locked)
            .field("totp_enabled", &self.totp_enabled)
            .finish_non_exhaustive()
    }
}

/// A server-side session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Random id (32 hex digits), the `sid` claim of its access tokens.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix milliseconds of creation (orders sessions made within one second).
    pub created_ms: i64,
    /// Unix seconds of the last request.
    pub last_seen_at: i64,
    /// Unix seconds after which it is dead whatever happens (absolute timeout).
    pub expires_at: i64,
    /// The client address at login, sealed by the keyring (bound to the
    /// session id and the column), for display only.
    pub sealed_ip: Option<Vec<u8>>,
    /// The client's user agent at login, sealed like [`sealed_ip`](Self::sealed_ip).
    pub sealed_user_agent: Option<Vec<u8>>,
    /// A keyed hash of the client address at login (bound to the session),
    /// which every request's address is compared with when sessions are
    /// bound to their address: no decryption per request.
    pub ip_mac: Option<Vec<u8>>,
    /// A keyed hash of the user agent at login, like [`ip_mac`](Self::ip_mac).
    pub user_agent_mac: Option<Vec<u8>>,
    /// Unix seconds of the last MFA on this session, if any.
    pub mfa_at: Option<i64>,
    /// Unix seconds of revocation.
    pub revoked_at: Option<i64>,
    /// Why it was revoked (`logout`, `admin`, `token_reuse`, `evicted`, `locked`, …).
    pub revoked_reason: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .field("mfa_at", &self.mfa_at)
            .field("revoked_at", &self.revoked_at)
            .field("revoked_reason", &self.revoked_reason)
            .finish_non_exhaustive()
    }
}

/// A user row written before personal data was sealed (migration 0014):
/// its fields still in clear, for the start-up sealing to seal.
#[derive(Clone, PartialEq, Eq)]
pub struct UnsealedUser {
    /// User id.
    pub id: String,
    /// E-mail address in clear.
    pub email: String,
    /// Full name in clear.
    pub full_name: String,
}

impl std::fmt::Debug for UnsealedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealedUser").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A session row written before personal data was sealed (migration 0014).
#[derive(Clone, PartialEq, Eq)]
pub struct UnsealedSession {
    /// Session id.
    pub id: String,
    /// Client address in clear.
    pub ip: Option<String>,
    /// User agent in clear.
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for UnsealedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealedSession").field("id", &self.id).finish_non_exhaustive()
    }
}

/// What the start-up sealing stores for one old user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedUserFields {
    /// User id.
    pub id: String,
    /// See [`UserRecord::sealed_email`].
    pub sealed_email: Vec<u8>,
    /// See [`UserRecord::sealed_full_name`].
    pub sealed_full_name: Vec<u8>,
}

/// What the start-up sealing stores for one old session row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSessionFields {
    /// Session id.
    pub id: String,
    /// See [`SessionRecord::sealed_ip`].
    pub sealed_ip: Option<Vec<u8>>,
    /// See [`SessionRecord::sealed_user_agent`].
    pub sealed_user_agent: Option<Vec<u8>>,
    /// See [`SessionRecord::ip_mac`].
    pub ip_mac: Option<Vec<u8>>,
    /// See [`SessionRecord::user_agent_mac`].
    pub user_agent_mac: Option<Vec<u8>>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// It was the session's live token; it is now used and replaced.
    Rotated {
        /// The session it belongs to.
        session_id: String,
    },
    /// It had been used before: theft suspected; the session is revoked.
    Reused {
        /// The session it belonged to.
        session_id: String,
    },
    /// No such token.
    Unknown,
}

/// Kinds of single-use tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneTimeKind {
    /// Completes a login with a second factor.
    MfaChallenge,
    /// Lets a user without a second factor enrol one.
    MfaEnrollment,
    /// Sets a new password.
    PasswordReset,
}

impl OneTimeKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MfaChallenge => "mfa_challenge",
            Self::MfaEnrollment => "mfa_enrollment",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// A registered passkey as stored: public facts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id the authenticator chose.
    pub credential_id: Vec<u8>,
    /// Its user.
    pub user_id: String,
    /// The WebAuthn user handle: random, the same for all of a user's passkeys.
    pub user_handle: Vec<u8>,
    /// What the user called it.
    pub name: String,
    /// The public key and what the authenticator said of itself (webauthn_rp's `StaticState`, encoded).
    pub static_state: Vec<u8>,
    /// The signature counter and backup flags (webauthn_rp's `DynamicState`, encoded).
    pub dynamic_state: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in with it.
    pub last_used_at: Option<i64>,
}

/// A ceremony in progress: the challenge sent and the server's half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// The challenge (16 random bytes), which the response names.
    pub challenge: Vec<u8>,
    /// The user registering; `None` for a sign-in.
    pub user_id: Option<String>,
    /// The server state, encoded.
    pub state: Vec<u8>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The storage port for passkeys (part of [`IdentityStore`]).
#[async_trait]
pub trait PasskeyStore: Send + Sync + std::fmt::Debug {
    /// Stores a ceremony (and drops those expired before `now`).
    async fn insert_passkey_ceremony(&self, ceremony: &PasskeyCeremony, now: i64) -> Result<(), StoreError>;
    /// Takes a ceremony out by its challenge: it is gone afterwards.
    async fn take_passkey_ceremony(&self, challenge: &[u8]) -> Result<Option<PasskeyCeremony>, StoreError>;
    /// Stores a new passkey with its audit records; `Conflict` if the credential id exists.
    async fn insert_passkey(&self, passkey: &PasskeyRecord, audit: &[AuditRecord]) -> Result<(), StoreError>;
    /// A user's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError>;
    /// One passkey by credential id.
    async fn passkey(&self, credential_id: &[u8]) -> Result<Option<PasskeyRecord>, StoreError>;
    /// Records a sign-in with a passkey: its new counter and flags.
    async fn use_passkey(&self, credential_id: &[u8], dynamic_state: &[u8], at: i64) -> Result<(), StoreError>;
    /// Deletes one of a user's passkeys with its audit records; `false` if it was not theirs.
    async fn delete_passkey(
        &self,
        user_id: &str,
        credential_id: &[u8],
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
}

/// The identity storage port.
#[async_trait]
pub trait IdentityStore: PasskeyStore + Send + Sync + std::fmt::Debug {
    /// Stores a new user; `Conflict` if the username exists.
    async fn insert_user(&self, user: &UserRecord, audit: &[AuditRecord]) -> Result<(), StoreError>;
    /// One user by id.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// One user by (lower-case) username.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, by username.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Whether any user exists (for `strongroom init`).
    async fn any_user(&self) -> Result<bool, StoreError>;
    /// Saves every field of `user` if its stored `row_version` is still
    /// `user.row_version` (and bumps it); `false`, with nothing written, if
    /// the user does not exist or changed since it was read.
    async fn update_user(&self, user: &UserRecord, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// Records `step` as the user's last accepted TOTP step if it is later
    /// than the stored one, in one statement (compare-and-set): of two
    /// logins with one code, one wins. `false`, with nothing written, otherwise.
    async fn advance_totp_step(&self, user_id: &str, step: i64, audit: &[AuditRecord]) -> Result<bool, StoreError>;

    /// Stores a session with its first refresh token hash and revokes the
    /// sessions in `evict` (reason `evicted`, the concurrent-session limit),
    /// in one transaction.
    async fn insert_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &[u8],
        evict: &[String],
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// One session.
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// A session with its user, in one query (every authenticated request reads it).
    async fn session_with_user(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(SessionRecord, UserRecord, PrincipalAccess)>, StoreError>;
    /// A user's sessions, newest first (revoked ones included when `include_revoked`).
    async fn sessions_of(&self, user_id: &str, include_revoked: bool) -> Result<Vec<SessionRecord>, StoreError>;
    /// Moves `last_seen_at` forward (never back) for several sessions.
    async fn touch_sessions(&self, seen: &[(String, i64)]) -> Result<(), StoreError>;
    /// Records a new MFA time on a session.
    async fn set_session_mfa(&self, id: &str, at: i64) -> Result<(), StoreError>;
    /// Revokes one live session; `false` if unknown or already revoked.
    async fn revoke_session(&self, id: &str, at: i64, reason: &str, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// Revokes every live session of a user; returns how many.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        at: i64,
        reason: &str,
        audit: &[AuditRecord],
    ) -> Result<u64, StoreError>;

    /// The session a refresh token (by hash) belongs to, used or not.
    async fn refresh_session(&self, presented: &[u8]) -> Result<Option<String>, StoreError>;
    /// Consumes refresh token `presented` and stores `next` for the same
    /// session, with `audit_rotated`, in one transaction. A token used before
    /// revokes its session instead (reason `token_reuse`), with `audit_reused`.
    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next: &[u8],
        at: i64,
        audit_rotated: &[AuditRecord],
        audit_reused: &[AuditRecord],
    ) -> Result<RefreshOutcome, StoreError>;

    /// Counts a failure for a throttling key (an account or an address)
    /// within `window` seconds and returns the failures counted.
    async fn count_failure(&self, key: &str, at: i64, window: i64) -> Result<u64, StoreError>;
    /// Sets a throttling key's lock end.
    async fn lock_key(&self, key: &str, until: i64) -> Result<(), StoreError>;
    /// A throttling key's lock end, if locked.
    async fn locked_until(&self, key: &str) -> Result<Option<i64>, StoreError>;
    /// Forgets a throttling key's failures (after a success or an unlock),
    /// and those of every key under it (`<key>|…`).
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;

    /// Up to `limit` user rows whose e-mail or full name is still in clear
    /// (written before migration 0014).
    async fn unsealed_users(&self, limit: u32) -> Result<Vec<UnsealedUser>, StoreError>;
    /// Up to `limit` session rows whose address or user agent is still in clear.
    async fn unsealed_sessions(&self, limit: u32) -> Result<Vec<UnsealedSession>, StoreError>;
    /// Stores the sealed fields of old rows and empties their clear
    /// columns, in one transaction. A row sealed meanwhile (by another
    /// instance) is left as it is.
    async fn seal_old_rows(
        &self,
        users: &[SealedUserFields],
        sessions: &[SealedSessionFields],
    ) -> Result<(), StoreError>;
    /// Makes sure emptied values survive nowhere in the database's files
    /// (SQLite: moves the write-ahead log into the main file and truncates
    /// it; freed space is zeroed as it is freed, by `secure_delete`).
    async fn forget_cleared_values(&self) -> Result<(), StoreError>;

    /// Stores a single-use token (by hash).
    async fn insert_one_time(
        &self,
        kind: OneTimeKind,
        hash: &[u8],
        user_id: &str,
        expires_at: i64,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// Uses a single-use token: its user id if it exists, is of `kind`,
    /// unexpired and unused; it is used up at once either way it matched.
    async fn consume_one_time(&self, kind: OneTimeKind, hash: &[u8], at: i64) -> Result<Option<String>, StoreError>;

    /// Replaces a user's recovery codes (hashes).
    async fn replace_recovery_codes(&self, user_id: &str, hashes: &[Vec<u8>]) -> Result<(), StoreError>;
    /// Uses a recovery code: `true` if it was unused.
    async fn use_recovery_code(&self, user_id: &str, hash: &[u8], at: i64) -> Result<bool, StoreError>;
    /// Unused recovery codes left.
    async fn recovery_codes_left(&self, user_id: &str) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_includes_analyst_includes_reader_and_system_stands_apart() {
        assert!(Role::Admin.includes(&Role::Analyst) && Role::Admin.includes(&Role::Reader));
        assert!(Role::Analyst.includes(&Role::Reader) && !Role::Analyst.includes(&Role::Admin));
        assert!(!Role::Admin.includes(&Role::System) && !Role::System.includes(&Role::Reader));
        for role in Role::BUILT_IN {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn an_operator_defined_role_includes_only_itself() {
        let attorney = Role::parse("attorney").unwrap();
        assert_eq!(attorney, Role::Custom("attorney".into()));
        assert!(attorney.includes(&attorney) && !attorney.includes(&Role::Reader));
        assert!(!Role::Admin.includes(&attorney), "including is not covering: only covers() lets admins grant it");
        assert!(Grantor::Holding(vec![Role::Admin]).covers(&attorney));
        assert!(!Grantor::Holding(vec![Role::Analyst]).covers(&attorney));
        assert_eq!(Role::parse("Attorney"), None, "names are lower case");
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn nobody_grants_a_role_above_their_own() {
        let key = Grantor::Holding(vec![Role::System]);
        assert!(key.covers(&Role::System));
        assert_eq!(key.first_uncovered(&[Role::System, Role::Admin]), Some(Role::Admin));
        assert!(!key.covers(&Role::Reader), "an API key reads nothing of its own accord");
        let analyst = Grantor::Holding(vec![Role::Analyst]);
        assert!(analyst.covers(&Role::Reader) && !analyst.covers(&Role::Admin) && !analyst.covers(&Role::System));
        let admin = Grantor::Holding(vec![Role::Admin]);
        assert_eq!(admin.first_uncovered(&Role::BUILT_IN), None);
        assert_eq!(Grantor::Operator.first_uncovered(&Role::BUILT_IN), None);
    }
}
