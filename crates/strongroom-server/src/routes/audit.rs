//! The audit API: events with filters, one event with its proof, inclusion
//! and consistency proofs, signed checkpoints and the verifier key,
//! statistics with a full integrity check, and raised alerts.
//!
//! Applications write their own events (`app.*`) with `POST
//! /v1/audit/events` (scope `audit:write`); the rules are core's
//! (`strongroom_core::audit_ingest`), this module only reads the wire.
//!
//! The checkpoint and the public key are public (a transparency log
//! publishes both; they reveal only the tree size and hashes). Everything
//! else needs the scope `audit:read`. Listing and reading events never
//! produce a reveal event: the log holds no plaintext to reveal.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use strongroom_core::audit::{
    AuditFilter, EventSource, IntegrityReport, Outcome, Severity, StoredCheckpoint, StoredEntry,
};
use strongroom_core::audit_ingest::{AppEventInput, MAX_EVENTS_PER_BATCH};
use strongroom_core::audit_reading::EventWithProof;
use strongroom_crypto::merkle::Hash;
use strongroom_proto::time::{ms_from_rfc3339, rfc3339_from_ms};
use strongroom_proto::{
    AlertList, AlertView, AppEvent, AppEventBatch, AppEventsRecorded, AuditEventList, AuditEventProof, AuditEventView,
    AuditStats, CheckpointView, ConsistencyProof, HourCountView, InclusionProof, IntegrityProblemView, IntegrityView,
};

use crate::{ApiError, ApiJson, AppState, Caller};

/// Default and largest page of events.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

fn b64(hash: &Hash) -> String {
    STANDARD.encode(hash)
}

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn view(entry: &StoredEntry) -> Result<AuditEventView, ApiError> {
    let event: serde_json::Value = serde_json::from_slice(&entry.entry)
        .map_err(|e| ApiError::Internal(format!("audit entry {} is not JSON: {e}", entry.index).into()))?;
    let time = event["time"].as_i64().map(rfc3339_from_ms).unwrap_or_default();
    let leaf = strongroom_crypto::merkle::leaf_hash(&entry.entry);
    Ok(AuditEventView { index: entry.index, time, event, leaf_hash: b64(&leaf) })
}

/// Filters of `GET /v1/audit/events` (and of the console's explorer).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventQuery {
    pub(crate) actor: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) matter: Option<String>,
    pub(crate) result: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) cursor: Option<String>,
    hmac_of: Option<String>,
    severity: Option<String>,
    min_severity: Option<String>,
    source: Option<String>,
}

fn severity(field: &str, value: Option<&str>) -> Result<Option<Severity>, ApiError> {
    value
        .map(|text| {
            Severity::parse(text)
                .ok_or_else(|| ApiError::InvalidRequest(format!("{field}: info, notice, warning or critical")))
        })
        .transpose()
}

/// Unix milliseconds, or an RFC 3339 time.
fn parse_time(field: &str, value: &str) -> Result<i64, ApiError> {
    value.parse::<i64>().ok().or_else(|| ms_from_rfc3339(value)).ok_or_else(|| {
        ApiError::InvalidRequest(format!("{field}: an RFC 3339 time (2026-11-23T14:00:00Z) or Unix milliseconds"))
    })
}

impl EventQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::InvalidRequest(format!("limit: between 1 and {MAX_PAGE}")));
        }
        if let Some(result) = &self.result
            && Outcome::parse(result).is_none()
        {
            return Err(ApiError::InvalidRequest("result: success, failure or denied".into()));
        }
        if let Some(action) = &self.action {
            let family = action.strip_suffix(".*").unwrap_or(action);
            if family.is_empty()
                || !family.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
            {
                return Err(ApiError::InvalidRequest(
                    "action: an event type (record.decrypt) or a family (record.*)".into(),
                ));
            }
        }
        let before_index = match &self.cursor {
            Some(cursor) => {
                Some(cursor.parse().map_err(|_| ApiError::InvalidRequest("cursor: use next_cursor of a page".into()))?)
            }
            None => None,
        };
        Ok(AuditFilter {
            actor: self.actor.clone(),
            event_type: self.action.clone(),
            target: self.target.clone(),
            matter: self.matter.clone(),
            outcome: self.result.clone(),
            from_ms: self.from.as_deref().map(|v| parse_time("from", v)).transpose()?,
            to_ms: self.to.as_deref().map(|v| parse_time("to", v)).transpose()?,
            hmacs: Vec::new(),
            severity: severity("severity", self.severity.as_deref())?,
            min_severity: severity("min_severity", self.min_severity.as_deref())?,
            source: self
                .source
                .as_deref()
                .map(|text| {
                    EventSource::parse(text).ok_or_else(|| {
                        ApiError::InvalidRequest("source: app (applications' events) or strongroom".into())
                    })
                })
                .transpose()?,
            before_index,
            limit,
        })
    }
}

/// Events, newest first, filtered; `hmac_of` finds events that carry the
/// HMAC of a value (a subject id, an address) without the log holding it.
/// The query string is never logged. Scope `audit:read`.
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit",
    params(
        ("actor" = Option<String>, Query, description = "Actor id"),
        ("action" = Option<String>, Query, description = "Event type, or a family such as `key.*`", pattern = "^[a-z0-9_.]+(\\.\\*)?$"),
        ("target" = Option<String>, Query, description = "Target id"),
        ("matter" = Option<String>, Query, description = "Matter"),
        ("result" = Option<String>, Query, description = "success, failure or denied", pattern = "^(success|failure|denied)$"),
        ("from" = Option<String>, Query, description = "From this time (RFC 3339 or Unix ms), inclusive", pattern = "^(-?[0-9]{1,18}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))$"),
        ("to" = Option<String>, Query, description = "Up to this time, exclusive", pattern = "^(-?[0-9]{1,18}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))$"),
        ("limit" = Option<u32>, Query, description = "1-1000, default 100", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = "^[0-9]{1,19}$"),
        ("hmac_of" = Option<String>, Query, description = "Events carrying the HMAC of this value"),
        ("severity" = Option<String>, Query, description = "Exactly this severity: info, notice, warning, critical", pattern = "^(info|notice|warning|critical)$"),
        ("min_severity" = Option<String>, Query, description = "At least this severity", pattern = "^(info|notice|warning|critical)$"),
        ("source" = Option<String>, Query, description = "`app` (applications' `app.*` events) or `strongroom`", pattern = "^(app|strongroom)$"),
    ),
    responses((status = 200, description = "A page of events", body = AuditEventList)),
    security(("api_key" = [])))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventQuery>,
) -> Result<Json<AuditEventList>, ApiError> {
    Ok(Json(event_page(&state, &caller.subject, &query, &caller.context).await?))
}

/// A page of events matching `query`, newest first: the API's listing and
/// the console's explorer.
pub(crate) async fn event_page(
    state: &AppState,
    subject: &strongroom_core::authz::Subject,
    query: &EventQuery,
    context: &strongroom_core::audit::AuditContext,
) -> Result<AuditEventList, ApiError> {
    let filter = query.filter()?;
    let limit = filter.limit as usize;
    let entries = state.audit_reader.events(subject, filter, query.hmac_of.as_deref(), context).await?;
    let events = entries.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = (events.len() == limit).then(|| events.last().map(|e| e.index.to_string())).flatten();
    Ok(AuditEventList { events, next_cursor })
}

/// The body of `POST /v1/audit/events`: one event, `{"events": [..]}` or a
/// bare array. Each event is parsed on its own, so a wrong shape is a 400
/// naming its index.
fn app_events(body: serde_json::Value) -> Result<Vec<AppEventInput>, ApiError> {
    let items = match body {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut object) if object.contains_key("events") => {
            let events = object.remove("events").unwrap_or_default();
            if let Some(other) = object.keys().next() {
                return Err(ApiError::InvalidRequest(format!(
                    "{other}: unknown field; a batch is {{\"events\": [..]}}"
                )));
            }
            match events {
                serde_json::Value::Array(items) => items,
                _ => return Err(ApiError::InvalidRequest("events: an array of events".into())),
            }
        }
        single @ serde_json::Value::Object(_) => vec![single],
        _ => {
            return Err(ApiError::InvalidRequest(
                "body: one event object, {\"events\": [..]} or an array of events".into(),
            ));
        }
    };
    if items.len() > MAX_EVENTS_PER_BATCH {
        return Err(ApiError::InvalidRequest(format!(
            "events: at most {MAX_EVENTS_PER_BATCH} per request (got {}); nothing was recorded",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let event: AppEvent = serde_json::from_value(item).map_err(|error| {
                ApiError::InvalidRequest(format!(
                    "events[{index}]: {error}; the whole batch is refused, nothing was recorded"
                ))
            })?;
            Ok(AppEventInput {
                event_type: event.event_type,
                category: event.category,
                severity: event.severity,
                result: event.result,
                on_behalf_of: event.on_behalf_of,
                target: event.target.map(|t| (t.kind, t.id)),
                details: event.details,
                hmac_fields: event.hmac_fields,
            })
        })
        .collect()
}

/// Appends the application's own events (`app.*` types only) to the audit
/// log: one event, or a batch of up to 1,000 (`{"events": [..]}`), all or
/// none, answered once durable. A batch with one bad event is refused whole
/// with a 400 naming its index and the rule. Each event counts against the
/// key's rate limit. Scope `audit:write`.
#[utoipa::path(post, path = "/v1/audit/events", tag = "audit", request_body = AppEventBatch,
    responses(
        (status = 201, description = "Recorded, durably", body = AppEventsRecorded),
        (status = 400, description = "An event breaks a rule; nothing was recorded"),
        (status = 429, description = "The key's rate limit (each event counts)"),
        (status = 503, description = "The audit log cannot record; nothing was recorded"),
    ),
    security(("api_key" = [])))]
pub(crate) async fn append_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<AppEventsRecorded>), ApiError> {
    let events = app_events(body)?;
    let recorded = state.audit_ingest.append(&caller.subject, events, &caller.context).await?;
    Ok((
        StatusCode::CREATED,
        Json(AppEventsRecorded {
            count: recorded.count,
            first_index: recorded.first_index,
            last_index: recorded.first_index + recorded.count - 1,
        }),
    ))
}

/// One event with its exact bytes, its inclusion proof and the signed
/// checkpoint the proof is for: everything to check it without trusting
/// this server. Scope `audit:read`.
#[utoipa::path(get, path = "/v1/audit/events/{index}", tag = "audit",
    params(("index" = u64, Path, description = "Leaf index")),
    responses((status = 200, description = "The event and its proof", body = AuditEventProof)),
    security(("api_key" = [])))]
pub(crate) async fn read_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(index): Path<String>,
) -> Result<Json<AuditEventProof>, ApiError> {
    Ok(Json(event_proof(&state, &caller.subject, &index, &caller.context).await?))
}

/// One event with its inclusion proof and the signed checkpoint it is for:
/// the API's answer, and what the console's explorer checks in the page.
pub(crate) async fn event_proof(
    state: &AppState,
    subject: &strongroom_core::authz::Subject,
    index: &str,
    context: &strongroom_core::audit::AuditContext,
) -> Result<AuditEventProof, ApiError> {
    let index: u64 = index.parse().map_err(|_| ApiError::InvalidRequest("index: a leaf index (0, 1, …)".into()))?;
    let EventWithProof { entry, inclusion_path, checkpoint } =
        state.audit_reader.event(subject, index, context).await?;
    let view = view(&entry)?;
    Ok(AuditEventProof {
        inclusion: InclusionProof {
            leaf_index: index,
            tree_size: checkpoint.size,
            leaf_hash: view.leaf_hash.clone(),
            root_hash: b64(&checkpoint.root),
            inclusion_path: inclusion_path.iter().map(b64).collect(),
        },
        entry: STANDARD.encode(&entry.entry),
        checkpoint: checkpoint.note,
        view,
    })
}

/// Query of the inclusion proof.
#[derive(Debug, Deserialize)]
pub(crate) struct InclusionQuery {
    index: Option<String>,
    tree_size: Option<String>,
}

fn number(field: &str, value: Option<&str>) -> Result<u64, ApiError> {
    value
        .ok_or_else(|| ApiError::InvalidRequest(format!("{field}: required")))?
        .parse()
        .map_err(|_| ApiError::InvalidRequest(format!("{field}: a whole number")))
}

/// RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size`
/// leaves (default: the current size). Scope `audit:read`.
#[utoipa::path(get, path = "/v1/audit/proof/inclusion", tag = "audit",
    params(
        ("index" = u64, Query, description = "Leaf index"),
        ("tree_size" = Option<u64>, Query, description = "Tree size, e.g. of a signed checkpoint; default the current one", minimum = 1),
    ),
    responses((status = 200, description = "The proof", body = InclusionProof)),
    security(("api_key" = [])))]
pub(crate) async fn inclusion_proof(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let index = number("index", query.index.as_deref())?;
    let tree_size = query.tree_size.as_deref().map(|size| number("tree_size", Some(size))).transpose()?;
    let proof = state.audit_reader.inclusion_proof(&caller.subject, index, tree_size, &caller.context).await?;
    Ok(Json(InclusionProof {
        leaf_index: proof.index,
        tree_size: proof.tree_size,
        leaf_hash: b64(&proof.leaf_hash),
        root_hash: b64(&proof.root),
        inclusion_path: proof.path.iter().map(b64).collect(),
    }))
}

/// Query of the consistency proof.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// RFC 9162 consistency proof that the tree of `from` leaves is a prefix of
/// the tree of `to` leaves (default: the current size). Scope `audit:read`.
#[utoipa::path(get, path = "/v1/audit/proof/consistency", tag = "audit",
    params(
        ("from" = u64, Query, description = "The smaller tree size (at least 1)", minimum = 1),
        ("to" = Option<u64>, Query, description = "The larger tree size; default the current one", minimum = 1),
    ),
    responses((status = 200, description = "The proof", body = ConsistencyProof)),
    security(("api_key" = [])))]
pub(crate) async fn consistency_proof(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let from = number("from", query.from.as_deref())?;
    let to = query.to.as_deref().map(|size| number("to", Some(size))).transpose()?;
    let proof = state.audit_reader.consistency_proof(&caller.subject, from, to, &caller.context).await?;
    Ok(Json(ConsistencyProof {
        from: proof.from,
        to: proof.to,
        from_root: b64(&proof.from_root),
        to_root: b64(&proof.to_root),
        consistency_path: proof.path.iter().map(b64).collect(),
    }))
}

/// A C2SP `tlog-checkpoint` signed note (Ed25519) of the tree as it is now,
/// signed on demand when the tree has grown since the last one. Public.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, description = "The signed note", content_type = "text/plain")))]
pub(crate) async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(text(state.checkpointer.current().await?.note))
}

/// The note verifier key of the checkpoint signer, `<name>+<hex id>+<base64>`;
/// one line per version of the signing key, newest first. Public.
#[utoipa::path(get, path = "/v1/audit/public-key", tag = "audit",
    responses((status = 200, description = "Verifier key(s), one per line", content_type = "text/plain")))]
pub(crate) async fn public_key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys: Vec<String> = state.checkpointer.verifiers().await?.iter().map(|v| v.encode()).collect();
    Ok(text(keys.join("\n") + "\n"))
}

fn checkpoint_view(checkpoint: StoredCheckpoint) -> CheckpointView {
    CheckpointView {
        tree_size: checkpoint.size,
        root_hash: b64(&checkpoint.root),
        signed_at: rfc3339_from_ms(checkpoint.created_ms),
        note: checkpoint.note,
    }
}

fn integrity_view(report: &IntegrityReport, rollback: Option<&String>) -> IntegrityView {
    let mut problems: Vec<IntegrityProblemView> =
        report.problems.iter().map(|p| IntegrityProblemView { index: p.index, message: p.message.clone() }).collect();
    if let Some(rollback) = rollback {
        problems.push(IntegrityProblemView { index: None, message: rollback.clone() });
    }
    IntegrityView {
        verified: problems.is_empty(),
        entries_checked: report.entries_checked,
        checkpoints_checked: report.checkpoints_checked,
        problems,
    }
}

/// Totals, failures in the last 24 hours, the newest checkpoint, and a full
/// recomputation of the stored tree against its head and every signed
/// checkpoint (stored and anchored). Scope `audit:read`.
#[utoipa::path(get, path = "/v1/audit/stats", tag = "audit",
    responses((status = 200, description = "Statistics and integrity", body = AuditStats)),
    security(("api_key" = [])))]
pub(crate) async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<AuditStats>, ApiError> {
    let stats = state.audit_reader.stats(&caller.subject, &caller.context).await?;
    Ok(Json(AuditStats {
        total_events: stats.head.size,
        root_hash: b64(&stats.head.root),
        per_action: stats.counts.per_type.into_iter().collect::<BTreeMap<_, _>>(),
        failures_last_24h: stats.counts.failures_since,
        per_hour_last_24h: stats
            .counts
            .per_hour
            .iter()
            .map(|hour| HourCountView { hour: hour.hour_ms / 1000, events: hour.events, failures: hour.failures })
            .collect(),
        latest_checkpoint: stats.latest_checkpoint.map(checkpoint_view),
        integrity: integrity_view(&stats.integrity, stats.health.rollback.as_ref()),
        health_problems: stats.health.problems(),
    }))
}

/// Raised alerts, newest first. Scope `audit:read`.
#[utoipa::path(get, path = "/v1/alerts", tag = "audit",
    responses((status = 200, description = "Alerts", body = AlertList)),
    security(("api_key" = [])))]
pub(crate) async fn alerts(State(state): State<AppState>, caller: Caller) -> Result<Json<AlertList>, ApiError> {
    let alerts = state
        .audit_reader
        .alerts(&caller.subject, &caller.context)
        .await?
        .into_iter()
        .map(|alert| AlertView {
            id: alert.id,
            rule: alert.rule,
            group_key: alert.group_key,
            count: alert.count,
            raised_at: rfc3339_from_ms(alert.created_ms),
            message: alert.message,
        })
        .collect();
    Ok(Json(AlertList { alerts }))
}
