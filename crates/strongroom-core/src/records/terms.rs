//! Operators' own redaction terms, one list per matter (SPEC §5: "per-matter
//! lists of names always redacted"): the parties of a case, a client's
//! codename. Every redacted rendition written in the matter replaces them,
//! whatever the detectors make of them.
//!
//! The list is personal data, so it is stored sealed (keyring key
//! `system.redaction-terms`, bound to the matter), read and replaced only by
//! those who manage the matter (`matter.manage`), and each replacement is
//! audited as a `config.change` that counts the terms and never names them.

use serde::{Deserialize, Serialize};
use strongroom_crypto::AssociatedData;
use strongroom_redact::{Term, Terms};

use super::model::SealedTerms;
use super::service::{Records, server_key};
use crate::audit::{AuditContext, EventType, Target};
use crate::authz::{Action, Ask, Resource, Subject};
use crate::{CoreError, KeyPurpose, StoreError};

fn corrupt(what: String) -> CoreError {
    CoreError::Store(StoreError::Backend(what.into()))
}

/// The keyring key that seals every matter's list.
const TERMS_KEY: &str = "system.redaction-terms";

/// A matter's terms and the revision they are at (0: none set yet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedactionTerms {
    pub terms: Vec<Term>,
    pub revision: i64,
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
}

/// How a list is sealed: `[{"term": …, "type": …}, …]`.
#[derive(Serialize, Deserialize)]
struct StoredTerm {
    term: String,
    #[serde(rename = "type")]
    kind: String,
}

fn terms_context(matter: &str) -> AssociatedData {
    AssociatedData::new().with("matter", matter.as_bytes()).with("list", b"redaction-terms")
}

impl Records {
    /// The redaction terms of `matter`, for those who manage it.
    pub async fn redaction_terms(
        &self,
        subject: &Subject,
        matter: &str,
        context: &AuditContext,
    ) -> Result<RedactionTerms, CoreError> {
        self.authorize_terms(subject, matter, context).await?;
        self.stored_terms(matter).await
    }

    /// Replaces the redaction terms of `matter`. With `revision` (the one
    /// read), refuses when another change came first. Applies to renditions
    /// written from now on; stored renditions keep what they were.
    pub async fn replace_redaction_terms(
        &self,
        subject: &Subject,
        matter: &str,
        terms: Vec<Term>,
        revision: Option<i64>,
        context: &AuditContext,
    ) -> Result<RedactionTerms, CoreError> {
        self.authorize_terms(subject, matter, context).await?;
        if revision.is_some_and(|r| r < 0) {
            return Err(CoreError::InvalidInput("revision: 0 or more".into()));
        }
        Terms::new(&terms).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let current = self.store.redaction_terms(matter).await?.map_or(0, |stored| stored.revision);
        if revision.is_some_and(|asked| asked != current) {
            return Err(CoreError::Conflict(format!(
                "the redaction terms of {matter:?} are at revision {current}, not {}; read them again",
                revision.unwrap_or_default()
            )));
        }
        let stored: Vec<StoredTerm> =
            terms.iter().map(|t| StoredTerm { term: t.text.clone(), kind: t.kind.clone() }).collect();
        let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(&stored).map_err(|e| corrupt(e.to_string()))?);
        self.keyring.ensure(TERMS_KEY, server_key(KeyPurpose::UserSecret), context).await?;
        let sealed =
            self.keyring.encrypt(KeyPurpose::UserSecret, TERMS_KEY, &plaintext, &terms_context(matter)).await?;
        let row = SealedTerms {
            matter_id: matter.to_owned(),
            sealed,
            revision: current + 1,
            updated_at: self.now_seconds(),
            updated_by: subject.reference(),
        };
        let event = self
            .audit
            .event(EventType::ConfigChange, context)
            .target(Target::new("matter", matter))
            .detail("change", "redaction terms replaced")
            .detail("terms", i64::try_from(terms.len()).unwrap_or(i64::MAX))
            .detail("revision", row.revision);
        if !self.store.put_redaction_terms(&row, &[self.audit.seal(&event)?]).await? {
            return Err(CoreError::Conflict(format!(
                "the redaction terms of {matter:?} changed meanwhile; read them again"
            )));
        }
        Ok(RedactionTerms {
            terms,
            revision: row.revision,
            updated_at: Some(row.updated_at),
            updated_by: Some(row.updated_by),
        })
    }

    /// The compiled terms renditions in `matter` replace (none when unset).
    pub(super) async fn matter_terms(&self, matter: &str) -> Result<Terms, CoreError> {
        let stored = self.stored_terms(matter).await?;
        Terms::new(&stored.terms).map_err(|e| corrupt(format!("stored redaction terms: {e}")))
    }

    async fn stored_terms(&self, matter: &str) -> Result<RedactionTerms, CoreError> {
        let Some(stored) = self.store.redaction_terms(matter).await? else {
            return Ok(RedactionTerms::default());
        };
        let opened =
            self.keyring.decrypt(KeyPurpose::UserSecret, TERMS_KEY, &stored.sealed, &terms_context(matter)).await?;
        let list: Vec<StoredTerm> = serde_json::from_slice(opened.expose())
            .map_err(|_| corrupt("stored redaction terms do not parse".into()))?;
        Ok(RedactionTerms {
            terms: list.into_iter().map(|t| Term { text: t.term, kind: t.kind }).collect(),
            revision: stored.revision,
            updated_at: Some(stored.updated_at),
            updated_by: Some(stored.updated_by),
        })
    }

    /// `matter.manage` on the matter, which must exist (and be visible).
    async fn authorize_terms(&self, subject: &Subject, matter: &str, context: &AuditContext) -> Result<(), CoreError> {
        let resource = Resource::Matter(matter.to_owned());
        self.authz.authorize(subject, Action::MatterManage, &resource, &Ask::default(), context).await?;
        self.authz.matter(subject, matter, context).await.map(|_| ())
    }
}
