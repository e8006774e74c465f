//! Users and sessions: `/v1/users/…` for admins (and `me` for everyone),
//! `/v1/sessions` for one's own sessions (admins: anyone's).
//!
//! Permission: role `admin` or the API-key scope `users:manage` for
//! everything but `GET /v1/users/me`, one's own sessions, and reading
//! oneself. Creating a user or changing roles also takes `role.assign`
//! (scope `roles:assign`), and nobody grants a role above their own or
//! manages a user above them (core's `Grantor`). Role changes need a
//! justification of at least 20 characters.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use strongroom_core::identity::{NewPassword, NewUser, ProfileChange, Role};
use strongroom_core::user_management::{SessionDetails, UserDetails};
use strongroom_proto::{
    CreateUser, EnrollmentToken, LockUser, MatterPermissions, Me, PermissionsView, ResetToken, RevokedSessions,
    SessionList, SessionView, SetRoles, UpdateUser, UserList, UserView,
};
use zeroize::Zeroizing;

use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

/// A user as shown.
fn view(details: UserDetails) -> UserView {
    let UserDetails { user, profile, mfa_required } = details;
    UserView {
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        id: user.id,
        username: user.username,
        email: profile.email,
        full_name: profile.full_name,
        disabled: user.disabled,
        locked: user.locked,
        mfa_enabled: user.totp_enabled,
        mfa_required,
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

fn parse_roles(names: &[String]) -> Result<Vec<Role>, ApiError> {
    names
        .iter()
        .map(|name| {
            Role::parse(name).ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "roles: {name:?} is neither a built-in role (reader, analyst, admin, system) nor a role name \
                     (2-32 characters of a-z, 0-9 and '_', starting with a letter; GET /v1/roles lists them)"
                ))
            })
        })
        .collect()
}

/// The caller, the matters they hold a grant on and their effective
/// permissions (per matter, the actions on its data). Any user.
#[utoipa::path(get, path = "/v1/users/me", tag = "users",
    responses((status = 200, description = "The caller", body = Me)), security(("bearer" = [])))]
pub(crate) async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let mine = state.user_management.me(&caller.subject, &caller.context).await?;
    let names = |actions: Vec<strongroom_core::authz::Action>| actions.iter().map(|a| a.as_str().to_owned()).collect();
    Ok(Json(Me {
        user: view(mine.details),
        matters: mine.matters,
        permissions: PermissionsView {
            service: names(mine.permissions.service),
            matters: mine
                .permissions
                .matters
                .into_iter()
                .map(|(matter, actions)| MatterPermissions { matter, actions: names(actions) })
                .collect(),
        },
    }))
}

/// Creates a user with a password (the policy applies) or an imported
/// Argon2id/bcrypt hash. Admins.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "The user", body = UserView)), security(("bearer" = [])))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let password = match (request.password, request.password_hash) {
        (Some(password), None) => NewPassword::Plain(Zeroizing::new(password)),
        (None, Some(hash)) => NewPassword::ImportedHash(hash),
        (None, None) if request.roles.iter().all(|r| r == "system") => NewPassword::None,
        _ => {
            return Err(ApiError::InvalidRequest(
                "give exactly one of password and password_hash (service accounts, role system only, give none)".into(),
            ));
        }
    };
    let new = NewUser {
        username: request.username,
        email: request.email,
        full_name: request.full_name,
        roles: parse_roles(&request.roles)?,
        password,
    };
    let user = state.user_management.create_user(&caller.subject, new, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(view(user))))
}

/// Every user. Admins.
#[utoipa::path(get, path = "/v1/users", tag = "users",
    responses((status = 200, description = "Users", body = UserList)), security(("bearer" = [])))]
pub(crate) async fn list_users(State(state): State<AppState>, caller: Caller) -> Result<Json<UserList>, ApiError> {
    let users = state.user_management.users(&caller.subject, &caller.context).await?;
    Ok(Json(UserList { users: users.into_iter().map(view).collect() }))
}

/// One user. Admins, or the user themself.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)), security(("bearer" = [])))]
pub(crate) async fn read_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(view(state.user_management.user(&caller.subject, &id, &caller.context).await?)))
}

/// Changes e-mail, full name or the disabled flag (disabling ends every session). Admins.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser, responses((status = 200, description = "The user", body = UserView)),
    security(("bearer" = [])))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    let change = ProfileChange { email: request.email, full_name: request.full_name, disabled: request.disabled };
    Ok(Json(view(state.user_management.update_profile(&caller.subject, &id, change, &caller.context).await?)))
}

/// Replaces a user's roles, with a justification of at least 20 characters. Admins.
#[utoipa::path(post, path = "/v1/users/{id}/roles", tag = "users", params(("id" = String, Path, description = "User id")),
    request_body = SetRoles, responses((status = 200, description = "The user", body = UserView)),
    security(("bearer" = [])))]
pub(crate) async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SetRoles>,
) -> Result<Json<UserView>, ApiError> {
    let roles = parse_roles(&request.roles)?;
    let user =
        state.user_management.set_roles(&caller.subject, &id, roles, &request.justification, &caller.context).await?;
    Ok(Json(view(user)))
}

/// Locks a user: no login, every session ends, their API keys stop (and
/// with `revoke_api_keys` are revoked for good). Admins.
#[utoipa::path(post, path = "/v1/users/{id}/lock", tag = "users", params(("id" = String, Path, description = "User id")),
    request_body = Option<LockUser>, responses((status = 200, description = "The user", body = UserView)),
    security(("bearer" = [])))]
pub(crate) async fn lock_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, ApiError> {
    let request: LockUser = lenient_json(&body)?;
    let reason = request.reason.unwrap_or_else(|| "locked by an administrator".into());
    let locked =
        state.user_management.lock(&caller.subject, &id, &reason, request.revoke_api_keys, &caller.context).await?;
    Ok(Json(view(locked)))
}

/// Unlocks a user and forgets their failed logins. Admins.
#[utoipa::path(post, path = "/v1/users/{id}/unlock", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)), security(("bearer" = [])))]
pub(crate) async fn unlock_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(view(state.user_management.unlock(&caller.subject, &id, &caller.context).await?)))
}

/// Ends every session of a user at once (incident response). Admins.
#[utoipa::path(post, path = "/v1/users/{id}/revoke-sessions", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "How many", body = RevokedSessions)), security(("bearer" = [])))]
pub(crate) async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = state.user_management.revoke_access(&caller.subject, &id, &caller.context).await?;
    Ok(Json(RevokedSessions { revoked: revoked.sessions, revoked_api_keys: revoked.api_keys }))
}

/// Issues a single-use password-reset token for a user, shown once. Admins.
#[utoipa::path(post, path = "/v1/users/{id}/reset-password", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The reset token", body = ResetToken)), security(("bearer" = [])))]
pub(crate) async fn issue_reset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ResetToken>, ApiError> {
    let (token, expires_at) = state.user_management.issue_password_reset(&caller.subject, &id, &caller.context).await?;
    Ok(Json(ResetToken { reset_token: token.expose().to_owned(), expires_at }))
}

/// Issues a single-use MFA enrolment token for a user, shown once (helping
/// someone whose role requires a second factor to enrol one). Admins.
#[utoipa::path(post, path = "/v1/users/{id}/mfa-enrollment", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The enrolment token", body = EnrollmentToken)),
    security(("bearer" = [])))]
pub(crate) async fn issue_enrollment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EnrollmentToken>, ApiError> {
    let token = state.user_management.issue_enrollment(&caller.subject, &id, &caller.context).await?;
    Ok(Json(EnrollmentToken { enrollment_token: token.expose().to_owned() }))
}

/// A session as shown, marked `current` when it is the one making the request.
fn session_view(details: SessionDetails, current: Option<&str>) -> SessionView {
    let SessionDetails { session, client } = details;
    SessionView {
        current: current == Some(session.id.as_str()),
        id: session.id,
        user_id: session.user_id,
        created_at: session.created_at,
        last_seen_at: session.last_seen_at,
        expires_at: session.expires_at,
        ip: client.ip,
        user_agent: client.user_agent,
        mfa_at: session.mfa_at,
    }
}

/// Query of the session listing.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionQuery {
    user: Option<String>,
}

/// The caller's live sessions; admins may name another user with `?user=`.
#[utoipa::path(get, path = "/v1/sessions", tag = "users",
    params(("user" = Option<String>, Query, description = "Another user's id or username (admins)")),
    responses((status = 200, description = "Sessions", body = SessionList)), security(("bearer" = [])))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SessionQuery>,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = state.user_management.sessions(&caller.subject, query.user.as_deref(), &caller.context).await?;
    let current = caller.user().map(|me| me.session_id.as_str());
    Ok(Json(SessionList { sessions: sessions.into_iter().map(|session| session_view(session, current)).collect() }))
}

/// Ends one session: one's own, or anyone's for admins.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "users", params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Revoked")), security(("bearer" = [])))]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.user_management.revoke_session(&caller.subject, &id, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}
