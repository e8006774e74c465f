//! Wire types of logins, tokens, second factors, users and sessions.
//! Secrets appear only in the answers that hand them out once (tokens,
//! the `otpauth://` URI, recovery codes, reset and enrolment tokens).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A session's tokens.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (an EdDSA JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The single-use refresh token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// The session.
    pub session_id: String,
}

/// The answer of a password login: tokens, or the next step.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    /// Logged in.
    Tokens(TokenResponse),
    /// A second factor must follow: `POST /v1/auth/mfa {mfa_token, code}`.
    MfaRequired {
        /// Always true.
        mfa_required: bool,
        /// Valid a few minutes, once.
        mfa_token: String,
    },
    /// The user's role requires a second factor and none is enrolled:
    /// `POST /v1/auth/totp/enroll {enrollment_token}`, then `…/confirm`.
    MfaEnrollmentRequired {
        /// Always true.
        mfa_enrollment_required: bool,
        /// Valid a few minutes, once.
        enrollment_token: String,
    },
}

/// `POST /v1/auth/mfa`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MfaRequest {
    /// From the login answer.
    pub mfa_token: String,
    /// The current TOTP code, or an unused recovery code.
    pub code: String,
}

/// `POST /v1/auth/refresh`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token (used up by this call).
    pub refresh_token: String,
}

/// One key of the JWKS (RFC 8037: an Ed25519 `OKP` key).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id in the tokens' header.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// `EdDSA`.
    pub alg: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    /// Every key whose tokens may still be alive, newest first.
    pub keys: Vec<Jwk>,
}

/// `POST /v1/auth/totp/enroll`: a logged-in user sends nothing; a user
/// whose login answered `mfa_enrollment_required` sends its token.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TotpEnrollRequest {
    /// From the login answer or from an admin.
    #[serde(default)]
    pub enrollment_token: Option<String>,
}

/// A TOTP enrolment in progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrollment {
    /// `otpauth://totp/…`: carries the seed; shown once.
    pub otpauth_uri: String,
    /// The same URI as a QR code, PNG, base64.
    pub qr_png: String,
    /// For `…/confirm` when enrolling with an enrolment token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_token: Option<String>,
}

/// `POST /v1/auth/totp/confirm`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TotpConfirmRequest {
    /// The current code from the authenticator.
    pub code: String,
    /// The token `…/enroll` answered, when enrolling without a session.
    #[serde(default)]
    pub enrollment_token: Option<String>,
}

/// One-time recovery codes, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, each usable once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// A request carrying a current second-factor code.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// The current TOTP code.
    pub code: String,
}

/// `POST /v1/auth/step-up` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepUp {
    /// Unix seconds of this MFA, now recorded on the session.
    pub mfa_at: i64,
}

/// `POST /v1/auth/reset-password`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The reset token an admin issued.
    pub token: String,
    /// The new password (the policy applies).
    pub new_password: String,
}

/// A user (never a secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// Username.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// `reader`, `analyst`, `admin`, `system`.
    pub roles: Vec<String>,
    /// Disabled by an admin.
    pub disabled: bool,
    /// Locked (by an admin or by brute-force defence).
    pub locked: bool,
    /// Whether TOTP is active.
    pub mfa_enabled: bool,
    /// Whether the user's roles require a second factor.
    pub mfa_required: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// `GET /v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// By username.
    pub users: Vec<UserView>,
}

/// `POST /v1/users`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateUser {
    /// 1-64 of a-z 0-9 . _ - @.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Full name.
    #[serde(default)]
    pub full_name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// A password (the policy applies).
    #[serde(default)]
    pub password: Option<String>,
    /// Or a hash imported from another system (`$argon2id$…`, `$2b$…`), upgraded at the first login.
    #[serde(default)]
    pub password_hash: Option<String>,
}

/// `PATCH /v1/users/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateUser {
    /// New e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// New full name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// Disable (every session ends) or re-enable.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `POST /v1/users/{id}/roles`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SetRoles {
    /// The new roles.
    #[schema(schema_with = crate::rules::user_roles)]
    pub roles: Vec<String>,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::trimmed_justification)]
    pub justification: String,
}

/// `POST /v1/users/{id}/lock`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct LockUser {
    /// Why (kept in the audit log).
    #[serde(default)]
    pub reason: Option<String>,
    /// Also revoke every API key the user owns, for good (incident
    /// response in one call). Without it a lock only holds the keys while
    /// it lasts: they work again once the user is unlocked.
    #[serde(default)]
    pub revoke_api_keys: bool,
}

/// A password-reset token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResetToken {
    /// For `POST /v1/auth/reset-password`.
    pub reset_token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// An MFA enrolment token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentToken {
    /// For `POST /v1/auth/totp/enroll`.
    pub enrollment_token: String,
}

/// A session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// Id.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last request.
    pub last_seen_at: i64,
    /// Unix seconds of the absolute timeout.
    pub expires_at: i64,
    /// Client address at login.
    pub ip: Option<String>,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// Unix seconds of the last MFA.
    pub mfa_at: Option<i64>,
    /// Whether it is the session of this request.
    pub current: bool,
}

/// `GET /v1/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub sessions: Vec<SessionView>,
}

/// How many sessions were revoked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevokedSessions {
    /// Sessions ended.
    pub revoked: u64,
    /// API keys the user owned, revoked with them (incident response ends
    /// everything of the user).
    #[serde(default)]
    pub revoked_api_keys: u64,
}

/// `POST /v1/api-keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateApiKey {
    /// A label (1-100 characters, none a control character, besides surrounding white space).
    #[schema(pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\s\x00-\x1f\x7f-\x9f])?\s*$")]
    pub name: String,
    /// Scopes: `transit:use`, `transit:manage`, `keys:manage`, `audit:read`, `users:manage`,
    /// `roles:assign`, `api_keys:manage`, `matters:manage`, `collections:manage`, `records:decrypt`,
    /// `audit:write`, `auth:introspect`; or, for an application key, `app:<name>` only.
    #[schema(schema_with = crate::rules::scopes)]
    pub scopes: Vec<String>,
    /// Refuse the key after this many days (1-3650).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// Address blocks it may be used from (`10.0.0.0/8`, at most 100); none: anywhere.
    #[serde(default)]
    #[schema(schema_with = crate::rules::cidrs)]
    pub allowed_cidrs: Vec<String>,
    /// Requests per minute (1-1000000), all instances together; exceeded:
    /// 429 `rate_limited` with `Retry-After`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub rate_limit_per_minute: Option<u32>,
    /// Requests it may make at once after a quiet spell (1-1000000); used
    /// with `rate_limit_per_minute` only (alone it limits nothing); default:
    /// a second's worth of that rate, at least 1. An audit batch of n events
    /// counts as n requests.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub rate_limit_burst: Option<u32>,
    /// Username or id of the service account (role `system`) that owns it.
    #[serde(default)]
    pub owner: Option<String>,
}

/// An API key (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    /// The public id (the middle of `sr_<id>_<secret>`).
    pub id: String,
    /// Label.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if it expires.
    pub expires_at: Option<i64>,
    /// Unix seconds, if revoked.
    pub revoked_at: Option<i64>,
    /// Unix seconds of the last use (written within a second or so).
    pub last_used_at: Option<i64>,
    /// Uses so far.
    pub use_count: i64,
    /// Address blocks it may be used from.
    pub allowed_cidrs: Vec<String>,
    /// Requests per minute.
    pub rate_limit_per_minute: Option<u32>,
    /// Requests at once (unset: a second's worth of the rate).
    pub rate_limit_burst: Option<u32>,
    /// Owning service account.
    pub owner_user_id: Option<String>,
    /// Unix seconds until which the previous secret still works after a rotation.
    pub previous_secret_valid_until: Option<i64>,
}

/// A key with its secret, shown once (creation and rotation).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedApiKeyView {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The full key `sr_<id>_<secret>`: store it now, it is never shown again.
    pub secret: String,
}

/// `GET /v1/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    /// Newest first.
    pub api_keys: Vec<ApiKeyView>,
}

/// `POST /v1/api-keys/{id}/rotate`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RotateApiKey {
    /// How long the old secret keeps working (0-2592000 s); default 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2592000)]
    pub grace_seconds: i64,
}
