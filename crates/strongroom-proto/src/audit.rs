//! Wire types of the audit API (`/v1/audit/…`, `/v1/alerts`). Hashes are
//! standard base64, as in C2SP checkpoints; an event is its canonical JSON
//! parsed back into an object (the exact leaf bytes are in `entry`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One audit event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    /// Its leaf index in the tree.
    pub index: u64,
    /// The event time, RFC 3339 UTC (the event's `time` is Unix milliseconds).
    pub time: String,
    /// The event, as recorded (see docs/audit.md for the fields).
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
    /// The leaf hash `SHA-256(0x00 || entry)`, base64.
    pub leaf_hash: String,
}

/// A page of events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEventList {
    /// The events.
    pub events: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One event with everything needed to check it independently.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEventProof {
    /// The event.
    #[serde(flatten)]
    pub view: AuditEventView,
    /// The exact leaf bytes (canonical JSON), base64.
    pub entry: String,
    /// Its inclusion proof in the tree of `checkpoint`.
    pub inclusion: InclusionProof,
    /// A signed checkpoint (C2SP signed note) of the tree the proof is for.
    pub checkpoint: String,
}

/// RFC 9162 inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The leaf.
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf hash, base64.
    pub leaf_hash: String,
    /// The root hash of that tree, base64.
    pub root_hash: String,
    /// The audit path, base64 hashes from the leaf up.
    pub inclusion_path: Vec<String>,
}

/// RFC 9162 consistency proof.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub from: u64,
    /// The larger tree size.
    pub to: u64,
    /// Root of the smaller tree, base64.
    pub from_root: String,
    /// Root of the larger tree, base64.
    pub to_root: String,
    /// The proof, base64 hashes.
    pub consistency_path: Vec<String>,
}

/// One thing wrong with the stored log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrityProblemView {
    /// The first leaf index concerned, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// Whether the stored tree verifies.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrityView {
    /// True when every entry hashes to its stored leaf, the tree head and
    /// every signed checkpoint match the entries, and no anchor reports a rollback.
    pub verified: bool,
    /// Entries recomputed.
    pub entries_checked: u64,
    /// Signed checkpoints compared.
    pub checkpoints_checked: usize,
    /// Everything found wrong.
    pub problems: Vec<IntegrityProblemView>,
}

/// The latest signed checkpoint, summarised.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckpointView {
    /// Tree size.
    pub tree_size: u64,
    /// Root hash, base64.
    pub root_hash: String,
    /// When signed, RFC 3339.
    pub signed_at: String,
    /// The signed note.
    pub note: String,
}

/// `GET /v1/audit/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditStats {
    /// Events recorded (the tree size).
    pub total_events: u64,
    /// The current root hash, base64.
    pub root_hash: String,
    /// Events per type.
    pub per_action: std::collections::BTreeMap<String, u64>,
    /// Failed or denied events in the last 24 hours.
    pub failures_last_24h: u64,
    /// The last 24 hours' events per hour, oldest first; hours without
    /// events are left out.
    #[serde(default)]
    pub per_hour_last_24h: Vec<HourCountView>,
    /// The newest signed checkpoint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_checkpoint: Option<CheckpointView>,
    /// The result of recomputing the stored tree now.
    pub integrity: IntegrityView,
    /// What keeps the audit log from being healthy (rollback, low space, failing writes).
    pub health_problems: Vec<String>,
}

/// The events of one hour.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HourCountView {
    /// Unix seconds of the hour's start.
    pub hour: i64,
    /// Every event of the hour.
    pub events: u64,
    /// Those that failed or were denied.
    pub failures: u64,
}

/// A raised alert.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    /// Unique id (rule, counted value, window).
    pub id: String,
    /// The rule.
    pub rule: String,
    /// The value counted per, or `*`.
    pub group_key: String,
    /// Matching events in the window.
    pub count: u64,
    /// When raised, RFC 3339.
    pub raised_at: String,
    /// What happened.
    pub message: String,
}

/// `GET /v1/alerts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// Newest first.
    pub alerts: Vec<AlertView>,
}

/// One application event for `POST /v1/audit/events` (docs/audit.md,
/// "Application events"). The body is one such object, `{"events": [..]}`
/// or a bare array of up to 1,000.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppEvent {
    /// `app.` then dot-separated segments of `a-z`, `0-9`, `_` (`app.transcript.exported`).
    #[serde(rename = "type")]
    #[schema(pattern = "^app\\.[a-z0-9_]+(\\.[a-z0-9_]+)*$", max_length = 128)]
    pub event_type: String,
    /// One word of `a-z`, `0-9`, `_`; default `app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[a-z0-9_]+$", max_length = 128)]
    pub category: Option<String>,
    /// `info` (default), `notice`, `warning` or `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(info|notice|warning|critical)$")]
    pub severity: Option<String>,
    /// `success` (default), `failure` or `denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(success|failure|denied)$")]
    pub result: Option<String>,
    /// The id of the Strongroom user the application acted for; must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// What was acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<AppEventTarget>,
    /// Further facts: a JSON object of strings, integers, booleans, arrays
    /// and objects, at most 4 levels deep and 4,096 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// Top-level members of `details` stored only as their HMAC (searchable with `hmac_of`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hmac_fields: Vec<String>,
}

/// What an application event acted on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppEventTarget {
    /// One word of `a-z`, `0-9`, `_` (`transcript`).
    #[schema(pattern = "^[a-z0-9_]+$")]
    pub kind: String,
    /// Its id, 1-256 bytes.
    #[schema(min_length = 1)]
    pub id: String,
}

/// A batch of application events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppEventBatch {
    /// 1 to 1,000 events, appended in this order.
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<AppEvent>,
}

/// Where an accepted batch landed, once durable: leaves `first_index` to
/// `last_index` (fetch each with its proof at `/v1/audit/events/{index}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppEventsRecorded {
    /// Events recorded.
    pub count: u64,
    /// The first event's leaf index.
    pub first_index: u64,
    /// The last event's leaf index.
    pub last_index: u64,
}
