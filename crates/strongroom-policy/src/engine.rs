//! The compiled policy set and the decisions made with it.
//!
//! Policies come from several texts (the default set, files in the policy
//! directory, the one document managed through the API). Each is parsed and
//! validated on its own, so an error names its text and line; then all are
//! merged under ids `<origin>/<@id>` (or `<origin>/policy<N>` without an
//! `@id` annotation), which is what a decision's reasons name.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, PrincipalConstraint, Request, ResourceConstraint, RestrictedExpression, Schema, ValidationMode,
    Validator,
};

use self::memo::{ContextInputs, DecisionCache, DecisionInputs};
use crate::diagnostics::{PolicyError, PolicyErrors};
use crate::vocabulary::{Action, PrincipalFacts, PrincipalKind, ROLE_HIERARCHY, RequestFacts, Resource, civil_time};
use crate::{DEFAULT_POLICIES, SCHEMA};

/// One text of policies and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// `default`, `file:<name>` or `api`; prefixes the ids of its policies.
    pub origin: String,
    /// Cedar policies.
    pub text: String,
}

impl PolicySource {
    /// The built-in rules.
    pub fn default_set() -> Self {
        Self { origin: "default".to_owned(), text: DEFAULT_POLICIES.to_owned() }
    }
}

/// Permit or forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The policy allows when it matches.
    Permit,
    /// The policy denies when it matches, whatever else permits.
    Forbid,
}

impl Effect {
    /// `permit` or `forbid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Forbid => "forbid",
        }
    }
}

/// What is known of one loaded policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// `<origin>/<@id>`.
    pub id: String,
    /// Permit or forbid.
    pub effect: Effect,
    /// Its `@description` annotation.
    pub description: Option<String>,
}

/// One policy that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The policy's id, `<origin>/<@id>`.
    pub policy: String,
    /// Whether it permitted or forbade.
    pub effect: Effect,
    /// Its `@description`.
    pub description: Option<String>,
}

/// An answer and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed or not.
    pub allowed: bool,
    /// The permits that allowed, or the forbids that denied; empty for a
    /// denial because no policy permits (deny by default).
    pub reasons: Vec<Reason>,
    /// Policies that could not be evaluated (e.g. one reads `context.ip` of a
    /// request without an address). They are skipped, as Cedar does: an
    /// erroring `forbid` does not deny, an erroring `permit` does not allow.
    pub errors: Vec<String>,
}

impl Decision {
    /// Whether the policy with this id is among the reasons.
    pub fn decided_by(&self, policy: &str) -> bool {
        self.reasons.iter().any(|reason| reason.policy == policy)
    }
}

/// The kinds of resource, for indexing policies by what they can apply to.
const RESOURCE_TYPES: [&str; 5] =
    ["Strongroom::Service", "Strongroom::Matter", "Strongroom::Record", "Strongroom::Key", "Strongroom::User"];

/// The compiled policies and what it takes to decide with them. Cheap to
/// share (`Arc`); replaced whole when policies change.
///
/// Cedar evaluates every policy of the set it is given, so the engine keeps
/// one set per (action, principal type, resource type) holding only the
/// policies whose scope can match such a request: a decision evaluates a
/// fraction of the policies, with the same answer (a policy whose scope
/// cannot match is never satisfied). It also remembers its decisions by
/// their exact inputs (`memo`), which for an API key repeating one request
/// turns a Cedar evaluation into a lookup.
pub struct PolicyEngine {
    info: HashMap<PolicyId, PolicyInfo>,
    slices: HashMap<(Action, PrincipalKind, &'static str), PolicySet>,
    authorizer: Authorizer,
    action_uids: HashMap<Action, EntityUid>,
    reads: PolicyReads,
    decisions: DecisionCache,
}

/// What the loaded policies read, so a request carries no more than that:
/// context attributes with extension values cost a few microseconds each to
/// build, and every matter a principal belongs to is one more ancestor to
/// hash. A policy can only test membership of a matter it names literally
/// or of the resource's own matter, so the principal's other grants are
/// left out of the request.
#[derive(Debug, Clone, Default)]
struct PolicyReads {
    ip: bool,
    now: bool,
    matters: HashSet<String>,
}

impl PolicyReads {
    /// Walks a policy's JSON form for `context.<attr>`, `context has <attr>`
    /// and matter literals; any other use of `context` as a whole counts as
    /// reading all of it.
    fn add(&mut self, policy: &Policy) {
        fn walk(value: &serde_json::Value, found: &mut PolicyReads) {
            match value {
                serde_json::Value::Object(map) => {
                    if map.get("type").and_then(serde_json::Value::as_str) == Some("Strongroom::Matter")
                        && let Some(id) = map.get("id").and_then(serde_json::Value::as_str)
                    {
                        found.matters.insert(id.to_owned());
                    }
                    if map.get("Var").and_then(serde_json::Value::as_str) == Some("context") {
                        found.ip = true;
                        found.now = true;
                        return;
                    }
                    for (key, inner) in map {
                        let context_attr = (key == "." || key == "has")
                            .then(|| {
                                inner.get("left")?.get("Var")?.as_str().filter(|v| *v == "context")?;
                                inner.get("attr")?.as_str()
                            })
                            .flatten();
                        match context_attr {
                            Some("ip") => found.ip = true,
                            Some("now") => found.now = true,
                            Some(_) => {}
                            None => walk(inner, found),
                        }
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
                _ => {}
            }
        }
        match policy.to_json() {
            Ok(json) => walk(&json, self),
            Err(_) => {
                self.ip = true;
                self.now = true;
            }
        }
    }
}

/// Whether a policy's scope can match `action` by a principal of `kind` on a
/// resource of type `resource_type` (no action groups exist: `in` is `==`).
fn scope_admits(policy: &Policy, action: &EntityUid, kind: PrincipalKind, resource_type: &str) -> bool {
    let action_ok = match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => &uid == action,
        ActionConstraint::In(uids) => uids.contains(action),
    };
    let principal_type = kind.entity_type();
    let principal_ok = match policy.principal_constraint() {
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
        PrincipalConstraint::Eq(uid) => uid.type_name().to_string() == principal_type,
        PrincipalConstraint::Is(type_name) | PrincipalConstraint::IsIn(type_name, _) => {
            type_name.to_string() == principal_type
        }
    };
    let resource_ok = match policy.resource_constraint() {
        // `resource in X` also holds for X's descendants, of other types.
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
        ResourceConstraint::Eq(uid) => uid.type_name().to_string() == resource_type,
        ResourceConstraint::Is(type_name) | ResourceConstraint::IsIn(type_name, _) => {
            type_name.to_string() == resource_type
        }
    };
    action_ok && principal_ok && resource_ok
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine").field("policies", &self.info.len()).finish_non_exhaustive()
    }
}

fn schema() -> Schema {
    #[allow(clippy::expect_used)] // The schema is a constant; a test parses it.
    Schema::from_cedarschema_str(SCHEMA).expect("the built-in schema parses").0
}

fn uid(type_name: &str, id: &str) -> EntityUid {
    #[allow(clippy::expect_used)] // Type names are the schema's constants.
    let type_name = EntityTypeName::from_str(type_name).expect("a valid entity type name");
    EntityUid::from_type_name_and_id(type_name, EntityId::new(id))
}

fn string(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

impl PolicyEngine {
    /// Parses and validates `sources` (the default set should be one of
    /// them) into one engine, or reports every error found, each pointing
    /// at its text and line.
    pub fn new(sources: &[PolicySource]) -> Result<Self, PolicyErrors> {
        let schema = schema();
        let validator = Validator::new(schema);
        let mut policies = PolicySet::new();
        let mut info = HashMap::new();
        let mut errors = Vec::new();
        for source in sources {
            match Self::compile(&validator, source) {
                Ok(compiled) => {
                    for (policy, policy_info) in compiled {
                        let id = policy.id().clone();
                        if let Err(error) = policies.add(policy) {
                            errors.push(PolicyError::general(&source.origin, Some(id.to_string()), error.to_string()));
                        }
                        info.insert(id, policy_info);
                    }
                }
                Err(mut source_errors) => errors.append(&mut source_errors.0),
            }
        }
        if !errors.is_empty() {
            return Err(PolicyErrors(errors));
        }
        let action_uids: HashMap<Action, EntityUid> =
            Action::ALL.into_iter().map(|a| (a, uid("Strongroom::Action", a.as_str()))).collect();
        let mut reads = PolicyReads::default();
        policies.policies().for_each(|policy| reads.add(policy));
        let mut slices = HashMap::new();
        for (action, action_uid) in &action_uids {
            for kind in [PrincipalKind::User, PrincipalKind::ApiKey] {
                for resource_type in RESOURCE_TYPES {
                    let mut slice = PolicySet::new();
                    for policy in policies.policies().filter(|p| scope_admits(p, action_uid, kind, resource_type)) {
                        // Ids are unique in the whole set, so in every part of it.
                        let _ = slice.add(policy.clone());
                    }
                    slices.insert((*action, kind, resource_type), slice);
                }
            }
        }
        Ok(Self {
            info,
            slices,
            authorizer: Authorizer::new(),
            action_uids,
            reads,
            decisions: DecisionCache::default(),
        })
    }

    /// Whether a person holding only `role`, with a grant on the matter, a
    /// second factor just proven and a justification given, may do `action`
    /// under `profile` at `now_unix_seconds`: what a role allows, as listed.
    pub fn role_may(&self, role: &str, action: Action, profile: &str, now_unix_seconds: i64) -> bool {
        const PROBE: &str = "role-probe";
        let principal = PrincipalFacts {
            kind: PrincipalKind::User,
            id: PROBE.to_owned(),
            name: PROBE.to_owned(),
            roles: vec![role.to_owned()],
            scopes: Vec::new(),
            matters: vec![PROBE.to_owned()],
        };
        let resource = if action.is_data() {
            Resource::Record { id: PROBE.to_owned(), matter: PROBE.to_owned(), collection: PROBE.to_owned() }
        } else if matches!(action, Action::AccessRequest | Action::AccessApprove) {
            Resource::Matter(PROBE.to_owned())
        } else {
            Resource::Service
        };
        let mut request = RequestFacts::new(profile, now_unix_seconds);
        request.mfa_age_seconds = Some(0);
        request.justification_length = 100;
        self.decide(&principal, action, &resource, &request).allowed
    }

    /// Checks one text without loading it: the errors `new` would report for it.
    pub fn check(source: &PolicySource) -> Result<usize, PolicyErrors> {
        Self::compile(&Validator::new(schema()), source).map(|compiled| compiled.len())
    }

    fn compile(
        validator: &Validator,
        source: &PolicySource,
    ) -> Result<Vec<(cedar_policy::Policy, PolicyInfo)>, PolicyErrors> {
        let origin = source.origin.as_str();
        let text = source.text.as_str();
        crate::limits::check(text)
            .map_err(|exceeded| PolicyErrors(vec![PolicyError::at(origin, text, exceeded.offset, exceeded.message)]))?;
        let parsed = PolicySet::from_str(text).map_err(|parse| {
            PolicyErrors(parse.iter().map(|error| PolicyError::from_diagnostic(origin, text, None, error)).collect())
        })?;
        if parsed.templates().next().is_some() {
            return Err(PolicyErrors(vec![PolicyError::general(
                origin,
                None,
                "policy templates (?principal, ?resource) are not supported; write the principal or resource out",
            )]));
        }
        let result = validator.validate(&parsed, ValidationMode::Strict);
        // The validator reports a mistake once per action it applies to; one
        // report per policy and place is what an operator needs.
        let mut errors: Vec<PolicyError> = Vec::new();
        for error in result.validation_errors() {
            let error = PolicyError::from_diagnostic(origin, text, Some(error.policy_id().to_string()), error);
            let repeated = errors
                .iter()
                .any(|seen| (&seen.policy, seen.line, seen.column) == (&error.policy, error.line, error.column));
            if !repeated {
                errors.push(error);
            }
        }
        let mut seen = HashSet::new();
        let mut compiled = Vec::new();
        // Cedar numbers unannotated policies policy0, policy1, … in text order.
        for policy in parsed.policies() {
            let name = policy.annotation("id").map_or_else(|| policy.id().to_string(), str::to_owned);
            if !seen.insert(name.clone()) {
                errors.push(PolicyError::general(origin, Some(name.clone()), "two policies share this @id"));
                continue;
            }
            let id = format!("{origin}/{name}");
            let effect = match policy.effect() {
                cedar_policy::Effect::Permit => Effect::Permit,
                cedar_policy::Effect::Forbid => Effect::Forbid,
            };
            let description = policy.annotation("description").map(str::to_owned);
            compiled.push((policy.new_id(PolicyId::new(&id)), PolicyInfo { id, effect, description }));
        }
        if errors.is_empty() { Ok(compiled) } else { Err(PolicyErrors(errors)) }
    }

    /// Every loaded policy, sorted by id.
    pub fn policies(&self) -> Vec<PolicyInfo> {
        let mut all: Vec<PolicyInfo> = self.info.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// May `principal` do `action` on `resource`, given `request`? Never
    /// fails: anything that cannot be expressed is a denial with an error.
    pub fn decide(
        &self,
        principal: &PrincipalFacts,
        action: Action,
        resource: &Resource,
        request: &RequestFacts,
    ) -> Decision {
        let Some(policies) = self.slices.get(&(action, principal.kind, resource_type(resource))) else {
            return Decision {
                allowed: false,
                reasons: Vec::new(),
                errors: vec!["no policies for this request".into()],
            };
        };
        let inputs = self.inputs(principal, action, resource, request);
        if let Some(decision) = self.decisions.get(&inputs) {
            return decision;
        }
        let decision = match self.request(&inputs) {
            Ok((cedar_request, entities)) => {
                let response = self.authorizer.is_authorized(&cedar_request, policies, &entities);
                let allowed = response.decision() == cedar_policy::Decision::Allow;
                let mut reasons: Vec<Reason> = response
                    .diagnostics()
                    .reason()
                    .map(|id| match self.info.get(id) {
                        Some(info) => Reason {
                            policy: info.id.clone(),
                            effect: info.effect,
                            description: info.description.clone(),
                        },
                        None => Reason { policy: id.to_string(), effect: Effect::Permit, description: None },
                    })
                    .collect();
                reasons.sort_by(|a, b| a.policy.cmp(&b.policy));
                let errors = response.diagnostics().errors().map(ToString::to_string).collect();
                Decision { allowed, reasons, errors }
            }
            Err(error) => Decision { allowed: false, reasons: Vec::new(), errors: vec![error] },
        };
        self.decisions.insert(inputs, &decision);
        decision
    }

    /// What the Cedar request will be built from: only what the loaded
    /// policies can read, as plain values (the decision cache's key).
    fn inputs(
        &self,
        principal: &PrincipalFacts,
        action: Action,
        resource: &Resource,
        request: &RequestFacts,
    ) -> DecisionInputs {
        let sorted = |mut items: Vec<String>| {
            items.sort_unstable();
            items.dedup();
            items
        };
        // Roles with the roles they include, so that no role entities (and
        // no transitive closure over them) are needed per request.
        let roles =
            sorted(principal.roles.iter().flat_map(|role| role_and_included(role)).map(str::to_owned).collect());
        let matters = sorted(
            principal
                .matters
                .iter()
                .filter(|matter| resource.matter() == Some(matter.as_str()) || self.reads.matters.contains(*matter))
                .cloned()
                .collect(),
        );
        let (_, _, _, hour, _, _, weekday) = civil_time(request.now_unix_seconds);
        DecisionInputs {
            action,
            kind: principal.kind,
            principal_id: principal.id.clone(),
            principal_name: principal.name.clone(),
            roles,
            scopes: sorted(principal.scopes.clone()),
            matters,
            resource: resource.clone(),
            context: ContextInputs {
                profile: request.profile.clone(),
                hour,
                weekday,
                now_unix_seconds: self.reads.now.then_some(request.now_unix_seconds),
                ip: request.ip.filter(|_| self.reads.ip),
                mfa_age_seconds: request.mfa_age_seconds,
                mfa_max_age_seconds: request.mfa_max_age_seconds,
                justification_length: request.justification_length,
                purpose: request.purpose.clone(),
                elevated: request.elevated,
            },
        }
    }

    /// The Cedar request and entities, built from `inputs` alone.
    fn request(&self, inputs: &DecisionInputs) -> Result<(Request, Entities), String> {
        let principal_uid = uid(inputs.kind.entity_type(), &inputs.principal_id);
        let parents: HashSet<EntityUid> = inputs
            .roles
            .iter()
            .map(|role| uid("Strongroom::Role", role))
            .chain(inputs.scopes.iter().map(|scope| uid("Strongroom::Scope", scope)))
            .chain(inputs.matters.iter().map(|matter| uid("Strongroom::Matter", matter)))
            .collect();
        let principal_entity = Entity::new(
            principal_uid.clone(),
            HashMap::from([("name".to_owned(), string(&inputs.principal_name))]),
            parents,
        )
        .map_err(|e| e.to_string())?;
        let (resource_uid, resource_entities) = resource_entities(&inputs.resource)?;
        let mut entities = vec![principal_entity];
        // A user managing their own account is principal and resource at once.
        entities.extend(resource_entities.into_iter().filter(|entity| entity.uid() != principal_uid));
        let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;
        let action_uid = self.action_uids.get(&inputs.action).cloned().ok_or("unknown action")?;
        let context = context(inputs.kind, &inputs.context)?;
        let cedar_request =
            Request::new(principal_uid, action_uid, resource_uid, context, None).map_err(|e| e.to_string())?;
        Ok((cedar_request, entities))
    }
}

fn resource_entities(resource: &Resource) -> Result<(EntityUid, Vec<Entity>), String> {
    let matter_entity = |id: &str| {
        let matter = uid("Strongroom::Matter", id);
        Entity::new(
            matter.clone(),
            HashMap::from([("matter".to_owned(), RestrictedExpression::new_entity_uid(matter))]),
            HashSet::new(),
        )
        .map_err(|e| e.to_string())
    };
    Ok(match resource {
        Resource::Service => {
            let service = uid("Strongroom::Service", "strongroom");
            (service.clone(), vec![Entity::new_no_attrs(service, HashSet::new())])
        }
        Resource::Key(name) => {
            let key = uid("Strongroom::Key", name);
            (key.clone(), vec![Entity::new_no_attrs(key, HashSet::new())])
        }
        Resource::User { id, name } => {
            let user = uid("Strongroom::User", id);
            let attrs = HashMap::from([("name".to_owned(), string(name))]);
            (user.clone(), vec![Entity::new(user, attrs, HashSet::new()).map_err(|e| e.to_string())?])
        }
        Resource::Matter(id) => (uid("Strongroom::Matter", id), vec![matter_entity(id)?]),
        Resource::Record { id, matter, collection } => {
            let record = uid("Strongroom::Record", id);
            let matter_uid = uid("Strongroom::Matter", matter);
            let attrs = HashMap::from([
                ("matter".to_owned(), RestrictedExpression::new_entity_uid(matter_uid.clone())),
                ("collection".to_owned(), string(collection)),
            ]);
            let entity = Entity::new(record.clone(), attrs, HashSet::from([matter_uid])).map_err(|e| e.to_string())?;
            (record, vec![entity, matter_entity(matter)?])
        }
    })
}

/// `role` and every role it includes (admin: admin, analyst, reader).
fn role_and_included(role: &str) -> Vec<&str> {
    let mut chain = Vec::new();
    let mut next = ROLE_HIERARCHY.iter().find(|(name, _)| *name == role).map(|(name, _)| *name);
    if next.is_none() {
        chain.push(role);
    }
    while let Some(current) = next {
        chain.push(current);
        next = ROLE_HIERARCHY.iter().find(|(name, _)| *name == current).and_then(|(_, parent)| *parent);
    }
    chain
}

fn resource_type(resource: &Resource) -> &'static str {
    match resource {
        Resource::Service => RESOURCE_TYPES[0],
        Resource::Matter(_) => RESOURCE_TYPES[1],
        Resource::Record { .. } => RESOURCE_TYPES[2],
        Resource::Key(_) => RESOURCE_TYPES[3],
        Resource::User { .. } => RESOURCE_TYPES[4],
    }
}

fn context(kind: PrincipalKind, inputs: &ContextInputs) -> Result<Context, String> {
    let authentication = match kind {
        PrincipalKind::User => "session",
        PrincipalKind::ApiKey => "api_key",
    };
    let mut pairs = vec![
        ("profile".to_owned(), string(&inputs.profile)),
        ("authentication".to_owned(), string(authentication)),
        ("hour".to_owned(), RestrictedExpression::new_long(inputs.hour)),
        ("weekday".to_owned(), RestrictedExpression::new_long(inputs.weekday)),
        ("mfa_max_age_seconds".to_owned(), RestrictedExpression::new_long(inputs.mfa_max_age_seconds)),
        ("justification_length".to_owned(), RestrictedExpression::new_long(inputs.justification_length)),
        ("elevated".to_owned(), RestrictedExpression::new_bool(inputs.elevated)),
    ];
    if let Some(now) = inputs.now_unix_seconds {
        let (year, month, day, hour, minute, second, _) = civil_time(now);
        let now = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
        pairs.push(("now".to_owned(), RestrictedExpression::new_datetime(now)));
    }
    if let Some(ip) = inputs.ip {
        pairs.push(("ip".to_owned(), RestrictedExpression::new_ip(ip.to_string())));
    }
    if let Some(age) = inputs.mfa_age_seconds {
        pairs.push(("mfa_age_seconds".to_owned(), RestrictedExpression::new_long(age)));
    }
    if let Some(purpose) = &inputs.purpose {
        pairs.push(("purpose".to_owned(), string(purpose)));
    }
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

mod invariants;
mod memo;
pub use invariants::{INVARIANTS, Invariant, InvariantBreak, MAX_CASES};
#[cfg(test)]
mod tests;
