//! Who acts, as every decision sees it: a person or an API key with its
//! roles, scopes and standing grants ([`PrincipalFacts`]), the access
//! requests approved for it, and the session it acts in.
//!
//! Identity and API keys make subjects; the decision point reads them. Both
//! sit above this module, so neither needs the other to speak of a principal.

use std::sync::Arc;

use strongroom_policy::{Action, PrincipalFacts, PrincipalKind, Resource};

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

    pub(crate) fn note(&self, action: Action) {
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

    pub(crate) fn holds_grant_on(&self, matter: &str) -> bool {
        self.facts.matters.iter().any(|m| m == matter)
    }

    pub(crate) fn elevated_on(&self, matter: &str, now: i64) -> bool {
        self.elevations.iter().any(|e| e.matter_id == matter && now < e.expires_at)
    }
}

/// A live approved access request, as loaded with its requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elevation {
    /// The access request.
    pub request_id: String,
    /// What it allows.
    pub action: Action,
    /// Where.
    pub matter_id: String,
    /// One record only, or the whole matter.
    pub record_id: Option<String>,
    /// Unix seconds; checked at every use.
    pub expires_at: i64,
}

impl Elevation {
    /// Whether it allows `action` on `resource` at `now`. Seeing what one
    /// decrypts is part of decrypting: an elevation to decrypt or export also
    /// covers reading, an elevation to read redacted text covers the plain read.
    pub fn covers(&self, action: Action, resource: &Resource, now: i64) -> bool {
        let action_covered = self.action == action
            || match self.action {
                Action::RecordDecrypt | Action::RecordExport => {
                    matches!(action, Action::RecordRead | Action::RecordReadRedacted)
                }
                Action::RecordReadRedacted => action == Action::RecordRead,
                _ => false,
            };
        let place_covered = resource.matter() == Some(self.matter_id.as_str())
            && match &self.record_id {
                None => true,
                Some(record) => resource.record() == Some(record.as_str()),
            };
        action_covered && place_covered && now < self.expires_at
    }
}

/// The matters a principal holds standing grants on and its live elevations,
/// loaded in the same query as the principal itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalAccess {
    /// Matter ids with a standing grant.
    pub matters: Vec<String>,
    /// Approved access requests not yet expired when loaded.
    pub elevations: Vec<Elevation>,
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

/// The prefix of application scopes (`app:<scope>`): scopes an application
/// defines for the keys it issues to its own clients. They mean nothing to
/// Strongroom: a key holding them is an application key, which no route of
/// Strongroom's accepts; the application learns its scopes by introspection.
pub const APP_SCOPE_PREFIX: &str = "app:";

/// The scope every application key carries in authorization's facts, so
/// that the default policy `application_key.none` forbids it everything.
pub const APPLICATION_KEY_MARK: &str = "app";

/// The facts of an API key: a service account (role `system`) with scopes.
/// An application key (any `app:` scope) has no role, and carries the scope
/// `app`, which the default policy `application_key.none` forbids everything.
pub fn api_key_facts<'a>(
    id: &str,
    name: &str,
    scopes: impl Iterator<Item = &'a str>,
    matters: Vec<String>,
) -> PrincipalFacts {
    let mut scopes: Vec<String> = scopes.map(str::to_owned).collect();
    let application = scopes.iter().any(|s| s.starts_with(APP_SCOPE_PREFIX));
    let roles = if application {
        scopes.push(APPLICATION_KEY_MARK.to_owned());
        Vec::new()
    } else {
        vec!["system".to_owned()]
    };
    PrincipalFacts { kind: PrincipalKind::ApiKey, id: id.to_owned(), name: name.to_owned(), roles, scopes, matters }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_keys_facts_have_no_role_and_carry_the_mark() {
        let service = api_key_facts("k1", "worker", ["transit:use"].into_iter(), vec!["m1".into()]);
        assert_eq!(service.roles, vec!["system"]);
        assert_eq!(service.scopes, vec!["transit:use"]);
        let application = api_key_facts("k2", "customer", ["app:read"].into_iter(), vec!["m1".into()]);
        assert!(application.roles.is_empty(), "no role, so no role's permission");
        assert_eq!(application.scopes, vec!["app:read", APPLICATION_KEY_MARK]);
    }
}
