//! Authorization (SPEC §3): one decision point over Cedar policies, matters
//! and their grants, time-bound access requests, and the operators' own
//! policies. The vocabulary (actions, resources) and the engine live in
//! `strongroom-policy`; this module loads what decisions need and keeps the
//! state that changes them.

mod access_requests;
mod explain;
mod matters;
mod model;
mod permissions;
mod policies;
mod roles;
mod service;

pub use model::{
    AccessRequestRecord, AccessStatus, AuthzStore, GrantRecord, MatterRecord, PolicyDocument, RoleCatalogue,
};
pub use permissions::Permissions;
pub use roles::{RoleSource, RoleView};
pub use service::{
    Ask, Authz, AuthzSettings, ExplainFacts, MAX_ELEVATION_MINUTES, MAX_POLICY_BYTES, MIN_JUSTIFICATION,
    NewAccessRequest, NewMatter, PolicyInvariants, PolicyOverview, Reach, check_id, not_found,
};

pub use crate::error::{Denial, DenialKind};
pub use crate::principal::{DecisionTrail, Elevation, PrincipalAccess, Subject, api_key_facts, user_facts};
pub use strongroom_policy::{
    Action, Decision, Effect, PolicyError, PolicyErrors, PolicyInfo, PolicySource, PrincipalFacts, PrincipalKind,
    Reason, Resource, RoleDefinition,
};
