//! Wire types of authorization: matters and grants, access requests,
//! policies, explanations and who-can. Unknown fields in requests are
//! refused, so a misspelt `justification` is an error, not an omission.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/matters`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMatter {
    /// 1-64 of `a-z 0-9 . _ -`, starting with a letter or digit; generated when absent.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub id: Option<String>,
    /// A label for people (1-200 characters, no control characters).
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,200}$")]
    pub name: String,
}

/// A matter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatterView {
    /// Its id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `user:<id>` or `api_key:<id>`.
    pub created_by: String,
}

/// `GET /v1/matters`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatterList {
    /// The matters the caller may see.
    pub matters: Vec<MatterView>,
}

/// `POST /v1/matters/{id}/grants`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    /// `user:<id>` or `api_key:<id>`.
    #[schema(pattern = "^(user|api_key):.+$")]
    pub principal: String,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
}

/// `DELETE /v1/matters/{id}/grants/{principal}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeGrant {
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
}

/// A standing grant on a matter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantView {
    /// The matter.
    pub matter: String,
    /// `user:<id>` or `api_key:<id>`.
    pub principal: String,
    /// Who granted it.
    pub granted_by: String,
    /// Why.
    pub justification: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// `GET /v1/matters/{id}/grants`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantList {
    /// The grants.
    pub grants: Vec<GrantView>,
}

/// `POST /v1/access-requests`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessRequest {
    /// `record.read`, `record.read_redacted`, `record.decrypt` or `record.export`.
    #[schema(schema_with = crate::rules::requestable_action)]
    pub action: String,
    /// The matter.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub matter: String,
    /// One record of it; the whole matter when absent.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub record: Option<String>,
    /// How long the access lasts once approved (1-480).
    #[schema(minimum = 1, maximum = 480)]
    pub duration_minutes: i64,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
    /// A purpose code from the configured list.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// `POST /v1/access-requests/{id}/approve` and `…/deny`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideAccessRequest {
    /// The approver's note.
    #[serde(default)]
    pub note: Option<String>,
}

/// An access request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessRequestView {
    /// `ar_<hex>`.
    pub id: String,
    /// `user:<id>` or `api_key:<id>`.
    pub requester: String,
    /// Their username or key name.
    pub requester_name: String,
    /// The action asked for.
    pub action: String,
    /// The matter.
    pub matter: String,
    /// One record, or none for the whole matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Minutes the access lasts once approved.
    pub duration_minutes: i64,
    /// Why.
    pub justification: String,
    /// The purpose code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// `pending`, `approved`, `denied` or `expired` (approved, time passed).
    pub status: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `user:<id>` of the approver or denier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// The approver's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When an approved access ends (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `GET /v1/access-requests`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessRequestList {
    /// Newest first: the caller's own, and those the caller may decide.
    pub access_requests: Vec<AccessRequestView>,
}

/// A policy text and where it comes from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyText {
    /// `default`, `file:<name>` or `api`.
    pub origin: String,
    /// Cedar policies.
    pub text: String,
}

/// One loaded policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicySummary {
    /// `<origin>/<@id>`.
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: String,
    /// Its `@description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /v1/policies`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicySetView {
    /// The Cedar schema every policy is validated against.
    pub schema: String,
    /// The default policies, the policy directory's files, and the API document.
    pub sources: Vec<PolicyText>,
    /// The API document's version (0: none yet); send it back to replace it.
    pub version: i64,
    /// When the API document was last replaced, and by whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// `user:<id>` or `api_key:<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// Every policy in force.
    pub loaded: Vec<PolicySummary>,
    /// Authorization invariants the policies in force break (loaded so only
    /// under `authz.policy_invariants = "warn"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `PUT /v1/policies`: replaces the API-managed policy document.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplacePolicies {
    /// Cedar policies (may be empty: removes every API-managed policy).
    pub policies: String,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
}

/// `POST /v1/roles`: defines a role of the operators' own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// 2-32 of `a-z 0-9 _`, starting with a letter; not a built-in role's name.
    #[schema(pattern = "^(?!(reader|analyst|admin|system)$)[a-z][a-z0-9_]{1,31}$")]
    pub name: String,
    /// What it is for (at most 200 characters, no control characters).
    #[serde(default)]
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{0,200}$")]
    pub description: String,
    /// The actions it allows (`record.read`, `record.decrypt`, …); data
    /// actions apply in the matters its holders hold a grant on.
    #[schema(schema_with = crate::rules::actions)]
    pub permissions: Vec<String>,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
}

/// `PUT /v1/roles/{name}`: replaces an API-defined role's description and permissions.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRole {
    /// What it is for (at most 200 characters, no control characters).
    #[serde(default)]
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{0,200}$")]
    pub description: String,
    /// The actions it allows.
    #[schema(schema_with = crate::rules::actions)]
    pub permissions: Vec<String>,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
}

/// `DELETE /v1/roles/{name}` (JSON body).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRole {
    /// Why, at least 20 characters.
    #[serde(default)]
    #[schema(schema_with = crate::rules::justification, required = true)]
    pub justification: String,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleView {
    /// Its name, as assigned to users.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// `built_in`, `config` (the configuration file; read-only here) or `api`.
    pub source: String,
    /// The actions it allows. For a built-in role: what the policies in force
    /// let it do with a grant on the matter and every condition met.
    pub permissions: Vec<String>,
}

/// `GET /v1/roles`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleList {
    /// Built-in roles first, then the others by name.
    pub roles: Vec<RoleView>,
}

/// A resource named in an explanation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// `service`, `matter`, `record`, `key` or `user`.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::rules::resource_type)]
    pub kind: String,
    /// Its id (the matter's for `matter`; absent for `service`).
    #[serde(default)]
    pub id: Option<String>,
    /// For a record: its matter.
    #[serde(default)]
    pub matter: Option<String>,
    /// For a record: its collection.
    #[serde(default)]
    pub collection: Option<String>,
}

/// What to assume about the request being explained.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainContext {
    /// The time (RFC 3339); now when absent.
    #[serde(default)]
    pub time: Option<String>,
    /// The client address.
    #[serde(default)]
    pub ip: Option<String>,
    /// Seconds since the principal last proved a second factor.
    #[serde(default)]
    pub mfa_age_seconds: Option<i64>,
    /// The justification that would be given.
    #[serde(default)]
    pub justification: Option<String>,
    /// The purpose code that would be given.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// `POST /v1/authz/explain`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// `user:<id>` or `api_key:<id>`.
    #[schema(pattern = "^(user|api_key):.+$")]
    pub principal: String,
    /// The action (`record.decrypt`, …).
    #[schema(schema_with = crate::rules::action)]
    pub action: String,
    /// What it is done to.
    pub resource: ResourceRef,
    /// The request to assume.
    #[serde(default)]
    pub context: ExplainContext,
}

/// A policy that decided.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonView {
    /// `<origin>/<@id>`.
    pub policy: String,
    /// `permit` or `forbid`.
    pub effect: String,
    /// Its `@description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What decisions know of a principal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrincipalView {
    /// `user:<id>` or `api_key:<id>`.
    pub principal: String,
    /// The username or key name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// API-key scopes.
    pub scopes: Vec<String>,
    /// Matters with a standing grant.
    pub matters: Vec<String>,
}

/// The answer of `POST /v1/authz/explain`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    /// Allowed or not.
    pub allowed: bool,
    /// `allow` or `deny`.
    pub decision: String,
    /// The permits that allowed, or the forbids that denied; empty for a
    /// denial because no policy permits (deny by default).
    pub reasons: Vec<ReasonView>,
    /// Policies that could not be evaluated (skipped).
    pub errors: Vec<String>,
    /// The principal as decided.
    pub principal: PrincipalView,
    /// Whether a live approved access request elevated the principal.
    pub elevated: bool,
}

/// One principal in `GET /v1/authz/who-can`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReachView {
    /// Who.
    pub principal: PrincipalView,
    /// The policies that allow it.
    pub reasons: Vec<ReasonView>,
    /// The access request that elevates it, when that is why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_request: Option<String>,
}

/// The answer of `GET /v1/authz/who-can`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoCan {
    /// The action.
    pub action: String,
    /// The matter.
    pub matter: String,
    /// What was assumed of each principal's request.
    pub assuming: String,
    /// Every enabled principal that can.
    pub principals: Vec<ReachView>,
}
