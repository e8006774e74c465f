//! The operators' policy document: validated against the schema and the invariants, versioned, audited.

use strongroom_policy::{Action, Resource};

use super::model::{PolicyDocument, RoleCatalogue};
use crate::CoreError;
use crate::audit::{AuditContext, EventType, Target};
use crate::principal::Subject;

use super::service::*;

impl Authz {
    /// The policies in force.
    pub async fn policies(&self, subject: &Subject, context: &AuditContext) -> Result<PolicyOverview, CoreError> {
        self.authorize(subject, Action::PolicyManage, &Resource::Service, &Ask::default(), context).await?;
        let document = self.store.policy_document().await?;
        Ok(PolicyOverview {
            schema: strongroom_policy::SCHEMA,
            default_text: strongroom_policy::DEFAULT_POLICIES,
            files: self.settings.policy_files.clone(),
            document,
            loaded: self.engine().policies(),
            warnings: self.policies.read().unwrap_or_else(|p| p.into_inner()).warnings.clone(),
        })
    }

    /// Replaces the API-managed policy document after validating it (alone
    /// and with every other policy); broken policies are refused with their
    /// line and column and change nothing.
    pub async fn replace_policies(
        &self,
        subject: &Subject,
        text: &str,
        justification: &str,
        context: &AuditContext,
    ) -> Result<PolicyDocument, CoreError> {
        self.authorize(subject, Action::PolicyManage, &Resource::Service, &Ask::default(), context).await?;
        let justification = check_justification(Some(justification))?;
        if text.len() > MAX_POLICY_BYTES {
            return Err(CoreError::InvalidInput(format!("policies: at most {MAX_POLICY_BYTES} bytes")));
        }
        let current = self.store.policy_document().await?;
        let document = PolicyDocument {
            version: current.as_ref().map_or(1, |d| d.version + 1),
            text: text.to_owned(),
            updated_at: self.now(),
            updated_by: subject.reference(),
            justification: justification.to_owned(),
        };
        let catalogue = self.policies.read().unwrap_or_else(|p| p.into_inner()).catalogue.clone();
        let (engine, warnings) =
            Self::build(&self.settings, Some(&document), &catalogue).map_err(CoreError::InvalidPolicy)?;
        let digest = strongroom_crypto::sha256(text.as_bytes());
        let mut event = self
            .audit
            .event(EventType::PolicyChange, context)
            .target(Target::new("policies", "api"))
            .detail("version", document.version)
            .detail("policies", i64::try_from(engine.policies().len()).unwrap_or(i64::MAX))
            .detail("sha256", strongroom_crypto::to_hex(&digest))
            .justification(justification);
        if !warnings.is_empty() {
            // Stored under `warn` although it breaks an invariant: on record.
            event = event.detail("invariant_warnings", warnings.clone());
        }
        if !self.store.save_policy_document(&document, &[self.audit.seal(&event)?]).await? {
            return Err(CoreError::Conflict("the policies were replaced meanwhile; read them again".into()));
        }
        let mut loaded = self.policies.write().unwrap_or_else(|p| p.into_inner());
        if document.version > loaded.document_version && catalogue.version == loaded.catalogue.version {
            *loaded = LoadedPolicies { engine, document_version: document.version, catalogue, warnings };
        }
        Ok(document)
    }

    /// Loads a policy document or a role catalogue another instance stored.
    /// A stored one that no longer loads (it cannot: it was validated)
    /// keeps the old set.
    pub async fn refresh_policies(&self) -> Result<bool, CoreError> {
        let document = self.store.policy_document().await?;
        let catalogue = self.store.role_catalogue().await?.unwrap_or_else(RoleCatalogue::empty);
        let document_version = document.as_ref().map_or(0, |d| d.version);
        // Newer: neither older than what is loaded, and not both the same.
        let newer = |loaded: &LoadedPolicies| {
            let (stored, held) =
                ((document_version, catalogue.version), (loaded.document_version, loaded.catalogue.version));
            stored.0 >= held.0 && stored.1 >= held.1 && stored != held
        };
        if !newer(&self.policies.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(false);
        }
        let (engine, warnings) =
            Self::build(&self.settings, document.as_ref(), &catalogue).map_err(CoreError::InvalidPolicy)?;
        let mut loaded = self.policies.write().unwrap_or_else(|p| p.into_inner());
        if newer(&loaded) {
            *loaded = LoadedPolicies { engine, document_version, catalogue, warnings };
        }
        Ok(true)
    }
}
