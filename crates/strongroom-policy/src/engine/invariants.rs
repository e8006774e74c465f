//! What no policy set may allow, checked exhaustively over finite domains.
//!
//! Operators add policies beside the default set, and one `permit` too wide
//! can hand plaintext to a reader or a matter to someone without a grant.
//! The invariants below are properties of the whole set; the check asks the
//! real engine every question that could break one and reports a
//! counterexample for each invariant that fails.
//!
//! Why it is exhaustive although facts are strings and numbers: a policy can
//! only tell values apart by comparing them with something it names. A role,
//! scope or matter not named in a policy is only ever tested through the
//! resource (`principal in resource.matter`); a string attribute is only
//! compared with the policy's literals; a number only with its literals (and
//! the other numbers of the request). So each dimension is enumerated as its
//! finite domain (roles, profiles, hours, weekdays) or as the values the
//! policies of that (action, principal type, resource type) name, plus one
//! value none of them names, and each number at every literal and on both
//! sides of it. Arithmetic between attributes and literals is the one thing
//! this does not cover; the text of docs/authorization.md says so.
//!
//! The same argument holds for any part of a set, which keeps the domains
//! small: the permits alone are asked first, over the domain of what *they*
//! name (only a permit allows, so when none holds the invariant does); then
//! each forbid alone, over its own domain (one that holds for every request
//! of the invariant, as `reveal.two_person` does under high_security, denies
//! them all); only then the whole set over the domain of everything named.
//! Matters count for grants only where a policy tests membership of them
//! (`principal in Matter::"m"`) and its resource scope can match.
//!
//! Cedar's own symbolic analysis (`cedar-policy-symcc`) would prove the same
//! without enumerating, but needs the cvc5 SMT solver at run time, which this
//! server does not ship.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::memo::{ContextInputs, DecisionInputs};
use super::{PolicyEngine, role_and_included};
use crate::vocabulary::{Action, PrincipalKind, Resource, civil_time};

/// The most questions one check asks; past it the set is reported as not
/// checked rather than slowing a `PUT /v1/policies` down for seconds.
pub const MAX_CASES: usize = 100_000;

/// 2026-11-23T00:00:00Z, a Monday: the week hours and weekdays are taken from.
const MONDAY: i64 = 1_795_392_000;

const PROFILES: [&str; 4] = ["development", "staging", "production", "high_security"];

/// One property every policy set must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invariant {
    /// A stable name, e.g. `reader_never_decrypts`.
    pub name: &'static str,
    /// What it promises, in words.
    pub statement: &'static str,
}

/// The invariants, in the order they are checked.
pub const INVARIANTS: [Invariant; 3] = [
    Invariant {
        name: "reader_never_decrypts",
        statement: "a person whose only role is reader (or who has none) never decrypts or exports, \
                    in any matter, at any time, without an approved access request",
    },
    Invariant {
        name: "no_matter_without_grant",
        statement: "no user or API key reaches a matter's data (record.*) without a grant on that matter \
                    or an approved access request",
    },
    Invariant {
        name: "two_person_reveal",
        statement: "under high_security no decrypt or export happens without an access request \
                    approved by a second person",
    },
];

/// An invariant the policy set does not keep, with a request that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantBreak {
    /// Which invariant.
    pub invariant: Invariant,
    /// The request that is allowed although the invariant forbids it, or why
    /// the set could not be checked.
    pub example: String,
    /// The policies that allowed it (empty when it could not be checked).
    pub policies: Vec<String>,
}

impl std::fmt::Display for InvariantBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invariant {} ({}) is broken: {}", self.invariant.name, self.invariant.statement, self.example)?;
        if !self.policies.is_empty() {
            write!(f, ", allowed by {}", self.policies.join(", "))?;
        }
        Ok(())
    }
}

/// What the policies that can apply to one kind of request name.
#[derive(Debug, Default)]
struct Named {
    roles: BTreeSet<String>,
    scopes: BTreeSet<String>,
    matters: BTreeSet<String>,
    principals: BTreeSet<(String, String)>,
    records: BTreeSet<String>,
    strings: BTreeSet<String>,
    /// Numbers compared with one context attribute (`context.hour < 8`), by attribute.
    bounds: std::collections::BTreeMap<String, BTreeSet<i64>>,
    /// Strings compared with one attribute (`context.purpose == "audit"`), by attribute.
    string_bounds: std::collections::BTreeMap<String, BTreeSet<String>>,
    /// Numbers used any other way, which any numeric attribute may meet.
    longs: BTreeSet<i64>,
    ips: BTreeSet<IpAddr>,
    datetimes: BTreeSet<i64>,
    /// Attribute names read anywhere (`x.attr`, `x has attr`).
    attributes: BTreeSet<String>,
    /// `context` used as a whole: every context attribute counts as read.
    whole_context: bool,
}

impl Named {
    fn reads(&self, attribute: &str) -> bool {
        self.whole_context || self.attributes.contains(attribute)
    }

    fn add(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if let (Some(type_name), Some(id)) =
                    (map.get("type").and_then(|v| v.as_str()), map.get("id").and_then(|v| v.as_str()))
                {
                    let id = id.to_owned();
                    match type_name {
                        "Strongroom::Role" => _ = self.roles.insert(id),
                        "Strongroom::Scope" => _ = self.scopes.insert(id),
                        "Strongroom::Matter" => _ = self.matters.insert(id),
                        "Strongroom::Record" => _ = self.records.insert(id),
                        "Strongroom::User" | "Strongroom::ApiKey" => {
                            _ = self.principals.insert((type_name.to_owned(), id));
                        }
                        _ => {}
                    }
                }
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("annotations", _) => continue,
                        ("Value", serde_json::Value::String(text)) => _ = self.strings.insert(text.clone()),
                        ("Value", serde_json::Value::Number(number)) => {
                            if let Some(long) = number.as_i64() {
                                self.longs.insert(long);
                            }
                        }
                        ("Var", serde_json::Value::String(var)) if var == "context" => self.whole_context = true,
                        ("==" | "!=" | "<" | "<=" | ">" | ">=", serde_json::Value::Object(sides)) => {
                            let (Some(left), Some(right)) = (sides.get("left"), sides.get("right")) else { continue };
                            let bound =
                                match (context_attribute(left), long(right), context_attribute(right), long(left)) {
                                    (Some(attr), Some(value), _, _) | (_, _, Some(attr), Some(value)) => {
                                        Some((attr, value))
                                    }
                                    _ => None,
                                };
                            let string_bound =
                                match (any_attribute(left), string(right), any_attribute(right), string(left)) {
                                    (Some(attr), Some(value), _, _) | (_, _, Some(attr), Some(value)) => {
                                        Some((attr, value))
                                    }
                                    _ => None,
                                };
                            match (bound, string_bound) {
                                (Some((attr, value)), _) => {
                                    self.attributes.insert(attr.to_owned());
                                    self.bounds.entry(attr.to_owned()).or_default().insert(value);
                                }
                                (None, Some((attr, value))) => {
                                    self.string_bounds.entry(attr.to_owned()).or_default().insert(value.to_owned());
                                    // The attribute's read as any other: what it is read from may name more.
                                    let read = if any_attribute(left).is_some() { left } else { right };
                                    self.add(read);
                                }
                                (None, None) => {
                                    self.add(left);
                                    self.add(right);
                                }
                            }
                            continue;
                        }
                        ("." | "has", serde_json::Value::Object(access)) => {
                            match access.get("attr") {
                                Some(serde_json::Value::String(attr)) => _ = self.attributes.insert(attr.clone()),
                                Some(serde_json::Value::Array(path)) => {
                                    self.attributes.extend(path.iter().filter_map(|a| a.as_str()).map(str::to_owned));
                                }
                                _ => {}
                            }
                            // `context.attr` reads one attribute, not the whole context.
                            match access.get("left") {
                                Some(left) if left.get("Var").and_then(|v| v.as_str()) == Some("context") => {}
                                Some(left) => self.add(left),
                                None => {}
                            }
                            continue;
                        }
                        ("like", serde_json::Value::Object(like)) => {
                            // The pattern with its wildcards matching nothing: a string it matches.
                            if let Some(serde_json::Value::Array(pattern)) = like.get("pattern") {
                                let text: String = pattern
                                    .iter()
                                    .filter_map(|element| element.get("Literal").and_then(|l| l.as_str()))
                                    .collect();
                                self.strings.insert(text);
                            }
                        }
                        ("ip", serde_json::Value::Array(args)) => {
                            for arg in args.iter().filter_map(|a| a.get("Value").and_then(|v| v.as_str())) {
                                let address = arg.split('/').next().unwrap_or(arg);
                                if let Ok(address) = address.parse() {
                                    self.ips.insert(address);
                                }
                            }
                        }
                        ("datetime", serde_json::Value::Array(args)) => {
                            for arg in args.iter().filter_map(|a| a.get("Value").and_then(|v| v.as_str())) {
                                if let Some(seconds) = unix_seconds(arg) {
                                    self.datetimes.insert(seconds);
                                }
                            }
                        }
                        _ => {}
                    }
                    self.add(inner);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| self.add(item)),
            _ => {}
        }
    }

    /// The strings worth trying for the attribute `attr`: those compared
    /// with it, and those used any other way (`like`, sets, calls).
    fn strings_for<'a>(&'a self, attr: &str) -> impl Iterator<Item = String> + 'a {
        self.strings.iter().chain(self.string_bounds.get(attr).into_iter().flatten()).cloned()
    }

    /// The values worth trying for the numeric context attribute `attr`:
    /// `base`, and each number the policies compare it with (or use in any
    /// other way), one less and one more, within `range`.
    fn numbers(&self, attr: &str, base: &[i64], range: std::ops::RangeInclusive<i64>) -> Vec<i64> {
        let mut values: BTreeSet<i64> = base.iter().copied().collect();
        for long in self.longs.iter().chain(self.bounds.get(attr).into_iter().flatten()) {
            for value in [long.saturating_sub(1), *long, long.saturating_add(1)] {
                values.insert(value);
            }
        }
        values.into_iter().filter(|v| range.contains(v)).collect()
    }
}

/// `attr` of an expression `<anything>.attr`.
fn any_attribute(expr: &serde_json::Value) -> Option<&str> {
    expr.get(".")?.get("attr")?.as_str()
}

/// The text of an expression that is a String literal.
fn string(expr: &serde_json::Value) -> Option<&str> {
    expr.get("Value")?.as_str()
}

/// `attr` of an expression `context.attr`.
fn context_attribute(expr: &serde_json::Value) -> Option<&str> {
    let access = expr.get(".")?;
    access.get("left")?.get("Var")?.as_str().filter(|var| *var == "context")?;
    access.get("attr")?.as_str()
}

/// The number of an expression that is a Long literal.
fn long(expr: &serde_json::Value) -> Option<i64> {
    expr.get("Value")?.as_i64()
}

/// Collects into `found` the matters a policy (in its JSON form) can test a
/// principal's membership of: those in its principal scope and in the right
/// operand of every `in` whose left operand is not the resource itself.
/// Equality with a matter (`resource.matter == Matter::"m"`) cannot tell
/// grants apart, and `resource in Matter::"m"` only reads the resource.
fn member_matters(json: &serde_json::Value, found: &mut BTreeSet<String>) {
    fn matters_within(value: &serde_json::Value, found: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if map.get("type").and_then(|t| t.as_str()) == Some("Strongroom::Matter")
                    && let Some(id) = map.get("id").and_then(|i| i.as_str())
                {
                    found.insert(id.to_owned());
                }
                map.values().for_each(|inner| matters_within(inner, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| matters_within(item, found)),
            _ => {}
        }
    }
    fn walk(value: &serde_json::Value, found: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    if key == "in"
                        && let Some(right) = inner.get("right")
                    {
                        let left_is_resource =
                            inner.get("left").and_then(|l| l.get("Var")).and_then(|v| v.as_str()) == Some("resource");
                        if !left_is_resource {
                            matters_within(right, found);
                        }
                    }
                    walk(inner, found);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    if let Some(principal) = json.get("principal") {
        matters_within(principal, found);
    }
    if let Some(conditions) = json.get("conditions") {
        walk(conditions, found);
    }
}

/// Whether `policy`'s resource scope can match `resource` (matters do not
/// nest, and a record is only in its own matter).
fn scope_can_match(policy: &cedar_policy::Policy, resource: &Resource) -> bool {
    let holds = |uid: &cedar_policy::EntityUid, within: bool| {
        let id = uid.id().unescaped();
        match (uid.type_name().to_string().as_str(), resource) {
            ("Strongroom::Matter", Resource::Matter(matter) | Resource::Record { matter, .. }) => {
                matter == id && (within || matches!(resource, Resource::Matter(_)))
            }
            ("Strongroom::Record", Resource::Record { id: record, .. }) => record == id,
            ("Strongroom::Matter" | "Strongroom::Record", _) => false,
            // Other types: kept, whatever they are.
            _ => true,
        }
    };
    match policy.resource_constraint() {
        cedar_policy::ResourceConstraint::Any | cedar_policy::ResourceConstraint::Is(_) => true,
        cedar_policy::ResourceConstraint::Eq(uid) => holds(&uid, false),
        cedar_policy::ResourceConstraint::In(uid) | cedar_policy::ResourceConstraint::IsIn(_, uid) => holds(&uid, true),
    }
}

/// Seconds since the epoch of a Cedar datetime's date and time of day
/// (`YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss…`, offsets ignored: a second either
/// side is tried anyway).
fn unix_seconds(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) =
        if text.len() >= 19 { (number(11..13)?, number(14..16)?, number(17..19)?) } else { (0, 0, 0) };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Every subset of `items`, or `None` past `limit` subsets.
fn subsets(items: &[String], limit: usize) -> Option<Vec<Vec<String>>> {
    if items.len() >= usize::BITS as usize || 1usize << items.len() > limit {
        return None;
    }
    Some(
        (0..1usize << items.len())
            .map(|mask| {
                items.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| s.clone()).collect()
            })
            .collect(),
    )
}

/// Role sets as decisions see them: with the roles each includes, sorted.
fn closed_role_sets(sets: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut closed: BTreeSet<Vec<String>> = BTreeSet::new();
    for set in sets {
        let roles: BTreeSet<String> = set.iter().flat_map(|role| role_and_included(role)).map(str::to_owned).collect();
        closed.insert(roles.into_iter().collect());
    }
    closed.into_iter().collect()
}

/// The questions of one (action, principal type, resource type) and the
/// invariant they test, as the lists each dimension takes its values from.
struct Questions {
    action: Action,
    kind: PrincipalKind,
    principals: Vec<(String, String)>,
    role_sets: Vec<Vec<String>>,
    scope_sets: Vec<Vec<String>>,
    /// Each resource with the grant sets to try for it.
    resources: Vec<(Resource, Vec<Vec<String>>)>,
    contexts: Vec<ContextInputs>,
    /// Some dimension had too many values to list.
    overflow: bool,
}

impl Questions {
    fn count(&self) -> usize {
        if self.overflow {
            return usize::MAX;
        }
        let grants: usize = self.resources.iter().map(|(_, grants)| grants.len()).sum();
        [self.principals.len(), self.role_sets.len(), self.scope_sets.len(), grants, self.contexts.len()]
            .into_iter()
            .fold(1usize, usize::saturating_mul)
    }
}

impl PolicyEngine {
    /// Checks every invariant against the loaded policies; empty when all hold.
    pub fn invariant_breaks(&self) -> Vec<InvariantBreak> {
        INVARIANTS.iter().filter_map(|invariant| self.check_invariant(*invariant)).collect()
    }

    fn check_invariant(&self, invariant: Invariant) -> Option<InvariantBreak> {
        let (actions, kinds, profiles): (Vec<Action>, Vec<PrincipalKind>, Option<&[&str]>) = match invariant.name {
            "reader_never_decrypts" => {
                (Action::ALL.into_iter().filter(|a| a.is_reveal()).collect(), vec![PrincipalKind::User], None)
            }
            "no_matter_without_grant" => (
                Action::ALL.into_iter().filter(|a| a.is_data()).collect(),
                vec![PrincipalKind::User, PrincipalKind::ApiKey],
                None,
            ),
            _ => (
                vec![Action::RecordDecrypt, Action::RecordExport],
                vec![PrincipalKind::User, PrincipalKind::ApiKey],
                Some(&["high_security"]),
            ),
        };
        let mut all = Vec::new();
        let mut slices = Vec::new();
        for action in actions {
            for kind in &kinds {
                for resource_type in resource_types(action) {
                    let Some(slice) = self.slices.get(&(action, *kind, resource_type)) else { continue };
                    // Only a permit allows. First the permits alone, over the
                    // (smaller) domain of what they name: when none of them can
                    // hold for any such request, no forbid needs to be looked at.
                    let mut permits = cedar_policy::PolicySet::new();
                    for policy in slice.policies().filter(|p| p.effect() == cedar_policy::Effect::Permit) {
                        // Ids are unique in the slice, so in every part of it.
                        let _ = permits.add(policy.clone());
                    }
                    if permits.is_empty() {
                        continue;
                    }
                    let only_permits = self.questions(invariant, action, *kind, resource_type, profiles, &permits);
                    if only_permits.count() <= MAX_CASES
                        && self.counterexample(invariant, &only_permits, &permits).is_none()
                    {
                        continue;
                    }
                    // Then each forbid alone, over the domain of what it names:
                    // one that holds for every such request denies them all
                    // (the default `reveal.two_person` under high_security).
                    let blocked =
                        slice.policies().filter(|p| p.effect() == cedar_policy::Effect::Forbid).any(|forbid| {
                            let mut one = cedar_policy::PolicySet::new();
                            let _ = one.add(forbid.clone());
                            let questions = self.questions(invariant, action, *kind, resource_type, profiles, &one);
                            questions.count() <= MAX_CASES && self.always_forbids(&questions, &one)
                        });
                    if blocked {
                        continue;
                    }
                    all.push(self.questions(invariant, action, *kind, resource_type, profiles, slice));
                    slices.push(slice);
                }
            }
        }
        let total = all.iter().map(Questions::count).fold(0usize, usize::saturating_add);
        if total > MAX_CASES {
            return Some(InvariantBreak {
                invariant,
                example: format!(
                    "not checked: the policies name so many roles, scopes, matters and values that checking \
                     would take {total} questions, more than {MAX_CASES}"
                ),
                policies: Vec::new(),
            });
        }
        all.iter().zip(slices).find_map(|(questions, slice)| self.counterexample(invariant, questions, slice))
    }

    fn questions(
        &self,
        invariant: Invariant,
        action: Action,
        kind: PrincipalKind,
        resource_type: &'static str,
        profiles: Option<&[&str]>,
        policies: &cedar_policy::PolicySet,
    ) -> Questions {
        let mut named = Named::default();
        // Each policy with the matters a principal's grants are tested against in it.
        let mut members: Vec<(&cedar_policy::Policy, Option<BTreeSet<String>>)> = Vec::new();
        for policy in policies.policies() {
            match policy.to_json() {
                Ok(json) => {
                    named.add(&json);
                    let mut matters = BTreeSet::new();
                    member_matters(&json, &mut matters);
                    members.push((policy, Some(matters)));
                }
                Err(_) => {
                    named.whole_context = true;
                    members.push((policy, None));
                }
            }
        }
        let named = named;
        let unnamed = |prefix: &str| format!("{prefix}-named-by-no-policy");
        let mut overflow = false;
        let mut all_subsets = |items: &[String]| {
            subsets(items, MAX_CASES).unwrap_or_else(|| {
                overflow = true;
                Vec::new()
            })
        };
        let role_sets = if invariant.name == "reader_never_decrypts" {
            vec![Vec::new(), vec!["reader".to_owned()]]
        } else {
            // A role no policy names is tested by none: the named ones (with
            // the roles that include them) are every distinct case.
            closed_role_sets(all_subsets(&named.roles.iter().cloned().collect::<Vec<_>>()))
        };
        let scope_sets = match kind {
            PrincipalKind::User => vec![Vec::new()],
            PrincipalKind::ApiKey => all_subsets(&named.scopes.iter().cloned().collect::<Vec<_>>()),
        };
        let entity_type = kind.entity_type();
        let ids: BTreeSet<String> = std::iter::once(unnamed("principal"))
            .chain(named.principals.iter().filter(|(t, _)| t == entity_type).map(|(_, id)| id.clone()))
            .collect();
        let names: BTreeSet<String> = std::iter::once(unnamed("name"))
            .chain(named.reads("name").then(|| named.strings_for("name")).into_iter().flatten())
            .collect();
        let principals = ids.iter().flat_map(|id| names.iter().map(move |name| (id.clone(), name.clone()))).collect();
        let matters: Vec<String> = std::iter::once(unnamed("matter")).chain(named.matters.iter().cloned()).collect();
        let resources = match resource_type {
            "Strongroom::Matter" => matters.iter().cloned().map(Resource::Matter).collect(),
            "Strongroom::Record" => {
                let records: Vec<String> =
                    std::iter::once(unnamed("record")).chain(named.records.iter().cloned()).collect();
                let collections: Vec<String> = std::iter::once(unnamed("collection"))
                    .chain(named.reads("collection").then(|| named.strings_for("collection")).into_iter().flatten())
                    .collect();
                let mut resources = Vec::new();
                for id in &records {
                    for matter in &matters {
                        for collection in &collections {
                            resources.push(Resource::Record {
                                id: id.clone(),
                                matter: matter.clone(),
                                collection: collection.clone(),
                            });
                        }
                    }
                }
                resources
            }
            _ => vec![Resource::Service],
        };
        let without_grant = invariant.name == "no_matter_without_grant";
        let resources = resources
            .into_iter()
            .map(|resource| {
                // Grants only tell requests apart through the matters the
                // policies that can apply to this resource test membership of.
                let mut candidates: Vec<String> = Vec::new();
                for (policy, matters) in &members {
                    if !scope_can_match(policy, &resource) {
                        continue;
                    }
                    match matters {
                        Some(matters) => candidates.extend(matters.iter().cloned()),
                        None => candidates.extend(named.matters.iter().cloned()),
                    }
                }
                candidates.sort();
                candidates.dedup();
                match resource.matter() {
                    Some(own) if without_grant => candidates.retain(|m| m != own),
                    Some(own) if !candidates.iter().any(|m| m == own) => candidates.push(own.to_owned()),
                    _ => {}
                }
                let grants = all_subsets(&candidates);
                (resource, grants)
            })
            .collect();
        let contexts = self.contexts(&named, profiles);
        Questions { action, kind, principals, role_sets, scope_sets, resources, contexts, overflow }
    }

    fn contexts(&self, named: &Named, profiles: Option<&[&str]>) -> Vec<ContextInputs> {
        let profiles: Vec<&str> = match profiles {
            Some(fixed) => fixed.to_vec(),
            None if named.reads("profile") => PROFILES.to_vec(),
            None => vec!["development"],
        };
        let mut times: BTreeSet<i64> = BTreeSet::new();
        let weekdays = if named.reads("weekday") { named.numbers("weekday", &[1, 7], 1..=7) } else { vec![1] };
        let hours = if named.reads("hour") { named.numbers("hour", &[0, 23], 0..=23) } else { vec![12] };
        for weekday in &weekdays {
            for hour in &hours {
                times.insert(MONDAY + (weekday - 1) * 86_400 + hour * 3600);
            }
        }
        if self.reads.now && named.reads("now") {
            for time in &named.datetimes {
                times.extend([time - 1, *time, time + 1]);
            }
        }
        let ips: Vec<Option<IpAddr>> = if self.reads.ip && named.reads("ip") {
            let fixed: [IpAddr; 3] =
                [[127, 0, 0, 1].into(), [192, 0, 2, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
            std::iter::once(None).chain(fixed.into_iter().chain(named.ips.iter().copied()).map(Some)).collect()
        } else {
            vec![None]
        };
        let max_ages = if named.reads("mfa_max_age_seconds") {
            named.numbers("mfa_max_age_seconds", &[300], 1..=i64::MAX)
        } else {
            vec![300]
        };
        let ages: Vec<Option<i64>> = if named.reads("mfa_age_seconds") {
            // Compared with the maximum age too: on it and just past each one tried.
            let mut base = vec![0];
            base.extend(max_ages.iter().flat_map(|max| [*max, max.saturating_add(1)]));
            let ages = named.numbers("mfa_age_seconds", &base, 0..=i64::MAX);
            std::iter::once(None).chain(ages.into_iter().map(Some)).collect()
        } else {
            vec![None]
        };
        let justifications = if named.reads("justification_length") {
            named.numbers("justification_length", &[0], 0..=i64::MAX)
        } else {
            vec![0]
        };
        let purposes: Vec<Option<String>> = if named.reads("purpose") {
            let mut purposes = vec![None, Some("purpose-named-by-no-policy".to_owned())];
            purposes.extend(named.strings_for("purpose").map(Some));
            purposes
        } else {
            vec![None]
        };
        let mut contexts = Vec::new();
        for profile in &profiles {
            for time in &times {
                let (_, _, _, hour, _, _, weekday) = civil_time(*time);
                for ip in &ips {
                    for max_age in &max_ages {
                        for age in &ages {
                            for justification in &justifications {
                                for purpose in &purposes {
                                    contexts.push(ContextInputs {
                                        profile: (*profile).to_owned(),
                                        hour,
                                        weekday,
                                        now_unix_seconds: self.reads.now.then_some(*time),
                                        ip: *ip,
                                        mfa_age_seconds: *age,
                                        mfa_max_age_seconds: *max_age,
                                        justification_length: *justification,
                                        purpose: purpose.clone(),
                                        elevated: false,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        contexts
    }

    /// The first question of `questions` the engine allows, as a break.
    /// Asks `policies` every question of `questions`, in turn, until
    /// `stop` says so; answers whether it stopped.
    fn ask_each(
        &self,
        questions: &Questions,
        policies: &cedar_policy::PolicySet,
        mut stop: impl FnMut(&DecisionInputs, &cedar_policy::Response) -> bool,
    ) -> bool {
        for (resource, grants) in &questions.resources {
            for matters in grants {
                for (principal_id, principal_name) in &questions.principals {
                    for roles in &questions.role_sets {
                        for scopes in &questions.scope_sets {
                            for context in &questions.contexts {
                                let inputs = DecisionInputs {
                                    action: questions.action,
                                    kind: questions.kind,
                                    principal_id: principal_id.clone(),
                                    principal_name: principal_name.clone(),
                                    roles: roles.clone(),
                                    scopes: scopes.clone(),
                                    matters: matters.clone(),
                                    resource: resource.clone(),
                                    context: context.clone(),
                                };
                                let Ok((request, entities)) = self.request(&inputs) else { continue };
                                let response = self.authorizer.is_authorized(&request, policies, &entities);
                                if stop(&inputs, &response) {
                                    return true;
                                }
                            }
                        }
                    }
                }
            }
        }
        false
    }

    /// The first question of `questions` that `policies` allow, as a break.
    fn counterexample(
        &self,
        invariant: Invariant,
        questions: &Questions,
        policies: &cedar_policy::PolicySet,
    ) -> Option<InvariantBreak> {
        let mut found = None;
        self.ask_each(questions, policies, |inputs, response| {
            if response.decision() != cedar_policy::Decision::Allow {
                return false;
            }
            let mut allowing: Vec<String> = response
                .diagnostics()
                .reason()
                .map(|id| self.info.get(id).map_or_else(|| id.to_string(), |i| i.id.clone()))
                .collect();
            allowing.sort();
            found = Some(InvariantBreak { invariant, example: describe(inputs), policies: allowing });
            true
        });
        found
    }

    /// Whether the one forbid in `forbid` holds for every question of
    /// `questions` (an error is not holding).
    fn always_forbids(&self, questions: &Questions, forbid: &cedar_policy::PolicySet) -> bool {
        !self.ask_each(questions, forbid, |_, response| response.diagnostics().reason().next().is_none())
    }
}

/// The resource types an action applies to, as the schema declares them.
fn resource_types(action: Action) -> Vec<&'static str> {
    if action.is_data() || matches!(action, Action::AccessRequest | Action::AccessApprove) {
        vec!["Strongroom::Matter", "Strongroom::Record"]
    } else {
        vec!["Strongroom::Service"]
    }
}

/// The request, as an operator reads it.
fn describe(inputs: &DecisionInputs) -> String {
    let context = &inputs.context;
    let mut text = format!(
        "{} {:?} with roles [{}], scopes [{}] and grants on [{}] may {} on {}, under {}, on weekday {} at {:02}:00",
        inputs.kind.as_str(),
        inputs.principal_id,
        inputs.roles.join(", "),
        inputs.scopes.join(", "),
        inputs.matters.join(", "),
        inputs.action.as_str(),
        inputs.resource.describe(),
        context.profile,
        context.weekday,
        context.hour,
    );
    text.push_str(&format!(", justification of {} characters", context.justification_length));
    if let Some(age) = context.mfa_age_seconds {
        text.push_str(&format!(", second factor {age} s ago"));
    }
    if let Some(ip) = context.ip {
        text.push_str(&format!(", from {ip}"));
    }
    if let Some(purpose) = &context.purpose {
        text.push_str(&format!(", purpose {purpose:?}"));
    }
    text.push_str(", without an access request");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicySource;

    fn engine(extra: &str) -> PolicyEngine {
        let sources = [PolicySource::default_set(), PolicySource { origin: "api".into(), text: extra.into() }];
        PolicyEngine::new(&sources).unwrap()
    }

    fn broken(engine: &PolicyEngine) -> Vec<&'static str> {
        engine.invariant_breaks().iter().map(|b| b.invariant.name).collect()
    }

    #[test]
    fn the_default_policies_keep_every_invariant() {
        let breaks = engine("").invariant_breaks();
        assert!(breaks.is_empty(), "{breaks:?}");
    }

    #[test]
    fn a_policy_letting_readers_decrypt_breaks_the_reader_invariant_and_is_named() {
        let engine = engine(
            r#"@id("readers-decrypt")
permit (principal in Strongroom::Role::"reader", action == Strongroom::Action::"record.decrypt", resource)
when { principal in resource.matter };"#,
        );
        let breaks = engine.invariant_breaks();
        assert_eq!(breaks.len(), 1, "{breaks:?}");
        assert_eq!(breaks[0].invariant.name, "reader_never_decrypts");
        assert_eq!(breaks[0].policies, vec!["api/readers-decrypt".to_owned()]);
        assert!(breaks[0].to_string().contains("record.decrypt"), "{}", breaks[0]);
    }

    #[test]
    fn a_hole_at_one_hour_of_one_weekday_is_found() {
        let engine = engine(
            r#"permit (principal, action == Strongroom::Action::"record.export", resource)
when { context.weekday == 7 && context.hour == 3 && context.justification_length > 40 };"#,
        );
        let breaks = engine.invariant_breaks();
        assert_eq!(
            breaks.iter().map(|b| b.invariant.name).collect::<Vec<_>>(),
            vec!["reader_never_decrypts", "no_matter_without_grant"]
        );
        assert!(breaks[0].example.contains("weekday 7 at 03:00"), "{}", breaks[0]);
    }

    #[test]
    fn a_matter_named_in_a_policy_opening_others_breaks_the_grant_invariant() {
        // Members of "supervisors" read every matter's records without a grant on it.
        let engine = engine(
            r#"permit (principal in Strongroom::Matter::"supervisors", action == Strongroom::Action::"record.read", resource);"#,
        );
        assert_eq!(broken(&engine), vec!["no_matter_without_grant"]);
    }

    #[test]
    fn an_api_key_scope_named_in_a_policy_is_tried() {
        let engine = engine(
            r#"permit (principal in Strongroom::Scope::"records:write", action == Strongroom::Action::"record.write", resource)
when { principal.name == "importer" };"#,
        );
        let breaks = engine.invariant_breaks();
        assert_eq!(breaks.len(), 1, "{breaks:?}");
        assert!(breaks[0].example.contains("scopes [records:write]"), "{}", breaks[0]);
    }

    #[test]
    fn forbids_and_permits_within_the_invariants_break_nothing() {
        let engine = engine(
            r#"
forbid (principal, action == Strongroom::Action::"record.decrypt", resource)
unless { context.weekday <= 5 && context.hour >= 8 && context.hour < 18 };
permit (principal in Strongroom::Role::"analyst", action == Strongroom::Action::"record.delete", resource)
when { principal in resource.matter && context.justification_length >= 30 };
permit (principal in Strongroom::Scope::"transit:use", action == Strongroom::Action::"record.read", resource)
when { principal in resource.matter };
"#,
        );
        let breaks = engine.invariant_breaks();
        assert!(breaks.is_empty(), "{breaks:#?}");
    }

    #[test]
    fn without_the_default_forbids_the_two_person_rule_breaks() {
        let only = PolicySource {
            origin: "file:only.cedar".into(),
            text: r#"permit (principal in Strongroom::Role::"admin", action == Strongroom::Action::"record.decrypt", resource)
when { principal in resource.matter };"#
                .into(),
        };
        let engine = PolicyEngine::new(&[only]).unwrap();
        assert_eq!(broken(&engine), vec!["two_person_reveal"]);
    }

    #[test]
    fn a_set_too_large_to_enumerate_is_reported_unchecked() {
        // A permit that would open every matter, which only forbids naming
        // twenty scopes might block: 2^20 scope sets to try.
        let mut scopes = "permit (principal in Strongroom::Scope::\"s0\", action == Strongroom::Action::\"record.read\", resource);\n".to_owned();
        scopes += &(0..20)
            .map(|i| {
                format!(
                    "forbid (principal in Strongroom::Scope::\"s{i}\", action == Strongroom::Action::\"record.read\", resource) when {{ false }};\n"
                )
            })
            .collect::<String>();
        let breaks = engine(&scopes).invariant_breaks();
        assert_eq!(breaks.len(), 1, "{breaks:?}");
        assert!(breaks[0].example.starts_with("not checked"), "{}", breaks[0]);
    }

    #[test]
    fn fifty_policies_of_the_kinds_operators_write_are_checked_in_full() {
        // The shapes of benches/decision.rs: office hours, address ranges,
        // MFA age, per-matter teams and audit matters needing a purpose.
        let policies: String = (0..50)
            .map(|i| match i % 5 {
                0 => "forbid (principal, action == Strongroom::Action::\"record.decrypt\", resource) \
                      unless { context.hour >= 6 && context.hour < 22 };\n"
                    .to_owned(),
                1 => format!(
                    "forbid (principal, action, resource == Strongroom::Matter::\"restricted-{i}\") \
                     unless {{ context has ip && context.ip.isInRange(ip(\"10.0.0.0/8\")) }};\n"
                ),
                2 => "forbid (principal is Strongroom::User, action == Strongroom::Action::\"record.export\", resource) \
                      unless { context has mfa_age_seconds && context.mfa_age_seconds < 600 };\n"
                    .to_owned(),
                3 => format!(
                    "permit (principal in Strongroom::Matter::\"team-{i}\", action == Strongroom::Action::\"record.read\", \
                     resource in Strongroom::Matter::\"team-{i}\");\n"
                ),
                _ => format!(
                    "forbid (principal, action == Strongroom::Action::\"record.decrypt\", resource) \
                     when {{ resource.matter == Strongroom::Matter::\"audit-{i}\" }} \
                     unless {{ context has purpose && context.purpose == \"audit\" }};\n"
                ),
            })
            .collect();
        let breaks = engine(&policies).invariant_breaks();
        assert!(breaks.is_empty(), "{breaks:#?}");
    }

    #[test]
    fn datetimes_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01"), Some(0));
        assert_eq!(unix_seconds("2026-11-23T00:00:00Z"), Some(MONDAY));
        assert_eq!(unix_seconds("2000-02-29T23:59:59Z"), Some(951_868_799));
        assert_eq!(unix_seconds("soon"), None);
    }
}
