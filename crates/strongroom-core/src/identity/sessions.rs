//! Listing and ending sessions.

use super::model::{Grantor, SessionRecord};
use crate::CoreError;
use crate::audit::{AuditContext, EventType, Target};

use super::service::*;

impl Identity {
    /// A user's live sessions, newest first.
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, CoreError> {
        Ok(self.store.sessions_of(user_id, false).await?)
    }

    /// One session.
    pub async fn session(&self, id: &str) -> Result<SessionRecord, CoreError> {
        self.store.session(id).await?.ok_or_else(|| CoreError::NotFound(format!("no session {id:?}")))
    }

    /// Revokes one session (logout, or a user or admin ending it).
    pub async fn revoke_session(&self, id: &str, reason: &str, context: &AuditContext) -> Result<(), CoreError> {
        let event_type = if reason == "logout" { EventType::Logout } else { EventType::SessionRevoke };
        let event = self.audit.event(event_type, context).target(Target::new("session", id)).detail("reason", reason);
        let sealed = [self.audit.seal(&event)?];
        let revoke = self.store.revoke_session(id, self.now(), reason, &sealed);
        if self.keyring.freshness().after_change(revoke).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("no live session {id:?}")))
        }
    }

    /// Ends every session of user `id` for `grantor` (incident response).
    pub async fn revoke_sessions_of(
        &self,
        id: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<u64, CoreError> {
        let user = self.user_to_manage(id, grantor, EventType::SessionRevoke, context).await?;
        self.revoke_all_sessions(&user.id, "admin", context).await
    }

    /// Revokes every session of a user; returns how many.
    pub async fn revoke_all_sessions(
        &self,
        user_id: &str,
        reason: &str,
        context: &AuditContext,
    ) -> Result<u64, CoreError> {
        let event = self
            .audit
            .event(EventType::SessionRevoke, context)
            .target(Target::new("user", user_id))
            .detail("reason", reason)
            .detail("scope", "all sessions");
        let sealed = [self.audit.seal(&event)?];
        let revoke = self.store.revoke_user_sessions(user_id, self.now(), reason, &sealed);
        Ok(self.keyring.freshness().after_change(revoke).await?)
    }
}
