//! The keyring API for operators: list and inspect every key (never its
//! material), rotate, change state. Scope `keys:manage` on every route. A
//! state change needs a justification of at least 20 characters, which the
//! audit event of the change carries.

use axum::Json;
use axum::extract::{Path, State};
use strongroom_core::authz::{Action, Resource};
use strongroom_core::{KeyInfo, KeyState};
use strongroom_proto::{KeyList, KeyStateChanged, KeyVersionView, KeyView, SetKeyState};

use crate::{ApiError, ApiJson, AppState, Caller};

const MIN_JUSTIFICATION: usize = 20;

fn view(info: KeyInfo, versions: Vec<(u32, i64)>) -> KeyView {
    KeyView {
        name: info.name,
        purpose: info.purpose.as_str().into(),
        algorithm: info.algorithm.as_str().into(),
        state: info.state.as_str().into(),
        latest_version: info.latest_version,
        min_decryption_version: info.min_decryption_version,
        rotation_period_seconds: info.rotation_period_seconds,
        deletion_allowed: info.deletion_allowed,
        created_at: info.created_at,
        updated_at: info.updated_at,
        versions: versions.into_iter().map(|(version, created_at)| KeyVersionView { version, created_at }).collect(),
    }
}

async fn full_view(state: &AppState, info: KeyInfo) -> Result<KeyView, ApiError> {
    let versions = state.keyring.version_times(&info.name).await?;
    Ok(view(info, versions))
}

/// Every key. Scope `keys:manage`.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "Every key, without versions", body = KeyList)),
    security(("api_key" = [])))]
pub(crate) async fn list_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<KeyList>, ApiError> {
    caller.authorize(&state, Action::KeyManage, &Resource::Service).await?;
    let keys = state.keyring.list().await?.into_iter().map(|info| view(info, Vec::new())).collect();
    Ok(Json(KeyList { keys }))
}

/// One key with its versions. Scope `keys:manage`.
#[utoipa::path(get, path = "/v1/keys/{name}", tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The key and its versions", body = KeyView)),
    security(("api_key" = [])))]
pub(crate) async fn read_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    caller.authorize(&state, Action::KeyManage, &Resource::Key(name.clone())).await?;
    let info = state.keyring.info(&name).await?;
    Ok(Json(full_view(&state, info).await?))
}

/// Adds a version; old ones keep decrypting. Scope `keys:manage`.
#[utoipa::path(post, path = "/v1/keys/{name}/rotate", tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The rotated key", body = KeyView)),
    security(("api_key" = [])))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    caller.authorize(&state, Action::KeyManage, &Resource::Key(name.clone())).await?;
    let info = state.keyring.rotate(&name, &caller.context).await?;
    Ok(Json(full_view(&state, info).await?))
}

/// Changes a key's state with a justification; `destroyed` crypto-shreds
/// everything the key protected and cannot be undone. Scope `keys:manage`.
#[utoipa::path(post, path = "/v1/keys/{name}/state", tag = "keys",
    params(("name" = String, Path, description = "Key name")), request_body = SetKeyState,
    responses((status = 200, description = "The key after the change", body = KeyStateChanged)),
    security(("api_key" = [])))]
pub(crate) async fn set_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SetKeyState>,
) -> Result<Json<KeyStateChanged>, ApiError> {
    caller.authorize(&state, Action::KeyManage, &Resource::Key(name.clone())).await?;
    let target = KeyState::parse(&request.state).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "state: {:?} is not one of active, decrypt_only, disabled, compromised, destroyed",
            request.state
        ))
    })?;
    if request.justification.trim().chars().count() < MIN_JUSTIFICATION {
        return Err(ApiError::InvalidRequest(format!("justification: at least {MIN_JUSTIFICATION} characters")));
    }
    let info = state.keyring.set_state(&name, target, request.justification.trim(), &caller.context).await?;
    let warning = (target == KeyState::Destroyed)
        .then(|| format!("key {name:?} is destroyed: everything it protected is permanently unreadable"));
    Ok(Json(KeyStateChanged { key: full_view(&state, info).await?, warning }))
}
