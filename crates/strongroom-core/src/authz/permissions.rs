//! What a principal may do now: the actions the engine allows it on the
//! service, and on each matter it holds a grant on (`/v1/users/me`).

use strongroom_policy::{Action, Resource};

use crate::audit::AuditContext;
use crate::principal::Subject;

use super::service::*;

/// The actions the engine allows a principal, as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Actions on the service itself (user, key, audit, policy administration…).
    pub service: Vec<Action>,
    /// For each matter the principal holds a grant on, the actions on its data.
    pub matters: Vec<(String, Vec<Action>)>,
}

/// Whether `action` is decided on a matter's data rather than on the service.
fn on_matters(action: Action) -> bool {
    action.is_data() || matches!(action, Action::AccessRequest | Action::AccessApprove)
}

impl Authz {
    /// The effective permissions of `subject`: each action the engine allows
    /// it now, with its session's second-factor time and a justification and
    /// purpose assumed given (a reveal asks for them per request). Decides
    /// only; nothing is audited (it is the caller's view of itself).
    pub fn permissions(&self, subject: &Subject, context: &AuditContext) -> Permissions {
        let engine = self.engine();
        let now = self.now();
        let ask = Ask {
            justification: Some("effective permissions: a justification assumed"),
            purpose: self.settings().purposes.first().map(String::as_str),
        };
        let allowed = |action: Action, resource: &Resource| {
            let (facts, _) = self.request_facts(subject, action, resource, &ask, context, now);
            engine.decide(&subject.facts, action, resource, &facts).allowed
        };
        let service = Action::ALL.into_iter().filter(|a| !on_matters(*a) && allowed(*a, &Resource::Service)).collect();
        let matters = subject
            .facts
            .matters
            .iter()
            .map(|matter| {
                let resource = Resource::Matter(matter.clone());
                let actions = Action::ALL.into_iter().filter(|a| on_matters(*a) && allowed(*a, &resource)).collect();
                (matter.clone(), actions)
            })
            .collect();
        Permissions { service, matters }
    }
}
