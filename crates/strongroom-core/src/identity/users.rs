//! Users: creation, changes by those who manage them (within their grant), locks and password resets.

use super::model::{Grantor, OneTimeKind, Role, UserRecord};
use crate::CoreError;
use crate::audit::{AuditContext, AuditEvent, EventType, Outcome, Target};

use super::service::*;

impl Identity {
    pub(super) fn user_event(&self, event_type: EventType, user: &UserRecord, context: &AuditContext) -> AuditEvent {
        self.audit
            .event(event_type, context)
            .target(Target::new("user", user.id.clone()))
            .detail("username", user.username.clone())
    }

    /// Refuses (and audits the refusal of) `event`'s action when `grantor`
    /// does not cover one of `roles`: nobody grants a role above their own
    /// or manages a user above them (see [`Grantor`]).
    pub(super) async fn check_grantor(
        &self,
        grantor: &Grantor,
        roles: &[Role],
        event: &AuditEvent,
    ) -> Result<(), CoreError> {
        let Some(role) = grantor.first_uncovered(roles) else { return Ok(()) };
        let refused = event.clone().failed(Outcome::Denied, "privilege_above_own").detail("role", role.as_str());
        self.audit.record_refusal(&refused).await;
        Err(CoreError::Forbidden(format!(
            "role {:?} is above the caller's own: only its holders and admins grant it or manage its users",
            role.as_str()
        )))
    }

    /// The user `id`, for `grantor` to manage with `event_type`: refused
    /// (and audited) when the user holds a role above the grantor's.
    pub(super) async fn user_to_manage(
        &self,
        id: &str,
        grantor: &Grantor,
        event_type: EventType,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let user = self.user(id).await?;
        self.check_grantor(grantor, &user.roles, &self.user_event(event_type, &user, context)).await?;
        Ok(user)
    }

    /// Creates a user; the password must satisfy the policy, and `grantor`
    /// must cover every role given.
    pub async fn create_user(
        &self,
        new: NewUser,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let username = normalize_username(&new.username)?;
        if new.roles.is_empty() {
            return Err(CoreError::InvalidInput("roles: give at least one role".into()));
        }
        let password_hash = match &new.password {
            NewPassword::Plain(password) => {
                self.settings.password_policy.check(password, &username).map_err(CoreError::InvalidInput)?;
                Some(self.hash_password(password).await?)
            }
            NewPassword::ImportedHash(hash) => {
                if !strongroom_crypto::is_supported_password_hash(hash) {
                    return Err(CoreError::InvalidInput(
                        "password_hash: an Argon2id ($argon2id$…) or bcrypt ($2b$…) hash".into(),
                    ));
                }
                Some(hash.clone())
            }
            NewPassword::None => None,
        };
        let now = self.now();
        let mut roles = new.roles.clone();
        roles.sort();
        roles.dedup();
        let id = random_id()?;
        let (email, full_name) = (check_email(&new.email)?, check_text("full_name", &new.full_name, 200)?);
        let user = UserRecord {
            sealed_email: self.seal_personal("users", "email", &id, &email).await?,
            sealed_full_name: self.seal_personal("users", "full_name", &id, &full_name).await?,
            id,
            username,
            roles,
            password_hash,
            disabled: false,
            locked: false,
            totp_sealed_secret: None,
            totp_enabled: false,
            totp_last_step: None,
            created_at: now,
            updated_at: now,
            row_version: 0,
        };
        let event = self
            .user_event(EventType::UserCreate, &user, context)
            .detail("roles", user.roles.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>())
            .detail("imported_hash", matches!(new.password, NewPassword::ImportedHash(_)));
        self.check_grantor(grantor, &user.roles, &event).await?;
        match self.store.insert_user(&user, &[self.audit.seal(&event)?]).await {
            Ok(()) => Ok(user),
            Err(crate::StoreError::Conflict(_)) => {
                Err(CoreError::Conflict(format!("a user named {:?} exists already", user.username)))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Whether any user exists.
    pub async fn any_user(&self) -> Result<bool, CoreError> {
        Ok(self.store.any_user().await?)
    }

    /// One user.
    pub async fn user(&self, id: &str) -> Result<UserRecord, CoreError> {
        self.store.user(id).await?.ok_or_else(|| CoreError::NotFound(format!("no user with id {id:?}")))
    }

    /// One user by username or id.
    pub async fn find_user(&self, name_or_id: &str) -> Result<UserRecord, CoreError> {
        let by_name = match normalize_username(name_or_id) {
            Ok(name) => self.store.user_by_username(&name).await?,
            Err(_) => None,
        };
        match by_name {
            Some(user) => Ok(user),
            None => self.user(name_or_id).await,
        }
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<UserRecord>, CoreError> {
        Ok(self.store.list_users().await?)
    }

    /// Saves `user` over the version it was read at. If someone changed the
    /// user meanwhile nothing is written and the answer is `Conflict`: the
    /// change was made from a stale copy and must be made again.
    pub(super) async fn save_user(&self, user: &mut UserRecord, event: &AuditEvent) -> Result<(), CoreError> {
        user.updated_at = self.now();
        let sealed = [self.audit.seal(event)?];
        let update = self.store.update_user(user, &sealed);
        if self.keyring.freshness().after_change(update).await? {
            user.row_version += 1;
            return Ok(());
        }
        match self.store.user(&user.id).await? {
            Some(_) => Err(CoreError::Conflict(format!(
                "user {:?} changed while this change was made; read it again and retry",
                user.username
            ))),
            None => Err(CoreError::NotFound(format!("no user with id {:?}", user.id))),
        }
    }

    /// Changes e-mail, full name or the disabled flag. Disabling revokes every session.
    pub async fn update_profile(
        &self,
        id: &str,
        change: ProfileChange,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let mut user = self.user_to_manage(id, grantor, EventType::UserUpdate, context).await?;
        let mut changed = Vec::new();
        if let Some(email) = &change.email {
            user.sealed_email = self.seal_personal("users", "email", &user.id, &check_email(email)?).await?;
            changed.push("email".to_owned());
        }
        if let Some(full_name) = &change.full_name {
            let full_name = check_text("full_name", full_name, 200)?;
            user.sealed_full_name = self.seal_personal("users", "full_name", &user.id, &full_name).await?;
            changed.push("full_name".to_owned());
        }
        if let Some(disabled) = change.disabled {
            user.disabled = disabled;
            changed.push("disabled".to_owned());
        }
        let event = self.user_event(EventType::UserUpdate, &user, context).fields(changed);
        self.save_user(&mut user, &event).await?;
        if change.disabled == Some(true) {
            self.revoke_all_sessions(&user.id, "disabled", context).await?;
        }
        Ok(user)
    }

    /// Replaces a user's roles, for a stated reason of at least 20 characters.
    pub async fn set_roles(
        &self,
        id: &str,
        roles: Vec<Role>,
        justification: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let justification = justification.trim();
        if justification.chars().count() < 20 {
            return Err(CoreError::InvalidInput("justification: at least 20 characters saying why".into()));
        }
        if roles.is_empty() {
            return Err(CoreError::InvalidInput("roles: give at least one role".into()));
        }
        let mut user = self.user(id).await?;
        let names = |roles: &[Role]| roles.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>();
        let event = self
            .user_event(EventType::RoleChange, &user, context)
            .detail("previous_roles", names(&user.roles))
            .detail("roles", names(&roles))
            .justification(justification);
        // Both what is taken away and what is given must be within the grantor's own.
        self.check_grantor(grantor, &[user.roles.clone(), roles.clone()].concat(), &event).await?;
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        user.roles = roles;
        self.save_user(&mut user, &event).await?;
        Ok(user)
    }

    /// Locks a user (no login, every session revoked) until unlocked.
    pub async fn lock(
        &self,
        id: &str,
        reason: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<UserRecord, CoreError> {
        let mut user = self.user_to_manage(id, grantor, EventType::UserLock, context).await?;
        user.locked = true;
        let event = self.user_event(EventType::UserLock, &user, context).detail("reason", reason);
        self.save_user(&mut user, &event).await?;
        self.revoke_all_sessions(&user.id, "locked", context).await?;
        Ok(user)
    }

    /// Unlocks a user, and forgets their failed logins.
    pub async fn unlock(&self, id: &str, grantor: &Grantor, context: &AuditContext) -> Result<UserRecord, CoreError> {
        let mut user = self.user_to_manage(id, grantor, EventType::UserUnlock, context).await?;
        user.locked = false;
        let event = self.user_event(EventType::UserUnlock, &user, context);
        self.save_user(&mut user, &event).await?;
        self.store.clear_failures(&self.account_key(&user.username)?).await?;
        Ok(user)
    }

    /// Issues a single-use password-reset token for a user.
    pub async fn issue_password_reset(
        &self,
        id: &str,
        grantor: &Grantor,
        context: &AuditContext,
    ) -> Result<(OneTimeSecret, i64), CoreError> {
        let user = self.user_to_manage(id, grantor, EventType::PasswordReset, context).await?;
        let token = random_token("sr_reset_")?;
        let expires_at = self.now() + self.settings.reset_token_seconds;
        let event = self.user_event(EventType::PasswordReset, &user, context).detail("stage", "issued");
        let hash = self.token_hash(OneTimeKind::PasswordReset.as_str(), token.expose()).await?;
        self.store
            .insert_one_time(OneTimeKind::PasswordReset, &hash, &user.id, expires_at, &[self.audit.seal(&event)?])
            .await?;
        Ok((token, expires_at))
    }

    /// Sets a new password with a reset token (policy applies) and revokes every session.
    pub async fn reset_password(&self, token: &str, password: &str, context: &AuditContext) -> Result<(), CoreError> {
        let hash = self.token_hash(OneTimeKind::PasswordReset.as_str(), token.trim()).await?;
        let Some(user_id) = self.store.consume_one_time(OneTimeKind::PasswordReset, &hash, self.now()).await? else {
            let event = self.audit.event(EventType::PasswordReset, context).failed(Outcome::Failure, "invalid_token");
            self.audit.record(&event).await?;
            return Err(CoreError::InvalidResetToken);
        };
        let mut user = self.user(&user_id).await?;
        self.settings.password_policy.check(password, &user.username).map_err(CoreError::InvalidInput)?;
        user.password_hash = Some(self.hash_password(password).await?);
        let actor = AuditContext { actor: user_actor(&user), ..context.clone() };
        let event = self.user_event(EventType::PasswordReset, &user, &actor).detail("stage", "used");
        self.save_user(&mut user, &event).await?;
        self.store.clear_failures(&self.account_key(&user.username)?).await?;
        self.revoke_all_sessions(&user.id, "password_reset", &actor).await?;
        Ok(())
    }
}
