//! Identity settings taken from the configuration (`[identity]`).

use strongroom_crypto::PasswordParams;

use super::{PasswordPolicy, Role};

/// How logins, tokens, sessions and lockouts behave. No `Default`: the
/// defaults are the configuration's (`[identity]` in strongroom-config),
/// written once there; the binary turns them into these.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySettings {
    /// Argon2id cost of new password hashes.
    pub password_params: PasswordParams,
    /// What passwords are accepted.
    pub password_policy: PasswordPolicy,
    /// Password hashes computed at once (each takes ~45 ms of a core and
    /// 19 MiB): a login storm queues instead of starving other requests.
    pub hashing_concurrency: usize,
    /// Lifetime of an access token (JWT), seconds.
    pub access_token_seconds: i64,
    /// A session unused this long dies, seconds.
    pub session_idle_seconds: i64,
    /// A session dies this long after login whatever happens, seconds.
    pub session_absolute_seconds: i64,
    /// Live sessions per user; the oldest is revoked beyond it.
    pub max_sessions_per_user: usize,
    /// Refuse a session's tokens from another address than its login's.
    pub bind_session_to_ip: bool,
    /// Refuse a session's tokens from another user agent than its login's.
    pub bind_session_to_user_agent: bool,
    /// Roles whose users must have a second factor.
    pub mfa_required_roles: Vec<Role>,
    /// Failures of one account from one client address within the window
    /// before that pair locks (others, and the owner elsewhere, still log in).
    pub lockout_threshold: u64,
    /// Failures of one account from all addresses within the window before
    /// it locks for everyone: much higher than `lockout_threshold`, so that
    /// an outsider cannot lock a user out without many addresses.
    pub account_lockout_threshold: u64,
    /// Failures of one address within the window before it locks.
    pub ip_lockout_threshold: u64,
    /// The window failures are counted in, seconds.
    pub lockout_window_seconds: i64,
    /// The first lock's length, doubled with every further failure, seconds.
    pub lockout_base_seconds: i64,
    /// The longest lock, seconds.
    pub lockout_max_seconds: i64,
    /// Lifetime of MFA challenges and enrolment tokens, seconds.
    pub mfa_token_seconds: i64,
    /// Lifetime of password-reset tokens, seconds.
    pub reset_token_seconds: i64,
    /// The `iss` claim of access tokens.
    pub issuer: String,
    /// The `aud` claim of access tokens, required when they are presented.
    pub audience: String,
}
