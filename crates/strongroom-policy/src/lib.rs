//! Strongroom's authorization engine: "may principal P do action A on
//! resource R in context C?", answered by Cedar policies with the reasons.
//!
//! The rules of SPEC §3 are not code here but the default policy set
//! (`policies/default.cedar`), validated against `policies/schema.cedarschema`
//! like every policy an operator adds. This crate knows nothing of HTTP, SQL
//! or sessions: callers describe the principal ([`PrincipalFacts`]), the
//! resource ([`Resource`]) and the request ([`RequestFacts`]) and get a
//! [`Decision`]. Loading grants and access requests is core's job.

mod diagnostics;
mod engine;
mod limits;
mod roles;
mod vocabulary;

pub use diagnostics::{PolicyError, PolicyErrors};
pub use engine::{
    Decision, Effect, INVARIANTS, Invariant, InvariantBreak, MAX_CASES, PolicyEngine, PolicyInfo, PolicySource, Reason,
};
pub use limits::{MAX_NESTING, MAX_OPERATORS, MAX_TEXT_BYTES};
pub use roles::{MAX_ROLE_DESCRIPTION, ROLES_ORIGIN, RoleDefinition, check_role_name, role_policies};
pub use vocabulary::{Action, PrincipalFacts, PrincipalKind, ROLE_HIERARCHY, RequestFacts, Resource};

/// The Cedar schema every policy is validated against.
pub const SCHEMA: &str = include_str!("../policies/schema.cedarschema");

/// The built-in rules, as Cedar policies.
pub const DEFAULT_POLICIES: &str = include_str!("../policies/default.cedar");
