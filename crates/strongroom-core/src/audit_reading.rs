//! The audit log for its readers: events with filters, one event with its
//! proof, inclusion and consistency proofs, statistics with a full
//! integrity check, and raised alerts. Each method acts for a caller and
//! asks for `audit.read` first. Reading never records a reveal: the log
//! holds no plaintext to reveal.
//!
//! It sits above [`authz`](crate::authz) (which writes through the audit
//! log), so the log itself stays free of decisions.

use std::sync::Arc;

use strongroom_crypto::merkle::{self, Hash};

use crate::CoreError;
use crate::audit::AuditContext;
use crate::audit::{
    AlertEvaluator, AlertRecord, AuditCounts, AuditFilter, AuditHealth, AuditLog, Checkpointer, IntegrityReport,
    StoredCheckpoint, StoredEntry, TreeHead,
};
use crate::authz::{Action, Ask, Authz, Resource, Subject};

/// How many raised alerts [`AuditReader::alerts`] answers.
const RECENT_ALERTS: u32 = 200;

/// The window of [`AuditStats::counts`]' failures.
const FAILURE_WINDOW_MS: i64 = 24 * 3_600_000;

/// One event with everything to check it without trusting this server.
#[derive(Debug, Clone)]
pub struct EventWithProof {
    /// The event's exact bytes.
    pub entry: StoredEntry,
    /// Its inclusion path in the tree of the checkpoint.
    pub inclusion_path: Vec<Hash>,
    /// The signed checkpoint the proof is for.
    pub checkpoint: StoredCheckpoint,
}

/// An RFC 9162 inclusion proof.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The leaf.
    pub index: u64,
    /// The size of the tree it is proven in.
    pub tree_size: u64,
    /// The leaf's hash.
    pub leaf_hash: Hash,
    /// That tree's root.
    pub root: Hash,
    /// The path.
    pub path: Vec<Hash>,
}

/// An RFC 9162 consistency proof.
#[derive(Debug, Clone)]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub from: u64,
    /// The larger tree size.
    pub to: u64,
    /// The smaller tree's root.
    pub from_root: Hash,
    /// The larger tree's root.
    pub to_root: Hash,
    /// The path.
    pub path: Vec<Hash>,
}

/// Totals, recent failures, the newest checkpoint and a full integrity check.
#[derive(Debug, Clone)]
pub struct AuditStats {
    /// The tree as it is now.
    pub head: TreeHead,
    /// Events per type, and failures in the last 24 hours.
    pub counts: AuditCounts,
    /// The newest signed checkpoint.
    pub latest_checkpoint: Option<StoredCheckpoint>,
    /// The stored tree recomputed against its head and every checkpoint.
    pub integrity: IntegrityReport,
    /// What the log knows of its own health (a rollback, failing appends).
    pub health: AuditHealth,
}

/// Reading the audit log for somebody.
#[derive(Debug)]
pub struct AuditReader {
    audit: Arc<AuditLog>,
    checkpointer: Arc<Checkpointer>,
    alerts: Arc<AlertEvaluator>,
    authz: Arc<Authz>,
}

impl AuditReader {
    /// Reads `audit` (proofs against `checkpointer`'s checkpoints, raised
    /// `alerts`), deciding with `authz`.
    pub fn new(
        audit: Arc<AuditLog>,
        checkpointer: Arc<Checkpointer>,
        alerts: Arc<AlertEvaluator>,
        authz: Arc<Authz>,
    ) -> Self {
        Self { audit, checkpointer, alerts, authz }
    }

    async fn authorize(&self, subject: &Subject, context: &AuditContext) -> Result<(), CoreError> {
        self.authz.authorize(subject, Action::AuditRead, &Resource::Service, &Ask::default(), context).await.map(|_| ())
    }

    /// Events, newest first, matching `filter`; `hmac_of` finds the events
    /// carrying the HMAC of a value (a subject id, an address) without the
    /// log holding it.
    pub async fn events(
        &self,
        subject: &Subject,
        filter: AuditFilter,
        hmac_of: Option<&str>,
        context: &AuditContext,
    ) -> Result<Vec<StoredEntry>, CoreError> {
        self.authorize(subject, context).await?;
        self.audit.search(filter, hmac_of).await
    }

    /// Event `index` with its inclusion proof in the current signed checkpoint.
    pub async fn event(
        &self,
        subject: &Subject,
        index: u64,
        context: &AuditContext,
    ) -> Result<EventWithProof, CoreError> {
        self.authorize(subject, context).await?;
        let checkpoint = self.checkpointer.current().await?;
        let missing =
            || CoreError::NotFound(format!("no audit event {index} (the log has {} events)", checkpoint.size));
        if index >= checkpoint.size {
            return Err(missing());
        }
        let entry = self.audit.entry(index).await?.ok_or_else(missing)?;
        let inclusion_path = self.audit.inclusion_proof(index, checkpoint.size).await?;
        Ok(EventWithProof { entry, inclusion_path, checkpoint })
    }

    /// The inclusion proof of leaf `index` in the tree of `tree_size`
    /// leaves (default: the current size).
    pub async fn inclusion_proof(
        &self,
        subject: &Subject,
        index: u64,
        tree_size: Option<u64>,
        context: &AuditContext,
    ) -> Result<InclusionProof, CoreError> {
        self.authorize(subject, context).await?;
        let tree_size = match tree_size {
            Some(size) => size,
            None => self.audit.head().await?.size,
        };
        let path = self.audit.inclusion_proof(index, tree_size).await?;
        let entry =
            self.audit.entry(index).await?.ok_or_else(|| CoreError::NotFound(format!("no audit event {index}")))?;
        Ok(InclusionProof {
            index,
            tree_size,
            leaf_hash: merkle::leaf_hash(&entry.entry),
            root: self.audit.root_at(tree_size).await?,
            path,
        })
    }

    /// The proof that the tree of `from` leaves is a prefix of the tree of
    /// `to` leaves (default: the current size).
    pub async fn consistency_proof(
        &self,
        subject: &Subject,
        from: u64,
        to: Option<u64>,
        context: &AuditContext,
    ) -> Result<ConsistencyProof, CoreError> {
        self.authorize(subject, context).await?;
        let to = match to {
            Some(size) => size,
            None => self.audit.head().await?.size,
        };
        let path = self.audit.consistency_proof(from, to).await?;
        Ok(ConsistencyProof {
            from,
            to,
            from_root: self.audit.root_at(from).await?,
            to_root: self.audit.root_at(to).await?,
            path,
        })
    }

    /// Totals, failures in the last 24 hours, the newest checkpoint, and a
    /// full recomputation of the stored tree.
    pub async fn stats(&self, subject: &Subject, context: &AuditContext) -> Result<AuditStats, CoreError> {
        self.authorize(subject, context).await?;
        let integrity = self.checkpointer.verify_stored().await?;
        let head = self.audit.head().await?;
        let counts = self.audit.counts(self.audit.now_ms() - FAILURE_WINDOW_MS).await?;
        let latest_checkpoint = self.audit.latest_checkpoint().await?;
        Ok(AuditStats { head, counts, latest_checkpoint, integrity, health: self.audit.health() })
    }

    /// Raised alerts, newest first.
    pub async fn alerts(&self, subject: &Subject, context: &AuditContext) -> Result<Vec<AlertRecord>, CoreError> {
        self.authorize(subject, context).await?;
        self.alerts.recent(RECENT_ALERTS).await
    }
}
