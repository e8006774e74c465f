//! Wire types of OAuth2 and OpenID Connect discovery for applications:
//! `/token`, token introspection (RFC 7662), the discovery document, and the
//! caller's own permissions (`/v1/users/me`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::UserView;

/// `POST /token` (form-encoded, RFC 6749 §4.3, §6, §4.4): FastAPI's
/// `OAuth2PasswordRequestForm` fields, plus `totp` and `refresh_token`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` (the default), `refresh_token` or `client_credentials`.
    #[serde(default)]
    #[schema(nullable = false)]
    #[schema(pattern = "^(password|refresh_token|client_credentials)$")]
    pub grant_type: Option<String>,
    /// Password grant: the username.
    #[serde(default)]
    #[schema(nullable = false)]
    pub username: Option<String>,
    /// Password grant: the password.
    #[serde(default)]
    #[schema(nullable = false)]
    pub password: Option<String>,
    /// Password grant: the current TOTP code (or a recovery code) of an
    /// account with a second factor.
    #[serde(default)]
    #[schema(nullable = false)]
    pub totp: Option<String>,
    /// Refresh grant: the refresh token, used up by the call.
    #[serde(default)]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// Ignored: roles and scopes come from the server.
    #[serde(default)]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// Client credentials: the API key's id (or use HTTP Basic).
    #[serde(default)]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// Client credentials: the whole API key, or its secret part.
    #[serde(default)]
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
}

/// The OAuth2 token answer of `POST /token` (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OAuthToken {
    /// The access token (`typ: at+jwt`).
    pub access_token: String,
    /// `bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The refresh token (password and refresh grants; none for client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The key's scopes (client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `POST /v1/auth/introspect` (form-encoded per RFC 7662, or JSON).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// An access token, a service token or an API key.
    pub token: String,
    /// `access_token` or `api_key`; a hint only (the token's shape decides).
    #[serde(default)]
    #[schema(nullable = false)]
    pub token_type_hint: Option<String>,
    /// The address the application's own client called from: checked
    /// against an API key's allowed addresses (a key with an allow-list is
    /// inactive without it).
    #[serde(default)]
    #[schema(schema_with = crate::rules::client_ip)]
    pub client_ip: Option<String>,
}

/// The introspection answer (RFC 7662 §2.2): `active`, and when active
/// whose and what it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Introspection {
    /// Whether the credential is live now. Nothing else is said when false.
    pub active: bool,
    /// `access_token`, `service_token` or `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The user's id, or the key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The username, or the key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The user's roles (`system` for a key, none for an application key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Matters the user or key holds a grant on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matters: Option<Vec<String>>,
    /// A key's scopes, space-separated (RFC 7662 `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The same scopes as a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Unix seconds it expires at, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Unix seconds it was issued at (tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The session of a person's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The API key a service token or key is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The issuer (`iss` of our tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience (`aud` of our tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Whether it is (or stands for) an application key (`app:` scopes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_key: Option<bool>,
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0,
/// RFC 8414): where the keys and endpoints are.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// The `iss` of our tokens.
    pub issuer: String,
    /// The JWKS.
    pub jwks_uri: String,
    /// `POST /token`.
    pub token_endpoint: String,
    /// `POST /v1/auth/introspect`.
    pub introspection_endpoint: String,
    /// `password`, `refresh_token`, `client_credentials`.
    pub grant_types_supported: Vec<String>,
    /// `client_secret_post`, `client_secret_basic`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// How introspection callers authenticate.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// Nothing is issued through an authorization endpoint: `token` only.
    pub response_types_supported: Vec<String>,
    /// `public`.
    pub subject_types_supported: Vec<String>,
    /// `EdDSA`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `EdDSA`: the algorithm of access tokens.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// The claims access tokens carry.
    pub claims_supported: Vec<String>,
}

/// The actions a caller may take in one matter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatterPermissions {
    /// The matter.
    pub matter: String,
    /// Actions allowed on its data (`record.read`, `record.decrypt`…).
    pub actions: Vec<String>,
}

/// What the caller may do now, as the policy engine decides it (reveals
/// assume a justification is given; the session's second factor is as it is).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PermissionsView {
    /// Actions on the service itself (`user.manage`, `audit.read`…).
    pub service: Vec<String>,
    /// Per matter held, the actions on its data.
    pub matters: Vec<MatterPermissions>,
}

/// `GET /v1/users/me`: the caller, the matters they hold a grant on, and
/// their effective permissions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The user.
    #[serde(flatten)]
    pub user: UserView,
    /// Matters the user holds a grant on.
    pub matters: Vec<String>,
    /// What the user may do now.
    pub permissions: PermissionsView,
}
