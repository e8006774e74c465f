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
    RequestFacts, Resource,
};

use super::model::{
    AccessRequestRecord, AccessStatus, AuthzStore, Elevation, GrantRecord, MatterRecord, PolicyDocument,
};
use crate::audit::{AuditContext, AuditEvent, AuditLog, EventType, Outcome, Target};
use crate::freshness::Freshness;
use crate::identity::IdentityStore;
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
            policy_invariants: PolicyInvariants::Refuse,
        }
    }
}

/// A principal as decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Roles, scopes, standing grants.
    pub facts: PrincipalFacts,
    /// Live approved access requests, as loaded with the principal.
    pub elevations: Vec<Elevation>,
    /// Unix seconds of the session's last second factor.
    pub mfa_at: Option<i64>,
    /// The session a person acts in (API keys have none): what their own
    /// logout, step-up and second-factor changes act on.
    pub session: Option<String>,
    /// Where the decisions asked for this subject are noted (per request).
    pub trail: DecisionTrail,
}

/// The actions decided for one request, so the router can refuse to send an
/// answer its handler produced without asking the authorizer. Empty (not
/// recording) outside requests.
#[derive(Clone, Default)]
pub struct DecisionTrail(Option<Arc<std::sync::Mutex<Vec<Action>>>>);

impl DecisionTrail {
    /// A trail that records.
    pub fn recording() -> Self {
        Self(Some(Arc::default()))
    }

    fn note(&self, action: Action) {
        if let Some(actions) = &self.0 {
            actions.lock().unwrap_or_else(|p| p.into_inner()).push(action);
        }
    }

    /// The actions decided so far.
    pub fn decided(&self) -> Vec<Action> {
        self.0.as_ref().map(|a| a.lock().unwrap_or_else(|p| p.into_inner()).clone()).unwrap_or_default()
    }
}

impl std::fmt::Debug for DecisionTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecisionTrail({:?})", self.decided())
    }
}

/// Trails are bookkeeping, not part of who a subject is.
impl PartialEq for DecisionTrail {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DecisionTrail {}

impl Subject {
    /// `user:<id>` or `api_key:<id>`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.facts.kind.as_str(), self.facts.id)
    }

    fn holds_grant_on(&self, matter: &str) -> bool {
        self.facts.matters.iter().any(|m| m == matter)
    }

    fn elevated_on(&self, matter: &str, now: i64) -> bool {
        self.elevations.iter().any(|e| e.matter_id == matter && now < e.expires_at)
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

struct LoadedPolicies {
    engine: Arc<PolicyEngine>,
    document_version: i64,
    /// The invariants `engine`'s policies break, as warnings.
    warnings: Vec<String>,
}

/// Authorization: decisions, matters, grants, access requests, policies.
pub struct Authz {
    store: Arc<dyn AuthzStore>,
    identities: Arc<dyn IdentityStore>,
    api_keys: Arc<dyn ApiKeyStore>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    settings: AuthzSettings,
    policies: RwLock<LoadedPolicies>,
    /// Dropped after every grant or access decision made here: the API keys
    /// cache principals with their grants (`crate::freshness`).
    freshness: Arc<Freshness>,
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

fn check_justification(text: Option<&str>) -> Result<&str, CoreError> {
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

/// `prefix` and 24 random hex digits: ids of matters, access requests, jobs.
pub(crate) fn random_id(prefix: &str) -> Result<String, CoreError> {
    let bytes = strongroom_crypto::random_bytes::<12>()?;
    Ok(format!("{prefix}{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn matter_target(matter: &str) -> Target {
    Target { matter: Some(matter.to_owned()), ..Target::new("matter", matter) }
}

fn resource_target(resource: &Resource) -> Target {
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
        let (engine, warnings) = Self::build(&settings, document.as_ref()).map_err(CoreError::InvalidPolicy)?;
        let loaded = LoadedPolicies { engine, document_version: document.map_or(0, |d| d.version), warnings };
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
    fn build(
        settings: &AuthzSettings,
        document: Option<&PolicyDocument>,
    ) -> Result<(Arc<PolicyEngine>, Vec<String>), PolicyErrors> {
        let mut sources = vec![PolicySource::default_set()];
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

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    /// The settings in force.
    pub fn settings(&self) -> &AuthzSettings {
        &self.settings
    }

    fn engine(&self) -> Arc<PolicyEngine> {
        Arc::clone(&self.policies.read().unwrap_or_else(|p| p.into_inner()).engine)
    }

    /// The facts of a request by `subject` at `now`.
    fn request_facts<'s>(
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

    // ---- Matters and grants ------------------------------------------------

    /// Creates a matter; its creator holds a grant on it.
    pub async fn create_matter(
        &self,
        subject: &Subject,
        new: NewMatter,
        context: &AuditContext,
    ) -> Result<MatterRecord, CoreError> {
        self.authorize(subject, Action::MatterManage, &Resource::Service, &Ask::default(), context).await?;
        let id = match new.id {
            Some(id) => id,
            None => random_id("m_")?,
        };
        check_id("id", &id)?;
        if crate::records::is_rekeyed_name(&id) {
            return Err(CoreError::InvalidInput(format!(
                "id {id:?}: ids ending in .r and digits are reserved (they name the keys that replace compromised ones)"
            )));
        }
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(CoreError::InvalidInput("name: 1-200 characters, no control characters".into()));
        }
        let now = self.now();
        let matter =
            MatterRecord { id: id.clone(), name: name.to_owned(), created_at: now, created_by: subject.reference() };
        let grant = GrantRecord {
            matter_id: id.clone(),
            principal_kind: subject.facts.kind,
            principal_id: subject.facts.id.clone(),
            granted_by: subject.reference(),
            justification: "the creator of a matter holds a grant on it".into(),
            created_at: now,
        };
        let created =
            self.audit.event(EventType::MatterCreate, context).target(matter_target(&id)).detail("name", name);
        let granted = self
            .audit
            .event(EventType::GrantAdd, context)
            .target(matter_target(&id))
            .detail("principal", subject.reference())
            .justification(&grant.justification);
        let records = [self.audit.seal(&created)?, self.audit.seal(&granted)?];
        if self.freshness.after_change(self.store.create_matter(&matter, &grant, &records)).await? {
            Ok(matter)
        } else {
            Err(CoreError::Conflict(format!("a matter {id:?} exists already")))
        }
    }

    /// The matters `subject` may see: every one for those who manage
    /// matters, else those it holds a grant or a live elevation on.
    pub async fn list_matters(
        &self,
        subject: &Subject,
        context: &AuditContext,
    ) -> Result<Vec<MatterRecord>, CoreError> {
        let all = self.store.list_matters().await?;
        let manages = self.decide(subject, Action::MatterManage, &Resource::Service, &Ask::default(), context).allowed;
        let now = self.now();
        Ok(all
            .into_iter()
            .filter(|m| manages || subject.holds_grant_on(&m.id) || subject.elevated_on(&m.id, now))
            .collect())
    }

    /// One matter, if `subject` may know of it.
    pub async fn matter(&self, subject: &Subject, id: &str, context: &AuditContext) -> Result<MatterRecord, CoreError> {
        let resource = Resource::Matter(id.to_owned());
        let matter = self.store.matter(id).await?;
        let manages = self.decide(subject, Action::MatterManage, &resource, &Ask::default(), context).allowed;
        let visible = manages || subject.holds_grant_on(id) || subject.elevated_on(id, self.now());
        match matter {
            Some(matter) if visible => Ok(matter),
            _ => Err(not_found(&resource)),
        }
    }

    /// The grants on a matter.
    pub async fn grants_on(
        &self,
        subject: &Subject,
        matter: &str,
        context: &AuditContext,
    ) -> Result<Vec<GrantRecord>, CoreError> {
        let resource = Resource::Matter(matter.to_owned());
        self.authorize(subject, Action::MatterManage, &resource, &Ask::default(), context).await?;
        self.existing_matter(matter).await?;
        Ok(self.store.grants_on(matter).await?)
    }

    async fn existing_matter(&self, id: &str) -> Result<MatterRecord, CoreError> {
        self.store.matter(id).await?.ok_or_else(|| not_found(&Resource::Matter(id.to_owned())))
    }

    async fn principal_exists(&self, kind: PrincipalKind, id: &str) -> Result<(), CoreError> {
        let exists = match kind {
            PrincipalKind::User => self.identities.user(id).await?.is_some(),
            PrincipalKind::ApiKey => self.api_keys.api_key(id).await?.is_some(),
        };
        if exists { Ok(()) } else { Err(CoreError::NotFound(format!("no {} with id {id:?}", kind.as_str()))) }
    }

    /// Grants `principal` access to `matter`'s data (within its role).
    pub async fn grant(
        &self,
        subject: &Subject,
        matter: &str,
        principal: (PrincipalKind, &str),
        justification: &str,
        context: &AuditContext,
    ) -> Result<GrantRecord, CoreError> {
        let resource = Resource::Matter(matter.to_owned());
        self.authorize(subject, Action::MatterManage, &resource, &Ask::default(), context).await?;
        let justification = check_justification(Some(justification))?;
        self.existing_matter(matter).await?;
        let (kind, id) = principal;
        self.principal_exists(kind, id).await?;
        let grant = GrantRecord {
            matter_id: matter.to_owned(),
            principal_kind: kind,
            principal_id: id.to_owned(),
            granted_by: subject.reference(),
            justification: justification.to_owned(),
            created_at: self.now(),
        };
        let event = self
            .audit
            .event(EventType::GrantAdd, context)
            .target(matter_target(matter))
            .detail("principal", format!("{}:{id}", kind.as_str()))
            .justification(justification);
        let record = self.audit.seal(&event)?;
        if self.freshness.after_change(self.store.add_grant(&grant, &[record])).await? {
            Ok(grant)
        } else {
            Err(CoreError::Conflict(format!("{}:{id} holds a grant on {matter:?} already", kind.as_str())))
        }
    }

    /// Takes a grant away.
    pub async fn revoke_grant(
        &self,
        subject: &Subject,
        matter: &str,
        principal: (PrincipalKind, &str),
        justification: &str,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let resource = Resource::Matter(matter.to_owned());
        self.authorize(subject, Action::MatterManage, &resource, &Ask::default(), context).await?;
        let justification = check_justification(Some(justification))?;
        let (kind, id) = principal;
        let event = self
            .audit
            .event(EventType::GrantRemove, context)
            .target(matter_target(matter))
            .detail("principal", format!("{}:{id}", kind.as_str()))
            .justification(justification);
        let record = self.audit.seal(&event)?;
        if self.freshness.after_change(self.store.remove_grant(matter, kind, id, &[record])).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("{}:{id} holds no grant on {matter:?}", kind.as_str())))
        }
    }

    // ---- Access requests ---------------------------------------------------

    /// Asks for elevated access. The matter is not checked for existence
    /// here (that would tell anyone which matters exist); approval does.
    pub async fn request_access(
        &self,
        subject: &Subject,
        new: NewAccessRequest,
        context: &AuditContext,
    ) -> Result<AccessRequestRecord, CoreError> {
        check_id("matter", &new.matter_id)?;
        if let Some(record) = &new.record_id {
            check_id("record", record)?;
        }
        if !new.action.is_elevatable() {
            return Err(CoreError::InvalidInput(
                "action: one of record.read, record.read_redacted, record.decrypt, record.export".into(),
            ));
        }
        if !(1..=MAX_ELEVATION_MINUTES).contains(&new.duration_minutes) {
            return Err(CoreError::InvalidInput(format!("duration_minutes: 1 to {MAX_ELEVATION_MINUTES}")));
        }
        let justification = check_justification(Some(&new.justification))?.to_owned();
        if let Some(purpose) = &new.purpose
            && !self.settings.purposes.is_empty()
            && !self.settings.purposes.contains(purpose)
        {
            return Err(CoreError::InvalidInput(format!("purpose: one of {}", self.settings.purposes.join(", "))));
        }
        let resource = Resource::Matter(new.matter_id.clone());
        self.authorize(subject, Action::AccessRequest, &resource, &Ask::default(), context).await?;
        let request = AccessRequestRecord {
            id: random_id("ar_")?,
            requester_kind: subject.facts.kind,
            requester_id: subject.facts.id.clone(),
            requester_name: subject.facts.name.clone(),
            action: new.action,
            matter_id: new.matter_id,
            record_id: new.record_id,
            duration_minutes: new.duration_minutes,
            justification,
            purpose: new.purpose,
            status: AccessStatus::Pending,
            created_at: self.now(),
            decided_by: None,
            decided_at: None,
            decision_note: None,
            expires_at: None,
        };
        let event = self
            .access_event(EventType::AccessRequestCreate, &request, context)
            .detail("duration_minutes", request.duration_minutes)
            .justification(&request.justification);
        self.store.insert_access_request(&request, &[self.audit.seal(&event)?]).await?;
        Ok(request)
    }

    fn access_event(&self, event_type: EventType, request: &AccessRequestRecord, context: &AuditContext) -> AuditEvent {
        let mut target = matter_target(&request.matter_id);
        target.kind = "access_request".into();
        target.id = Some(request.id.clone());
        let mut event = self
            .audit
            .event(event_type, context)
            .target(target)
            .detail("requested_action", request.action.as_str())
            .detail("requester", format!("{}:{}", request.requester_kind.as_str(), request.requester_id));
        if let Some(record) = &request.record_id {
            event = event.detail("record", record.clone());
        }
        event
    }

    fn may_approve(&self, subject: &Subject, request: &AccessRequestRecord, context: &AuditContext) -> bool {
        let resource = Resource::Matter(request.matter_id.clone());
        self.decide(subject, Action::AccessApprove, &resource, &Ask::default(), context).allowed
    }

    fn is_requester(subject: &Subject, request: &AccessRequestRecord) -> bool {
        subject.facts.kind == request.requester_kind && subject.facts.id == request.requester_id
    }

    /// The requests `subject` may see: its own, and those it may approve.
    pub async fn list_access_requests(
        &self,
        subject: &Subject,
        context: &AuditContext,
    ) -> Result<Vec<AccessRequestRecord>, CoreError> {
        let all = self.store.list_access_requests(None).await?;
        Ok(all
            .into_iter()
            .filter(|request| Self::is_requester(subject, request) || self.may_approve(subject, request, context))
            .collect())
    }

    /// One request, if `subject` may see it.
    pub async fn access_request(
        &self,
        subject: &Subject,
        id: &str,
        context: &AuditContext,
    ) -> Result<AccessRequestRecord, CoreError> {
        match self.store.access_request(id).await? {
            Some(request) if Self::is_requester(subject, &request) || self.may_approve(subject, &request, context) => {
                Ok(request)
            }
            _ => Err(CoreError::NotFound(format!("no access request {id:?}"))),
        }
    }

    /// Approves (`approve`) or denies a pending request. The approver must
    /// hold `access.approve` and must not be the requester (two persons).
    pub async fn decide_access_request(
        &self,
        subject: &Subject,
        id: &str,
        approve: bool,
        note: &str,
        context: &AuditContext,
    ) -> Result<AccessRequestRecord, CoreError> {
        let note = note.trim();
        if note.chars().count() > 1000 {
            return Err(CoreError::InvalidInput("note: at most 1000 characters".into()));
        }
        let mut request = self.access_request(subject, id, context).await?;
        let resource = Resource::Matter(request.matter_id.clone());
        if Self::is_requester(subject, &request) {
            let detail = "an access request is decided by someone other than its requester (two-person rule)";
            return Err(self
                .refuse(DenialKind::SelfApproval, Action::AccessApprove, &resource, detail.into(), context)
                .await);
        }
        self.authorize(subject, Action::AccessApprove, &resource, &Ask::default(), context).await?;
        if request.status != AccessStatus::Pending {
            return Err(CoreError::Conflict(format!("access request {id:?} is {} already", request.status.as_str())));
        }
        if approve && self.store.matter(&request.matter_id).await?.is_none() {
            return Err(CoreError::Conflict(format!("matter {:?} does not exist", request.matter_id)));
        }
        let now = self.now();
        request.status = if approve { AccessStatus::Approved } else { AccessStatus::Denied };
        request.decided_by = Some(subject.reference());
        request.decided_at = Some(now);
        request.decision_note = (!note.is_empty()).then(|| note.to_owned());
        request.expires_at = approve.then(|| now + request.duration_minutes * 60);
        let event_type = if approve { EventType::AccessRequestApprove } else { EventType::AccessRequestDeny };
        let mut event = self.access_event(event_type, &request, context);
        if let Some(expires_at) = request.expires_at {
            event = event.detail("expires_at", expires_at);
        }
        if !note.is_empty() {
            event = event.detail("note", note);
        }
        let record = self.audit.seal(&event)?;
        if self.freshness.after_change(self.store.decide_access_request(&request, &[record])).await? {
            Ok(request)
        } else {
            Err(CoreError::Conflict(format!("access request {id:?} was decided meanwhile")))
        }
    }

    /// Audits the expiry of approved requests whose time has passed (once,
    /// whichever instance gets there first). Expiry itself needs no sweep:
    /// every use checks the time.
    pub async fn record_expiries(&self) -> Result<usize, CoreError> {
        let context = AuditContext::service("authz");
        let mut recorded = 0;
        for request in self.store.unrecorded_expiries(self.now()).await? {
            let event = self.access_event(EventType::AccessRequestExpire, &request, &context);
            if self.store.record_expiry(&request.id, &[self.audit.seal(&event)?]).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    }

    // ---- Policies ----------------------------------------------------------

    /// The policies in force.
    pub async fn policies(&self, subject: &Subject, context: &AuditContext) -> Result<PolicyOverview, CoreError> {
        self.authorize(subject, Action::PolicyManage, &Resource::Service, &Ask::default(), context).await?;
        let document = self.store.policy_document().await?;
        Ok(PolicyOverview {
            schema: strongroom_policy::SCHEMA,
            default_text: strongroom_policy::DEFAULT_POLICIES,
            files: self.settings.policy_files.clone(),
            document,
            loaded: self.engine().policies(),
            warnings: self.policies.read().unwrap_or_else(|p| p.into_inner()).warnings.clone(),
        })
    }

    /// Replaces the API-managed policy document after validating it (alone
    /// and with every other policy); broken policies are refused with their
    /// line and column and change nothing.
    pub async fn replace_policies(
        &self,
        subject: &Subject,
        text: &str,
        justification: &str,
        context: &AuditContext,
    ) -> Result<PolicyDocument, CoreError> {
        self.authorize(subject, Action::PolicyManage, &Resource::Service, &Ask::default(), context).await?;
        let justification = check_justification(Some(justification))?;
        if text.len() > MAX_POLICY_BYTES {
            return Err(CoreError::InvalidInput(format!("policies: at most {MAX_POLICY_BYTES} bytes")));
        }
        let current = self.store.policy_document().await?;
        let document = PolicyDocument {
            version: current.as_ref().map_or(1, |d| d.version + 1),
            text: text.to_owned(),
            updated_at: self.now(),
            updated_by: subject.reference(),
            justification: justification.to_owned(),
        };
        let (engine, warnings) = Self::build(&self.settings, Some(&document)).map_err(CoreError::InvalidPolicy)?;
        let digest = strongroom_crypto::sha256(text.as_bytes());
        let mut event = self
            .audit
            .event(EventType::PolicyChange, context)
            .target(Target::new("policies", "api"))
            .detail("version", document.version)
            .detail("policies", i64::try_from(engine.policies().len()).unwrap_or(i64::MAX))
            .detail("sha256", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .justification(justification);
        if !warnings.is_empty() {
            // Stored under `warn` although it breaks an invariant: on record.
            event = event.detail("invariant_warnings", warnings.clone());
        }
        if !self.store.save_policy_document(&document, &[self.audit.seal(&event)?]).await? {
            return Err(CoreError::Conflict("the policies were replaced meanwhile; read them again".into()));
        }
        let mut loaded = self.policies.write().unwrap_or_else(|p| p.into_inner());
        if document.version > loaded.document_version {
            *loaded = LoadedPolicies { engine, document_version: document.version, warnings };
        }
        Ok(document)
    }

    /// Loads a policy document another instance stored. A stored document
    /// that no longer loads (it cannot: it was validated) keeps the old set.
    pub async fn refresh_policies(&self) -> Result<bool, CoreError> {
        let Some(document) = self.store.policy_document().await? else { return Ok(false) };
        let current = self.policies.read().unwrap_or_else(|p| p.into_inner()).document_version;
        if document.version <= current {
            return Ok(false);
        }
        let (engine, warnings) = Self::build(&self.settings, Some(&document)).map_err(CoreError::InvalidPolicy)?;
        let mut loaded = self.policies.write().unwrap_or_else(|p| p.into_inner());
        if document.version > loaded.document_version {
            *loaded = LoadedPolicies { engine, document_version: document.version, warnings };
        }
        Ok(true)
    }

    // ---- Explanations --------------------------------------------------------

    /// The subject of a principal named by kind and id, as it would be
    /// loaded for a request now.
    pub async fn subject_of(&self, kind: PrincipalKind, id: &str) -> Result<Subject, CoreError> {
        let now = self.now();
        let access = self.store.access_of(kind, id, now).await?;
        let facts = match kind {
            PrincipalKind::User => {
                let user = self
                    .identities
                    .user(id)
                    .await?
                    .ok_or_else(|| CoreError::NotFound(format!("no user with id {id:?}")))?;
                user_facts(&user.id, &user.username, user.roles.iter().map(|r| r.as_str()), access.matters.clone())
            }
            PrincipalKind::ApiKey => {
                let key = self
                    .api_keys
                    .api_key(id)
                    .await?
                    .ok_or_else(|| CoreError::NotFound(format!("no api_key with id {id:?}")))?;
                api_key_facts(&key.id, &key.name, key.scopes.iter().map(|s| s.as_str()), access.matters.clone())
            }
        };
        Ok(Subject {
            facts,
            elevations: access.elevations,
            mfa_at: None,
            session: None,
            trail: DecisionTrail::default(),
        })
    }

    /// Explains what the engine decides for `principal` doing `action` on
    /// `resource`, with the caller's request facts adjusted by `ask`.
    pub async fn explain(
        &self,
        subject: &Subject,
        principal: (PrincipalKind, &str),
        action: Action,
        resource: &Resource,
        facts: ExplainFacts,
        context: &AuditContext,
    ) -> Result<(Subject, Decision), CoreError> {
        self.authorize(subject, Action::AuthzExplain, &Resource::Service, &Ask::default(), context).await?;
        let target = self.subject_of(principal.0, principal.1).await?;
        let now = facts.now_unix_seconds.unwrap_or_else(|| self.now());
        let (mut request, _) = self.request_facts(&target, action, resource, &Ask::default(), context, now);
        request.ip = facts.ip;
        request.mfa_age_seconds = facts.mfa_age_seconds;
        request.justification_length = facts.justification_length;
        request.purpose = facts.purpose;
        let decision = self.engine().decide(&target.facts, action, resource, &request);
        Ok((target, decision))
    }

    /// Which principals can do `action` on `matter`, and why. Assumes the
    /// best case for each (a second factor just proven, a valid
    /// justification and purpose, the current time, no address), since the
    /// question is who *can*; policies that test the address are skipped.
    pub async fn who_can(
        &self,
        subject: &Subject,
        action: Action,
        matter: &str,
        context: &AuditContext,
    ) -> Result<Vec<Reach>, CoreError> {
        self.authorize(subject, Action::AuthzExplain, &Resource::Service, &Ask::default(), context).await?;
        check_id("matter", matter)?;
        let now = self.now();
        let grants = self.store.all_grants().await?;
        let matters_of = |kind: PrincipalKind, id: &str| -> Vec<String> {
            grants
                .iter()
                .filter(|g| g.principal_kind == kind && g.principal_id == id)
                .map(|g| g.matter_id.clone())
                .collect()
        };
        let mut principals = Vec::new();
        for user in self.identities.list_users().await? {
            if user.disabled || user.locked {
                continue;
            }
            let facts = user_facts(
                &user.id,
                &user.username,
                user.roles.iter().map(|r| r.as_str()),
                matters_of(PrincipalKind::User, &user.id),
            );
            principals.push(facts);
        }
        for key in self.api_keys.list_api_keys().await? {
            if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
                continue;
            }
            let facts = api_key_facts(
                &key.id,
                &key.name,
                key.scopes.iter().map(|s| s.as_str()),
                matters_of(PrincipalKind::ApiKey, &key.id),
            );
            principals.push(facts);
        }
        let resource = Resource::Matter(matter.to_owned());
        let engine = self.engine();
        let mut reach = Vec::new();
        for facts in principals {
            let access = self.store.access_of(facts.kind, &facts.id, now).await?;
            let elevation = access.elevations.iter().find(|e| e.covers(action, &resource, now));
            let request = RequestFacts {
                profile: self.settings.profile.clone(),
                now_unix_seconds: now,
                ip: None,
                mfa_age_seconds: Some(0),
                mfa_max_age_seconds: self.settings.decrypt_mfa_max_age_seconds,
                justification_length: i64::try_from(MIN_JUSTIFICATION).unwrap_or(20),
                purpose: self.settings.purposes.first().cloned(),
                elevated: elevation.is_some(),
            };
            let decision = engine.decide(&facts, action, &resource, &request);
            if decision.allowed {
                reach.push(Reach { facts, decision, elevation: elevation.map(|e| e.request_id.clone()) });
            }
        }
        Ok(reach)
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

/// The facts of a user.
pub fn user_facts<'a>(
    id: &str,
    name: &str,
    roles: impl Iterator<Item = &'a str>,
    matters: Vec<String>,
) -> PrincipalFacts {
    PrincipalFacts {
        kind: PrincipalKind::User,
        id: id.to_owned(),
        name: name.to_owned(),
        roles: roles.map(str::to_owned).collect(),
        scopes: Vec::new(),
        matters,
    }
}

/// The facts of an API key: a service account (role `system`) with scopes.
pub fn api_key_facts<'a>(
    id: &str,
    name: &str,
    scopes: impl Iterator<Item = &'a str>,
    matters: Vec<String>,
) -> PrincipalFacts {
    PrincipalFacts {
        kind: PrincipalKind::ApiKey,
        id: id.to_owned(),
        name: name.to_owned(),
        roles: vec!["system".to_owned()],
        scopes: scopes.map(str::to_owned).collect(),
        matters,
    }
}

/// The `permission.denied` event of `action` on `resource`, with the
/// policies that decided, the justification given and `reason`.
fn denial_event(
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

/// Why a request was refused, for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Which kind of refusal (the problem code).
    pub kind: DenialKind,
    /// What to tell the caller.
    pub detail: String,
    /// The policies that decided (empty: no policy permits).
    pub policies: Vec<String>,
}

/// Kinds of refusal with their own problem code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// No policy permits, or one forbids.
    Forbidden,
    /// A second factor must be proven (again) first.
    MfaRequired,
    /// An approved access request is needed (two-person rule).
    AccessRequestRequired,
    /// The requester may not decide their own access request.
    SelfApproval,
}

impl DenialKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forbidden => "forbidden",
            Self::MfaRequired => "mfa_required",
            Self::AccessRequestRequired => "access_request_required",
            Self::SelfApproval => "self_approval",
        }
    }
}

fn denial(
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
                "{action} needs a second factor proven in the last {} s: POST /v1/auth/step-up, then retry",
                settings.decrypt_mfa_max_age_seconds
            ),
            policies,
        };
    }
    if decision.decided_by("default/reveal.two_person") {
        return Denial {
            kind: DenialKind::AccessRequestRequired,
            detail: format!(
                "under the {} profile every {action} needs an access request approved by someone else: \
                 POST /v1/access-requests",
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
    fn ids_are_plain() {
        for good in ["m1", "case-2024.001", "a_b"] {
            assert!(check_id("id", good).is_ok(), "{good}");
        }
        for bad in ["", "-m", "a b", "a/b", "ü", "Case-1", &"x".repeat(65), "a\nb"] {
            assert!(check_id("id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_elevation_covers_its_action_place_and_time_only() {
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
