//! The audit log's storage port and the values that cross it.
//!
//! Invariant for implementers: the tree has exactly one sequencer at a time.
//! `append_audit` (and every domain write that carries audit records, see
//! [`crate::KeyStore`]) reads the tree head, appends the leaves and nodes
//! of the [`AppendPlan`](super::AppendPlan) made from it and moves the head
//! (only from the size the plan extends) in one transaction that holds the
//! head exclusively
//! (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `SELECT … FOR UPDATE` on the head
//! row), so several processes on one database grow one tree: no fork, no gap,
//! no lost leaf. The leaf is `SHA-256(0x00 || entry)` of the stored bytes.

use std::collections::HashMap;

use async_trait::async_trait;
use strongroom_crypto::merkle::{Hash, NodeId};

use super::event::Severity;
use crate::StoreError;
pub use crate::store::AuditRecord;

/// Size and root of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves.
    pub size: u64,
    /// Root hash (SHA-256 of nothing for the empty tree).
    pub root: Hash,
}

/// Where an append put its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Leaf index of the first record appended (the others follow in order).
    pub first_index: u64,
    /// The tree as committed with the append. A store that merges
    /// concurrent appends into one commit gives the tree after all of them.
    pub head: TreeHead,
}

/// A leaf as stored: its index, its bytes and the leaf hash kept in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// Leaf index.
    pub index: u64,
    /// The entry bytes.
    pub entry: Vec<u8>,
    /// The level-0 node stored for this index; `None` if missing (damage).
    pub leaf_hash: Option<Hash>,
    /// The copies of the entry's values that searches filter on, as stored
    /// beside it; `None` where they were not read (an export).
    pub columns: Option<IndexedColumns>,
}

/// The copies of an entry's values kept beside it so searches and alert
/// rules can filter without parsing entries. They are not covered by the
/// tree's hashes, so verification derives them from the entry again
/// ([`IndexedColumns::of_entry`]): an edit that hides an event from a search
/// is damage like any other.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexedColumns {
    /// Unix milliseconds.
    pub time_ms: i64,
    /// The event type.
    pub event_type: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The actor's id.
    pub actor_id: String,
    /// The target's id.
    pub target_id: Option<String>,
    /// The matter.
    pub matter: Option<String>,
    /// The client address as logged (clear, or `hmac:<hex>`).
    pub ip_key: Option<String>,
    /// The HMACs `hmac_of` searches find the entry by (lower-case hex, sorted).
    pub hmacs: Vec<String>,
    /// The severity (`None`: the entry names none, which no sealed entry does).
    pub severity: Option<Severity>,
}

impl IndexedColumns {
    /// What an entry's columns must hold, read from its canonical JSON (as
    /// `AuditLog::seal` wrote them); `None` if the entry is not such JSON.
    pub fn of_entry(entry: &[u8]) -> Option<Self> {
        let event: serde_json::Value = serde_json::from_slice(entry).ok()?;
        let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
        let target = event.get("target");
        let hmac = event.get("hmac").and_then(serde_json::Value::as_object);
        let ip_key = match (event.get("ip").and_then(serde_json::Value::as_str), hmac.and_then(|h| h.get("ip"))) {
            (Some(ip), _) => Some(ip.to_owned()),
            (None, Some(mac)) => Some(format!("hmac:{}", mac.as_str()?)),
            (None, None) => None,
        };
        let mut hmacs: Vec<String> =
            hmac.map(|h| h.values().filter_map(|v| v.as_str().map(str::to_lowercase)).collect()).unwrap_or_default();
        hmacs.sort();
        hmacs.dedup();
        Some(Self {
            time_ms: event.get("time")?.as_i64()?,
            event_type: text(event.get("type")?)?,
            outcome: text(event.get("result")?)?,
            actor_id: text(event.get("actor")?.get("id")?)?,
            target_id: target.and_then(|t| t.get("id")).and_then(text),
            matter: target.and_then(|t| t.get("matter")).and_then(text),
            ip_key,
            hmacs,
            severity: event.get("severity").and_then(serde_json::Value::as_str).and_then(Severity::parse),
        })
    }

    /// The names of the columns that differ from `other`.
    pub fn differences(&self, other: &Self) -> Vec<&'static str> {
        let mut differ = Vec::new();
        let mut check = |name, same: bool| {
            if !same {
                differ.push(name);
            }
        };
        check("time_ms", self.time_ms == other.time_ms);
        check("event_type", self.event_type == other.event_type);
        check("outcome", self.outcome == other.outcome);
        check("actor_id", self.actor_id == other.actor_id);
        check("target_id", self.target_id == other.target_id);
        check("matter", self.matter == other.matter);
        check("ip_key", self.ip_key == other.ip_key);
        check("hmacs", self.hmacs == other.hmacs);
        check("severity", self.severity == other.severity);
        differ
    }
}

/// Filters of an audit query; every set filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Actor id.
    pub actor: Option<String>,
    /// Event type; a trailing `.*` (`key.*`) matches a family.
    pub event_type: Option<String>,
    /// Target id.
    pub target: Option<String>,
    /// Matter.
    pub matter: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// From this Unix millisecond, inclusive.
    pub from_ms: Option<i64>,
    /// Up to this Unix millisecond, exclusive.
    pub to_ms: Option<i64>,
    /// Entries carrying any of these HMACs.
    pub hmacs: Vec<Vec<u8>>,
    /// Exactly this severity.
    pub severity: Option<Severity>,
    /// At least this severity.
    pub min_severity: Option<Severity>,
    /// Who wrote the event: an application (`app.*` types) or Strongroom.
    pub source: Option<EventSource>,
    /// Only leaves below this index (the cursor: newest first).
    pub before_index: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// Who wrote an event, told apart by its type: applications' types are
/// `app.…` ([`super::APP_TYPE_PREFIX`]), a namespace none of Strongroom's is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventSource {
    /// An application, through `POST /v1/audit/events`.
    App,
    /// Strongroom itself.
    Strongroom,
}

impl EventSource {
    /// The stable name (`app`, `strongroom`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Strongroom => "strongroom",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::App, Self::Strongroom].into_iter().find(|s| s.as_str() == text)
    }
}

/// Totals for the statistics page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCounts {
    /// Events per type, all time.
    pub per_type: Vec<(String, u64)>,
    /// Failed or denied events since the given time.
    pub failures_since: u64,
    /// Events since the given time per hour, oldest first; hours without
    /// events are left out.
    pub per_hour: Vec<HourCount>,
}

/// The events of one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourCount {
    /// Unix milliseconds of the hour's start (a multiple of 3,600,000).
    pub hour_ms: i64,
    /// Every event of the hour.
    pub events: u64,
    /// Those that failed or were denied.
    pub failures: u64,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it covers.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The whole C2SP signed note.
    pub note: String,
    /// Unix milliseconds of signing.
    pub created_ms: i64,
}

/// Which column an alert rule counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertGroup {
    /// Per actor id.
    Actor,
    /// Per target id (an account for login failures).
    Target,
    /// Per client address.
    Ip,
    /// Everything together.
    All,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Unique id: rule, group value and window, so a burst raises it once.
    pub id: String,
    /// The rule's name.
    pub rule: String,
    /// The value counted per (actor id, target id, address), or `*`.
    pub group_key: String,
    /// How many events matched in the window.
    pub count: u64,
    /// Start of the window, Unix milliseconds.
    pub window_start_ms: i64,
    /// When raised, Unix milliseconds.
    pub created_ms: i64,
    /// What to tell a human.
    pub message: String,
}

/// The audit log's storage port.
#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Appends `records` as the next leaves, in order, in one transaction
    /// (see the module invariant).
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<AppendReceipt, StoreError>;

    /// Whether this store groups concurrent appends into one commit itself
    /// (the SQLite store's writer thread does). The log then sends each
    /// event straight to the store instead of batching in a task of its
    /// own, which would only add a hand-off between two commits.
    fn merges_concurrent_appends(&self) -> bool {
        false
    }

    /// The current tree head.
    async fn audit_head(&self) -> Result<TreeHead, StoreError>;

    /// The stored complete subtrees among `ids` (missing ones are absent).
    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError>;

    /// Up to `limit` leaves from index `from` on, ascending, with their stored leaf hashes.
    async fn audit_entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>, StoreError>;

    /// Leaves matching `filter`, newest first.
    async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<StoredEntry>, StoreError>;

    /// Counts per type, and failures since `since_ms`.
    async fn audit_counts(&self, since_ms: i64) -> Result<AuditCounts, StoreError>;

    /// Counts events of `event_types` since `since_ms` per `group`, keeping
    /// groups with at least `threshold`.
    async fn count_audit_groups(
        &self,
        event_types: &[&str],
        since_ms: i64,
        group: AlertGroup,
        threshold: u64,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// Stores a checkpoint unless one of that size exists.
    async fn insert_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError>;

    /// The checkpoint of the largest size.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Every checkpoint, by size.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// Stores an alert and appends `audit` (its `alert` event) in one
    /// transaction; `false`, with nothing written, if one with its id
    /// exists (already raised). One write, so an alert is never stored
    /// without its event: a failed append leaves it to be raised again.
    async fn insert_alert(&self, alert: &AlertRecord, audit: &[AuditRecord]) -> Result<bool, StoreError>;

    /// The newest alerts.
    async fn alerts(&self, limit: u32) -> Result<Vec<AlertRecord>, StoreError>;
}
