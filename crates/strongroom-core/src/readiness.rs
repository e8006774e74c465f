//! Whether this instance can serve: the database answers, the root key is
//! unsealed, the audit log records and its tree checks out, blob storage
//! answers. Each check is bounded in time, so a hung dependency makes the
//! answer "not ready" instead of no answer at all.

use std::sync::Arc;
use std::time::Duration;

use crate::Store;
use crate::audit::AuditLog;
use crate::records::Records;

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a failed audit append is remembered once the database answers
/// again: long enough for a probe to see it, short enough that the instance
/// comes back by itself when the fault is gone.
const FAILED_APPEND_MEMORY: Duration = Duration::from_secs(5);

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `database`, `root_key`, `audit` or `blobs`.
    pub name: &'static str,
    /// Whether it works.
    pub ok: bool,
    /// What was found, for people (no secret, no internal detail).
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, ok: bool, detail: impl Into<String>) -> Self {
        Self { name, ok, detail: detail.into() }
    }
}

/// The readiness checks of one instance.
#[derive(Debug)]
pub struct Readiness {
    store: Arc<dyn Store>,
    audit: Arc<AuditLog>,
    records: Arc<Records>,
    root_key_id: String,
}

impl Readiness {
    /// Checks over these services; `root_key_id` names the unsealed root key.
    pub fn new(store: Arc<dyn Store>, audit: Arc<AuditLog>, records: Arc<Records>, root_key_id: String) -> Self {
        Self { store, audit, records, root_key_id }
    }

    /// Every check, in a fixed order.
    pub async fn check(&self) -> Vec<Check> {
        let backend = self.store.backend().as_str();
        let database = match tokio::time::timeout(CHECK_TIMEOUT, self.store.ping()).await {
            Ok(Ok(())) => {
                self.audit.forget_failed_append_older_than(FAILED_APPEND_MEMORY);
                Check::new("database", true, format!("{backend} answers"))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: database failing");
                Check::new("database", false, format!("{backend} does not answer"))
            }
            Err(_) => Check::new("database", false, "no answer within 2 s"),
        };
        let root_key = Check::new("root_key", true, format!("unsealed ({})", self.root_key_id));
        match tokio::time::timeout(CHECK_TIMEOUT, self.audit.head_damage()).await {
            Ok(Ok(Some(damage))) => tracing::warn!(%damage, "readiness: the audit tree head does not check out"),
            Ok(Err(error)) => tracing::warn!(%error, "readiness: cannot check the audit tree head"),
            Ok(Ok(None)) | Err(_) => {}
        }
        let problems = self.audit.health().problems();
        let audit = if problems.is_empty() {
            Check::new("audit", true, "recording; tree extends every known checkpoint and verifies")
        } else {
            Check::new("audit", false, problems.join("; "))
        };
        let blobs = match tokio::time::timeout(CHECK_TIMEOUT, self.records.check_blob_storage()).await {
            Ok(None) => Check::new("blobs", true, "no blob storage configured"),
            Ok(Some(Ok(()))) => Check::new("blobs", true, "storage answers"),
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, "readiness: blob storage failing");
                Check::new("blobs", false, "blob storage does not answer")
            }
            Err(_) => Check::new("blobs", false, "no answer within 2 s"),
        };
        vec![database, root_key, audit, blobs]
    }
}
