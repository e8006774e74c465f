//! Users and sessions for the people who manage them, and for each user
//! their own: create, list, read, change, lock, reset, end sessions.
//!
//! Each method acts for a caller and asks the decision point first:
//! `user.manage` (role `admin`, API-key scope `users:manage`) for managing
//! others, `role.assign` (scope `roles:assign`) as well for creating a user
//! or changing roles, and `session.self` for a user's own account and
//! sessions (people only: an API key has no session). Below that, identity's
//! [`Grantor`] keeps everyone from granting a role above their own or
//! managing a user above them.

use std::sync::Arc;

use strongroom_policy::PrincipalKind;

use crate::audit::AuditContext;
use crate::authz::{Action, Ask, Authz, DenialKind, Permissions, Resource, Subject};
use crate::identity::{
    Grantor, Identity, NewUser, OneTimeSecret, Profile, ProfileChange, Role, SessionClient, SessionRecord, UserRecord,
};
use crate::{ApiKeyRecord, ApiKeys, CoreError};

/// A user with their opened profile.
#[derive(Debug, Clone)]
pub struct UserDetails {
    /// The user as stored.
    pub user: UserRecord,
    /// E-mail and full name, opened.
    pub profile: Profile,
    /// Whether one of their roles requires a second factor.
    pub mfa_required: bool,
}

/// The caller's own account: who, the matters held, what is allowed.
#[derive(Debug, Clone)]
pub struct MyAccount {
    /// The user.
    pub details: UserDetails,
    /// Matters the user holds a grant on.
    pub matters: Vec<String>,
    /// The user's effective permissions.
    pub permissions: Permissions,
}

/// A session with its opened client address and user agent.
#[derive(Debug, Clone)]
pub struct SessionDetails {
    /// The session as stored.
    pub session: SessionRecord,
    /// Where it was opened from.
    pub client: SessionClient,
}

/// The credential a request was made with, as its holder may read it
/// (never a secret).
#[derive(Debug, Clone)]
pub enum OwnCredential {
    /// An API key, as stored.
    ApiKey(ApiKeyRecord),
    /// A person's session, and the person.
    Session {
        /// The person.
        user: UserRecord,
        /// The session the access token belongs to.
        session: SessionRecord,
    },
}

/// What ending a user's sessions ended.
#[derive(Debug, Clone, Copy)]
pub struct RevokedAccess {
    /// Live sessions ended.
    pub sessions: u64,
    /// API keys the user owned, revoked with them.
    pub api_keys: u64,
}

/// User and session administration.
#[derive(Debug)]
pub struct UserManagement {
    identity: Arc<Identity>,
    api_keys: Arc<ApiKeys>,
    authz: Arc<Authz>,
}

/// What the caller holds, for granting or managing privilege: a person's
/// roles, or an API key's role `system`.
fn grantor(subject: &Subject) -> Grantor {
    match subject.facts.kind {
        PrincipalKind::User => Grantor::Holding(subject.facts.roles.iter().filter_map(|r| Role::parse(r)).collect()),
        PrincipalKind::ApiKey => Grantor::Holding(vec![Role::System]),
    }
}

/// The caller's own user id, when the caller is a person.
fn own_id(subject: &Subject) -> Option<&str> {
    (subject.facts.kind == PrincipalKind::User).then_some(subject.facts.id.as_str())
}

impl UserManagement {
    /// Administration of `identity`'s users (and the API keys they own),
    /// deciding with `authz`.
    pub fn new(identity: Arc<Identity>, api_keys: Arc<ApiKeys>, authz: Arc<Authz>) -> Self {
        Self { identity, api_keys, authz }
    }

    async fn authorize(&self, subject: &Subject, action: Action, context: &AuditContext) -> Result<(), CoreError> {
        self.authz.authorize(subject, action, &Resource::Service, &Ask::default(), context).await.map(|_| ())
    }

    /// The caller's own user id, after `session.self`; an API key is refused
    /// (audited): it has no session.
    async fn own_session<'s>(&self, subject: &'s Subject, context: &AuditContext) -> Result<&'s str, CoreError> {
        self.authorize(subject, Action::SessionSelf, context).await?;
        match own_id(subject) {
            Some(id) => Ok(id),
            None => {
                let detail = "this API key lacks a user's session (API keys have none)".to_owned();
                Err(self
                    .authz
                    .refuse(DenialKind::Forbidden, Action::SessionSelf, &Resource::Service, detail, context)
                    .await)
            }
        }
    }

    /// The caller's own user id and session, after `session.self`.
    async fn own<'s>(&self, subject: &'s Subject, context: &AuditContext) -> Result<(&'s str, &'s str), CoreError> {
        let id = self.own_session(subject, context).await?;
        let session = subject.session.as_deref().ok_or(CoreError::Unauthenticated)?;
        Ok((id, session))
    }

    async fn details(&self, user: UserRecord) -> Result<UserDetails, CoreError> {
        let profile = self.identity.profile(&user).await?;
        let mfa_required = self.identity.requires_mfa(&user);
        Ok(UserDetails { user, profile, mfa_required })
    }

    /// The caller, with the matters they hold a grant on and what the policy
    /// engine lets them do now.
    pub async fn me(&self, subject: &Subject, context: &AuditContext) -> Result<MyAccount, CoreError> {
        let id = self.own_session(subject, context).await?;
        let details = self.details(self.identity.user(id).await?).await?;
        let permissions = self.authz.permissions(subject, context);
        Ok(MyAccount { details, matters: subject.facts.matters.clone(), permissions })
    }

    /// Creates a user; their roles must be within the caller's own.
    pub async fn create_user(
        &self,
        subject: &Subject,
        new: NewUser,
        context: &AuditContext,
    ) -> Result<UserDetails, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        // A new user's roles are assigned: that takes role.assign too.
        self.authorize(subject, Action::RoleAssign, context).await?;
        self.authz.check_roles_exist(&new.roles)?;
        let user = self.identity.create_user(new, &grantor(subject), context).await?;
        self.details(user).await
    }

    /// Every user.
    pub async fn users(&self, subject: &Subject, context: &AuditContext) -> Result<Vec<UserDetails>, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        let mut users = Vec::new();
        for user in self.identity.users().await? {
            users.push(self.details(user).await?);
        }
        Ok(users)
    }

    /// One user: oneself, or anyone for managers.
    pub async fn user(&self, subject: &Subject, id: &str, context: &AuditContext) -> Result<UserDetails, CoreError> {
        if own_id(subject) == Some(id) {
            self.own_session(subject, context).await?;
        } else {
            self.authorize(subject, Action::UserManage, context).await?;
        }
        self.details(self.identity.user(id).await?).await
    }

    /// Changes e-mail, full name or the disabled flag (disabling ends every session).
    pub async fn update_profile(
        &self,
        subject: &Subject,
        id: &str,
        change: ProfileChange,
        context: &AuditContext,
    ) -> Result<UserDetails, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        let user = self.identity.update_profile(id, change, &grantor(subject), context).await?;
        self.details(user).await
    }

    /// Replaces a user's roles, with a justification.
    pub async fn set_roles(
        &self,
        subject: &Subject,
        id: &str,
        roles: Vec<Role>,
        justification: &str,
        context: &AuditContext,
    ) -> Result<UserDetails, CoreError> {
        self.authorize(subject, Action::RoleAssign, context).await?;
        self.authz.check_roles_exist(&roles)?;
        let user = self.identity.set_roles(id, roles, justification, &grantor(subject), context).await?;
        self.details(user).await
    }

    /// Locks a user: no login, every session ends, and the API keys they
    /// own stop while the lock lasts; with `revoke_api_keys` those keys are
    /// revoked for good as well (incident response in one call).
    pub async fn lock(
        &self,
        subject: &Subject,
        id: &str,
        reason: &str,
        revoke_api_keys: bool,
        context: &AuditContext,
    ) -> Result<UserDetails, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        let user = self.identity.lock(id, reason, &grantor(subject), context).await?;
        if revoke_api_keys {
            self.api_keys.revoke_owned_by(&user.id, context).await?;
        }
        self.details(user).await
    }

    /// Unlocks a user and forgets their failed logins.
    pub async fn unlock(&self, subject: &Subject, id: &str, context: &AuditContext) -> Result<UserDetails, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        let user = self.identity.unlock(id, &grantor(subject), context).await?;
        self.details(user).await
    }

    /// Ends every session of a user at once, and revokes the API keys they
    /// own (incident response: a service account's keys go with it).
    pub async fn revoke_access(
        &self,
        subject: &Subject,
        id: &str,
        context: &AuditContext,
    ) -> Result<RevokedAccess, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        let sessions = self.identity.revoke_sessions_of(id, &grantor(subject), context).await?;
        let api_keys = self.api_keys.revoke_owned_by(id, context).await?;
        Ok(RevokedAccess { sessions, api_keys })
    }

    /// A single-use password-reset token for a user, and when it expires.
    pub async fn issue_password_reset(
        &self,
        subject: &Subject,
        id: &str,
        context: &AuditContext,
    ) -> Result<(OneTimeSecret, i64), CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        self.identity.issue_password_reset(id, &grantor(subject), context).await
    }

    /// A single-use MFA enrolment token for a user.
    pub async fn issue_enrollment(
        &self,
        subject: &Subject,
        id: &str,
        context: &AuditContext,
    ) -> Result<OneTimeSecret, CoreError> {
        self.authorize(subject, Action::UserManage, context).await?;
        self.identity.issue_enrollment_token_for(id, &grantor(subject), context).await
    }

    /// Live sessions: the caller's own, or (managers) those of `user`, an id or username.
    pub async fn sessions(
        &self,
        subject: &Subject,
        user: Option<&str>,
        context: &AuditContext,
    ) -> Result<Vec<SessionDetails>, CoreError> {
        let user_id = match user {
            Some(other) => {
                self.authorize(subject, Action::UserManage, context).await?;
                self.identity.find_user(other).await?.id
            }
            None => self.own_session(subject, context).await?.to_owned(),
        };
        let mut sessions = Vec::new();
        for session in self.identity.sessions(&user_id).await? {
            let client = self.identity.session_client(&session).await?;
            sessions.push(SessionDetails { session, client });
        }
        Ok(sessions)
    }

    /// Ends one session: one's own, or anyone's for managers. Whether a
    /// session that is not the caller's exists is told to managers only.
    pub async fn revoke_session(&self, subject: &Subject, id: &str, context: &AuditContext) -> Result<(), CoreError> {
        let session = self.identity.session(id).await;
        let own = matches!((&session, own_id(subject)), (Ok(s), Some(me)) if s.user_id == me);
        if own {
            self.own_session(subject, context).await?;
        } else {
            self.authorize(subject, Action::UserManage, context).await?;
        }
        session?;
        self.identity.revoke_session(id, if own { "revoked_by_user" } else { "admin" }, context).await
    }

    // ---- One's own account --------------------------------------------------

    /// Ends the caller's session: its access and refresh tokens stop working at once.
    pub async fn logout(&self, subject: &Subject, context: &AuditContext) -> Result<(), CoreError> {
        let (_, session) = self.own(subject, context).await?;
        self.identity.revoke_session(session, "logout", context).await
    }

    /// Starts the caller's TOTP enrolment: the `otpauth://` URI (it carries
    /// the seed: show it once).
    pub async fn enroll_totp(&self, subject: &Subject, context: &AuditContext) -> Result<OneTimeSecret, CoreError> {
        let id = self.own_session(subject, context).await?;
        self.identity.enroll_totp(id, context).await
    }

    /// Activates the caller's TOTP with a first valid code; answers ten
    /// one-time recovery codes.
    pub async fn confirm_totp(
        &self,
        subject: &Subject,
        code: &str,
        context: &AuditContext,
    ) -> Result<Vec<OneTimeSecret>, CoreError> {
        let id = self.own_session(subject, context).await?;
        self.identity.confirm_totp(id, code, context).await
    }

    /// Turns the caller's TOTP off, with a current code; refused when one
    /// of their roles requires a second factor.
    pub async fn disable_totp(&self, subject: &Subject, code: &str, context: &AuditContext) -> Result<(), CoreError> {
        let (id, session) = self.own(subject, context).await?;
        if self.identity.requires_mfa(&self.identity.user(id).await?) {
            return Err(CoreError::Forbidden(
                "the user's role requires a second factor: it cannot be turned off".into(),
            ));
        }
        self.identity.step_up(id, session, code, context).await?;
        self.identity.disable_totp(id, context).await
    }

    /// Step-up: a current code proves a recent second factor on the
    /// caller's session; answers the time it records.
    pub async fn step_up(&self, subject: &Subject, code: &str, context: &AuditContext) -> Result<i64, CoreError> {
        let (id, session) = self.own(subject, context).await?;
        self.identity.step_up(id, session, code, context).await
    }

    /// The credential the caller presented (Vault's token `lookup-self`):
    /// an API key's own record, a person's session. No permission is asked
    /// and nothing is audited, as for reading oneself: the answer tells the
    /// caller only what its credential already is, and a credential that
    /// does not authenticate never gets here.
    pub async fn own_credential(&self, subject: &Subject) -> Result<OwnCredential, CoreError> {
        match subject.facts.kind {
            PrincipalKind::ApiKey => Ok(OwnCredential::ApiKey(self.api_keys.get(&subject.facts.id).await?)),
            PrincipalKind::User => {
                let id = subject.session.as_deref().ok_or(CoreError::Unauthenticated)?;
                let session = self.identity.session(id).await?;
                if session.user_id != subject.facts.id {
                    return Err(CoreError::Unauthenticated);
                }
                Ok(OwnCredential::Session { user: self.identity.user(&subject.facts.id).await?, session })
            }
        }
    }
}
