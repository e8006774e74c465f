//! Explanations: what the engine decides for a principal and why, and who can do an action.

use strongroom_policy::{Action, Decision, PrincipalKind, RequestFacts, Resource};

use crate::CoreError;
use crate::audit::AuditContext;
use crate::principal::{DecisionTrail, Subject, api_key_facts, user_facts};

use super::service::*;

impl Authz {
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
                api_key_facts(&key.id, &key.name, key.scope_names(), access.matters.clone())
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
            let facts =
                api_key_facts(&key.id, &key.name, key.scope_names(), matters_of(PrincipalKind::ApiKey, &key.id));
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
