//! Personal data: sealed under the user-secrets key, bound to row and column, opened only to be shown.

use super::model::{SealedSessionFields, SealedUserFields, SessionRecord, UserRecord};
use crate::{CoreError, KeyPurpose};

use super::service::*;

impl Identity {
    /// Seals `value` of `table`.`column` for row `id`: a sealed value
    /// copied into another row or column does not open there.
    pub(super) async fn seal_personal(
        &self,
        table: &str,
        column: &str,
        id: &str,
        value: &str,
    ) -> Result<Vec<u8>, CoreError> {
        let context = personal_context(table, column, id);
        self.keyring.encrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, value.as_bytes(), &context).await
    }

    pub(super) async fn open_personal(
        &self,
        table: &str,
        column: &str,
        id: &str,
        sealed: &[u8],
    ) -> Result<String, CoreError> {
        let context = personal_context(table, column, id);
        let opened = self.keyring.decrypt(KeyPurpose::UserSecret, USER_SECRETS_KEY, sealed, &context).await?;
        String::from_utf8(opened.expose().to_vec()).map_err(|_| {
            CoreError::Store(crate::StoreError::Backend(format!("{table}.{column} of {id:?} is not text").into()))
        })
    }

    /// The keyed hash a session's `column` (`ip`, `user_agent`) is compared
    /// by, bound to the session so equal values of two sessions differ.
    pub(super) async fn session_mac(&self, column: &str, session_id: &str, value: &str) -> Result<Vec<u8>, CoreError> {
        self.token_hash(&format!("session-{column}"), &format!("{session_id}/{value}")).await
    }

    /// A user's e-mail and full name, opened to be shown.
    pub async fn profile(&self, user: &UserRecord) -> Result<Profile, CoreError> {
        Ok(Profile {
            email: self.open_personal("users", "email", &user.id, &user.sealed_email).await?,
            full_name: self.open_personal("users", "full_name", &user.id, &user.sealed_full_name).await?,
        })
    }

    /// Where a session was started from, opened to be shown.
    pub async fn session_client(&self, session: &SessionRecord) -> Result<SessionClient, CoreError> {
        let mut client = SessionClient::default();
        if let Some(sealed) = &session.sealed_ip {
            client.ip = Some(self.open_personal("sessions", "ip", &session.id, sealed).await?);
        }
        if let Some(sealed) = &session.sealed_user_agent {
            client.user_agent = Some(self.open_personal("sessions", "user_agent", &session.id, sealed).await?);
        }
        Ok(client)
    }

    pub(super) async fn sealed_session_fields(
        &self,
        id: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<SealedSessionFields, CoreError> {
        let mut fields = SealedSessionFields {
            id: id.to_owned(),
            sealed_ip: None,
            sealed_user_agent: None,
            ip_mac: None,
            user_agent_mac: None,
        };
        if let Some(ip) = ip {
            fields.sealed_ip = Some(self.seal_personal("sessions", "ip", id, ip).await?);
            fields.ip_mac = Some(self.session_mac("ip", id, ip).await?);
        }
        if let Some(agent) = user_agent {
            fields.sealed_user_agent = Some(self.seal_personal("sessions", "user_agent", id, agent).await?);
            fields.user_agent_mac = Some(self.session_mac("user_agent", id, agent).await?);
        }
        Ok(fields)
    }

    /// Seals the personal data of rows written before it was sealed
    /// (migration 0014) and empties their clear columns, a batch per
    /// transaction; then has the store forget the emptied values. Run before
    /// serving; a second run finds nothing to do. Returns how many rows it sealed.
    pub async fn seal_old_rows(&self) -> Result<u64, CoreError> {
        let mut sealed = 0u64;
        loop {
            let users = self.store.unsealed_users(SEALING_BATCH).await?;
            let sessions = self.store.unsealed_sessions(SEALING_BATCH).await?;
            if users.is_empty() && sessions.is_empty() {
                break;
            }
            let mut user_fields = Vec::with_capacity(users.len());
            for user in &users {
                user_fields.push(SealedUserFields {
                    id: user.id.clone(),
                    sealed_email: self.seal_personal("users", "email", &user.id, &user.email).await?,
                    sealed_full_name: self.seal_personal("users", "full_name", &user.id, &user.full_name).await?,
                });
            }
            let mut session_fields = Vec::with_capacity(sessions.len());
            for session in &sessions {
                session_fields.push(
                    self.sealed_session_fields(&session.id, session.ip.as_deref(), session.user_agent.as_deref())
                        .await?,
                );
            }
            self.store.seal_old_rows(&user_fields, &session_fields).await?;
            sealed += (users.len() + sessions.len()) as u64;
        }
        if sealed > 0 {
            self.store.forget_cleared_values().await?;
        }
        Ok(sealed)
    }
}
