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

use async_trait::async_trait;
use strongroom_crypto::note::{Checkpoint, NoteVerifier, open_note, signed_note};

use super::log::AuditLog;
use super::store::StoredCheckpoint;
use crate::{CoreError, KeyPurpose, KeySpec, Keyring};

/// The keyring key that signs checkpoints (Ed25519, never rotated automatically:
/// verifiers pin its public key).
pub const AUDIT_SIGNING_KEY: &str = "system.audit-signing";

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
    keyring: Arc<Keyring>,
    log: Arc<AuditLog>,
    origin: String,
    anchors: Vec<Arc<dyn CheckpointAnchor>>,
    signing: tokio::sync::Mutex<()>,
}

impl Checkpointer {
    /// A signer for the log called `origin` (the note's origin line and key name).
    pub fn new(
        keyring: Arc<Keyring>,
        log: Arc<AuditLog>,
        origin: String,
        anchors: Vec<Arc<dyn CheckpointAnchor>>,
    ) -> Self {
        Self { keyring, log, origin, anchors, signing: tokio::sync::Mutex::new(()) }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Creates the signing key on first start.
    pub async fn ensure_key(&self, context: &super::AuditContext) -> Result<(), CoreError> {
        let spec = KeySpec {
            purpose: KeyPurpose::AuditSigning,
            algorithm: None,
            rotation_period_seconds: None,
            deletion_allowed: false,
        };
        self.keyring.ensure(AUDIT_SIGNING_KEY, spec, context).await.map(|_| ())
    }

    /// The note verifier keys of every readable version of the signing key, newest first.
    pub async fn verifiers(&self) -> Result<Vec<NoteVerifier>, CoreError> {
        let key = self.keyring.use_key(KeyPurpose::AuditSigning, AUDIT_SIGNING_KEY).await?;
        let info = key.info();
        let mut verifiers = Vec::new();
        for version in (info.min_decryption_version..=info.latest_version).rev() {
            let public = key.public_key(version).await?;
            verifiers
                .push(NoteVerifier::new(&self.origin, public).map_err(|e| CoreError::InvalidInput(e.to_string()))?);
        }
        Ok(verifiers)
    }

    /// A checkpoint of the tree as it is now: the stored one if the tree has
    /// not grown since, else a freshly signed one.
    pub async fn current(&self) -> Result<StoredCheckpoint, CoreError> {
        let _one_signer = self.signing.lock().await;
        let head = self.log.head().await?;
        let store = self.log.store();
        let latest = store.latest_checkpoint().await?;
        if let Some(latest) = &latest
            && latest.size == head.size
            && latest.root == head.root
        {
            return Ok(latest.clone());
        }
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
                Err(why) => tracing::warn!(anchor = %anchor.describe(), %why, "cannot read the checkpoint anchor"),
            }
        }
        for (source, checkpoint) in &known {
            let extends = checkpoint.size <= head.size && self.log.root_at(checkpoint.size).await? == checkpoint.root;
            if !extends {
                let message = format!(
                    "the audit tree (size {}) does not extend {source} (size {}): the database was rolled back, truncated or forked",
                    head.size, checkpoint.size
                );
                self.log.update_health(|health| health.rollback = Some(message.clone()));
                return Err(CoreError::AuditDamaged(message));
            }
        }
        self.log.update_health(|health| health.rollback = None);
        let text = Checkpoint { origin: self.origin.clone(), size: head.size, root: head.root, extensions: Vec::new() }
            .to_text();
        let key = self.keyring.use_key(KeyPurpose::AuditSigning, AUDIT_SIGNING_KEY).await?;
        let (version, signature) = key.sign(text.as_bytes()).await?;
        let verifier = NoteVerifier::new(&self.origin, key.public_key(version).await?)
            .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let checkpoint = StoredCheckpoint {
            size: head.size,
            root: head.root,
            note: signed_note(&text, &verifier, &signature),
            created_ms: self.log.now_ms(),
        };
        store.insert_checkpoint(&checkpoint).await?;
        for anchor in &self.anchors {
            if let Err(why) = anchor.publish(&checkpoint.note).await {
                tracing::warn!(anchor = %anchor.describe(), %why, "could not publish the checkpoint; it is kept in the database");
            }
        }
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
    /// every stored and anchored checkpoint and the tree head (see
    /// [`super::LogVerifier`]). Reads the whole log, in pages.
    pub async fn verify_stored(&self) -> Result<super::IntegrityReport, CoreError> {
        const PAGE: u32 = 10_000;
        let verifiers = self.verifiers().await?;
        let mut verifier = super::LogVerifier::new();
        let store = self.log.store();
        for checkpoint in store.checkpoints().await? {
            verifier.add_signed_checkpoint(&checkpoint.note, &verifiers, &self.origin);
        }
        for anchor in &self.anchors {
            if let Ok(Some(note)) = anchor.last().await {
                verifier.add_signed_checkpoint(&note, &verifiers, &self.origin);
            }
        }
        let head = self.log.head().await?;
        let mut from = 0;
        loop {
            let page = self.log.entries(from, PAGE).await?;
            for entry in &page {
                verifier.feed(entry.index, &entry.entry, entry.leaf_hash);
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => from = last.index + 1,
                _ => break,
            }
        }
        Ok(verifier.finish(Some(head)))
    }
}
