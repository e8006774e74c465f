//! Logins, tokens and second factors: `/v1/auth/…`, OAuth2's `/token`
//! (password with TOTP, refresh, client credentials; FastAPI clients keep
//! working), token introspection (RFC 7662), and the JWKS and discovery
//! document apps use to verify access tokens locally.
//!
//! Login, MFA, refresh, password reset and the JWKS need no principal (they
//! are how one gets one); everything else takes a [`Caller`]. Wrong
//! credentials of any kind answer the same `login_failed` problem.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use strongroom_core::CoreError;
use strongroom_core::audit::Actor;
use strongroom_core::identity::{LoginOutcome, TokenPair};
use strongroom_core::oauth::CredentialKind;
use strongroom_proto::{
    CodeRequest, IntrospectRequest, Introspection, Jwk, Jwks, LoginRequest, LoginResponse, MfaRequest, OAuthToken,
    OpenIdConfiguration, Problem, RecoveryCodes, RefreshRequest, ResetPasswordRequest, StepUp, TokenRequest,
    TokenResponse, TotpConfirmRequest, TotpEnrollRequest, TotpEnrollment,
};

use crate::auth::RequestOrigin;
use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

fn tokens(pair: TokenPair) -> TokenResponse {
    TokenResponse {
        access_token: pair.access_token.expose().to_owned(),
        token_type: "bearer".into(),
        expires_in: pair.expires_in,
        refresh_token: pair.refresh_token.expose().to_owned(),
        session_id: pair.session_id,
    }
}

/// Logs in with a username and password. The answer is the session's
/// tokens, or `mfa_required` with an `mfa_token` for `POST /v1/auth/mfa`, or
/// `mfa_enrollment_required` with an `enrollment_token` when the user's role
/// requires a second factor not yet enrolled. Public.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Tokens, or the next step", body = LoginResponse)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let context = origin.context(Actor::anonymous());
    let answer = match state.identity.login(&request.username, &request.password, &context).await? {
        LoginOutcome::Tokens(pair) => LoginResponse::Tokens(tokens(pair)),
        LoginOutcome::MfaRequired { mfa_token } => {
            LoginResponse::MfaRequired { mfa_required: true, mfa_token: mfa_token.expose().to_owned() }
        }
        LoginOutcome::MfaEnrollmentRequired { enrollment_token } => LoginResponse::MfaEnrollmentRequired {
            mfa_enrollment_required: true,
            enrollment_token: enrollment_token.expose().to_owned(),
        },
    };
    Ok(Json(answer))
}

/// The OAuth2 grants of `/token` (RFC 6749, form-encoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Password,
    Refresh,
    ClientCredentials,
}

/// An error of `/token` or introspection: the problem, with RFC 6749 §5.2's
/// `error` (and `error_description`) beside its fields.
pub(crate) struct OAuthError {
    error: ApiError,
    /// The OAuth2 code, when the kind of error alone does not say it.
    code: Option<&'static str>,
    grant: Option<Grant>,
}

impl OAuthError {
    fn new(error: impl Into<ApiError>, grant: Option<Grant>) -> Self {
        Self { error: error.into(), code: None, grant }
    }

    fn coded(code: &'static str, detail: impl Into<String>) -> Self {
        Self { error: ApiError::InvalidRequest(detail.into()), code: Some(code), grant: None }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.code().status()).unwrap_or(StatusCode::BAD_REQUEST);
        let code = self.code.unwrap_or(match (status.as_u16(), self.grant) {
            (400 | 413 | 415, _) => "invalid_request",
            (401 | 403 | 429, Some(Grant::ClientCredentials)) => "invalid_client",
            (401 | 403 | 429, Some(Grant::Password | Grant::Refresh)) => "invalid_grant",
            (401, None) => "invalid_token",
            (403, None) => "insufficient_scope",
            (503, _) => "temporarily_unavailable",
            _ => "server_error",
        });
        let mut response = self.error.into_response();
        if let Some(problem) = response.extensions_mut().get_mut::<Problem>() {
            problem.oauth_error = Some(code.to_owned());
            problem.error_description = Some(problem.detail.clone());
        }
        if code == "invalid_client" && status == StatusCode::UNAUTHORIZED {
            // RFC 6749 §5.2: a failed client authentication names the scheme to use.
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"strongroom\""));
        }
        response
    }
}

/// The client credentials of a request: the form's, or HTTP Basic's (RFC
/// 6749 §2.3.1: each part form-urlencoded).
fn client_credentials(form: &TokenRequest, headers: &HeaderMap) -> Option<(String, String)> {
    let given = |field: &Option<String>| field.clone().filter(|value| !value.is_empty());
    if let (Some(id), Some(secret)) = (given(&form.client_id), given(&form.client_secret)) {
        return Some((id, secret));
    }
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| -> Option<String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
        pairs.into_iter().next().map(|(_, v)| v)
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// OAuth2's token endpoint (RFC 6749, form-encoded), with FastAPI's
/// `OAuth2PasswordRequestForm` fields: `grant_type=password` (the default;
/// `totp` carries the second factor of an account that has one),
/// `refresh_token`, and `client_credentials` for API keys (id and key in
/// the form or as HTTP Basic), which answers a short-lived service token.
/// Errors carry RFC 6749 §5.2's `error` beside the problem fields. Public.
#[utoipa::path(post, path = "/token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The OAuth2 token answer", body = OAuthToken)))]
pub(crate) async fn oauth_token(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Json<OAuthToken>, OAuthError> {
    let Form(form) = form.map_err(|rejection| {
        OAuthError::coded("invalid_request", format!("the form is not readable: {}", rejection.body_text()))
    })?;
    let context = origin.context(Actor::anonymous());
    let pair = |pair: TokenPair| OAuthToken {
        access_token: pair.access_token.expose().to_owned(),
        token_type: "bearer".into(),
        expires_in: pair.expires_in,
        refresh_token: Some(pair.refresh_token.expose().to_owned()),
        scope: None,
    };
    let missing = |field: &str| OAuthError::coded("invalid_request", format!("{field}: required for this grant"));
    match form.grant_type.as_deref().unwrap_or("password") {
        "password" => {
            let username = form.username.as_deref().ok_or_else(|| missing("username"))?;
            let password = form.password.as_deref().ok_or_else(|| missing("password"))?;
            let tokens = state
                .oauth
                .password_grant(username, password, form.totp.as_deref(), &context)
                .await
                .map_err(|e| OAuthError::new(e, Some(Grant::Password)))?;
            Ok(Json(pair(tokens)))
        }
        "refresh_token" => {
            let token = form.refresh_token.as_deref().ok_or_else(|| missing("refresh_token"))?;
            let tokens = state
                .oauth
                .refresh_grant(token, &context)
                .await
                .map_err(|e| OAuthError::new(e, Some(Grant::Refresh)))?;
            Ok(Json(pair(tokens)))
        }
        "client_credentials" => {
            let Some((id, secret)) = client_credentials(&form, &headers) else {
                return Err(OAuthError::new(ApiError::Unauthenticated, Some(Grant::ClientCredentials)));
            };
            let token = state
                .oauth
                .client_credentials(&id, &secret, origin.ip, &context)
                .await
                .map_err(|e| OAuthError::new(e, Some(Grant::ClientCredentials)))?;
            Ok(Json(OAuthToken {
                access_token: token.access_token.expose().to_owned(),
                token_type: "bearer".into(),
                expires_in: token.expires_in,
                refresh_token: None,
                scope: Some(token.scope),
            }))
        }
        other => Err(OAuthError::coded(
            "unsupported_grant_type",
            format!("grant_type: {other:?} is not one of password, refresh_token, client_credentials"),
        )),
    }
}

/// Token introspection (RFC 7662): whether an access token, a service token
/// or an API key is live now, and whose (sub, username, roles, matters,
/// scopes, exp, session). Anything not live answers only `active: false`.
/// Form-encoded (the RFC) or JSON. For API keys with the scope
/// `auth:introspect`, and admins. Not audited per call.
#[utoipa::path(post, path = "/v1/auth/introspect", tag = "auth",
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Whether the credential is live, and whose", body = Introspection)),
    security(("bearer" = [])))]
pub(crate) async fn introspect(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Introspection>, OAuthError> {
    let json = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    let request: IntrospectRequest = if json {
        serde_json::from_slice(&body)
            .map_err(|e| OAuthError::coded("invalid_request", format!("the JSON body is not readable: {e}")))?
    } else {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| OAuthError::coded("invalid_request", format!("token: the form is not readable: {e}")))?
    };
    let client = match request.client_ip.as_deref().map(str::trim).filter(|ip| !ip.is_empty()) {
        Some(ip) => Some(
            ip.parse()
                .map_err(|_| OAuthError::coded("invalid_request", format!("client_ip: {ip:?} is not an IP address")))?,
        ),
        None => None,
    };
    let answer = state
        .oauth
        .introspect(&caller.subject, &request.token, client, &caller.context)
        .await
        .map_err(|e| OAuthError::new(e, None))?;
    let Some(active) = answer else { return Ok(Json(Introspection::default())) };
    let settings = state.identity.settings();
    let scope = (!active.scopes.is_empty()).then(|| active.scopes.join(" "));
    Ok(Json(Introspection {
        active: true,
        token_type: Some(active.kind.as_str().to_owned()),
        sub: Some(active.sub),
        username: Some(active.username),
        roles: Some(active.roles),
        matters: Some(active.matters),
        scope,
        scopes: Some(active.scopes),
        exp: active.exp,
        iat: active.iat,
        session: active.session,
        client_id: active.client_id,
        iss: (active.kind != CredentialKind::ApiKey).then(|| settings.issuer.clone()),
        aud: (active.kind != CredentialKind::ApiKey).then(|| settings.audience.clone()),
        application_key: Some(active.application_key),
    }))
}

/// How long clients may cache the JWKS: a new signing version is published
/// a rotation ahead of use, so five minutes of staleness refuses nothing.
const JWKS_MAX_AGE: &str = "public, max-age=300";

/// OpenID Connect discovery (RFC 8414 metadata): the issuer, the JWKS, the
/// token and introspection endpoints and the algorithm. URLs are the
/// issuer's when it is an `https://` or `http://` URL, else this request's
/// host. Public.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "auth",
    responses((status = 200, description = "The discovery document", body = OpenIdConfiguration)))]
pub(crate) async fn openid_configuration(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<OpenIdConfiguration>, ApiError> {
    let issuer = state.identity.settings().issuer.clone();
    let base = if issuer.starts_with("https://") || issuer.starts_with("http://") {
        issuer.trim_end_matches('/').to_owned()
    } else {
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("localhost");
        format!("{}://{host}", if state.http.https { "https" } else { "http" })
    };
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Ok(Json(OpenIdConfiguration {
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        token_endpoint: format!("{base}/token"),
        introspection_endpoint: format!("{base}/v1/auth/introspect"),
        issuer,
        grant_types_supported: strings(&["password", "refresh_token", "client_credentials"]),
        token_endpoint_auth_methods_supported: strings(&["client_secret_post", "client_secret_basic"]),
        introspection_endpoint_auth_methods_supported: strings(&["client_secret_basic", "bearer"]),
        response_types_supported: strings(&["token"]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["EdDSA"]),
        token_endpoint_auth_signing_alg_values_supported: strings(&["EdDSA"]),
        claims_supported: strings(&[
            "iss",
            "aud",
            "sub",
            "exp",
            "iat",
            "nbf",
            "jti",
            "preferred_username",
            "roles",
            "sid",
            "mfa_time",
            "client_id",
            "scope",
        ]),
    }))
}

/// Completes a login with the current TOTP code or a recovery code. Public.
#[utoipa::path(post, path = "/v1/auth/mfa", tag = "auth", request_body = MfaRequest,
    responses((status = 200, description = "The session's tokens", body = TokenResponse)))]
pub(crate) async fn mfa(
    State(state): State<AppState>,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<MfaRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let context = origin.context(Actor::anonymous());
    Ok(Json(tokens(state.identity.complete_mfa(&request.mfa_token, &request.code, &context).await?)))
}

/// Trades a refresh token for new tokens; the presented one is used up. A
/// used one presented again ends the whole session (theft suspected). Public.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = TokenResponse)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let context = origin.context(Actor::anonymous());
    Ok(Json(tokens(state.identity.refresh(&request.refresh_token, &context).await?)))
}

/// Ends the caller's session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Logged out")), security(("bearer" = [])))]
pub(crate) async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.user_management.logout(&caller.subject, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that sign access tokens (RFC 8037 Ed25519 JWKs), for
/// verifying them locally. Keys stay listed while their tokens may live;
/// the answer may be cached (`Cache-Control: max-age=300`). Public.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "The JWKS", body = Jwks)))]
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let keys = state
        .identity
        .jwks()
        .await?
        .into_iter()
        .map(|(kid, public)| Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(public),
            kid,
            key_use: "sig".into(),
            alg: "EdDSA".into(),
        })
        .collect();
    Ok(([(CACHE_CONTROL, HeaderValue::from_static(JWKS_MAX_AGE))], Json(Jwks { keys })))
}

/// Starts TOTP enrolment: answers the `otpauth://` URI and its QR code (PNG,
/// base64), shown once. With an `enrollment_token` (from a login that
/// answered `mfa_enrollment_required`), answers a fresh one for `…/confirm`.
#[utoipa::path(post, path = "/v1/auth/totp/enroll", tag = "auth", request_body = Option<TotpEnrollRequest>,
    responses((status = 200, description = "The seed as URI and QR code", body = TotpEnrollment)),
    security(("bearer" = []), ()))]
pub(crate) async fn totp_enroll(
    State(state): State<AppState>,
    origin: RequestOrigin,
    caller: Option<Caller>,
    body: axum::body::Bytes,
) -> Result<Json<TotpEnrollment>, ApiError> {
    let request: TotpEnrollRequest = lenient_json(&body)?;
    let (uri, next) = match (request.enrollment_token.as_deref(), caller) {
        (Some(token), _) => {
            let (uri, next) = state.identity.enroll_totp_by_token(token, &origin.context(Actor::anonymous())).await?;
            (uri, Some(next.expose().to_owned()))
        }
        (None, Some(caller)) => (state.user_management.enroll_totp(&caller.subject, &caller.context).await?, None),
        (None, None) => return Err(ApiError::Unauthenticated),
    };
    let png = crate::qr::qr_png(uri.expose())
        .ok_or_else(|| ApiError::Internal("the otpauth URI does not fit a QR code".into()))?;
    Ok(Json(TotpEnrollment {
        otpauth_uri: uri.expose().to_owned(),
        qr_png: STANDARD.encode(png),
        enrollment_token: next,
    }))
}

/// Activates TOTP with a first valid code; answers ten one-time recovery codes, shown once.
#[utoipa::path(post, path = "/v1/auth/totp/confirm", tag = "auth", request_body = TotpConfirmRequest,
    responses((status = 200, description = "Recovery codes", body = RecoveryCodes)),
    security(("bearer" = []), ()))]
pub(crate) async fn totp_confirm(
    State(state): State<AppState>,
    origin: RequestOrigin,
    caller: Option<Caller>,
    ApiJson(request): ApiJson<TotpConfirmRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let codes = match (request.enrollment_token.as_deref(), caller) {
        (Some(token), _) => {
            state.identity.confirm_totp_by_token(token, &request.code, &origin.context(Actor::anonymous())).await?
        }
        (None, Some(caller)) => {
            state.user_management.confirm_totp(&caller.subject, &request.code, &caller.context).await?
        }
        (None, None) => return Err(ApiError::Unauthenticated),
    };
    Ok(Json(RecoveryCodes { recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect() }))
}

/// Turns the caller's TOTP off; needs a current code.
#[utoipa::path(delete, path = "/v1/auth/totp", tag = "auth", request_body = CodeRequest,
    responses((status = 204, description = "TOTP is off")), security(("bearer" = [])))]
pub(crate) async fn totp_disable(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    state.user_management.disable_totp(&caller.subject, &request.code, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Step-up: a current TOTP code proves a recent second factor on this
/// session, for actions that demand one (decrypt, key and role changes).
#[utoipa::path(post, path = "/v1/auth/step-up", tag = "auth", request_body = CodeRequest,
    responses((status = 200, description = "The MFA time now on the session", body = StepUp)),
    security(("bearer" = [])))]
pub(crate) async fn step_up(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Json<StepUp>, ApiError> {
    Ok(Json(StepUp { mfa_at: state.user_management.step_up(&caller.subject, &request.code, &caller.context).await? }))
}

/// Sets a new password with a single-use reset token from an admin; every
/// session of the user ends. Public (the token is the credential).
#[utoipa::path(post, path = "/v1/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 204, description = "Password set"),
        (status = 401, description = "The token is unknown, used or expired (`invalid_reset_token`)")))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let context = origin.context(Actor::anonymous());
    match state.identity.reset_password(&request.token, &request.new_password, &context).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(CoreError::InvalidInput(detail)) => Err(ApiError::InvalidRequest(detail)),
        Err(other) => Err(other.into()),
    }
}
