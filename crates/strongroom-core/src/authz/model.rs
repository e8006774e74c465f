//! What authorization stores and reads: matters, grants, access requests,
//! the operators' policy document, and what is loaded with a principal.

use async_trait::async_trait;
use strongroom_policy::{Action, PrincipalKind, RoleDefinition};

use crate::StoreError;
use crate::audit::AuditRecord;
use crate::principal::PrincipalAccess;

/// A case or tenant: every piece of data belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterRecord {
    /// Stable id (`[A-Za-z0-9][A-Za-z0-9._-]{0,63}`).
    pub id: String,
    /// A label for people.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `user:<id>` or `api_key:<id>` of the creator.
    pub created_by: String,
}

/// A standing grant of a principal on a matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The matter.
    pub matter_id: String,
    /// User or API key.
    pub principal_kind: PrincipalKind,
    /// The principal's id.
    pub principal_id: String,
    /// `user:<id>` or `api_key:<id>` of who granted it.
    pub granted_by: String,
    /// Why (at least 20 characters).
    pub justification: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Where an access request stands. `expired` is not stored: an approved
/// request whose time has passed is expired, whatever the rows say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessStatus {
    /// Waiting for an approver.
    Pending,
    /// Approved; live until `expires_at`.
    Approved,
    /// Denied.
    Denied,
}

impl AccessStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied].into_iter().find(|s| s.as_str() == text)
    }
}

/// A request for elevated, time-bound access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequestRecord {
    /// `ar_<random>`.
    pub id: String,
    /// Who asks.
    pub requester_kind: PrincipalKind,
    /// Their id.
    pub requester_id: String,
    /// Their username or key name, for approvers.
    pub requester_name: String,
    /// What they ask to do.
    pub action: Action,
    /// On which matter.
    pub matter_id: String,
    /// On one record only, or the whole matter.
    pub record_id: Option<String>,
    /// How long the grant lasts once approved.
    pub duration_minutes: i64,
    /// Why (at least 20 characters).
    pub justification: String,
    /// A purpose code from the configured list.
    pub purpose: Option<String>,
    /// Where it stands.
    pub status: AccessStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// `user:<id>` of the approver or denier.
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// The approver's note.
    pub decision_note: Option<String>,
    /// When an approved grant ends.
    pub expires_at: Option<i64>,
}

impl AccessRequestRecord {
    /// `pending`, `approved`, `denied`, or `expired` (approved, time passed).
    pub fn status_at(&self, now: i64) -> &'static str {
        match (self.status, self.expires_at) {
            (AccessStatus::Approved, Some(at)) if now >= at => "expired",
            (status, _) => status.as_str(),
        }
    }
}

/// The operators' policies managed through the API: one document, versioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// 1, 2, …; each replacement adds one.
    pub version: i64,
    /// Cedar policies.
    pub text: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// `user:<id>` or `api_key:<id>`.
    pub updated_by: String,
    /// Why it changed.
    pub justification: String,
}

/// The operator-defined roles managed through the API: the whole set,
/// versioned like the policy document, so a change is one new version and
/// every instance sees one consistent set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCatalogue {
    /// 1, 2, …; each change adds one.
    pub version: i64,
    /// The roles, by name.
    pub roles: Vec<RoleDefinition>,
    /// Unix seconds.
    pub updated_at: i64,
    /// `user:<id>` or `api_key:<id>`.
    pub updated_by: String,
    /// Why it changed.
    pub justification: String,
}

impl RoleCatalogue {
    /// No roles yet (version 0).
    pub fn empty() -> Self {
        Self { version: 0, roles: Vec::new(), updated_at: 0, updated_by: String::new(), justification: String::new() }
    }
}

/// Storage for authorization. Every change commits together with its audit
/// records or not at all.
#[async_trait]
pub trait AuthzStore: Send + Sync + std::fmt::Debug {
    /// Inserts a matter and its creator's grant; `false` if the id is taken.
    async fn create_matter(
        &self,
        matter: &MatterRecord,
        creator_grant: &GrantRecord,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// One matter.
    async fn matter(&self, id: &str) -> Result<Option<MatterRecord>, StoreError>;
    /// Every matter, by id.
    async fn list_matters(&self) -> Result<Vec<MatterRecord>, StoreError>;
    /// Adds a grant; `false` if the principal holds one already.
    async fn add_grant(&self, grant: &GrantRecord, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// Removes a grant; `false` if there was none.
    async fn remove_grant(
        &self,
        matter_id: &str,
        kind: PrincipalKind,
        principal_id: &str,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// The grants on a matter.
    async fn grants_on(&self, matter_id: &str) -> Result<Vec<GrantRecord>, StoreError>;
    /// Every grant (for who-can).
    async fn all_grants(&self) -> Result<Vec<GrantRecord>, StoreError>;
    /// A principal's grants and live elevations at `now` (for explanations;
    /// requests get them with the principal).
    async fn access_of(&self, kind: PrincipalKind, id: &str, now: i64) -> Result<PrincipalAccess, StoreError>;
    /// Inserts an access request.
    async fn insert_access_request(
        &self,
        request: &AccessRequestRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// One access request.
    async fn access_request(&self, id: &str) -> Result<Option<AccessRequestRecord>, StoreError>;
    /// Access requests, newest first; only this requester's when given.
    async fn list_access_requests(
        &self,
        requester: Option<(PrincipalKind, &str)>,
    ) -> Result<Vec<AccessRequestRecord>, StoreError>;
    /// Records a decision on a pending request; `false` if it was no longer pending.
    async fn decide_access_request(
        &self,
        decided: &AccessRequestRecord,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// Approved requests that expired at or before `now` and whose expiry is not
    /// yet audited.
    async fn unrecorded_expiries(&self, now: i64) -> Result<Vec<AccessRequestRecord>, StoreError>;
    /// Marks an expiry audited; `false` if another instance did first.
    async fn record_expiry(&self, id: &str, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// The newest policy document.
    async fn policy_document(&self) -> Result<Option<PolicyDocument>, StoreError>;
    /// Stores `document` as the next version; `false` if `document.version`
    /// is taken (someone else replaced the policies meanwhile).
    async fn save_policy_document(&self, document: &PolicyDocument, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// The newest role catalogue.
    async fn role_catalogue(&self) -> Result<Option<RoleCatalogue>, StoreError>;
    /// Stores `catalogue` as the next version; `false` if `catalogue.version`
    /// exists already (another change came first).
    async fn save_role_catalogue(&self, catalogue: &RoleCatalogue, audit: &[AuditRecord]) -> Result<bool, StoreError>;
}
