//! API keys over HTTP: issue (shown once), list, rotate with a grace period,
//! revoke. Permission: role `admin` or the scope `api_keys:manage`. A key
//! can never grant a scope its creator (when an API key) lacks.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use strongroom_core::api_key_management::ApiKeyRequest;
use strongroom_core::{ApiKeyRecord, NewApiKey};
use strongroom_proto::{ApiKeyList, ApiKeyView, CreateApiKey, IssuedApiKeyView, RotateApiKey};

use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

fn view(record: ApiKeyRecord) -> ApiKeyView {
    ApiKeyView {
        scopes: record.scope_names().map(str::to_owned).collect(),
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
        rate_limit_burst: record.rate_limit_burst,
        owner_user_id: record.owner_user_id,
    }
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
    let (scopes, app_scopes) = strongroom_core::parse_scope_names(&request.scopes)?;
    let key = NewApiKey {
        name: request.name,
        scopes,
        app_scopes,
        expires_in_days: request.expires_in_days,
        allowed_cidrs: request.allowed_cidrs,
        rate_limit_per_minute: request.rate_limit_per_minute,
        rate_limit_burst: request.rate_limit_burst,
        owner_user_id: None,
    };
    let request = ApiKeyRequest { key, owner: request.owner };
    let (record, issued) = state.api_key_management.create(&caller.subject, request, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(IssuedApiKeyView { key: view(record), secret: issued.expose().to_owned() })))
}

/// Every API key (never a secret). Admins.
#[utoipa::path(get, path = "/v1/api-keys", tag = "users",
    responses((status = 200, description = "Keys", body = ApiKeyList)), security(("bearer" = [])))]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<ApiKeyList>, ApiError> {
    let keys = state.api_key_management.list(&caller.subject, &caller.context).await?;
    Ok(Json(ApiKeyList { api_keys: keys.into_iter().map(view).collect() }))
}

/// Gives a key a new secret (shown once); the old one works for `grace_seconds` more. Admins.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "users",
    params(("id" = String, Path, description = "Key id")), request_body = Option<RotateApiKey>,
    responses((status = 200, description = "The key and its new secret", body = IssuedApiKeyView)),
    security(("bearer" = [])))]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IssuedApiKeyView>, ApiError> {
    let request: RotateApiKey = lenient_json(&body)?;
    let (record, issued) =
        state.api_key_management.rotate(&caller.subject, &id, request.grace_seconds, &caller.context).await?;
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
    state.api_key_management.revoke(&caller.subject, &id, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}
