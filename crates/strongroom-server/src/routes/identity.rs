//! Logins, tokens and second factors: `/v1/auth/…`, the OAuth2 password
//! flow at `/token` (FastAPI clients keep working), and the JWKS apps use
//! to verify access tokens locally.
//!
//! Login, MFA, refresh, password reset and the JWKS need no principal (they
//! are how one gets one); everything else takes a [`Caller`]. Wrong
//! credentials of any kind answer the same `login_failed` problem.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use strongroom_core::CoreError;
use strongroom_core::audit::Actor;
use strongroom_core::identity::{LoginOutcome, TokenPair};
use strongroom_proto::{
    CodeRequest, Jwk, Jwks, LoginRequest, LoginResponse, MfaRequest, OAuthToken, PasswordGrant, RecoveryCodes,
    RefreshRequest, ResetPasswordRequest, StepUp, TokenResponse, TotpConfirmRequest, TotpEnrollRequest, TotpEnrollment,
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

/// The OAuth2 password flow (RFC 6749 §4.3, form-encoded), as FastAPI's
/// `OAuth2PasswordRequestForm` clients send it. An account with a second
/// factor is answered `mfa_required`: use `POST /v1/auth/login`. Public.
#[utoipa::path(post, path = "/token", tag = "auth",
    request_body(content = PasswordGrant, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The OAuth2 token answer", body = OAuthToken)))]
pub(crate) async fn oauth_token(
    State(state): State<AppState>,
    origin: RequestOrigin,
    Form(form): Form<PasswordGrant>,
) -> Result<Json<OAuthToken>, ApiError> {
    if form.grant_type.as_deref().is_some_and(|grant| grant != "password") {
        return Err(ApiError::InvalidRequest("grant_type: only password is supported here".into()));
    }
    let context = origin.context(Actor::anonymous());
    match state.identity.login(&form.username, &form.password, &context).await? {
        LoginOutcome::Tokens(pair) => Ok(Json(OAuthToken {
            access_token: pair.access_token.expose().to_owned(),
            token_type: "bearer".into(),
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.expose().to_owned(),
        })),
        LoginOutcome::MfaRequired { .. } | LoginOutcome::MfaEnrollmentRequired { .. } => Err(ApiError::Refused {
            code: strongroom_proto::ProblemCode::MfaRequired,
            detail: "this account needs a second factor: log in with POST /v1/auth/login, which answers an \
                         mfa_token (or an enrollment_token) for the next step"
                .into(),
        }),
    }
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
/// verifying them locally. Keys stay listed while their tokens may live. Public.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "The JWKS", body = Jwks)))]
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Json<Jwks>, ApiError> {
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
    Ok(Json(Jwks { keys }))
}

/// Starts TOTP enrolment: answers the `otpauth://` URI and its QR code (PNG,
/// base64), shown once. With an `enrollment_token` (from a login that
/// answered `mfa_enrollment_required`), answers a fresh one for `…/confirm`.
#[utoipa::path(post, path = "/v1/auth/totp/enroll", tag = "auth", request_body = TotpEnrollRequest,
    responses((status = 200, description = "The seed as URI and QR code", body = TotpEnrollment)),
    security(("bearer" = [])))]
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
    security(("bearer" = [])))]
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
    responses((status = 204, description = "Password set")))]
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
