//! Roles as data over HTTP: the built-in roles, the configuration file's and
//! the operators' own, each a named set of permissions. Listing takes
//! `role.assign` (whoever assigns roles sees them); defining, changing and
//! removing one is policy, so it takes `policy.manage` and a justification.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use strongroom_core::authz::{Action, RoleDefinition, RoleView as Role};
use strongroom_proto::{CreateRole, DeleteRole, ReplaceRole, RoleList, RoleView};

use super::authz::parse_action;
use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

fn role_view(role: Role) -> RoleView {
    RoleView {
        name: role.name,
        description: role.description,
        source: role.source.as_str().to_owned(),
        permissions: role.permissions.iter().map(|a| a.as_str().to_owned()).collect(),
    }
}

fn definition(name: &str, description: &str, permissions: &[String]) -> Result<RoleDefinition, ApiError> {
    let permissions = permissions.iter().map(|p| parse_action(p)).collect::<Result<Vec<Action>, _>>()?;
    RoleDefinition::new(name, description, permissions).map_err(ApiError::InvalidRequest)
}

/// Every role: built-in first, then the configured and API-defined ones by name.
#[utoipa::path(get, path = "/v1/roles", tag = "authorization",
    responses((status = 200, description = "The roles", body = RoleList)), security(("bearer" = [])))]
pub(crate) async fn list_roles(State(state): State<AppState>, caller: Caller) -> Result<Json<RoleList>, ApiError> {
    let roles = state.authz.roles(&caller.subject, &caller.context).await?;
    Ok(Json(RoleList { roles: roles.into_iter().map(role_view).collect() }))
}

/// One role.
#[utoipa::path(get, path = "/v1/roles/{name}", tag = "authorization",
    params(("name" = String, Path, description = "Role name")),
    responses((status = 200, description = "The role", body = RoleView)), security(("bearer" = [])))]
pub(crate) async fn read_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<RoleView>, ApiError> {
    Ok(Json(role_view(state.authz.role(&caller.subject, &name, &caller.context).await?)))
}

/// Defines a role of the operators' own, with a justification; audited as
/// `role.define`. 409 `conflict` when the name is taken.
#[utoipa::path(post, path = "/v1/roles", tag = "authorization", request_body = CreateRole,
    responses((status = 201, description = "Defined", body = RoleView)), security(("bearer" = [])))]
pub(crate) async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateRole>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let role = definition(&request.name, &request.description, &request.permissions)?;
    let role = state.authz.define_role(&caller.subject, role, false, &request.justification, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(role_view(role))))
}

/// Replaces an API-defined role's description and permissions; its holders
/// get the new permissions at once. Audited as `role.define`.
#[utoipa::path(put, path = "/v1/roles/{name}", tag = "authorization",
    params(("name" = String, Path, description = "Role name: 2-32 of a-z 0-9 _, starting with a letter; not a built-in role", pattern = "^(?!(reader|analyst|admin|system)$)[a-z][a-z0-9_]{1,31}$")), request_body = ReplaceRole,
    responses((status = 200, description = "Replaced", body = RoleView)), security(("bearer" = [])))]
pub(crate) async fn replace_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<ReplaceRole>,
) -> Result<Json<RoleView>, ApiError> {
    let role = definition(&name, &request.description, &request.permissions)?;
    let role = state.authz.define_role(&caller.subject, role, true, &request.justification, &caller.context).await?;
    Ok(Json(role_view(role)))
}

/// Removes an API-defined role nobody holds (409 otherwise), with a
/// justification (JSON body); audited as `role.delete`.
#[utoipa::path(delete, path = "/v1/roles/{name}", tag = "authorization",
    params(("name" = String, Path, description = "Role name: 2-32 of a-z 0-9 _, starting with a letter; not a built-in role", pattern = "^(?!(reader|analyst|admin|system)$)[a-z][a-z0-9_]{1,31}$")), request_body = DeleteRole,
    responses((status = 204, description = "Removed")), security(("bearer" = [])))]
pub(crate) async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let request: DeleteRole = lenient_json(&body)?;
    state.authz.delete_role(&caller.subject, &name, &request.justification, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}
