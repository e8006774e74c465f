//! API keys for the people and keys that manage them: issue (the secret
//! shown once), list, rotate with a grace period, revoke. Each method acts
//! for a caller and asks for `api_key.manage` first (role `admin` or the
//! scope `api_keys:manage`). A key can never grant a scope its creator (when
//! an API key) lacks, and a key's owner must be a service account.

use std::sync::Arc;

use strongroom_policy::PrincipalKind;

use crate::audit::AuditContext;
use crate::authz::{Action, Ask, Authz, DenialKind, Resource, Subject};
use crate::identity::{Identity, Role};
use crate::{ApiKeyRecord, ApiKeys, CoreError, IssuedApiKey, NewApiKey};

/// A key to issue, as a manager asks for it.
#[derive(Debug, Clone)]
pub struct ApiKeyRequest {
    /// The key itself; `owner_user_id` is filled in from `owner`.
    pub key: NewApiKey,
    /// The service account (id or username) that owns the key: revoking its
    /// sessions revokes the key too.
    pub owner: Option<String>,
}

/// API-key administration.
#[derive(Debug)]
pub struct ApiKeyManagement {
    api_keys: Arc<ApiKeys>,
    identity: Arc<Identity>,
    authz: Arc<Authz>,
}

impl ApiKeyManagement {
    /// Administration of `api_keys`, finding owners in `identity`, deciding with `authz`.
    pub fn new(api_keys: Arc<ApiKeys>, identity: Arc<Identity>, authz: Arc<Authz>) -> Self {
        Self { api_keys, identity, authz }
    }

    async fn authorize(&self, subject: &Subject, context: &AuditContext) -> Result<(), CoreError> {
        let ask = Ask::default();
        self.authz.authorize(subject, Action::ApiKeyManage, &Resource::Service, &ask, context).await.map(|_| ())
    }

    /// Issues a key; the secret is in the answer this once.
    pub async fn create(
        &self,
        subject: &Subject,
        request: ApiKeyRequest,
        context: &AuditContext,
    ) -> Result<(ApiKeyRecord, IssuedApiKey), CoreError> {
        self.authorize(subject, context).await?;
        let ApiKeyRequest { mut key, owner } = request;
        if subject.facts.kind == PrincipalKind::ApiKey
            && let Some(missing) =
                key.scopes.iter().find(|scope| !subject.facts.scopes.iter().any(|s| s == scope.as_str()))
        {
            let detail = format!("this API key lacks {} (a key cannot grant a scope it lacks)", missing.as_str());
            return Err(self
                .authz
                .refuse(DenialKind::Forbidden, Action::ApiKeyManage, &Resource::Service, detail, context)
                .await);
        }
        key.owner_user_id = match owner {
            Some(owner) => {
                let user = self.identity.find_user(&owner).await?;
                if !user.roles.contains(&Role::System) {
                    return Err(CoreError::InvalidInput(
                        "owner: API keys are owned by service accounts (role system)".into(),
                    ));
                }
                Some(user.id)
            }
            None => None,
        };
        self.api_keys.create(&key, context).await
    }

    /// Every key (never a secret).
    pub async fn list(&self, subject: &Subject, context: &AuditContext) -> Result<Vec<ApiKeyRecord>, CoreError> {
        self.authorize(subject, context).await?;
        self.api_keys.list().await
    }

    /// A new secret for key `id` (shown once); the old one works for
    /// `grace_seconds` more.
    pub async fn rotate(
        &self,
        subject: &Subject,
        id: &str,
        grace_seconds: i64,
        context: &AuditContext,
    ) -> Result<(ApiKeyRecord, IssuedApiKey), CoreError> {
        self.authorize(subject, context).await?;
        self.api_keys.rotate(id, grace_seconds, context).await
    }

    /// Revokes key `id` at once.
    pub async fn revoke(&self, subject: &Subject, id: &str, context: &AuditContext) -> Result<(), CoreError> {
        self.authorize(subject, context).await?;
        self.api_keys.revoke(id, context).await
    }
}
