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
use strongroom_core::authz::{Action, Resource};
use strongroom_core::identity::{NewPassword, NewUser, ProfileChange, Role, SessionRecord, UserRecord};
use strongroom_proto::{
    CreateUser, EnrollmentToken, LockUser, ResetToken, RevokedSessions, SessionList, SessionView, SetRoles, UpdateUser,
    UserList, UserView,
};
use zeroize::Zeroizing;

use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

/// A user as shown; opens the sealed e-mail and full name.
async fn view(state: &AppState, user: &UserRecord) -> Result<UserView, ApiError> {
    let profile = state.identity.profile(user).await?;
    Ok(UserView {
        id: user.id.clone(),
        username: user.username.clone(),
        email: profile.email,
        full_name: profile.full_name,
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        disabled: user.disabled,
        locked: user.locked,
        mfa_enabled: user.totp_enabled,
        mfa_required: state.identity.requires_mfa(user),
        created_at: user.created_at,
        updated_at: user.updated_at,
    })
}

fn parse_roles(names: &[String]) -> Result<Vec<Role>, ApiError> {
    names
        .iter()
        .map(|name| {
            Role::parse(name).ok_or_else(|| {
                ApiError::InvalidRequest(format!("roles: {name:?} is not one of reader, analyst, admin, system"))
            })
        })
        .collect()
}

async fn require_admin(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    caller.authorize(state, Action::UserManage, &Resource::Service).await.map(|_| ())
}

/// The caller. Any user.
#[utoipa::path(get, path = "/v1/users/me", tag = "users",
    responses((status = 200, description = "The caller", body = UserView)), security(("bearer" = [])))]
pub(crate) async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<UserView>, ApiError> {
    let user = caller.session_user(&state).await?;
    Ok(Json(view(&state, &state.identity.user(&user.user_id).await?).await?))
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
    require_admin(&state, &caller).await?;
    // A new user's roles are assigned: that takes role.assign too (the
    // `roles:assign` scope for keys), and core checks they are within the caller's own.
    caller.authorize(&state, Action::RoleAssign, &Resource::Service).await?;
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
    let user = state.identity.create_user(new, &caller.grantor(), &caller.context).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &user).await?)))
}

/// Every user. Admins.
#[utoipa::path(get, path = "/v1/users", tag = "users",
    responses((status = 200, description = "Users", body = UserList)), security(("bearer" = [])))]
pub(crate) async fn list_users(State(state): State<AppState>, caller: Caller) -> Result<Json<UserList>, ApiError> {
    require_admin(&state, &caller).await?;
    let mut users = Vec::new();
    for user in state.identity.users().await? {
        users.push(view(&state, &user).await?);
    }
    Ok(Json(UserList { users }))
}

/// One user. Admins, or the user themself.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)), security(("bearer" = [])))]
pub(crate) async fn read_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    if caller.user().is_some_and(|me| me.user_id == id) {
        caller.session_user(&state).await?;
    } else {
        require_admin(&state, &caller).await?;
    }
    Ok(Json(view(&state, &state.identity.user(&id).await?).await?))
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
    require_admin(&state, &caller).await?;
    let change = ProfileChange { email: request.email, full_name: request.full_name, disabled: request.disabled };
    let user = state.identity.update_profile(&id, change, &caller.grantor(), &caller.context).await?;
    Ok(Json(view(&state, &user).await?))
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
    caller.authorize(&state, Action::RoleAssign, &Resource::Service).await?;
    let roles = parse_roles(&request.roles)?;
    let user = state.identity.set_roles(&id, roles, &request.justification, &caller.grantor(), &caller.context).await?;
    Ok(Json(view(&state, &user).await?))
}

/// Locks a user: no login, every session ends. Admins.
#[utoipa::path(post, path = "/v1/users/{id}/lock", tag = "users", params(("id" = String, Path, description = "User id")),
    request_body = LockUser, responses((status = 200, description = "The user", body = UserView)),
    security(("bearer" = [])))]
pub(crate) async fn lock_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, ApiError> {
    require_admin(&state, &caller).await?;
    let request: LockUser = lenient_json(&body)?;
    let reason = request.reason.unwrap_or_else(|| "locked by an administrator".into());
    let user = state.identity.lock(&id, &reason, &caller.grantor(), &caller.context).await?;
    Ok(Json(view(&state, &user).await?))
}

/// Unlocks a user and forgets their failed logins. Admins.
#[utoipa::path(post, path = "/v1/users/{id}/unlock", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)), security(("bearer" = [])))]
pub(crate) async fn unlock_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    require_admin(&state, &caller).await?;
    let user = state.identity.unlock(&id, &caller.grantor(), &caller.context).await?;
    Ok(Json(view(&state, &user).await?))
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
    require_admin(&state, &caller).await?;
    let revoked = state.identity.revoke_sessions_of(&id, &caller.grantor(), &caller.context).await?;
    let revoked_api_keys = state.api_keys.revoke_owned_by(&id, &caller.context).await?;
    Ok(Json(RevokedSessions { revoked, revoked_api_keys }))
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
    require_admin(&state, &caller).await?;
    let (token, expires_at) = state.identity.issue_password_reset(&id, &caller.grantor(), &caller.context).await?;
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
    require_admin(&state, &caller).await?;
    let token = state.identity.issue_enrollment_token_for(&id, &caller.grantor(), &caller.context).await?;
    Ok(Json(EnrollmentToken { enrollment_token: token.expose().to_owned() }))
}

/// A session as shown; opens its sealed address and user agent.
async fn session_view(
    state: &AppState,
    session: SessionRecord,
    current: Option<&str>,
) -> Result<SessionView, ApiError> {
    let client = state.identity.session_client(&session).await?;
    Ok(SessionView {
        current: current == Some(session.id.as_str()),
        id: session.id,
        user_id: session.user_id,
        created_at: session.created_at,
        last_seen_at: session.last_seen_at,
        expires_at: session.expires_at,
        ip: client.ip,
        user_agent: client.user_agent,
        mfa_at: session.mfa_at,
    })
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
    let user_id = match (query.user, caller.user()) {
        (Some(other), _) => {
            require_admin(&state, &caller).await?;
            state.identity.find_user(&other).await?.id
        }
        (None, _) => caller.session_user(&state).await?.user_id.clone(),
    };
    let current = caller.user().map(|me| me.session_id.as_str());
    let mut sessions = Vec::new();
    for session in state.identity.sessions(&user_id).await? {
        sessions.push(session_view(&state, session, current).await?);
    }
    Ok(Json(SessionList { sessions }))
}

/// Ends one session: one's own, or anyone's for admins.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "users", params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Revoked")), security(("bearer" = [])))]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let session = state.identity.session(&id).await;
    let own = matches!((&session, caller.user()), (Ok(s), Some(me)) if s.user_id == me.user_id);
    if own {
        caller.session_user(&state).await?;
    } else {
        // Someone else's session, or none: only admins learn which.
        require_admin(&state, &caller).await?;
    }
    session?;
    state.identity.revoke_session(&id, if own { "revoked_by_user" } else { "admin" }, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}
