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
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};

use crate::diagnostics::{PolicyError, PolicyErrors};
use crate::vocabulary::{Action, PrincipalFacts, ROLE_HIERARCHY, RequestFacts, Resource, civil_time};
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

/// The compiled policies and what it takes to decide with them. Cheap to
/// share (`Arc`); replaced whole when policies change.
pub struct PolicyEngine {
    policies: PolicySet,
    info: HashMap<PolicyId, PolicyInfo>,
    authorizer: Authorizer,
    role_entities: Vec<Entity>,
    action_uids: HashMap<Action, EntityUid>,
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
        let role_entities = ROLE_HIERARCHY
            .iter()
            .map(|(role, parent)| {
                let parents = parent.iter().map(|p| uid("Strongroom::Role", p)).collect();
                Entity::new_no_attrs(uid("Strongroom::Role", role), parents)
            })
            .collect();
        let action_uids = Action::ALL.into_iter().map(|a| (a, uid("Strongroom::Action", a.as_str()))).collect();
        Ok(Self { policies, info, authorizer: Authorizer::new(), role_entities, action_uids })
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
        let parsed = PolicySet::from_str(text).map_err(|parse| {
            PolicyErrors(
                parse.iter().map(|error| PolicyError::from_diagnostic(origin, text, None, error)).collect(),
            )
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
            let repeated = errors.iter().any(|seen| {
                (&seen.policy, seen.line, seen.column) == (&error.policy, error.line, error.column)
            });
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
        match self.request(principal, action, resource, request) {
            Ok((cedar_request, entities)) => {
                let response = self.authorizer.is_authorized(&cedar_request, &self.policies, &entities);
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
        }
    }

    fn request(
        &self,
        principal: &PrincipalFacts,
        action: Action,
        resource: &Resource,
        request: &RequestFacts,
    ) -> Result<(Request, Entities), String> {
        let principal_uid = uid(principal.kind.entity_type(), &principal.id);
        let parents: HashSet<EntityUid> = principal
            .roles
            .iter()
            .map(|role| uid("Strongroom::Role", role))
            .chain(principal.scopes.iter().map(|scope| uid("Strongroom::Scope", scope)))
            .chain(principal.matters.iter().map(|matter| uid("Strongroom::Matter", matter)))
            .collect();
        let principal_entity = Entity::new(
            principal_uid.clone(),
            HashMap::from([("name".to_owned(), string(&principal.name))]),
            parents,
        )
        .map_err(|e| e.to_string())?;
        let (resource_uid, resource_entities) = resource_entities(resource)?;
        let mut entities = self.role_entities.clone();
        entities.push(principal_entity);
        // A user managing their own account is principal and resource at once.
        entities.extend(resource_entities.into_iter().filter(|entity| entity.uid() != principal_uid));
        let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;
        let action_uid = self.action_uids.get(&action).cloned().ok_or("unknown action")?;
        let context = context(principal, request)?;
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

fn context(principal: &PrincipalFacts, request: &RequestFacts) -> Result<Context, String> {
    let (year, month, day, hour, minute, second, weekday) = civil_time(request.now_unix_seconds);
    let now = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
    let authentication = match principal.kind {
        crate::PrincipalKind::User => "session",
        crate::PrincipalKind::ApiKey => "api_key",
    };
    let mut pairs = vec![
        ("profile".to_owned(), string(&request.profile)),
        ("authentication".to_owned(), string(authentication)),
        ("now".to_owned(), RestrictedExpression::new_datetime(now)),
        ("hour".to_owned(), RestrictedExpression::new_long(hour)),
        ("weekday".to_owned(), RestrictedExpression::new_long(weekday)),
        ("mfa_max_age_seconds".to_owned(), RestrictedExpression::new_long(request.mfa_max_age_seconds)),
        ("justification_length".to_owned(), RestrictedExpression::new_long(request.justification_length)),
        ("elevated".to_owned(), RestrictedExpression::new_bool(request.elevated)),
    ];
    if let Some(ip) = request.ip {
        pairs.push(("ip".to_owned(), RestrictedExpression::new_ip(ip.to_string())));
    }
    if let Some(age) = request.mfa_age_seconds {
        pairs.push(("mfa_age_seconds".to_owned(), RestrictedExpression::new_long(age)));
    }
    if let Some(purpose) = &request.purpose {
        pairs.push(("purpose".to_owned(), string(purpose)));
    }
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
