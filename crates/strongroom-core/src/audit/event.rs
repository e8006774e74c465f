//! The audit event model and its canonical serialisation.
//!
//! An event is serialised once, when it is recorded, to canonical JSON: an
//! object whose keys are sorted bytewise at every level, no insignificant
//! whitespace, only strings, integers, booleans, arrays and objects (no
//! floats), absent values omitted rather than `null`. For this value domain
//! that is exactly RFC 8785 (JCS), so any JCS library reproduces the bytes.
//! Those bytes are the Merkle leaf: `leaf hash = SHA-256(0x00 || bytes)`.
//! The full field list is in docs/audit.md.
//!
//! Invariant: nothing secret or personal goes into an event in clear. Values
//! that must stay searchable (subject identifiers, record field values, IP
//! addresses when configured) go in `hmac` as HMAC-SHA256 under the audit
//! HMAC key ([`super::Pseudonymizer`]); field *names* go in `fields`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// Version of the event serialisation (`"v"` in every entry).
pub const EVENT_FORMAT_VERSION: i64 = 1;

/// How serious an event is, for sinks and alerting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Routine (a read, a successful login).
    Info,
    /// Worth noticing (a key rotated, a user created, a plaintext revealed).
    Notice,
    /// Possibly hostile or damaging (a failed login, a denial, a key destroyed).
    Warning,
    /// Needs a human now (refresh-token reuse, an attack pattern).
    Critical,
}

impl Severity {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// Every severity, least serious first.
    pub const ALL: [Severity; 4] = [Self::Info, Self::Notice, Self::Warning, Self::Critical];

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// 0 (info) to 3 (critical): the stored search column, so "at least
    /// `warning`" is one comparison.
    pub fn rank(self) -> i16 {
        match self {
            Self::Info => 0,
            Self::Notice => 1,
            Self::Warning => 2,
            Self::Critical => 3,
        }
    }

    /// The severity of [`rank`](Self::rank) `rank`.
    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| i64::from(s.rank()) == rank)
    }
}

macro_rules! event_types {
    ($($variant:ident => $text:literal, $category:literal, $severity:ident;)*) => {
        /// What happened. The text form (`login.failure`) is stable and is what
        /// queries filter on; each type has a category and a default severity.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventType {
            $(#[doc = concat!("`", $text, "`")] $variant,)*
        }

        impl EventType {
            /// Every type.
            pub const ALL: &'static [EventType] = &[$(Self::$variant),*];

            /// The stable name, e.g. `record.decrypt`.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            /// The category, e.g. `reveal`.
            pub fn category(self) -> &'static str {
                match self { $(Self::$variant => $category),* }
            }

            /// The default severity.
            pub fn severity(self) -> Severity {
                match self { $(Self::$variant => Severity::$severity),* }
            }

            /// Parses [`as_str`](Self::as_str)'s form.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

event_types! {
    LoginSuccess => "login.success", "authentication", Info;
    LoginFailure => "login.failure", "authentication", Warning;
    Logout => "logout", "session", Info;
    MfaSuccess => "mfa.success", "authentication", Info;
    MfaFailure => "mfa.failure", "authentication", Warning;
    MfaEnroll => "mfa.enroll", "authentication", Notice;
    MfaDisable => "mfa.disable", "authentication", Warning;
    MfaRecoveryCodeUsed => "mfa.recovery_code_used", "authentication", Notice;
    PasskeyRegister => "passkey.register", "authentication", Notice;
    PasskeyRemove => "passkey.remove", "authentication", Notice;
    AuthFailure => "auth.failure", "authentication", Warning;
    TokenRefresh => "token.refresh", "session", Info;
    TokenReuse => "token.reuse", "session", Critical;
    ServiceTokenIssue => "token.issue", "authentication", Info;
    SessionRevoke => "session.revoke", "session", Notice;
    PasswordChange => "password.change", "authentication", Notice;
    PasswordReset => "password.reset", "authentication", Notice;
    PermissionGranted => "permission.granted", "authorization", Info;
    PermissionDenied => "permission.denied", "authorization", Warning;
    AccessRequestCreate => "access_request.create", "access_request", Notice;
    AccessRequestApprove => "access_request.approve", "access_request", Notice;
    AccessRequestDeny => "access_request.deny", "access_request", Notice;
    AccessRequestExpire => "access_request.expire", "access_request", Info;
    RecordRead => "record.read", "data", Info;
    RecordCreate => "record.create", "data", Info;
    RecordUpdate => "record.update", "data", Info;
    RecordDelete => "record.delete", "data", Notice;
    RecordHold => "record.hold", "data", Notice;
    RecordDecrypt => "record.decrypt", "reveal", Notice;
    RecordExport => "record.export", "reveal", Notice;
    BlobWrite => "blob.write", "data", Info;
    BlobRead => "blob.read", "data", Info;
    BlobMissing => "blob.missing", "data", Critical;
    SubjectExport => "subject.export", "reveal", Warning;
    SubjectErase => "subject.erase", "data", Warning;
    UserCreate => "user.create", "user_admin", Notice;
    UserUpdate => "user.update", "user_admin", Notice;
    UserLock => "user.lock", "user_admin", Warning;
    UserUnlock => "user.unlock", "user_admin", Notice;
    RoleChange => "role.change", "user_admin", Warning;
    MatterCreate => "matter.create", "user_admin", Notice;
    GrantAdd => "grant.add", "user_admin", Notice;
    GrantRemove => "grant.remove", "user_admin", Notice;
    KeyCreate => "key.create", "key", Notice;
    KeyRotate => "key.rotate", "key", Notice;
    KeyConfig => "key.config", "key", Notice;
    KeyStateChange => "key.state", "key", Warning;
    KeyDelete => "key.delete", "key", Warning;
    KeyBackup => "key.backup", "key", Warning;
    KeyRestore => "key.restore", "key", Warning;
    BackupCreate => "backup.create", "key", Warning;
    BackupRestore => "backup.restore", "key", Warning;
    KeyRewrap => "key.rewrap", "key", Notice;
    KeyReencrypt => "key.reencrypt", "key", Warning;
    JobStart => "job.start", "key", Notice;
    JobFinish => "job.finish", "key", Notice;
    ApiKeyCreate => "api_key.create", "api_key", Notice;
    ApiKeyRotate => "api_key.rotate", "api_key", Notice;
    ApiKeyRevoke => "api_key.revoke", "api_key", Notice;
    TransitEncrypt => "transit.encrypt", "transit", Info;
    TransitDecrypt => "transit.decrypt", "reveal", Info;
    TransitRewrap => "transit.rewrap", "transit", Info;
    TransitDatakey => "transit.datakey", "transit", Info;
    TransitSign => "transit.sign", "transit", Info;
    TransitVerify => "transit.verify", "transit", Info;
    TransitHmac => "transit.hmac", "transit", Info;
    PolicyChange => "policy.change", "policy", Warning;
    RoleDefine => "role.define", "policy", Warning;
    RoleDelete => "role.delete", "policy", Warning;
    RetentionRun => "retention.run", "retention", Notice;
    HousekeepingPurge => "housekeeping.purge", "retention", Info;
    ConfigChange => "config.change", "config", Warning;
    AttackSuspected => "attack.suspected", "security", Critical;
    RateLimitExceeded => "ratelimit.exceeded", "security", Warning;
    Alert => "alert", "security", Warning;
    AuditExport => "audit.export", "audit", Notice;
    AuditRollbackAccepted => "audit.rollback_accepted", "audit", Critical;
    AuditIngestRefused => "audit.ingest_refused", "audit", Warning;
    // An application's own event: its real type and category are in
    // `AuditEvent::app` (`app.session_created`); this name is only the
    // metrics label, so app types cannot grow the metrics without bound.
    AppEvent => "app", "app", Info;
}

/// The namespace of applications' own event types; no Strongroom type is in it.
pub const APP_TYPE_PREFIX: &str = "app.";
/// Longest application event type or category.
const APP_NAME_MAX: usize = 128;

/// An application's own event type (`app.transcript.exported`) and category
/// (`export`), checked: the type is `app.` and dot-separated segments of
/// `[a-z0-9_]`, the category one such segment, both at most 128 bytes. So
/// an application can never write one of Strongroom's types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppEventKind {
    event_type: String,
    category: String,
}

fn is_segment(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl AppEventKind {
    /// The kind, or the rule `event_type` or `category` breaks (for a 400).
    pub fn new(event_type: &str, category: &str) -> Result<Self, String> {
        let namespaced = event_type.strip_prefix(APP_TYPE_PREFIX).is_some_and(|rest| rest.split('.').all(is_segment));
        if !namespaced || event_type.len() > APP_NAME_MAX {
            let own =
                if EventType::parse(event_type).is_some() { " (Strongroom's own types cannot be written)" } else { "" };
            return Err(format!(
                "type: {event_type:?} is not an application type{own}: `app.` then dot-separated segments of \
                 a-z, 0-9 and _, at most {APP_NAME_MAX} characters (app.session_created)"
            ));
        }
        if !is_segment(category) || category.len() > APP_NAME_MAX {
            return Err(format!(
                "category: {category:?} must be one word of a-z, 0-9 and _, at most {APP_NAME_MAX} characters"
            ));
        }
        Ok(Self { event_type: event_type.to_owned(), category: category.to_owned() })
    }

    /// The type, `app.…`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The category.
    pub fn category(&self) -> &str {
        &self.category
    }
}

/// Whether the action happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (bad input, a refused rule).
    Failure,
    /// Authorization refused it.
    Denied,
}

impl Outcome {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Success, Self::Failure, Self::Denied].into_iter().find(|o| o.as_str() == text)
    }
}

/// What kind of principal acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// A person, logged in.
    User,
    /// A machine, with an API key.
    ApiKey,
    /// Strongroom itself or its operator's CLI (scheduler, retention, `strongroom key …`).
    Service,
    /// Nobody authenticated (a failed login, a bad token).
    Anonymous,
}

impl ActorKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiKey => "api_key",
            Self::Service => "service",
            Self::Anonymous => "anonymous",
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// What kind of principal.
    pub kind: ActorKind,
    /// Its id (user id, API-key id, service name); empty for anonymous.
    pub id: String,
    /// A readable label (username, API-key name), if any.
    pub name: Option<String>,
    /// Its roles or scopes at the time.
    pub roles: Vec<String>,
}

impl Actor {
    /// Strongroom itself or an operator command, named `service`.
    pub fn service(service: &str) -> Self {
        Self { kind: ActorKind::Service, id: service.to_owned(), name: None, roles: Vec::new() }
    }

    /// Nobody authenticated.
    pub fn anonymous() -> Self {
        Self { kind: ActorKind::Anonymous, id: String::new(), name: None, roles: Vec::new() }
    }
}

/// What was acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `key`, `record`, `user`, `api_key`, `session`, `matter`, …
    pub kind: String,
    /// Its id or name.
    pub id: Option<String>,
    /// For records: the collection.
    pub collection: Option<String>,
    /// The matter (case, tenant) the data belongs to.
    pub matter: Option<String>,
}

impl Target {
    /// A target of `kind` named `id`.
    pub fn new(kind: &str, id: impl Into<String>) -> Self {
        Self { kind: kind.to_owned(), id: Some(id.into()), ..Self::default() }
    }
}

/// Who is acting and from where: taken once per request (or CLI command)
/// and copied into every event it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// Who.
    pub actor: Actor,
    /// The client address, if known.
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent`, shortened to 256 characters.
    pub user_agent: Option<String>,
    /// The request id the client saw.
    pub request_id: Option<String>,
}

impl AuditContext {
    /// A context for Strongroom's own work or an operator command.
    pub fn service(service: &str) -> Self {
        Self { actor: Actor::service(service), ip: None, user_agent: None, request_id: None }
    }
}

/// A non-sensitive detail value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// Yes or no.
    Bool(bool),
    /// A list of names.
    List(Vec<String>),
    /// An application's own detail (`POST /v1/audit/events`): JSON already
    /// checked to hold only strings, safe integers, booleans, arrays and
    /// objects, within the ingestion limits.
    Json(Value),
}

impl From<&str> for Detail {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}
impl From<String> for Detail {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}
impl From<i64> for Detail {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}
impl From<u32> for Detail {
    fn from(value: u32) -> Self {
        Self::Int(i64::from(value))
    }
}
impl From<usize> for Detail {
    fn from(value: usize) -> Self {
        Self::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Detail {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}
impl From<Vec<String>> for Detail {
    fn from(value: Vec<String>) -> Self {
        Self::List(value)
    }
}

impl Detail {
    fn to_value(&self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.clone()),
            Self::Int(number) => Value::from(*number),
            Self::Bool(flag) => Value::Bool(*flag),
            Self::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
            Self::Json(value) => value.clone(),
        }
    }
}

/// One audit event, before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// What happened.
    pub event_type: EventType,
    /// How serious; the type's default unless raised.
    pub severity: Severity,
    /// When, in Unix milliseconds.
    pub time_ms: i64,
    /// Who and from where.
    pub context: AuditContext,
    /// What was acted on.
    pub target: Option<Target>,
    /// Names of the fields read, written or revealed (never their values).
    pub fields: Vec<String>,
    /// The actor's stated reason (decrypt, role change, key state change).
    pub justification: Option<String>,
    /// The purpose code given with a reveal.
    pub purpose: Option<String>,
    /// Whether it happened.
    pub outcome: Outcome,
    /// For failures and denials: the problem code.
    pub reason: Option<String>,
    /// Further non-sensitive facts (key version, counts).
    pub details: BTreeMap<String, Detail>,
    /// Pseudonymised values: label → hex HMAC-SHA256 (subject, ip, `value:<field>`).
    pub hmacs: BTreeMap<String, String>,
    /// For an application's own event ([`EventType::AppEvent`]): its type and category.
    pub app: Option<AppEventKind>,
    /// The user an application acted for (a user id), if it said so.
    pub on_behalf_of: Option<String>,
}

impl AuditEvent {
    /// A successful event of `event_type` at `time_ms`, by `context`.
    pub fn new(event_type: EventType, context: &AuditContext, time_ms: i64) -> Self {
        Self {
            event_type,
            severity: event_type.severity(),
            time_ms,
            context: context.clone(),
            target: None,
            fields: Vec::new(),
            justification: None,
            purpose: None,
            outcome: Outcome::Success,
            reason: None,
            details: BTreeMap::new(),
            hmacs: BTreeMap::new(),
            app: None,
            on_behalf_of: None,
        }
    }

    /// An application's own event of `kind` at `time_ms`, by `context`, at `severity`.
    pub fn app(kind: AppEventKind, severity: Severity, context: &AuditContext, time_ms: i64) -> Self {
        let mut event = Self::new(EventType::AppEvent, context, time_ms);
        event.severity = severity;
        event.app = Some(kind);
        event
    }

    /// The type as written in the entry: an application's own, or Strongroom's.
    pub fn type_name(&self) -> &str {
        self.app.as_ref().map_or_else(|| self.event_type.as_str(), AppEventKind::event_type)
    }

    /// The category as written in the entry.
    pub fn category(&self) -> &str {
        self.app.as_ref().map_or_else(|| self.event_type.category(), AppEventKind::category)
    }

    /// Sets the target.
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Adds a non-sensitive detail.
    pub fn detail(mut self, name: &str, value: impl Into<Detail>) -> Self {
        self.details.insert(name.to_owned(), value.into());
        self
    }

    /// Sets the justification.
    pub fn justification(mut self, text: &str) -> Self {
        self.justification = Some(text.to_owned());
        self
    }

    /// Adds the HMAC (hex, from `AuditLog::pseudonym`) of a personal value
    /// under `label`, so the log can be searched by the value without holding it.
    pub fn personal(mut self, label: &str, hmac_hex: String) -> Self {
        self.hmacs.insert(label.to_owned(), hmac_hex);
        self
    }

    /// Sets the purpose code of a reveal.
    pub fn purpose(mut self, code: &str) -> Self {
        self.purpose = Some(code.to_owned());
        self
    }

    /// Names the fields involved.
    pub fn fields(mut self, names: Vec<String>) -> Self {
        self.fields = names;
        self
    }

    /// Marks the event failed (or denied) with a problem code; a denial is at least a warning.
    pub fn failed(mut self, outcome: Outcome, reason: &str) -> Self {
        self.outcome = outcome;
        self.reason = Some(reason.to_owned());
        if outcome != Outcome::Success {
            self.severity = self.severity.max(Severity::Notice);
        }
        if outcome == Outcome::Denied {
            self.severity = self.severity.max(Severity::Warning);
        }
        self
    }

    /// The canonical JSON object (see the module documentation). The IP is
    /// written in clear only when `ip_in_clear`; otherwise the caller has put
    /// its HMAC in `hmacs`.
    pub(crate) fn canonical(&self, ip_in_clear: bool) -> Vec<u8> {
        fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
            if let Some(value) = value {
                map.insert(key.to_owned(), value);
            }
        }
        let text = |s: &Option<String>| s.as_ref().map(|s| Value::String(s.clone()));
        let context = &self.context;
        let mut actor = Map::new();
        actor.insert("kind".into(), context.actor.kind.as_str().into());
        actor.insert("id".into(), context.actor.id.clone().into());
        put(&mut actor, "name", text(&context.actor.name));
        if !context.actor.roles.is_empty() {
            actor.insert("roles".into(), context.actor.roles.clone().into());
        }
        let mut event = Map::new();
        event.insert("v".into(), EVENT_FORMAT_VERSION.into());
        event.insert("time".into(), self.time_ms.into());
        event.insert("type".into(), self.type_name().into());
        event.insert("category".into(), self.category().into());
        event.insert("severity".into(), self.severity.as_str().into());
        event.insert("result".into(), self.outcome.as_str().into());
        event.insert("actor".into(), Value::Object(actor));
        if let Some(target) = &self.target {
            let mut map = Map::new();
            map.insert("kind".into(), target.kind.clone().into());
            put(&mut map, "id", text(&target.id));
            put(&mut map, "collection", text(&target.collection));
            put(&mut map, "matter", text(&target.matter));
            event.insert("target".into(), Value::Object(map));
        }
        if !self.fields.is_empty() {
            event.insert("fields".into(), self.fields.clone().into());
        }
        put(&mut event, "on_behalf_of", text(&self.on_behalf_of));
        put(&mut event, "justification", text(&self.justification));
        put(&mut event, "purpose", text(&self.purpose));
        put(&mut event, "reason", text(&self.reason));
        if ip_in_clear {
            put(&mut event, "ip", context.ip.map(|ip| ip.to_string().into()));
        }
        put(&mut event, "user_agent", text(&context.user_agent));
        put(&mut event, "request_id", text(&context.request_id));
        if !self.details.is_empty() {
            let details = self.details.iter().map(|(k, v)| (k.clone(), v.to_value())).collect();
            event.insert("details".into(), Value::Object(details));
        }
        if !self.hmacs.is_empty() {
            let hmacs = self.hmacs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            event.insert("hmac".into(), Value::Object(hmacs));
        }
        let mut out = Vec::with_capacity(512);
        write_canonical(&Value::Object(event), &mut out);
        out
    }
}

/// Writes `value` as RFC 8785 canonical JSON for this value domain: object
/// keys sorted bytewise at every level, no whitespace. The sorting is done
/// here, not left to `serde_json::Map`: a dependency enabling serde_json's
/// `preserve_order` feature (Cedar does) turns that map into insertion order
/// for the whole build.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, inner)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(inner, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// Strings (JSON escapes, UTF-8 kept), integers and booleans, as serde_json writes them.
fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Writing a scalar into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> AuditContext {
        AuditContext {
            actor: Actor {
                kind: ActorKind::ApiKey,
                id: "ab12".into(),
                name: Some("billing".into()),
                roles: vec!["transit:use".into()],
            },
            ip: Some("10.0.0.7".parse().unwrap()),
            user_agent: Some("hvac/2".into()),
            request_id: Some("r-1".into()),
        }
    }

    #[test]
    fn canonical_form_has_sorted_keys_no_spaces_and_omits_absent_values() {
        let event = AuditEvent::new(EventType::KeyRotate, &context(), 1_700_000_000_123)
            .target(Target::new("key", "payments"))
            .detail("version", 3u32);
        let bytes = event.canonical(true);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            r#"{"actor":{"id":"ab12","kind":"api_key","name":"billing","roles":["transit:use"]},"category":"key","details":{"version":3},"ip":"10.0.0.7","request_id":"r-1","result":"success","severity":"notice","target":{"id":"payments","kind":"key"},"time":1700000000123,"type":"key.rotate","user_agent":"hvac/2","v":1}"#
        );
        assert!(!String::from_utf8(event.canonical(false)).unwrap().contains("10.0.0.7"));
    }

    #[test]
    fn the_search_columns_are_read_back_from_the_entry_as_they_were_derived_from_the_event() {
        use crate::audit::IndexedColumns;
        let target = Target { matter: Some("case-7".into()), ..Target::new("record", "r-9") };
        let event = AuditEvent::new(EventType::RecordDecrypt, &context(), 1_700_000_000_123)
            .target(target)
            .failed(Outcome::Denied, "forbidden");
        let clear = IndexedColumns::of_entry(&event.canonical(true)).unwrap();
        assert_eq!(
            clear,
            IndexedColumns {
                time_ms: 1_700_000_000_123,
                event_type: "record.decrypt".into(),
                outcome: "denied".into(),
                actor_id: "ab12".into(),
                target_id: Some("r-9".into()),
                matter: Some("case-7".into()),
                ip_key: Some("10.0.0.7".into()),
                hmacs: Vec::new(),
                severity: Some(Severity::Warning),
            }
        );
        // With hashed addresses the entry holds the address's HMAC, as the column does.
        let hashed = event.personal("ip", "00ff".into());
        let hashed = IndexedColumns::of_entry(&hashed.canonical(false)).unwrap();
        assert_eq!(hashed.ip_key.as_deref(), Some("hmac:00ff"));
        assert_eq!(hashed.hmacs, vec!["00ff".to_owned()], "the HMACs hmac_of finds the entry by");
        let edited = IndexedColumns {
            event_type: "record.read".into(),
            actor_id: "someone".into(),
            severity: Some(Severity::Info),
            ..clear.clone()
        };
        assert_eq!(clear.differences(&edited), vec!["event_type", "actor_id", "severity"]);
        assert_eq!(IndexedColumns::of_entry(b"not json"), None);
    }

    #[test]
    fn a_denial_is_at_least_a_warning_and_every_type_round_trips() {
        let event = AuditEvent::new(EventType::RecordRead, &context(), 0).failed(Outcome::Denied, "forbidden");
        assert_eq!(event.severity, Severity::Warning);
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(*event_type));
            assert!(!event_type.as_str().starts_with(APP_TYPE_PREFIX), "{event_type:?} is in the apps' namespace");
        }
        for severity in Severity::ALL {
            assert_eq!(Severity::parse(severity.as_str()), Some(severity));
            assert_eq!(Severity::from_rank(i64::from(severity.rank())), Some(severity));
        }
    }

    #[test]
    fn an_application_writes_only_its_own_namespace() {
        for good in ["app.session_created", "app.transcript.exported", "app.v2.x_1"] {
            assert!(AppEventKind::new(good, "session").is_ok(), "{good}");
        }
        for bad in [
            "record.decrypt",
            "app",
            "app.",
            "app..x",
            "app.Session",
            "app.a-b",
            "App.x",
            "application.x",
            " app.x",
            "app.x ",
        ] {
            let rule = AppEventKind::new(bad, "session").unwrap_err();
            assert!(rule.starts_with("type: "), "{bad}: {rule}");
        }
        assert!(AppEventKind::new("record.decrypt", "x").unwrap_err().contains("Strongroom's own types"));
        assert!(AppEventKind::new(&format!("app.{}", "a".repeat(130)), "x").is_err(), "too long");
        for bad in ["", "Export", "a.b", "x y"] {
            assert!(AppEventKind::new("app.x", bad).unwrap_err().starts_with("category: "), "{bad:?}");
        }
    }

    #[test]
    fn an_application_event_writes_its_own_type_category_and_user() {
        let kind = AppEventKind::new("app.transcript.exported", "export").unwrap();
        let mut event = AuditEvent::app(kind, Severity::Critical, &context(), 5);
        event.on_behalf_of = Some("u-1".into());
        event.details.insert("format".into(), Detail::Json(serde_json::json!({"kind": "pdf", "pages": [1, 2]})));
        let text = String::from_utf8(event.canonical(true)).unwrap();
        assert!(text.contains(r#""type":"app.transcript.exported""#), "{text}");
        assert!(text.contains(r#""category":"export""#) && text.contains(r#""severity":"critical""#), "{text}");
        assert!(text.contains(r#""on_behalf_of":"u-1""#), "{text}");
        assert!(text.contains(r#""details":{"format":{"kind":"pdf","pages":[1,2]}}"#), "{text}");
        let columns = crate::audit::IndexedColumns::of_entry(text.as_bytes()).unwrap();
        assert_eq!(columns.event_type, "app.transcript.exported");
        assert_eq!(columns.severity, Some(Severity::Critical));
        assert_eq!(event.event_type.as_str(), "app", "metrics see one label for every application type");
    }
}
