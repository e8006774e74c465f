//! Operator-defined roles: named sets of permissions over the built-in
//! actions, turned into Cedar policies so that decisions, explanations and
//! `who-can` treat them exactly like the built-in roles' rules.
//!
//! A role `attorney` with `record.read` and `record.decrypt` becomes
//!
//! ```cedar
//! @id("attorney.data")
//! permit (principal in Strongroom::Role::"attorney",
//!         action in [Strongroom::Action::"record.read", Strongroom::Action::"record.decrypt"], resource)
//! when { principal in resource.matter };
//! ```
//!
//! in the policy source `roles`, so its id is `roles/attorney.data`. Data
//! actions ([`Action::is_data`]) stay bound to the matters the holder has a
//! grant on; the others (user management, audit reading…) are not about a
//! matter. Every `forbid` of the default set still applies: a decrypt still
//! needs a justification, a recent second factor under production and a
//! second person under high_security.

use crate::engine::PolicySource;
use crate::vocabulary::{Action, ROLE_HIERARCHY};

/// The origin of the generated policies (the prefix of their ids).
pub const ROLES_ORIGIN: &str = "roles";

/// The longest description, characters.
pub const MAX_ROLE_DESCRIPTION: usize = 200;

/// An operator-defined role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    /// Its name ([`check_role_name`]).
    pub name: String,
    /// What it is for, for people.
    pub description: String,
    /// The actions it allows, sorted, without repeats.
    pub permissions: Vec<Action>,
}

/// Checks a role name an operator gives: 2-32 characters of `a-z 0-9 _`,
/// starting with a letter, and not a built-in role's name (those cannot be
/// redefined). Names are safe inside a Cedar string literal as they are.
pub fn check_role_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && (2..=32).contains(&name.len())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err("name: 2-32 characters of a-z, 0-9 and '_', starting with a letter".to_owned());
    }
    if ROLE_HIERARCHY.iter().any(|(built_in, _)| *built_in == name) {
        return Err(format!("name: {name:?} is a built-in role and cannot be redefined"));
    }
    Ok(())
}

impl RoleDefinition {
    /// A definition after checking its parts; `permissions` are sorted and
    /// deduplicated.
    pub fn new(name: &str, description: &str, mut permissions: Vec<Action>) -> Result<Self, String> {
        check_role_name(name)?;
        let description = description.trim();
        if description.chars().count() > MAX_ROLE_DESCRIPTION {
            return Err(format!("description: at most {MAX_ROLE_DESCRIPTION} characters"));
        }
        if description.chars().any(char::is_control) {
            return Err("description: no control characters".to_owned());
        }
        if permissions.is_empty() {
            return Err("permissions: give at least one action".to_owned());
        }
        permissions.sort_unstable();
        permissions.dedup();
        Ok(Self { name: name.to_owned(), description: description.to_owned(), permissions })
    }

    /// The Cedar policies that give this role its permissions.
    fn policies(&self) -> String {
        let (data, service): (Vec<Action>, Vec<Action>) = self.permissions.iter().partition(|a| a.is_data());
        let mut text = String::new();
        for (actions, suffix, bound) in [(data, "data", true), (service, "service", false)] {
            if actions.is_empty() {
                continue;
            }
            let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            let list: Vec<String> = names.iter().map(|name| format!("Strongroom::Action::\"{name}\"")).collect();
            let scope = if bound { " in matters its holders hold a grant on" } else { "" };
            let description = format!("role {} ({}): {}{scope}", self.name, self.description, names.join(", "));
            text.push_str(&format!(
                "@id(\"{name}.{suffix}\")\n@description(\"{description}\")\npermit (principal in Strongroom::Role::\"{name}\", action in [{list}], resource){when};\n\n",
                name = self.name,
                description = description.escape_default(),
                list = list.join(", "),
                when = if bound { "\nwhen { principal in resource.matter }" } else { "" },
            ));
        }
        text
    }
}

/// The policy source for `roles`: one or two permits per role.
pub fn role_policies(roles: &[RoleDefinition]) -> PolicySource {
    PolicySource { origin: ROLES_ORIGIN.to_owned(), text: roles.iter().map(RoleDefinition::policies).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PolicyEngine;
    use crate::vocabulary::{PrincipalFacts, PrincipalKind, RequestFacts, Resource};

    fn attorney() -> RoleDefinition {
        RoleDefinition::new(
            "attorney",
            "counsel on a case: \"reads\" and decrypts",
            vec![Action::RecordDecrypt, Action::RecordRead, Action::RecordRead, Action::AuditRead],
        )
        .unwrap()
    }

    fn holder(role: &str, matters: &[&str]) -> PrincipalFacts {
        PrincipalFacts {
            kind: PrincipalKind::User,
            id: "u1".into(),
            name: "ann".into(),
            roles: vec![role.into()],
            scopes: Vec::new(),
            matters: matters.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn names_are_checked_and_built_in_roles_cannot_be_redefined() {
        assert!(check_role_name("paralegal_2").is_ok());
        for bad in ["", "a", "Attorney", "2nd", "para-legal", "x\"y", &"a".repeat(33), "admin", "system"] {
            assert!(check_role_name(bad).is_err(), "{bad:?}");
        }
        assert!(RoleDefinition::new("clerk", "", Vec::new()).is_err(), "a role allows something");
        assert!(RoleDefinition::new("clerk", "line\nbreak", vec![Action::RecordRead]).is_err());
        assert_eq!(attorney().permissions, vec![Action::RecordRead, Action::RecordDecrypt, Action::AuditRead]);
    }

    #[test]
    fn a_role_allows_its_actions_in_granted_matters_only_and_the_forbids_still_apply() {
        let engine = PolicyEngine::new(&[PolicySource::default_set(), role_policies(&[attorney()])]).unwrap();
        assert!(engine.invariant_breaks().is_empty(), "{:?}", engine.invariant_breaks());
        let record = Resource::Record { id: "r1".into(), matter: "m1".into(), collection: "recordings".into() };
        let mut request = RequestFacts::new("development", 1_795_452_383);
        let read = engine.decide(&holder("attorney", &["m1"]), Action::RecordRead, &record, &request);
        assert!(read.allowed);
        assert_eq!(read.reasons[0].policy, "roles/attorney.data");
        assert!(read.reasons[0].description.as_deref().unwrap().contains("\"reads\""), "{:?}", read.reasons);
        assert!(!engine.decide(&holder("attorney", &["m2"]), Action::RecordRead, &record, &request).allowed);
        assert!(
            !engine.decide(&holder("attorney", &["m1"]), Action::RecordDecrypt, &record, &request).allowed,
            "no justification"
        );
        request.justification_length = 25;
        assert!(engine.decide(&holder("attorney", &["m1"]), Action::RecordDecrypt, &record, &request).allowed);
        assert!(!engine.decide(&holder("attorney", &["m1"]), Action::RecordWrite, &record, &request).allowed);
        let audit = engine.decide(&holder("attorney", &[]), Action::AuditRead, &Resource::Service, &request);
        assert!(audit.allowed && audit.reasons[0].policy == "roles/attorney.service");
        assert!(!engine.decide(&holder("clerk", &["m1"]), Action::RecordRead, &record, &request).allowed);
    }
}
