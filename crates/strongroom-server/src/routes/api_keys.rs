//! API keys over HTTP: issue (shown once), list, rotate with a grace period,
//! revoke. Permission: role `admin` or the scope `api_keys:manage`. A key
//! can never grant a scope its creator (when an API key) lacks.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use strongroom_core::authz::{Action, Resource};
use strongroom_core::identity::Role;
use strongroom_core::{ApiKeyRecord, NewApiKey, Scope};
use strongroom_proto::{ApiKeyList, ApiKeyView, CreateApiKey, IssuedApiKeyView, RotateApiKey};

use crate::auth::Principal;
use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

fn view(record: ApiKeyRecord) -> ApiKeyView {
    ApiKeyView {
        scopes: record.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        previous_secret_valid_until: record.previous_secret.as_ref().map(|(_, _, until)| *until),
        id: record.id,
        name: record.name,
        created_at: record.created_at,
        expires_at: record.expires_at,
        revoked_at: record.revoked_at,
        last_used_at: record.last_used_at,
        use_count: record.use_count,
        allowed_cidrs: record.allowed_cidrs,
        rate_limit_per_minute: record.rate_limit_per_minute,
        owner_user_id: record.owner_user_id,
    }
}

async fn require_manager(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    caller.authorize(state, Action::ApiKeyManage, &Resource::Service).await.map(|_| ())
}

/// Issues an API key; the answer's `secret` is shown this once. Admins.
#[utoipa::path(post, path = "/v1/api-keys", tag = "users", request_body = CreateApiKey,
    responses((status = 201, description = "The key and its secret", body = IssuedApiKeyView)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, Json<IssuedApiKeyView>), ApiError> {
    require_manager(&state, &caller).await?;
    let scopes = request
        .scopes
        .iter()
        .map(|name| {
            Scope::parse(name).ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::InvalidRequest(format!("scopes: {name:?} is not one of {}", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Principal::ApiKey(creator) = &caller.principal
        && let Some(missing) = scopes.iter().find(|scope| !creator.scopes.contains(scope))
    {
        return caller.denied(&state, &format!("{} (a key cannot grant a scope it lacks)", missing.as_str())).await;
    }
    let owner_user_id = match &request.owner {
        Some(owner) => {
            let user = state.identity.find_user(owner).await?;
            if !user.roles.contains(&Role::System) {
                return Err(ApiError::InvalidRequest(
                    "owner: API keys are owned by service accounts (role system)".into(),
                ));
            }
            Some(user.id)
        }
        None => None,
    };
    let new = NewApiKey {
        name: request.name,
        scopes,
        expires_in_days: request.expires_in_days,
        allowed_cidrs: request.allowed_cidrs,
        rate_limit_per_minute: request.rate_limit_per_minute,
        owner_user_id,
    };
    let (record, issued) = state.api_keys.create(&new, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(IssuedApiKeyView { key: view(record), secret: issued.expose().to_owned() })))
}

/// Every API key (never a secret). Admins.
#[utoipa::path(get, path = "/v1/api-keys", tag = "users",
    responses((status = 200, description = "Keys", body = ApiKeyList)), security(("bearer" = [])))]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<ApiKeyList>, ApiError> {
    require_manager(&state, &caller).await?;
    Ok(Json(ApiKeyList { api_keys: state.api_keys.list().await?.into_iter().map(view).collect() }))
}

/// Gives a key a new secret (shown once); the old one works for `grace_seconds` more. Admins.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "users",
    params(("id" = String, Path, description = "Key id")), request_body = RotateApiKey,
    responses((status = 200, description = "The key and its new secret", body = IssuedApiKeyView)),
    security(("bearer" = [])))]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IssuedApiKeyView>, ApiError> {
    require_manager(&state, &caller).await?;
    let request: RotateApiKey = lenient_json(&body)?;
    let (record, issued) = state.api_keys.rotate(&id, request.grace_seconds, &caller.context).await?;
    Ok(Json(IssuedApiKeyView { key: view(record), secret: issued.expose().to_owned() }))
}

/// Revokes a key at once. Admins.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "users", params(("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked")), security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_manager(&state, &caller).await?;
    state.api_keys.revoke(&id, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}
