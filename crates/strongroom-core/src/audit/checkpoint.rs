//! Signing checkpoints of the audit tree (C2SP `tlog-checkpoint` in a C2SP
//! signed note, Ed25519 under the keyring key [`AUDIT_SIGNING_KEY`]) and
//! publishing them to anchors outside the database.
//!
//! Invariant: a checkpoint is signed only for a tree that extends every
//! checkpoint known before it: the newest one in the database and the last
//! one each anchor holds. A database restored from an old backup, or a tail
//! cut off, would otherwise be signed as if nothing happened; instead the
//! signer refuses, the audit health reports the rollback and `/readyz` fails.

use std::sync::Arc;

use strongroom_crypto::merkle;

use async_trait::async_trait;
use strongroom_crypto::note::{Checkpoint, NoteVerifier, open_note, signed_note};

use super::event::AuditContext;
use super::log::AuditLog;
use super::store::StoredCheckpoint;
use crate::CoreError;

/// The keyring key that signs checkpoints (Ed25519, never rotated automatically:
/// verifiers pin its public key).
pub const AUDIT_SIGNING_KEY: &str = "system.audit-signing";

/// The key checkpoints are signed with ([`AUDIT_SIGNING_KEY`]), as the
/// signer needs it. The keyring implements it (`keyring.rs`): the keyring
/// records its own changes in this log, so the log reaches the keyring only
/// through this port and the two modules do not import each other.
#[async_trait]
pub trait CheckpointKey: Send + Sync + std::fmt::Debug {
    /// Creates the signing key unless it exists (first start), recording
    /// the creation as done by `context`.
    async fn ensure_checkpoint_key(&self, context: &AuditContext) -> Result<(), CoreError>;
    /// The Ed25519 public keys of every readable version, newest first.
    async fn checkpoint_public_keys(&self) -> Result<Vec<[u8; 32]>, CoreError>;
    /// Signs `message` with the newest version: the signature and that
    /// version's public key.
    async fn sign_checkpoint(&self, message: &[u8]) -> Result<([u8; 64], [u8; 32]), CoreError>;
}

/// Somewhere outside the database that keeps every checkpoint: a file on
/// another disk, a witness or an HTTP endpoint.
#[async_trait]
pub trait CheckpointAnchor: Send + Sync + std::fmt::Debug {
    /// For messages: where this anchor is.
    fn describe(&self) -> String;
    /// The last note published here, if any (`None` for write-only anchors).
    async fn last(&self) -> Result<Option<String>, String>;
    /// Publishes a signed note.
    async fn publish(&self, note: &str) -> Result<(), String>;
}

/// Signs and publishes checkpoints.
#[derive(Debug)]
pub struct Checkpointer {
    key: Arc<dyn CheckpointKey>,
    log: Arc<AuditLog>,
    origin: String,
    anchors: Vec<Arc<dyn CheckpointAnchor>>,
    signing: tokio::sync::Mutex<()>,
}

impl Checkpointer {
    /// A signer for the log called `origin` (the note's origin line and key name).
    pub fn new(
        key: Arc<dyn CheckpointKey>,
        log: Arc<AuditLog>,
        origin: String,
        anchors: Vec<Arc<dyn CheckpointAnchor>>,
    ) -> Self {
        Self { key, log, origin, anchors, signing: tokio::sync::Mutex::new(()) }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Creates the signing key on first start.
    pub async fn ensure_key(&self, context: &AuditContext) -> Result<(), CoreError> {
        self.key.ensure_checkpoint_key(context).await
    }

    /// The note verifier keys of every readable version of the signing key, newest first.
    pub async fn verifiers(&self) -> Result<Vec<NoteVerifier>, CoreError> {
        let mut verifiers = Vec::new();
        for public in self.key.checkpoint_public_keys().await? {
            verifiers
                .push(NoteVerifier::new(&self.origin, public).map_err(|e| CoreError::InvalidInput(e.to_string()))?);
        }
        Ok(verifiers)
    }

    /// A checkpoint of the tree as it is now: the stored one if the tree has
    /// not grown since, else a freshly signed one.
    pub async fn current(&self) -> Result<StoredCheckpoint, CoreError> {
        let _one_signer = self.signing.lock().await;
        // Never sign over damage: a checkpoint would vouch for whatever was changed.
        if let Some(damage) = self.log.health().damaged {
            return Err(CoreError::AuditDamaged(damage));
        }
        let head = self.log.head().await?;
        let latest = self.log.store().latest_checkpoint().await?;
        // The anchors are compared even when the stored checkpoint is of the
        // head: a database restored together with its checkpoints agrees with
        // itself, and only an anchor outside it remembers what came after.
        for (source, checkpoint) in &self.known_checkpoints(latest.clone()).await? {
            if !self.extends(head, checkpoint).await? {
                let message = format!(
                    "the audit tree (size {}) does not extend {source} (size {}): the database was rolled back, truncated or forked",
                    head.size, checkpoint.size
                );
                self.log.update_health(|health| health.rollback = Some(message.clone()));
                return Err(CoreError::AuditDamaged(message));
            }
        }
        self.log.update_health(|health| health.rollback = None);
        match latest {
            Some(latest) if latest.size == head.size && latest.root == head.root => Ok(latest),
            _ => self.sign(head).await,
        }
    }

    /// Whether the tree of `head` extends `checkpoint`: it has at least its
    /// size, and its first `size` leaves have its root.
    async fn extends(&self, head: super::store::TreeHead, checkpoint: &Checkpoint) -> Result<bool, CoreError> {
        Ok(checkpoint.size <= head.size && self.log.root_at(checkpoint.size).await? == checkpoint.root)
    }

    /// Every checkpoint known outside the tree itself: the newest stored
    /// one (`latest`) and the last one each readable anchor holds, each
    /// with where it comes from.
    async fn known_checkpoints(
        &self,
        latest: Option<StoredCheckpoint>,
    ) -> Result<Vec<(String, Checkpoint)>, CoreError> {
        let verifiers = self.verifiers().await?;
        let mut known: Vec<(String, Checkpoint)> = Vec::new();
        if let Some(latest) = latest {
            known.push(("the newest stored checkpoint".into(), self.parse(&latest.note, &verifiers)?));
        }
        for anchor in &self.anchors {
            match anchor.last().await {
                Ok(Some(note)) => known
                    .push((format!("the last checkpoint in {}", anchor.describe()), self.parse(&note, &verifiers)?)),
                Ok(None) => {}
                Err(why) => {
                    metrics::counter!("strongroom_audit_anchor_failures_total", "operation" => "read").increment(1);
                    tracing::warn!(anchor = %anchor.describe(), %why, "cannot read the checkpoint anchor")
                }
            }
        }
        Ok(known)
    }

    /// Signs a checkpoint of `head`, stores it and publishes it to every anchor.
    async fn sign(&self, head: super::store::TreeHead) -> Result<StoredCheckpoint, CoreError> {
        let store = self.log.store();
        let text = Checkpoint { origin: self.origin.clone(), size: head.size, root: head.root, extensions: Vec::new() }
            .to_text();
        let (signature, public) = self.key.sign_checkpoint(text.as_bytes()).await?;
        let verifier = NoteVerifier::new(&self.origin, public).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let checkpoint = StoredCheckpoint {
            size: head.size,
            root: head.root,
            note: signed_note(&text, &verifier, &signature),
            created_ms: self.log.now_ms(),
        };
        store.insert_checkpoint(&checkpoint).await?;
        for anchor in &self.anchors {
            if let Err(why) = anchor.publish(&checkpoint.note).await {
                metrics::counter!("strongroom_audit_anchor_failures_total", "operation" => "publish").increment(1);
                tracing::warn!(anchor = %anchor.describe(), %why, "could not publish the checkpoint; it is kept in the database");
            }
        }
        Ok(checkpoint)
    }

    /// Resolves a rollback or fork the operator has looked into and accepts:
    /// records `audit.rollback_accepted` (critical; with what was abandoned
    /// and the reason) as the first event on the tree as it is, then signs
    /// and anchors a checkpoint of it, which every later one must extend.
    /// Audited actions resume. Refused when there is nothing to accept, and
    /// over a tree that does not verify (restore or repair that first).
    pub async fn accept_rollback(&self, reason: &str, context: &AuditContext) -> Result<StoredCheckpoint, CoreError> {
        let reason = reason.trim();
        if reason.chars().count() < 20 {
            return Err(CoreError::InvalidInput("reason: at least 20 characters saying why".into()));
        }
        let _one_signer = self.signing.lock().await;
        let head = self.log.head().await?;
        let latest = self.log.store().latest_checkpoint().await?;
        let mut abandoned = Vec::new();
        for (source, checkpoint) in self.known_checkpoints(latest).await? {
            // A tree whose root at that size cannot be read does not extend it either.
            if !self.extends(head, &checkpoint).await.unwrap_or(false) {
                abandoned.push(format!(
                    "{source}: size {}, root {}",
                    checkpoint.size,
                    strongroom_crypto::to_hex(&checkpoint.root)
                ));
            }
        }
        if abandoned.is_empty() {
            return Err(CoreError::Conflict(
                "the audit tree extends every known checkpoint: there is no rollback to accept".into(),
            ));
        }
        // The abandoned checkpoints are the rollback itself; the tree must verify
        // against everything else.
        let report = self.recompute_stored_against(false).await?;
        if !report.verified() {
            return Err(CoreError::AuditDamaged(format!(
                "the tree as it is does not verify ({} problems, first: {}); restore or repair it before accepting it",
                report.problems.len(),
                report.problems[0].message
            )));
        }
        let event = self
            .log
            .event(super::EventType::AuditRollbackAccepted, context)
            .justification(reason)
            .detail("abandoned", abandoned)
            .detail("tree_size", i64::try_from(head.size).unwrap_or(i64::MAX));
        self.log.record_despite_halt(&event).await?;
        let checkpoint = self.sign(self.log.head().await?).await?;
        self.log.update_health(|health| health.rollback = None);
        Ok(checkpoint)
    }

    fn parse(&self, note: &str, verifiers: &[NoteVerifier]) -> Result<Checkpoint, CoreError> {
        let text = open_note(note, verifiers).map_err(|e| {
            CoreError::AuditDamaged(format!("a known checkpoint does not verify with the audit signing key: {e}"))
        })?;
        let checkpoint = Checkpoint::parse(text).map_err(|e| CoreError::AuditDamaged(e.to_string()))?;
        if checkpoint.origin != self.origin {
            return Err(CoreError::AuditDamaged(format!(
                "a known checkpoint is for origin {:?}, this log is {:?}",
                checkpoint.origin, self.origin
            )));
        }
        Ok(checkpoint)
    }
}

impl Checkpointer {
    /// Recomputes the stored tree from its entries and checks it against
    /// every stored and anchored checkpoint, the tree head, the search
    /// columns beside each entry (see [`super::LogVerifier`]) and the stored
    /// nodes proofs are made of. Reads the whole log, in pages. The outcome
    /// becomes the health's `damaged` (so `/readyz` fails on damage and
    /// recovers once the log verifies again).
    pub async fn verify_stored(&self) -> Result<super::IntegrityReport, CoreError> {
        let mut report = self.recompute_stored().await?;
        if let Some(message) = self.log.head_damage().await? {
            report.problems.push(super::IntegrityProblem { index: None, message });
        }
        let damaged = (!report.verified()).then(|| {
            format!(
                "the stored audit log does not verify ({} problem(s); first: {})",
                report.problems.len(),
                report.problems[0].message
            )
        });
        // While a rollback is known, what the anchors no longer match is that
        // rollback (reported, and resolved, as such), not damage.
        self.log.update_health(|health| {
            if health.rollback.is_none() {
                health.damaged = damaged;
            }
        });
        Ok(report)
    }

    /// The verification of the stored log against its stored checkpoints
    /// and, with `anchored`, the anchors' last ones too; every stored tree
    /// node is recomputed from the entries and compared as well.
    async fn recompute_stored_against(&self, anchored: bool) -> Result<super::IntegrityReport, CoreError> {
        const PAGE: u32 = 10_000;
        let verifiers = self.verifiers().await?;
        let mut verifier = super::LogVerifier::new();
        let store = self.log.store();
        for checkpoint in store.checkpoints().await? {
            verifier.add_signed_checkpoint(&checkpoint.note, &verifiers, &self.origin);
        }
        if anchored {
            for anchor in &self.anchors {
                if let Ok(Some(note)) = anchor.last().await {
                    verifier.add_signed_checkpoint(&note, &verifiers, &self.origin);
                }
            }
        }
        let head = self.log.head().await?;
        let mut nodes = NodeCheck::default();
        let mut from = 0;
        loop {
            let page = self.log.entries(from, PAGE).await?;
            // Entries appended while this runs lie beyond the head read above:
            // they are the next verification's, not damage.
            for entry in page.iter().filter(|entry| entry.index < head.size) {
                verifier.feed(entry.index, &entry.entry, entry.leaf_hash, entry.columns.as_ref());
                nodes.push(entry.index, merkle::leaf_hash(&entry.entry));
            }
            nodes.compare(store.as_ref()).await?;
            match page.last() {
                Some(last) if page.len() == PAGE as usize && last.index + 1 < head.size => from = last.index + 1,
                _ => break,
            }
        }
        let mut report = verifier.finish(Some(head));
        report.problems.extend(nodes.problems);
        // An entry beyond a head that has not moved meanwhile was not appended
        // through the tree (or the head was cut back).
        let beyond = self.log.entries(head.size, 1).await?;
        if !beyond.is_empty() && self.log.head().await?.size == head.size {
            report.problems.push(super::IntegrityProblem {
                index: Some(head.size),
                message: format!("entries lie beyond the tree head ({})", head.size),
            });
        }
        Ok(report)
    }

    async fn recompute_stored(&self) -> Result<super::IntegrityReport, CoreError> {
        self.recompute_stored_against(true).await
    }
}

/// Recomputes every inner node of the tree (each complete subtree's root)
/// from the leaves in order, and compares them with the stored ones, which
/// inclusion and consistency proofs are made of.
#[derive(Debug, Default)]
struct NodeCheck {
    /// Roots of the complete subtrees so far: `(level, hash)`, levels decreasing.
    stack: Vec<(u8, merkle::Hash)>,
    /// Recomputed nodes not yet compared.
    pending: Vec<(merkle::NodeId, merkle::Hash)>,
    problems: Vec<super::IntegrityProblem>,
}

impl NodeCheck {
    /// At most this many node problems are reported (the first locate the damage).
    const MAX_PROBLEMS: usize = 20;

    fn push(&mut self, index: u64, leaf: merkle::Hash) {
        self.stack.push((0, leaf));
        while let [.., (left_level, left), (right_level, right)] = self.stack[..]
            && left_level == right_level
        {
            self.stack.truncate(self.stack.len() - 2);
            let level = left_level + 1;
            let node = merkle::node_hash(&left, &right);
            self.stack.push((level, node));
            self.pending.push((merkle::NodeId::new(level, index >> level), node));
        }
    }

    async fn compare(&mut self, store: &dyn super::AuditStore) -> Result<(), CoreError> {
        let pending = std::mem::take(&mut self.pending);
        for chunk in pending.chunks(1000) {
            let ids: Vec<merkle::NodeId> = chunk.iter().map(|(id, _)| *id).collect();
            let stored = store.audit_nodes(&ids).await?;
            for (id, hash) in chunk {
                let wrong = match stored.get(id) {
                    None => Some("is missing"),
                    Some(found) if found != hash => Some("does not match the entries below it"),
                    Some(_) => None,
                };
                if let Some(wrong) = wrong
                    && self.problems.len() < Self::MAX_PROBLEMS
                {
                    let first_leaf = id.index << id.level;
                    self.problems.push(super::IntegrityProblem {
                        index: Some(first_leaf),
                        message: format!(
                            "the stored tree node at level {} over entries {first_leaf} to {} {wrong}: proofs over them are wrong",
                            id.level,
                            first_leaf + (1 << id.level) - 1
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
