//! Remembered decisions.
//!
//! Why: building Cedar's entities (with their transitive closure), its
//! context and evaluating the policies was a quarter of the server's CPU
//! for a 64 B transit encrypt, and an application's API key asks the same
//! question thousands of times a second (bench/README.md, "Transit,
//! 2026-12-02 (stop 14)").
//!
//! Why it is exact: a decision is a pure function of the policy set and of
//! what the Cedar request is built from. [`DecisionInputs`] is that, as plain
//! values, and the engine builds the Cedar request *from* it, so nothing can
//! reach Cedar without being part of the key. The cache lives inside one
//! [`super::PolicyEngine`], which is replaced whole when policies change, so
//! an old policy set's decisions are dropped with it. Facts that change (a
//! role revoked, a grant added, the hour turning) make a different key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::vocabulary::{Action, PrincipalKind, Resource};

use super::Decision;

/// How many decisions one engine keeps; when full it starts again empty.
/// Each is a few hundred bytes, and a steady load asks a handful of distinct
/// questions, so this bounds memory without an eviction order to maintain.
pub(super) const CAPACITY: usize = 4096;

/// What one Cedar request is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct DecisionInputs {
    pub(super) action: Action,
    pub(super) kind: PrincipalKind,
    pub(super) principal_id: String,
    pub(super) principal_name: String,
    /// The principal's roles with the roles they include, sorted.
    pub(super) roles: Vec<String>,
    /// Its API-key scopes, sorted.
    pub(super) scopes: Vec<String>,
    /// The matters it holds a grant on that a policy can test, sorted.
    pub(super) matters: Vec<String>,
    pub(super) resource: Resource,
    pub(super) context: ContextInputs,
}

/// What the Cedar context is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ContextInputs {
    pub(super) profile: String,
    pub(super) hour: i64,
    pub(super) weekday: i64,
    /// The time to the second, only when a policy reads `context.now`
    /// (otherwise the hour and weekday are all any policy sees of it).
    pub(super) now_unix_seconds: Option<i64>,
    /// Only when a policy reads `context.ip`.
    pub(super) ip: Option<IpAddr>,
    pub(super) mfa_age_seconds: Option<i64>,
    pub(super) mfa_max_age_seconds: i64,
    pub(super) justification_length: i64,
    pub(super) purpose: Option<String>,
    pub(super) elevated: bool,
}

/// Decisions by their inputs, for one policy set.
#[derive(Default)]
pub(super) struct DecisionCache {
    decisions: Mutex<HashMap<DecisionInputs, Decision>>,
}

impl DecisionCache {
    pub(super) fn get(&self, inputs: &DecisionInputs) -> Option<Decision> {
        self.decisions.lock().ok()?.get(inputs).cloned()
    }

    pub(super) fn insert(&self, inputs: DecisionInputs, decision: &Decision) {
        // A poisoned lock only means another thread panicked mid-insert into
        // a map of copies: skip remembering, deciding still works.
        if let Ok(mut decisions) = self.decisions.lock() {
            if decisions.len() >= CAPACITY {
                decisions.clear();
            }
            decisions.insert(inputs, decision.clone());
        }
    }

    /// How many decisions are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.decisions.lock().map_or(0, |decisions| decisions.len())
    }
}
