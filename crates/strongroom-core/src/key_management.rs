//! The keyring for operators: every key (never its material) with what its
//! versions still protect, rotation, configuration, state changes and the
//! jobs they start. Each method acts for a caller and asks for `key.manage`
//! first (admins; API-key scope `keys:manage`); the keyring and the job
//! runner below it record the events of what changes.

use std::sync::Arc;

use crate::audit::AuditContext;
use crate::authz::{Action, Ask, Authz, Resource, Subject};
use crate::{CoreError, Job, Jobs, KeyChange, KeyInfo, KeyReport, KeyState, Keyring};

/// The shortest justification a state change accepts: it is what the audit
/// event says about why a key was disabled, compromised or destroyed.
pub const MIN_JUSTIFICATION: usize = 20;

/// A change to a key's configuration; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyConfigChange {
    /// Whether the key may be deleted.
    pub deletion_allowed: Option<bool>,
    /// The automatic rotation period in seconds; `Some(0)` turns it off.
    pub rotation_period_seconds: Option<i64>,
    /// Versions below this one stop decrypting (check the census first).
    pub min_decryption_version: Option<u32>,
}

/// Key administration for operators.
#[derive(Debug)]
pub struct KeyManagement {
    keyring: Arc<Keyring>,
    jobs: Arc<Jobs>,
    authz: Arc<Authz>,
}

impl KeyManagement {
    /// Administration of `keyring`'s keys and `jobs`, deciding with `authz`.
    pub fn new(keyring: Arc<Keyring>, jobs: Arc<Jobs>, authz: Arc<Authz>) -> Self {
        Self { keyring, jobs, authz }
    }

    async fn authorize(&self, subject: &Subject, resource: Resource, context: &AuditContext) -> Result<(), CoreError> {
        self.authz.authorize(subject, Action::KeyManage, &resource, &Ask::default(), context).await.map(|_| ())
    }

    /// Every key, without versions.
    pub async fn keys(&self, subject: &Subject, context: &AuditContext) -> Result<Vec<KeyInfo>, CoreError> {
        self.authorize(subject, Resource::Service, context).await?;
        self.keyring.list().await
    }

    /// One key with its versions, their census and its recent jobs.
    pub async fn report(&self, subject: &Subject, name: &str, context: &AuditContext) -> Result<KeyReport, CoreError> {
        self.authorize(subject, Resource::Key(name.to_owned()), context).await?;
        self.jobs.key_report(name).await
    }

    /// Adds a version (a matter key's rotation starts its rewrap job, the
    /// first of the report's jobs).
    pub async fn rotate(&self, subject: &Subject, name: &str, context: &AuditContext) -> Result<KeyReport, CoreError> {
        self.authorize(subject, Resource::Key(name.to_owned()), context).await?;
        self.jobs.rotate_key(name, context).await?;
        self.jobs.key_report(name).await
    }

    /// Starts (again) the job that reseals a matter key's data keys under
    /// its latest version.
    pub async fn rewrap(&self, subject: &Subject, name: &str, context: &AuditContext) -> Result<Job, CoreError> {
        self.authorize(subject, Resource::Key(name.to_owned()), context).await?;
        self.jobs.rewrap_key(name, context).await
    }

    /// Changes deletion protection, the rotation period or the minimum
    /// decryption version.
    pub async fn configure(
        &self,
        subject: &Subject,
        name: &str,
        change: KeyConfigChange,
        context: &AuditContext,
    ) -> Result<KeyReport, CoreError> {
        self.authorize(subject, Resource::Key(name.to_owned()), context).await?;
        if change.deletion_allowed.is_some() || change.rotation_period_seconds.is_some() {
            let period = change.rotation_period_seconds.map(|p| (p != 0).then_some(p));
            self.keyring.configure(name, change.deletion_allowed, period, context).await?;
        }
        if let Some(version) = change.min_decryption_version {
            self.keyring.set_min_decryption_version(name, version, context).await?;
        }
        self.jobs.key_report(name).await
    }

    /// Changes a key's state with a justification of at least
    /// [`MIN_JUSTIFICATION`] characters; answers the change and the report
    /// after it.
    pub async fn set_state(
        &self,
        subject: &Subject,
        name: &str,
        target: KeyState,
        justification: &str,
        context: &AuditContext,
    ) -> Result<(KeyChange, KeyReport), CoreError> {
        self.authorize(subject, Resource::Key(name.to_owned()), context).await?;
        let justification = justification.trim();
        if justification.chars().count() < MIN_JUSTIFICATION {
            return Err(CoreError::InvalidInput(format!("justification: at least {MIN_JUSTIFICATION} characters")));
        }
        let change = self.jobs.set_key_state(name, target, justification, context).await?;
        Ok((change, self.jobs.key_report(name).await?))
    }

    /// A key job's progress.
    pub async fn job(&self, subject: &Subject, id: &str, context: &AuditContext) -> Result<Job, CoreError> {
        self.authorize(subject, Resource::Service, context).await?;
        self.jobs.job(id).await
    }
}
