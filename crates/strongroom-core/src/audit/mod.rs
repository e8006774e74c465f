//! The audit log: every security-relevant event as a leaf of an RFC 6962
//! Merkle tree, signed checkpoints, proofs, verification, sinks and alerts.
//!
//! Which API should I use?
//! - [`AuditLog::event`] makes an event, [`AuditLog::record`] records it and
//!   returns once it is durable (refuse the action if it fails). A domain
//!   write that changes state passes [`AuditLog::seal`]ed records to its
//!   store call instead, so both commit in one transaction.
//! - [`AuditLog::inclusion_proof`] / [`AuditLog::consistency_proof`] and
//!   [`Checkpointer::current`] serve verifiers; [`LogVerifier`] recomputes
//!   a whole log (stored or exported) against signed checkpoints.
//! - [`AlertEvaluator`] and [`run_sink`] run beside the server.
//! - A store implementing [`AuditStore`] appends an [`AppendPlan`] (the
//!   tree arithmetic of an append) and keys nodes by [`NodeKey`].
//!
//! Formats (canonical event JSON, checkpoints, export) are in docs/audit.md.

mod alerts;
mod checkpoint;
mod event;
mod log;
mod sink;
mod store;
mod tree;
mod verify;

pub use alerts::{AlertEvaluator, AlertNotifier, AlertRule};
pub use checkpoint::{AUDIT_SIGNING_KEY, CheckpointAnchor, CheckpointKey, Checkpointer};
pub use event::{
    APP_TYPE_PREFIX, Actor, ActorKind, AppEventKind, AuditContext, AuditEvent, Detail, EVENT_FORMAT_VERSION, EventType,
    Outcome, Severity, Target,
};
pub use log::{AuditHealth, AuditLog, AuditSettings, Pseudonymizer, Recorded};
pub use sink::{AuditSink, run_sink};
pub use store::{
    AlertGroup, AlertRecord, AppendReceipt, AuditCounts, AuditFilter, AuditRecord, AuditStore, EventSource, HourCount,
    IndexedColumns, StoredCheckpoint, StoredEntry, TreeHead,
};
pub use tree::{AppendPlan, NodeKey};
pub use verify::{IntegrityProblem, IntegrityReport, LogVerifier};

/// The keyring key whose HMACs stand for personal values in events.
pub const AUDIT_HMAC_KEY: &str = "system.audit-hmac";
