//! Authorization over HTTP: matters and their grants, access requests,
//! the operators' policies, explanations and who-can.
//!
//! Permissions (default policies; docs/authorization.md): `matter.manage`
//! (admins, API-key scope `matters:manage`) creates matters and manages
//! grants; everyone sees the matters they hold a grant on; `access.request`
//! (every person with a role) asks for elevated access and `access.approve`
//! (admins, never the requester) decides; `policy.manage` and
//! `authz.explain` are for admins.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use strongroom_core::authz::{
    AccessRequestRecord, Action, Decision, ExplainFacts, GrantRecord, MatterRecord, NewAccessRequest, NewMatter,
    PrincipalFacts, PrincipalKind, Resource,
};
use strongroom_proto::time::ms_from_rfc3339;
use strongroom_proto::{
    AccessRequestList, AccessRequestView, CreateAccessRequest, CreateGrant, CreateMatter, DecideAccessRequest,
    ExplainRequest, Explanation, GrantList, GrantView, MatterList, MatterView, PolicySetView, PolicySummary,
    PolicyText, PrincipalView, ReachView, ReasonView, ReplacePolicies, RevokeGrant, WhoCan,
};

use crate::extract::lenient_json;
use crate::{ApiError, ApiJson, AppState, Caller};

fn matter_view(matter: MatterRecord) -> MatterView {
    MatterView { id: matter.id, name: matter.name, created_at: matter.created_at, created_by: matter.created_by }
}

fn grant_view(grant: GrantRecord) -> GrantView {
    GrantView {
        matter: grant.matter_id,
        principal: format!("{}:{}", grant.principal_kind.as_str(), grant.principal_id),
        granted_by: grant.granted_by,
        justification: grant.justification,
        created_at: grant.created_at,
    }
}

fn request_view(request: AccessRequestRecord, now: i64) -> AccessRequestView {
    AccessRequestView {
        status: request.status_at(now).to_owned(),
        id: request.id,
        requester: format!("{}:{}", request.requester_kind.as_str(), request.requester_id),
        requester_name: request.requester_name,
        action: request.action.as_str().to_owned(),
        matter: request.matter_id,
        record: request.record_id,
        duration_minutes: request.duration_minutes,
        justification: request.justification,
        purpose: request.purpose,
        created_at: request.created_at,
        decided_by: request.decided_by,
        decided_at: request.decided_at,
        note: request.decision_note,
        expires_at: request.expires_at,
    }
}

fn principal_view(facts: &PrincipalFacts) -> PrincipalView {
    PrincipalView {
        principal: format!("{}:{}", facts.kind.as_str(), facts.id),
        name: facts.name.clone(),
        roles: facts.roles.clone(),
        scopes: facts.scopes.clone(),
        matters: facts.matters.clone(),
    }
}

fn reasons(decision: &Decision) -> Vec<ReasonView> {
    decision
        .reasons
        .iter()
        .map(|r| ReasonView {
            policy: r.policy.clone(),
            effect: r.effect.as_str().to_owned(),
            description: r.description.clone(),
        })
        .collect()
}

/// Parses `user:<id>` or `api_key:<id>`.
fn parse_principal(field: &str, text: &str) -> Result<(PrincipalKind, String), ApiError> {
    text.split_once(':')
        .and_then(|(kind, id)| Some((PrincipalKind::parse(kind)?, id)))
        .filter(|(_, id)| !id.is_empty())
        .map(|(kind, id)| (kind, id.to_owned()))
        .ok_or_else(|| ApiError::InvalidRequest(format!("{field}: write user:<id> or api_key:<id>")))
}

pub(crate) fn parse_action(text: &str) -> Result<Action, ApiError> {
    Action::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        ApiError::InvalidRequest(format!("action: {text:?} is not one of {}", known.join(", ")))
    })
}

fn now(state: &AppState) -> i64 {
    state.audit.now_ms() / 1000
}

/// Creates a matter; the creator holds a grant on it.
#[utoipa::path(post, path = "/v1/matters", tag = "authorization", request_body = CreateMatter,
    responses((status = 201, description = "The matter", body = MatterView)), security(("bearer" = [])))]
pub(crate) async fn create_matter(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateMatter>,
) -> Result<(StatusCode, Json<MatterView>), ApiError> {
    let new = NewMatter { id: request.id, name: request.name };
    let matter = state.authz.create_matter(&caller.subject, new, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(matter_view(matter))))
}

/// The matters the caller may see: all for those who manage matters, else
/// those it holds a grant or a live elevation on.
#[utoipa::path(get, path = "/v1/matters", tag = "authorization",
    responses((status = 200, description = "Matters", body = MatterList)), security(("bearer" = [])))]
pub(crate) async fn list_matters(State(state): State<AppState>, caller: Caller) -> Result<Json<MatterList>, ApiError> {
    let matters = state.authz.list_matters(&caller.subject, &caller.context).await?;
    Ok(Json(MatterList { matters: matters.into_iter().map(matter_view).collect() }))
}

/// One matter; 404 for a matter the caller may not know of.
#[utoipa::path(get, path = "/v1/matters/{id}", tag = "authorization", params(("id" = String, Path, description = "Matter id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    responses((status = 200, description = "The matter", body = MatterView)), security(("bearer" = [])))]
pub(crate) async fn read_matter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MatterView>, ApiError> {
    Ok(Json(matter_view(state.authz.matter(&caller.subject, &id, &caller.context).await?)))
}

/// The grants on a matter.
#[utoipa::path(get, path = "/v1/matters/{id}/grants", tag = "authorization",
    params(("id" = String, Path, description = "Matter id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    responses((status = 200, description = "Grants", body = GrantList)), security(("bearer" = [])))]
pub(crate) async fn list_grants(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<GrantList>, ApiError> {
    let grants = state.authz.grants_on(&caller.subject, &id, &caller.context).await?;
    Ok(Json(GrantList { grants: grants.into_iter().map(grant_view).collect() }))
}

/// Grants a user or API key access to a matter's data (within its role); audited with the justification.
#[utoipa::path(post, path = "/v1/matters/{id}/grants", tag = "authorization",
    params(("id" = String, Path, description = "Matter id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")), request_body = CreateGrant,
    responses((status = 201, description = "The grant", body = GrantView)), security(("bearer" = [])))]
pub(crate) async fn create_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CreateGrant>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let (kind, principal) = parse_principal("principal", &request.principal)?;
    let grant =
        state.authz.grant(&caller.subject, &id, (kind, &principal), &request.justification, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(grant_view(grant))))
}

/// Takes a grant away; audited with the justification (JSON body).
#[utoipa::path(delete, path = "/v1/matters/{id}/grants/{principal}", tag = "authorization",
    params(("id" = String, Path, description = "Matter id", pattern = "^[a-z0-9][a-z0-9._-]{0,63}$"),
           ("principal" = String, Path, description = "user:<id> or api_key:<id>", pattern = "^(user|api_key):.+$")),
    request_body = RevokeGrant, responses((status = 204, description = "Revoked")), security(("bearer" = [])))]
pub(crate) async fn revoke_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, principal)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let (kind, principal) = parse_principal("principal", &principal)?;
    let request: RevokeGrant = lenient_json(&body)?;
    state.authz.revoke_grant(&caller.subject, &id, (kind, &principal), &request.justification, &caller.context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks for elevated, time-bound access to a matter or one record; an
/// approver who is not the requester decides.
#[utoipa::path(post, path = "/v1/access-requests", tag = "authorization", request_body = CreateAccessRequest,
    responses((status = 201, description = "The request, pending", body = AccessRequestView)),
    security(("bearer" = [])))]
pub(crate) async fn create_access_request(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateAccessRequest>,
) -> Result<(StatusCode, Json<AccessRequestView>), ApiError> {
    let new = NewAccessRequest {
        action: parse_action(&request.action)?,
        matter_id: request.matter,
        record_id: request.record,
        duration_minutes: request.duration_minutes,
        justification: request.justification,
        purpose: request.purpose,
    };
    let created = state.authz.request_access(&caller.subject, new, &caller.context).await?;
    Ok((StatusCode::CREATED, Json(request_view(created, now(&state)))))
}

/// Query of the access-request listing.
#[derive(Debug, Deserialize)]
pub(crate) struct AccessRequestQuery {
    status: Option<String>,
}

/// Access requests, newest first: the caller's own and those the caller may
/// decide; `?status=pending|approved|denied|expired` filters.
#[utoipa::path(get, path = "/v1/access-requests", tag = "authorization",
    params(("status" = Option<String>, Query, description = "pending, approved, denied or expired", pattern = "^(pending|approved|denied|expired)$")),
    responses((status = 200, description = "Access requests", body = AccessRequestList)), security(("bearer" = [])))]
pub(crate) async fn list_access_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AccessRequestQuery>,
) -> Result<Json<AccessRequestList>, ApiError> {
    if let Some(status) = &query.status
        && !["pending", "approved", "denied", "expired"].contains(&status.as_str())
    {
        return Err(ApiError::InvalidRequest("status: one of pending, approved, denied, expired".into()));
    }
    let now = now(&state);
    let requests = state.authz.list_access_requests(&caller.subject, &caller.context).await?;
    let access_requests = requests
        .into_iter()
        .map(|r| request_view(r, now))
        .filter(|view| query.status.as_ref().is_none_or(|status| &view.status == status))
        .collect();
    Ok(Json(AccessRequestList { access_requests }))
}

/// One access request (the requester's own, or one the caller may decide).
#[utoipa::path(get, path = "/v1/access-requests/{id}", tag = "authorization",
    params(("id" = String, Path, description = "Access request id")),
    responses((status = 200, description = "The request", body = AccessRequestView)), security(("bearer" = [])))]
pub(crate) async fn read_access_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AccessRequestView>, ApiError> {
    let request = state.authz.access_request(&caller.subject, &id, &caller.context).await?;
    Ok(Json(request_view(request, now(&state))))
}

async fn decide(
    state: AppState,
    caller: Caller,
    id: String,
    body: &axum::body::Bytes,
    approve: bool,
) -> Result<Json<AccessRequestView>, ApiError> {
    let request: DecideAccessRequest = lenient_json(body)?;
    let note = request.note.unwrap_or_default();
    let decided = state.authz.decide_access_request(&caller.subject, &id, approve, &note, &caller.context).await?;
    Ok(Json(request_view(decided, now(&state))))
}

/// Approves a pending request: the access starts now and ends after its
/// duration. The approver holds `access.approve` and is not the requester.
#[utoipa::path(post, path = "/v1/access-requests/{id}/approve", tag = "authorization",
    params(("id" = String, Path, description = "Access request id")), request_body = Option<DecideAccessRequest>,
    responses((status = 200, description = "The approved request", body = AccessRequestView)),
    security(("bearer" = [])))]
pub(crate) async fn approve_access_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<AccessRequestView>, ApiError> {
    decide(state, caller, id, &body, true).await
}

/// Denies a pending request.
#[utoipa::path(post, path = "/v1/access-requests/{id}/deny", tag = "authorization",
    params(("id" = String, Path, description = "Access request id")), request_body = Option<DecideAccessRequest>,
    responses((status = 200, description = "The denied request", body = AccessRequestView)),
    security(("bearer" = [])))]
pub(crate) async fn deny_access_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<AccessRequestView>, ApiError> {
    decide(state, caller, id, &body, false).await
}

/// The policies in force: the schema, the default set, the policy
/// directory's files, the API-managed document and every loaded policy.
#[utoipa::path(get, path = "/v1/policies", tag = "authorization",
    responses((status = 200, description = "Policies", body = PolicySetView)), security(("bearer" = [])))]
pub(crate) async fn read_policies(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PolicySetView>, ApiError> {
    let overview = state.authz.policies(&caller.subject, &caller.context).await?;
    let mut sources = vec![PolicyText { origin: "default".into(), text: overview.default_text.to_owned() }];
    sources.extend(overview.files.into_iter().map(|f| PolicyText { origin: f.origin, text: f.text }));
    if let Some(document) = &overview.document {
        sources.push(PolicyText { origin: "api".into(), text: document.text.clone() });
    }
    Ok(Json(PolicySetView {
        schema: overview.schema.to_owned(),
        sources,
        version: overview.document.as_ref().map_or(0, |d| d.version),
        updated_at: overview.document.as_ref().map(|d| d.updated_at),
        updated_by: overview.document.as_ref().map(|d| d.updated_by.clone()),
        loaded: overview
            .loaded
            .into_iter()
            .map(|p| PolicySummary { id: p.id, effect: p.effect.as_str().to_owned(), description: p.description })
            .collect(),
        warnings: overview.warnings,
    }))
}

/// Replaces the API-managed policies. Validated against the schema, the
/// size and nesting limits and with every other policy first, then checked
/// against the authorization invariants: an error (or, under
/// `authz.policy_invariants = "refuse"`, a broken invariant) answers 400
/// `invalid_policy` with each problem, and changes nothing.
#[utoipa::path(put, path = "/v1/policies", tag = "authorization", request_body = ReplacePolicies,
    responses((status = 200, description = "The policies now in force", body = PolicySetView)),
    security(("bearer" = [])))]
pub(crate) async fn replace_policies(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ReplacePolicies>,
) -> Result<Json<PolicySetView>, ApiError> {
    state.authz.replace_policies(&caller.subject, &request.policies, &request.justification, &caller.context).await?;
    read_policies(State(state), caller).await
}

fn parse_resource(resource: &strongroom_proto::ResourceRef) -> Result<Resource, ApiError> {
    let id = || {
        resource
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::InvalidRequest("resource.id: required".into()))
    };
    Ok(match resource.kind.as_str() {
        "service" => Resource::Service,
        "matter" => Resource::Matter(id()?),
        "key" => Resource::Key(id()?),
        "user" => {
            let id = id()?;
            Resource::User { name: id.clone(), id }
        }
        "record" => Resource::Record {
            id: id()?,
            matter: resource
                .matter
                .clone()
                .ok_or_else(|| ApiError::InvalidRequest("resource.matter: required for a record".into()))?,
            collection: resource.collection.clone().unwrap_or_default(),
        },
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "resource.type: {other:?} is not one of service, matter, record, key, user"
            )));
        }
    })
}

/// Explains the decision for a principal doing an action on a resource,
/// under the request facts given (time, address, second-factor age,
/// justification, purpose): allowed or not, and which policies decided.
#[utoipa::path(post, path = "/v1/authz/explain", tag = "authorization", request_body = ExplainRequest,
    responses((status = 200, description = "The decision and its reasons", body = Explanation)),
    security(("bearer" = [])))]
pub(crate) async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ExplainRequest>,
) -> Result<Json<Explanation>, ApiError> {
    let (kind, id) = parse_principal("principal", &request.principal)?;
    let action = parse_action(&request.action)?;
    let resource = parse_resource(&request.resource)?;
    let context = &request.context;
    let now_unix_seconds = match &context.time {
        Some(time) => Some(
            ms_from_rfc3339(time).ok_or_else(|| {
                ApiError::InvalidRequest("context.time: an RFC 3339 time, e.g. 2026-11-23T21:00:00Z".into())
            })? / 1000,
        ),
        None => None,
    };
    let ip = match &context.ip {
        Some(ip) => {
            Some(ip.parse().map_err(|_| ApiError::InvalidRequest("context.ip: an IPv4 or IPv6 address".into()))?)
        }
        None => None,
    };
    let facts = ExplainFacts {
        now_unix_seconds,
        ip,
        mfa_age_seconds: context.mfa_age_seconds,
        justification_length: context
            .justification
            .as_deref()
            .map_or(0, |j| i64::try_from(j.trim().chars().count()).unwrap_or(i64::MAX)),
        purpose: context.purpose.clone(),
    };
    let (target, decision) =
        state.authz.explain(&caller.subject, (kind, &id), action, &resource, facts, &caller.context).await?;
    let elevated = decision.reasons.iter().any(|r| r.policy == "default/elevated.access");
    Ok(Json(Explanation {
        allowed: decision.allowed,
        decision: if decision.allowed { "allow" } else { "deny" }.to_owned(),
        reasons: reasons(&decision),
        errors: decision.errors.clone(),
        principal: principal_view(&target.facts),
        elevated,
    }))
}

/// Query of who-can.
#[derive(Debug, Deserialize)]
pub(crate) struct WhoCanQuery {
    action: Option<String>,
    matter: Option<String>,
}

/// Which enabled users and API keys can do an action on a matter, and the
/// policies (or access request) that allow each.
#[utoipa::path(get, path = "/v1/authz/who-can", tag = "authorization",
    params(("action" = String, Query, description = "An action, e.g. record.decrypt", pattern = "^(record\\.read|record\\.read_redacted|record\\.decrypt|record\\.export|record\\.write|record\\.delete|record\\.hold|access\\.request|access\\.approve|matter\\.manage|user\\.manage|role\\.assign|key\\.manage|transit\\.use|transit\\.read|transit\\.manage|audit\\.read|policy\\.manage|authz\\.explain|api_key\\.manage|session\\.self|collection\\.manage|subject\\.export|subject\\.erase|audit\\.write|token\\.introspect)$"),
           ("matter" = String, Query, description = "A matter id")),
    responses((status = 200, description = "Principals and why", body = WhoCan)), security(("bearer" = [])))]
pub(crate) async fn who_can(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<WhoCanQuery>,
) -> Result<Json<WhoCan>, ApiError> {
    let action =
        parse_action(query.action.as_deref().ok_or_else(|| ApiError::InvalidRequest("action: required".into()))?)?;
    let matter = query.matter.ok_or_else(|| ApiError::InvalidRequest("matter: required".into()))?;
    let reach = state.authz.who_can(&caller.subject, action, &matter, &caller.context).await?;
    Ok(Json(WhoCan {
        action: action.as_str().to_owned(),
        matter,
        assuming: "each principal asks now, with a second factor just proven, a valid justification and purpose, \
                   and no client address (policies that test the address are skipped)"
            .into(),
        principals: reach
            .into_iter()
            .map(|r| ReachView {
                principal: principal_view(&r.facts),
                reasons: reasons(&r.decision),
                access_request: r.elevation,
            })
            .collect(),
    }))
}
