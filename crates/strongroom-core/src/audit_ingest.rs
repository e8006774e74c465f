//! Applications write their own security events into the audit log
//! (`POST /v1/audit/events`): one event or a batch of up to
//! [`MAX_EVENTS_PER_BATCH`], appended to the same Merkle tree as
//! Strongroom's, so the application keeps no second, weaker log.
//!
//! Invariants a reader must not break:
//! - An application writes only its own namespace: every type is `app.…`
//!   ([`AppEventKind`]), so it can never forge one of Strongroom's events
//!   (`record.decrypt`, `login.success`). The actor is always the caller,
//!   as authenticated; the application may only add the user it acted for,
//!   which must be a real user id.
//! - All or nothing: a batch with one event breaking a rule is refused
//!   whole (a 400 naming the event's index and the rule) and nothing of it
//!   is appended; a valid batch goes in as one append, one commit, and the
//!   answer comes only once it is durable. If the log cannot record it, the
//!   answer is `AuditUnavailable` (503): fail closed.
//! - Values the application lists in `hmac_fields` never reach the entry:
//!   only their HMAC under the audit HMAC key, searchable with `hmac_of`.
//! - Every event of a batch counts against the calling key's
//!   `rate_limit_per_minute` as one request, so batching does not lift it.
//! - A refused batch is itself recorded (`audit.ingest_refused`, with the
//!   index and the field, never the values), so a key trying to forge
//!   Strongroom's types leaves a trace.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use strongroom_policy::PrincipalKind;

use crate::CoreError;
use crate::api_keys::ApiKeys;
use crate::audit::{AppEventKind, AuditContext, AuditEvent, AuditLog, Detail, EventType, Outcome, Severity, Target};
use crate::authz::{Action, Ask, Authz, Resource, Subject};
use crate::identity::Identity;

/// Most events in one request.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;
/// Most bytes of one event's `details`, as canonical JSON.
pub const MAX_DETAILS_BYTES: usize = 4096;
/// Deepest nesting of `details` (the object itself is level 1).
pub const MAX_DETAILS_DEPTH: usize = 4;
/// Longest member name in `details`.
const MAX_DETAIL_NAME: usize = 64;
/// Most names in `hmac_fields`.
const MAX_HMAC_FIELDS: usize = 32;
/// Longest target id or on-behalf-of user id.
const MAX_ID: usize = 256;
/// Integers in `details` must be exact in every JSON implementation (RFC
/// 8785 numbers are IEEE doubles): at most 2^53 - 1 either way.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One event as the application sends it; [`AuditIngest::append`] checks every rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppEventInput {
    /// `app.` and dot-separated segments of `[a-z0-9_]`.
    pub event_type: String,
    /// One segment of `[a-z0-9_]`; default `app`.
    pub category: Option<String>,
    /// `info`, `notice`, `warning` or `critical`; default `info`.
    pub severity: Option<String>,
    /// `success`, `failure` or `denied`; default `success`.
    pub result: Option<String>,
    /// The id of the user the application acted for.
    pub on_behalf_of: Option<String>,
    /// What was acted on: `(kind, id)`.
    pub target: Option<(String, String)>,
    /// Further facts: a JSON object within the size and depth limits.
    pub details: Option<Value>,
    /// Top-level members of `details` whose (string) values are stored only as HMACs.
    pub hmac_fields: Vec<String>,
}

/// Where an accepted batch landed: consecutive leaves from `first_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    /// The first event's leaf index.
    pub first_index: u64,
    /// How many events (the leaves `first_index..first_index + count`).
    pub count: u64,
}

/// A rule an event breaks: which event, which field, and the message.
struct Broken {
    index: usize,
    field: &'static str,
    message: String,
}

impl Broken {
    fn new(index: usize, field: &'static str, message: impl Into<String>) -> Self {
        Self { index, field, message: message.into() }
    }
}

/// Why an event could not be made: a rule it breaks (400), or a fault (the
/// audit HMAC key missing: the log cannot record, 503).
enum Refusal {
    Broken(Broken),
    Failed(CoreError),
}

fn broken(index: usize, field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Broken(Broken::new(index, field, message))
}

impl From<Broken> for Refusal {
    fn from(broken: Broken) -> Self {
        Self::Broken(broken)
    }
}

/// Audit ingestion for applications.
#[derive(Debug)]
pub struct AuditIngest {
    audit: Arc<AuditLog>,
    authz: Arc<Authz>,
    api_keys: Arc<ApiKeys>,
    identity: Arc<Identity>,
}

impl AuditIngest {
    /// Appends to `audit`, deciding with `authz`, charging `api_keys`' rate
    /// limits and checking on-behalf-of users with `identity`.
    pub fn new(audit: Arc<AuditLog>, authz: Arc<Authz>, api_keys: Arc<ApiKeys>, identity: Arc<Identity>) -> Self {
        Self { audit, authz, api_keys, identity }
    }

    /// Appends `events` for `subject` (`audit.write`: the `audit:write`
    /// scope under the default policies), all or none, durably, in one
    /// commit; see the module invariants.
    pub async fn append(
        &self,
        subject: &Subject,
        events: Vec<AppEventInput>,
        context: &AuditContext,
    ) -> Result<Ingested, CoreError> {
        self.authz.authorize(subject, Action::AuditWrite, &Resource::Service, &Ask::default(), context).await?;
        if events.is_empty() || events.len() > MAX_EVENTS_PER_BATCH {
            return Err(CoreError::InvalidInput(format!(
                "events: between 1 and {MAX_EVENTS_PER_BATCH} per request (got {})",
                events.len()
            )));
        }
        if subject.facts.kind == PrincipalKind::ApiKey {
            // The request itself took one unit when the key was authenticated.
            let more = u32::try_from(events.len() - 1).unwrap_or(u32::MAX);
            self.api_keys.spend(&subject.facts.id, more, context).await?;
        }
        let now = self.audit.now_ms();
        let count = events.len();
        // Each user acted for, with the first event naming them (for the refusal).
        let mut users: HashMap<String, usize> = HashMap::new();
        for (index, input) in events.iter().enumerate() {
            if let Some(user) = &input.on_behalf_of {
                users.entry(user.clone()).or_insert(index);
            }
        }
        let mut sealed = Vec::with_capacity(count);
        for (index, input) in events.into_iter().enumerate() {
            match self.event(index, input, context, now) {
                Ok(event) => sealed.push(event),
                Err(Refusal::Broken(broken)) => return Err(self.refuse(broken, count, context).await),
                Err(Refusal::Failed(error)) => return Err(error),
            }
        }
        for (user, index) in users {
            match self.identity.user(&user).await {
                Ok(_) => {}
                Err(CoreError::NotFound(_)) => {
                    let broken = Broken::new(index, "on_behalf_of", "on_behalf_of: no user has this id");
                    return Err(self.refuse(broken, count, context).await);
                }
                Err(other) => return Err(other),
            }
        }
        let recorded = self.audit.record_all(sealed).await?;
        Ok(Ingested { first_index: recorded.index, count: count as u64 })
    }

    /// Records the refusal (best effort: the batch is refused anyway) and
    /// answers the 400 naming the event and the rule.
    async fn refuse(&self, broken: Broken, events: usize, context: &AuditContext) -> CoreError {
        let refusal = self
            .audit
            .event(EventType::AuditIngestRefused, context)
            .detail("index", broken.index)
            .detail("field", broken.field)
            .detail("events", events)
            .failed(Outcome::Failure, "invalid_input");
        self.audit.record_refusal(&refusal).await;
        CoreError::InvalidInput(format!(
            "events[{}].{}; the whole batch is refused, nothing was recorded",
            broken.index, broken.message
        ))
    }

    /// The event `input` (number `index` of its batch) stands for, or the rule it breaks.
    fn event(
        &self,
        index: usize,
        input: AppEventInput,
        context: &AuditContext,
        now: i64,
    ) -> Result<AuditEvent, Refusal> {
        let kind = AppEventKind::new(&input.event_type, input.category.as_deref().unwrap_or("app"))
            .map_err(|rule| Broken::new(index, if rule.starts_with("category") { "category" } else { "type" }, rule))?;
        let severity = match input.severity.as_deref() {
            None => Severity::Info,
            Some(text) => Severity::parse(text)
                .ok_or_else(|| Broken::new(index, "severity", "severity: one of info, notice, warning, critical"))?,
        };
        let mut event = AuditEvent::app(kind, severity, context, now);
        if let Some(result) = input.result.as_deref() {
            event.outcome = Outcome::parse(result)
                .ok_or_else(|| Broken::new(index, "result", "result: one of success, failure, denied"))?;
        }
        if let Some(user) = input.on_behalf_of {
            if user.is_empty() || user.len() > MAX_ID || user.chars().any(char::is_control) {
                return Err(broken(index, "on_behalf_of", "on_behalf_of: a user id"));
            }
            event.on_behalf_of = Some(user);
        }
        if let Some((kind, id)) = input.target {
            let kind_ok = !kind.is_empty()
                && kind.len() <= 64
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !kind_ok {
                return Err(broken(index, "target", "target.kind: one word of a-z, 0-9 and _, at most 64"));
            }
            if id.is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
                return Err(broken(
                    index,
                    "target",
                    format!("target.id: 1 to {MAX_ID} bytes without control characters"),
                ));
            }
            event.target = Some(Target::new(&kind, id));
        }
        let mut details = match input.details {
            None => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(broken(index, "details", "details: must be a JSON object")),
        };
        check_details(&details).map_err(|rule| Broken::new(index, "details", rule))?;
        if input.hmac_fields.len() > MAX_HMAC_FIELDS {
            return Err(broken(index, "hmac_fields", format!("hmac_fields: at most {MAX_HMAC_FIELDS} names")));
        }
        let mut hmacs = BTreeMap::new();
        for name in &input.hmac_fields {
            let value = match details.remove(name) {
                Some(Value::String(text)) => text,
                Some(Value::Number(number)) => number.to_string(),
                Some(_) => {
                    return Err(broken(
                        index,
                        "hmac_fields",
                        format!("hmac_fields: details.{name} must be a string or an integer to be stored as an HMAC"),
                    ));
                }
                None if hmacs.contains_key(&format!("detail:{name}")) => {
                    return Err(broken(index, "hmac_fields", format!("hmac_fields: {name:?} is listed twice")));
                }
                None => {
                    return Err(broken(
                        index,
                        "hmac_fields",
                        format!("hmac_fields: {name:?} names no member of details"),
                    ));
                }
            };
            // The log cannot pseudonymise without its key: no event then.
            let mac = self.audit.pseudonym(&value).map_err(Refusal::Failed)?;
            hmacs.insert(format!("detail:{name}"), mac);
        }
        event.hmacs = hmacs;
        event.details = details.into_iter().map(|(name, value)| (name, Detail::Json(value))).collect();
        Ok(event)
    }
}

/// The rule `details` breaks, if any: member names of `[A-Za-z0-9_-]`,
/// values only strings, safe integers, booleans, arrays and objects (the
/// canonical form has no floats and no nulls), at most
/// [`MAX_DETAILS_DEPTH`] deep and [`MAX_DETAILS_BYTES`] long.
fn check_details(details: &serde_json::Map<String, Value>) -> Result<(), String> {
    fn walk(value: &Value, path: &mut String, depth: usize) -> Result<(), String> {
        if depth > MAX_DETAILS_DEPTH {
            return Err(format!("{path}: details nest at most {MAX_DETAILS_DEPTH} levels deep"));
        }
        match value {
            Value::Null => Err(format!("{path}: null is not allowed (leave the member out)")),
            Value::Number(number) => match number.as_i64() {
                Some(n) if n.abs() <= MAX_SAFE_INTEGER => Ok(()),
                Some(_) => Err(format!("{path}: integers are at most 2^53 - 1 either way")),
                None if number.is_u64() => Err(format!("{path}: integers are at most 2^53 - 1 either way")),
                None => Err(format!("{path}: numbers must be integers (write a fraction as a string)")),
            },
            Value::String(_) | Value::Bool(_) => Ok(()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, depth + 1)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                for (name, item) in map {
                    let ok = !name.is_empty()
                        && name.len() <= MAX_DETAIL_NAME
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if !ok {
                        return Err(format!(
                            "{path}: member names are 1 to {MAX_DETAIL_NAME} characters of A-Z, a-z, 0-9, _ and -"
                        ));
                    }
                    let len = path.len();
                    path.push('.');
                    path.push_str(name);
                    walk(item, path, depth + 1)?;
                    path.truncate(len);
                }
                Ok(())
            }
        }
    }
    walk(&Value::Object(details.clone()), &mut "details".to_owned(), 1)?;
    let bytes = serde_json::to_vec(details).map(|b| b.len()).unwrap_or(usize::MAX);
    if bytes > MAX_DETAILS_BYTES {
        return Err(format!("details: at most {MAX_DETAILS_BYTES} bytes as JSON (got {bytes})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(details: Value) -> Option<String> {
        check_details(details.as_object().unwrap()).err()
    }

    #[test]
    fn details_are_bounded_in_size_and_depth_and_hold_only_canonical_values() {
        assert_eq!(rule(json!({"a": "x", "b": 3, "c": true, "d": [1, {"e": "f"}]})), None);
        assert_eq!(rule(json!({"a": {"b": {"c": 1}}})), None, "the object itself is level 1: four levels");
        assert!(rule(json!({"a": {"b": {"c": {"d": 1}}}})).unwrap().contains("at most 4 levels"));
        assert!(rule(json!({"a": [[[1]]]})).unwrap().contains("at most 4 levels"));
        assert!(rule(json!({"a": 1.5})).unwrap().starts_with("details.a: numbers must be integers"));
        assert!(rule(json!({"a": {"b": null}})).unwrap().starts_with("details.a.b: null"));
        assert!(rule(json!({"a": 9_007_199_254_740_992i64})).unwrap().contains("2^53"));
        assert!(rule(json!({"a": u64::MAX})).unwrap().contains("2^53"));
        assert!(rule(json!({"a b": 1})).unwrap().contains("member names"));
        assert!(rule(json!({"a": "x".repeat(MAX_DETAILS_BYTES)})).unwrap().contains("at most 4096 bytes"));
    }
}
