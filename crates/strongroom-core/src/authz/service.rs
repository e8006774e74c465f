//! The one decision point, and what feeds it: matters and their grants,
//! access requests, and the policy engine with the operators' policies.
//!
//! Every route asks [`Authz::authorize`]. It turns the principal (with the
//! grants and live elevations loaded together with it, so deciding needs no
//! query) and the request into facts, asks the Cedar engine, and on a denial
//! audits `permission.denied` before refusing. A data action on a matter the
//! principal holds nothing on is answered as "not found", so record ids of
//! other matters reveal nothing.

use std::sync::{Arc, RwLock};

use strongroom_policy::{
    Action, Decision, PolicyEngine, PolicyError, PolicyErrors, PolicyInfo, PolicySource, PrincipalFacts, PrincipalKind,
    RequestFacts, Resource, RoleDefinition, role_policies,
};

use super::model::{AuthzStore, PolicyDocument, RoleCatalogue};
use crate::audit::{AuditContext, AuditEvent, AuditLog, EventType, Outcome, Target};
use crate::error::{Denial, DenialKind};
use crate::freshness::Freshness;
use crate::identity::IdentityStore;
use crate::principal::{Elevation, Subject};
use crate::{ApiKeyStore, Clock, CoreError};

/// The fewest characters of a justification.
pub const MIN_JUSTIFICATION: usize = 20;

/// The longest an access request may last, minutes (a working day).
pub const MAX_ELEVATION_MINUTES: i64 = 8 * 60;

/// The largest policy document the API accepts, bytes.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// How authorization behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzSettings {
    /// The security profile (policies test it).
    pub profile: String,
    /// How fresh a second factor must be for a person's decrypt under
    /// production and high_security, seconds.
    pub decrypt_mfa_max_age_seconds: i64,
    /// Purpose codes a decrypt or export may give; empty: none is asked.
    pub purposes: Vec<String>,
    /// Policies from the configured directory, loaded at start.
    pub policy_files: Vec<PolicySource>,
    /// Roles defined in the configuration file (read-only through the API).
    pub roles: Vec<RoleDefinition>,
    /// What a policy set that breaks an invariant
    /// ([`strongroom_policy::INVARIANTS`]) meets.
    pub policy_invariants: PolicyInvariants,
}

/// What happens to a policy set that breaks an authorization invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyInvariants {
    /// Refused as an invalid policy: the API document is not stored, and
    /// policy files or a stored document that break one stop the start.
    #[default]
    Refuse,
    /// Loaded, with a warning in the log and in the policies' overview.
    Warn,
}

impl Default for AuthzSettings {
    fn default() -> Self {
        Self {
            profile: "development".into(),
            decrypt_mfa_max_age_seconds: 300,
            purposes: Vec::new(),
            policy_files: Vec::new(),
            roles: Vec::new(),
            policy_invariants: PolicyInvariants::Refuse,
        }
    }
}

/// What the caller gave with the request, beyond the action and resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// Why (decrypt, export, grants, …).
    pub justification: Option<&'a str>,
    /// A purpose code (decrypt, export).
    pub purpose: Option<&'a str>,
}

/// A new matter.
#[derive(Debug, Clone, Default)]
pub struct NewMatter {
    /// Its id; generated when absent.
    pub id: Option<String>,
    /// A label for people.
    pub name: String,
}

/// A new access request.
#[derive(Debug, Clone)]
pub struct NewAccessRequest {
    /// What to do.
    pub action: Action,
    /// Where.
    pub matter_id: String,
    /// One record, or the whole matter.
    pub record_id: Option<String>,
    /// How long, once approved.
    pub duration_minutes: i64,
    /// Why.
    pub justification: String,
    /// A purpose code.
    pub purpose: Option<String>,
}

/// The policies in force and where each text comes from.
#[derive(Debug, Clone)]
pub struct PolicyOverview {
    /// The Cedar schema.
    pub schema: &'static str,
    /// The built-in rules.
    pub default_text: &'static str,
    /// Texts from the policy directory.
    pub files: Vec<PolicySource>,
    /// The API-managed document, if any.
    pub document: Option<PolicyDocument>,
    /// Every loaded policy.
    pub loaded: Vec<PolicyInfo>,
    /// Invariants the loaded policies break (only ever loaded so under
    /// [`PolicyInvariants::Warn`]).
    pub warnings: Vec<String>,
}

/// Who can do an action on a matter, and why.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The principal.
    pub facts: PrincipalFacts,
    /// The decision under the assumptions of [`Authz::who_can`].
    pub decision: Decision,
    /// The access request that elevates it, if that is why.
    pub elevation: Option<String>,
}

pub(super) struct LoadedPolicies {
    pub(super) engine: Arc<PolicyEngine>,
    pub(super) document_version: i64,
    /// The role catalogue the engine was built with (version 0: none).
    pub(super) catalogue: RoleCatalogue,
    /// The invariants `engine`'s policies break, as warnings.
    pub(super) warnings: Vec<String>,
}

/// Authorization: decisions, matters, grants, access requests, policies.
pub struct Authz {
    pub(super) store: Arc<dyn AuthzStore>,
    pub(super) identities: Arc<dyn IdentityStore>,
    pub(super) api_keys: Arc<dyn ApiKeyStore>,
    pub(super) audit: Arc<AuditLog>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: AuthzSettings,
    pub(super) policies: RwLock<LoadedPolicies>,
    /// Dropped after every grant or access decision made here: the API keys
    /// cache principals with their grants (`crate::freshness`).
    pub(super) freshness: Arc<Freshness>,
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authz").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Checks an id of a matter or record: 1-64 of `a-z 0-9 . _ -`, starting
/// with a letter or digit. They are joined with spaces in queries, shown in
/// URLs and name the matter's key (`matter.<id>`), so nothing else.
pub fn check_id(field: &str, id: &str) -> Result<(), CoreError> {
    let mut chars = id.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(CoreError::InvalidInput(format!(
            "{field}: use 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        )))
    }
}

pub(super) fn check_justification(text: Option<&str>) -> Result<&str, CoreError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.chars().count() < MIN_JUSTIFICATION {
        return Err(CoreError::InvalidInput(format!(
            "justification: at least {MIN_JUSTIFICATION} characters saying why (this access is recorded permanently)"
        )));
    }
    if text.chars().count() > 1000 {
        return Err(CoreError::InvalidInput("justification: at most 1000 characters".into()));
    }
    Ok(text)
}

pub(super) fn matter_target(matter: &str) -> Target {
    Target { matter: Some(matter.to_owned()), ..Target::new("matter", matter) }
}

pub(super) fn resource_target(resource: &Resource) -> Target {
    match resource {
        Resource::Service => Target::new("service", "strongroom"),
        Resource::Matter(id) => matter_target(id),
        Resource::Record { id, matter, collection } => Target {
            kind: "record".into(),
            id: Some(id.clone()),
            collection: Some(collection.clone()),
            matter: Some(matter.clone()),
        },
        Resource::Key(name) => Target::new("key", name.clone()),
        Resource::User { id, .. } => Target::new("user", id.clone()),
    }
}

/// The answer for something that does not exist, or that the caller may not
/// know exists: one text for both.
pub fn not_found(resource: &Resource) -> CoreError {
    CoreError::NotFound(match resource {
        Resource::Matter(id) => format!("no matter {id:?}"),
        Resource::Record { id, collection, .. } => format!("no record {id:?} in {collection:?}"),
        other => format!("no {}", other.describe()),
    })
}

impl Authz {
    /// Loads the policies (default set, files, the stored document) and
    /// starts. Broken policies are a start-up error naming file and line.
    pub async fn start(
        store: Arc<dyn AuthzStore>,
        identities: Arc<dyn IdentityStore>,
        api_keys: Arc<dyn ApiKeyStore>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        settings: AuthzSettings,
    ) -> Result<Self, CoreError> {
        let document = store.policy_document().await?;
        let catalogue = store.role_catalogue().await?.unwrap_or_else(RoleCatalogue::empty);
        if let Some(role) = catalogue.roles.iter().find(|role| settings.roles.iter().any(|c| c.name == role.name)) {
            return Err(CoreError::InvalidInput(format!(
                "role {:?} is defined both in the configuration file and through the API: remove one",
                role.name
            )));
        }
        let (engine, warnings) =
            Self::build(&settings, document.as_ref(), &catalogue).map_err(CoreError::InvalidPolicy)?;
        let loaded =
            LoadedPolicies { engine, document_version: document.map_or(0, |d| d.version), catalogue, warnings };
        let freshness = Arc::new(Freshness::off());
        Ok(Self { store, identities, api_keys, audit, clock, settings, policies: RwLock::new(loaded), freshness })
    }

    /// Tells `freshness` of every grant and access decision made here.
    #[must_use]
    pub fn with_freshness(mut self, freshness: Arc<Freshness>) -> Self {
        self.freshness = freshness;
        self
    }

    /// The engine for the default set, the files and `document`, with the
    /// invariants it breaks as warnings; refused when it breaks one under
    /// [`PolicyInvariants::Refuse`].
    pub(super) fn build(
        settings: &AuthzSettings,
        document: Option<&PolicyDocument>,
        catalogue: &RoleCatalogue,
    ) -> Result<(Arc<PolicyEngine>, Vec<String>), PolicyErrors> {
        let roles: Vec<RoleDefinition> = settings.roles.iter().chain(&catalogue.roles).cloned().collect();
        let mut sources = vec![PolicySource::default_set(), role_policies(&roles)];
        sources.extend(settings.policy_files.iter().cloned());
        if let Some(document) = document {
            sources.push(PolicySource { origin: "api".into(), text: document.text.clone() });
        }
        let engine = PolicyEngine::new(&sources)?;
        let breaks = engine.invariant_breaks();
        if breaks.is_empty() {
            return Ok((Arc::new(engine), Vec::new()));
        }
        match settings.policy_invariants {
            PolicyInvariants::Refuse => Err(PolicyErrors(
                breaks
                    .iter()
                    .map(|broken| {
                        // The policy that allowed it names the text to fix.
                        let policy = broken.policies.first().cloned();
                        let origin = policy
                            .as_deref()
                            .and_then(|id| id.rsplit_once('/'))
                            .map_or("policies", |(origin, _)| origin);
                        PolicyError {
                            origin: origin.to_owned(),
                            line: None,
                            column: None,
                            policy,
                            message: format!("{broken} (authz.policy_invariants = \"refuse\")"),
                        }
                    })
                    .collect(),
            )),
            PolicyInvariants::Warn => {
                let warnings: Vec<String> = breaks.iter().map(ToString::to_string).collect();
                for warning in &warnings {
                    tracing::warn!(%warning, "the policies in force break an authorization invariant");
                }
                Ok((Arc::new(engine), warnings))
            }
        }
    }

    pub(super) fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    /// The settings in force.
    pub fn settings(&self) -> &AuthzSettings {
        &self.settings
    }

    pub(super) fn engine(&self) -> Arc<PolicyEngine> {
        Arc::clone(&self.policies.read().unwrap_or_else(|p| p.into_inner()).engine)
    }

    /// The facts of a request by `subject` at `now`.
    pub(super) fn request_facts<'s>(
        &self,
        subject: &'s Subject,
        action: Action,
        resource: &Resource,
        ask: &Ask<'_>,
        context: &AuditContext,
        now: i64,
    ) -> (RequestFacts, Option<&'s Elevation>) {
        let elevation = subject.elevations.iter().find(|e| e.covers(action, resource, now));
        let facts = RequestFacts {
            profile: self.settings.profile.clone(),
            now_unix_seconds: now,
            ip: context.ip,
            mfa_age_seconds: subject.mfa_at.map(|at| (now - at).max(0)),
            mfa_max_age_seconds: self.settings.decrypt_mfa_max_age_seconds,
            justification_length: ask
                .justification
                .map_or(0, |j| i64::try_from(j.trim().chars().count()).unwrap_or(i64::MAX)),
            purpose: ask.purpose.map(str::to_owned),
            elevated: elevation.is_some(),
        };
        (facts, elevation)
    }

    /// Checks what a reveal must carry: a justification of at least 20
    /// characters and, when purposes are configured, one of them.
    pub fn check_reveal(&self, ask: &Ask<'_>) -> Result<(), CoreError> {
        check_justification(ask.justification)?;
        if !self.settings.purposes.is_empty() {
            match ask.purpose {
                Some(purpose) if self.settings.purposes.iter().any(|p| p == purpose) => {}
                _ => {
                    return Err(CoreError::InvalidInput(format!(
                        "purpose: give one of {}",
                        self.settings.purposes.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// Decides without auditing or refusing (explanations, views).
    pub fn decide(
        &self,
        subject: &Subject,
        action: Action,
        resource: &Resource,
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> Decision {
        subject.trail.note(action);
        let (facts, _) = self.request_facts(subject, action, resource, ask, context, self.now());
        self.engine().decide(&subject.facts, action, resource, &facts)
    }

    /// May `subject` do `action` on `resource`? Allowed: the decision.
    /// Denied: audited as `permission.denied`, then refused with 403 (naming
    /// the deciding policies), or with "not found" when the action touches
    /// data of a matter the subject holds nothing on.
    pub async fn authorize(
        &self,
        subject: &Subject,
        action: Action,
        resource: &Resource,
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> Result<Decision, CoreError> {
        subject.trail.note(action);
        if action.is_reveal() {
            self.check_reveal(ask)?;
        }
        let now = self.now();
        let (facts, _) = self.request_facts(subject, action, resource, ask, context, now);
        let decision = self.engine().decide(&subject.facts, action, resource, &facts);
        if decision.allowed {
            return Ok(decision);
        }
        let hidden = action.is_data()
            && resource
                .matter()
                .is_some_and(|matter| !subject.holds_grant_on(matter) && !subject.elevated_on(matter, now));
        let policies: Vec<String> = decision.reasons.iter().map(|r| r.policy.clone()).collect();
        let reason = if hidden { "no_grant" } else { "policy" };
        self.audit.record(&denial_event(&self.audit, action, resource, &policies, ask, context, reason)).await?;
        if hidden {
            return Err(not_found(resource));
        }
        Err(CoreError::Denied(denial(subject, action, resource, &decision, policies, &self.settings)))
    }

    /// Refuses `action` on `resource`, which does not exist, with the same
    /// work as refusing it on one that exists in a matter the caller holds
    /// nothing on: the same decision, an audited denial (reason
    /// `not_found`), the same "not found". Otherwise the missing audit
    /// append makes a missing id answer measurably sooner, and timing tells
    /// which ids exist in others' matters.
    pub async fn refuse_missing(
        &self,
        subject: &Subject,
        action: Action,
        resource: &Resource,
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> CoreError {
        if action.is_reveal()
            && let Err(error) = self.check_reveal(ask)
        {
            subject.trail.note(action);
            return error;
        }
        let decision = self.decide(subject, action, resource, ask, context);
        let policies: Vec<String> = decision.reasons.iter().map(|r| r.policy.clone()).collect();
        let event = denial_event(&self.audit, action, resource, &policies, ask, context, "not_found");
        if let Err(error) = self.audit.record(&event).await {
            return error;
        }
        not_found(resource)
    }

    /// Refuses, after auditing, an action the rules of a route forbid
    /// outside the policy engine (approving one's own request, a key
    /// granting a scope it lacks).
    pub(crate) async fn refuse(
        &self,
        kind: DenialKind,
        action: Action,
        resource: &Resource,
        detail: String,
        context: &AuditContext,
    ) -> CoreError {
        let event = self
            .audit
            .event(EventType::PermissionDenied, context)
            .target(resource_target(resource))
            .detail("action", action.as_str())
            .failed(Outcome::Denied, kind.as_str());
        if let Err(error) = self.audit.record(&event).await {
            return error;
        }
        CoreError::Denied(Denial { kind, detail, policies: Vec::new() })
    }
}

/// What an explanation assumes about the request.
#[derive(Debug, Clone, Default)]
pub struct ExplainFacts {
    /// The time; now when absent.
    pub now_unix_seconds: Option<i64>,
    /// The client address.
    pub ip: Option<std::net::IpAddr>,
    /// Seconds since the last second factor.
    pub mfa_age_seconds: Option<i64>,
    /// Characters of justification.
    pub justification_length: i64,
    /// A purpose code.
    pub purpose: Option<String>,
}

/// The `permission.denied` event of `action` on `resource`, with the
/// policies that decided, the justification given and `reason`.
pub(super) fn denial_event(
    audit: &AuditLog,
    action: Action,
    resource: &Resource,
    policies: &[String],
    ask: &Ask<'_>,
    context: &AuditContext,
    reason: &str,
) -> AuditEvent {
    let mut event = audit
        .event(EventType::PermissionDenied, context)
        .target(resource_target(resource))
        .detail("action", action.as_str())
        .detail("policies", policies.to_vec());
    if let Some(justification) = ask.justification.filter(|j| !j.trim().is_empty()) {
        event = event.justification(justification.trim());
    }
    event.failed(Outcome::Denied, reason)
}

pub(super) fn denial(
    subject: &Subject,
    action: Action,
    resource: &Resource,
    decision: &Decision,
    policies: Vec<String>,
    settings: &AuthzSettings,
) -> Denial {
    let who = match subject.facts.kind {
        PrincipalKind::User => "this user",
        PrincipalKind::ApiKey => "this API key",
    };
    let target = resource.describe();
    if decision.decided_by("default/reveal.recent_mfa") {
        return Denial {
            kind: DenialKind::MfaRequired,
            detail: format!(
                "{action} needs a second factor proven in the last {} s",
                settings.decrypt_mfa_max_age_seconds
            ),
            policies,
        };
    }
    if decision.decided_by("default/reveal.two_person") {
        return Denial {
            kind: DenialKind::AccessRequestRequired,
            detail: format!(
                "under the {} profile every {action} needs an access request approved by someone else",
                settings.profile
            ),
            policies,
        };
    }
    let detail = if policies.is_empty() {
        format!("{who} may not {action} on {target}: no policy permits it")
    } else {
        format!("{who} may not {action} on {target}: forbidden by {}", policies.join(", "))
    };
    Denial { kind: DenialKind::Forbidden, detail, policies }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn ids_are_plain() {
        for good in ["m1", "case-2024.001", "a_b"] {
            assert!(check_id("id", good).is_ok(), "{good}");
        }
        for bad in ["", "-m", "a b", "a/b", "ü", "Case-1", &"x".repeat(65), "a\nb"] {
            assert!(check_id("id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    pub(super) fn an_elevation_covers_its_action_place_and_time_only() {
        let record = |id: &str| Resource::Record { id: id.into(), matter: "m1".into(), collection: "c".into() };
        let elevation = Elevation {
            request_id: "ar_1".into(),
            action: Action::RecordDecrypt,
            matter_id: "m1".into(),
            record_id: Some("r1".into()),
            expires_at: 1000,
        };
        assert!(elevation.covers(Action::RecordDecrypt, &record("r1"), 999));
        assert!(elevation.covers(Action::RecordRead, &record("r1"), 999), "decrypting includes seeing");
        assert!(!elevation.covers(Action::RecordDecrypt, &record("r1"), 1000), "expired at its time");
        assert!(!elevation.covers(Action::RecordDecrypt, &record("r2"), 10), "another record");
        assert!(!elevation.covers(Action::RecordDecrypt, &Resource::Matter("m1".into()), 10), "the whole matter");
        assert!(!elevation.covers(Action::RecordWrite, &record("r1"), 10));
        let matter_wide = Elevation { record_id: None, action: Action::RecordRead, ..elevation };
        assert!(matter_wide.covers(Action::RecordRead, &record("r9"), 10));
        assert!(!matter_wide.covers(Action::RecordReadRedacted, &record("r9"), 10));
    }
}
