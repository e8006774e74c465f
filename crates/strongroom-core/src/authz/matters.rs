//! Matters and the standing grants on them.

use strongroom_policy::{Action, PrincipalKind, Resource};

use super::model::{GrantRecord, MatterRecord};
use crate::CoreError;
use crate::audit::{AuditContext, AuditEvent, EventType};
use crate::ids::random_id;
use crate::principal::Subject;

use super::service::*;

impl Authz {
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
        if crate::matter_keys::is_rekeyed_name(&id) {
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
        let granted = self.grant_event(EventType::GrantAdd, &id, subject.reference(), &grant.justification, context);
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

    pub(super) async fn existing_matter(&self, id: &str) -> Result<MatterRecord, CoreError> {
        self.store.matter(id).await?.ok_or_else(|| not_found(&Resource::Matter(id.to_owned())))
    }

    pub(super) async fn principal_exists(&self, kind: PrincipalKind, id: &str) -> Result<(), CoreError> {
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
        let event =
            self.grant_event(EventType::GrantAdd, matter, format!("{}:{id}", kind.as_str()), justification, context);
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
        let event =
            self.grant_event(EventType::GrantRemove, matter, format!("{}:{id}", kind.as_str()), justification, context);
        let record = self.audit.seal(&event)?;
        if self.freshness.after_change(self.store.remove_grant(matter, kind, id, &[record])).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("{}:{id} holds no grant on {matter:?}", kind.as_str())))
        }
    }

    /// The event of a grant given or taken on `matter`, naming the
    /// principal (`user:<id>`, `api_key:<id>`) and the justification.
    fn grant_event(
        &self,
        event_type: EventType,
        matter: &str,
        principal: String,
        justification: &str,
        context: &AuditContext,
    ) -> AuditEvent {
        self.audit
            .event(event_type, context)
            .target(matter_target(matter))
            .detail("principal", principal)
            .justification(justification)
    }
}
