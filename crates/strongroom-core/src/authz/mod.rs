//! Authorization (SPEC §3): one decision point over Cedar policies, matters
//! and their grants, time-bound access requests, and the operators' own
//! policies. The vocabulary (actions, resources) and the engine live in
//! `strongroom-policy`; this module loads what decisions need and keeps the
//! state that changes them.

mod model;
mod service;
pub(crate) use service::random_id;

pub use model::{
    AccessRequestRecord, AccessStatus, AuthzStore, Elevation, GrantRecord, MatterRecord, PolicyDocument,
    PrincipalAccess,
};
pub use service::{
    Ask, Authz, AuthzSettings, DecisionTrail, Denial, DenialKind, ExplainFacts, MAX_ELEVATION_MINUTES,
    MAX_POLICY_BYTES, MIN_JUSTIFICATION, NewAccessRequest, NewMatter, PolicyInvariants, PolicyOverview, Reach, Subject,
    api_key_facts, check_id, not_found, user_facts,
};
pub use strongroom_policy::{
    Action, Decision, Effect, PolicyError, PolicyErrors, PolicyInfo, PolicySource, PrincipalFacts, PrincipalKind,
    Reason, Resource,
};
