//! Roles as data: the built-in roles, the configuration file's and the
//! operators' own (`attorney`, `paralegal`), defined as named sets of
//! permissions. Definitions become Cedar policies (`strongroom_policy::role_policies`),
//! so decisions, explanations and who-can name them like any rule.

use strongroom_policy::{Action, Resource, RoleDefinition};

use super::model::RoleCatalogue;
use crate::CoreError;
use crate::audit::{AuditContext, EventType, Target};
use crate::identity::{IdentityStore, Role};
use crate::principal::Subject;

use super::service::*;

/// Where a role is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    /// One of reader, analyst, admin, system: the default policy set.
    BuiltIn,
    /// The configuration file: read-only through the API.
    Config,
    /// Defined through the API.
    Api,
}

impl RoleSource {
    /// The stable name (`built_in`, `config`, `api`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BuiltIn => "built_in",
            Self::Config => "config",
            Self::Api => "api",
        }
    }
}

/// A role as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Where it is defined.
    pub source: RoleSource,
    /// The actions it allows. For a built-in role, what the policies in force
    /// let it do with a grant on the matter and every condition met.
    pub permissions: Vec<Action>,
}

const BUILT_IN: [(&str, &str); 4] = [
    ("reader", "metadata and anonymised values of the matters they hold a grant on"),
    ("analyst", "a reader who also sees redacted renditions and writes records"),
    ("admin", "an analyst who also decrypts with a justification and manages users, roles, keys and policies"),
    ("system", "service accounts: what their API keys' scopes allow"),
];

impl Authz {
    /// Every role: the built-in ones, then the configured and API-defined
    /// ones by name. Those who assign roles may list them.
    pub async fn roles(&self, subject: &Subject, context: &AuditContext) -> Result<Vec<RoleView>, CoreError> {
        self.authorize(subject, Action::RoleAssign, &Resource::Service, &Ask::default(), context).await?;
        let catalogue = self.catalogue();
        let engine = self.engine();
        let now = self.now();
        let mut views: Vec<RoleView> = BUILT_IN
            .iter()
            .map(|(name, description)| RoleView {
                name: (*name).to_owned(),
                description: (*description).to_owned(),
                source: RoleSource::BuiltIn,
                permissions: Action::ALL
                    .into_iter()
                    .filter(|action| engine.role_may(name, *action, &self.settings.profile, now))
                    .collect(),
            })
            .collect();
        let mut defined: Vec<RoleView> = self
            .settings
            .roles
            .iter()
            .map(|role| view(role, RoleSource::Config))
            .chain(catalogue.roles.iter().map(|role| view(role, RoleSource::Api)))
            .collect();
        defined.sort_by(|a, b| a.name.cmp(&b.name));
        views.extend(defined);
        Ok(views)
    }

    /// One role by name.
    pub async fn role(&self, subject: &Subject, name: &str, context: &AuditContext) -> Result<RoleView, CoreError> {
        self.roles(subject, context)
            .await?
            .into_iter()
            .find(|role| role.name == name)
            .ok_or_else(|| CoreError::NotFound(format!("no role {name:?}")))
    }

    /// Defines a role (`replace`: changes an API-defined one), with a
    /// justification; audited as `role.define`. Defining what a role may do
    /// is policy, so it takes `policy.manage`.
    pub async fn define_role(
        &self,
        subject: &Subject,
        role: RoleDefinition,
        replace: bool,
        justification: &str,
        context: &AuditContext,
    ) -> Result<RoleView, CoreError> {
        self.authorize(subject, Action::PolicyManage, &Resource::Service, &Ask::default(), context).await?;
        let justification = check_justification(Some(justification))?;
        if self.settings.roles.iter().any(|configured| configured.name == role.name) {
            return Err(CoreError::Conflict(format!(
                "role {:?} is defined in the configuration file; change it there",
                role.name
            )));
        }
        let mut catalogue = self.catalogue();
        let previous = catalogue.roles.iter().position(|defined| defined.name == role.name);
        match (previous, replace) {
            (Some(_), false) => return Err(CoreError::Conflict(format!("role {:?} exists already", role.name))),
            (None, true) => return Err(CoreError::NotFound(format!("no role {:?}", role.name))),
            (Some(index), true) => catalogue.roles[index] = role.clone(),
            (None, false) => catalogue.roles.push(role.clone()),
        }
        catalogue.roles.sort_by(|a, b| a.name.cmp(&b.name));
        let event = self
            .audit
            .event(EventType::RoleDefine, context)
            .target(Target::new("role", role.name.clone()))
            .detail("permissions", role.permissions.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>())
            .detail("replaced", previous.is_some())
            .justification(justification);
        self.save_catalogue(subject, catalogue, justification, &event).await?;
        Ok(view(&role, RoleSource::Api))
    }

    /// Removes an API-defined role nobody holds, with a justification;
    /// audited as `role.delete`.
    pub async fn delete_role(
        &self,
        subject: &Subject,
        name: &str,
        justification: &str,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        self.authorize(subject, Action::PolicyManage, &Resource::Service, &Ask::default(), context).await?;
        let justification = check_justification(Some(justification))?;
        if self.settings.roles.iter().any(|configured| configured.name == name) {
            return Err(CoreError::Conflict(format!("role {name:?} is defined in the configuration file")));
        }
        let mut catalogue = self.catalogue();
        let Some(index) = catalogue.roles.iter().position(|defined| defined.name == name) else {
            return Err(CoreError::NotFound(format!("no role {name:?}")));
        };
        let holders = holders_of(self.identities.as_ref(), name).await?;
        if holders > 0 {
            return Err(CoreError::Conflict(format!(
                "role {name:?} is held by {holders} user(s): take it from them first"
            )));
        }
        catalogue.roles.remove(index);
        let event = self
            .audit
            .event(EventType::RoleDelete, context)
            .target(Target::new("role", name.to_owned()))
            .justification(justification);
        self.save_catalogue(subject, catalogue, justification, &event).await
    }

    /// Whether `role` can be assigned: built-in, or defined now. A role
    /// that does not exist would silently grant nothing.
    pub fn role_exists(&self, role: &Role) -> bool {
        match role {
            Role::Custom(name) => {
                self.settings.roles.iter().any(|defined| &defined.name == name)
                    || self
                        .policies
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .catalogue
                        .roles
                        .iter()
                        .any(|d| &d.name == name)
            }
            Role::Reader | Role::Analyst | Role::Admin | Role::System => true,
        }
    }

    /// `InvalidInput` naming the first of `roles` that is not defined.
    pub fn check_roles_exist(&self, roles: &[Role]) -> Result<(), CoreError> {
        match roles.iter().find(|role| !self.role_exists(role)) {
            None => Ok(()),
            Some(role) => Err(CoreError::InvalidInput(format!(
                "roles: no role {:?} is defined (built-in: reader, analyst, admin, system)",
                role.as_str()
            ))),
        }
    }

    pub(super) fn catalogue(&self) -> RoleCatalogue {
        self.policies.read().unwrap_or_else(|p| p.into_inner()).catalogue.clone()
    }

    async fn save_catalogue(
        &self,
        subject: &Subject,
        mut catalogue: RoleCatalogue,
        justification: &str,
        event: &crate::audit::AuditEvent,
    ) -> Result<(), CoreError> {
        catalogue.version += 1;
        catalogue.updated_at = self.now();
        catalogue.updated_by = subject.reference();
        justification.clone_into(&mut catalogue.justification);
        let document_version = self.policies.read().unwrap_or_else(|p| p.into_inner()).document_version;
        let stored = if document_version > 0 { self.store.policy_document().await? } else { None };
        let (engine, warnings) =
            Self::build(&self.settings, stored.as_ref(), &catalogue).map_err(CoreError::InvalidPolicy)?;
        if !self.store.save_role_catalogue(&catalogue, &[self.audit.seal(event)?]).await? {
            return Err(CoreError::Conflict("the roles were changed meanwhile; read them again".into()));
        }
        let mut loaded = self.policies.write().unwrap_or_else(|p| p.into_inner());
        if catalogue.version > loaded.catalogue.version && loaded.document_version == document_version {
            *loaded = LoadedPolicies { engine, document_version, catalogue, warnings };
        }
        Ok(())
    }
}

fn view(role: &RoleDefinition, source: RoleSource) -> RoleView {
    RoleView {
        name: role.name.clone(),
        description: role.description.clone(),
        source,
        permissions: role.permissions.clone(),
    }
}

async fn holders_of(identities: &dyn IdentityStore, name: &str) -> Result<usize, CoreError> {
    Ok(identities.list_users().await?.iter().filter(|user| user.roles.iter().any(|r| r.as_str() == name)).count())
}
