//! Wire types of collections and records.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One field of a collection's schema.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// `[a-z][a-z0-9_]{0,55}`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,55}$")]
    pub name: String,
    /// `string`, `text`, `number`, `bool`, `timestamp`, `json`, `vector` or `blob`.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::rules::field_type)]
    pub field_type: String,
    /// `public`, `redacted` or `secret`.
    #[schema(schema_with = crate::rules::sensitivity)]
    pub sensitivity: String,
    /// The kind of personal data (`email`, `phone`, `name`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<String>,
    /// A record must give it.
    #[serde(default)]
    pub required: bool,
    /// Exact-match search through a blind index (encrypted fields).
    #[serde(default)]
    pub searchable: bool,
    /// The largest value, bytes of its JSON (for a blob: of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// For a blob: the accepted content types (`audio/*` for every audio type); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<String>,
    /// For a public string or text field: when a record does not give it,
    /// the redacted rendition of the named field (`anonymized_answer` of
    /// `transcribed_text` in the interviews template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendition_of: Option<String>,
}

/// `POST /v1/collections`: a new collection's name and schema.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCollection {
    /// `[a-z][a-z0-9_]{0,55}`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,55}$")]
    pub name: String,
    /// The fields (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    pub fields: Vec<FieldDef>,
    /// Records expire this long (seconds, at least 1) after creation unless they say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub default_ttl_seconds: Option<i64>,
    /// Count reads and remember the last one.
    #[serde(default)]
    pub track_access: bool,
}

impl From<NewCollection> for CollectionDef {
    fn from(new: NewCollection) -> Self {
        Self {
            name: Some(new.name),
            fields: new.fields,
            default_ttl_seconds: new.default_ttl_seconds,
            track_access: new.track_access,
        }
    }
}

/// The schema in `PUT /v1/collections/{name}` (`name`, if given, is ignored: the path names it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionDef {
    /// Ignored: the path names the collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The fields (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    pub fields: Vec<FieldDef>,
    /// Records expire this long (seconds, at least 1) after creation unless they say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub default_ttl_seconds: Option<i64>,
    /// Count reads and remember the last one.
    #[serde(default)]
    pub track_access: bool,
}

/// A collection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionView {
    /// Its name.
    pub name: String,
    /// The fields.
    pub fields: Vec<FieldDef>,
    /// Default time to live of its records, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl_seconds: Option<i64>,
    /// Whether reads are counted.
    pub track_access: bool,
    /// 1, 2, …: each schema change adds one.
    pub revision: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// `GET /v1/collections`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionList {
    /// Every collection.
    pub collections: Vec<CollectionView>,
}

/// `POST /v1/collections/{c}/records`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecord {
    /// The matter it belongs to.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub matter: String,
    /// Field values. A `redacted` field takes its value (redacted
    /// automatically) or `{"value": …, "redacted": "…"}`.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// The data subject (a user id, an e-mail), kept only as an HMAC.
    #[serde(default)]
    pub subject: Option<String>,
    /// Seconds until the record expires (the collection's default otherwise).
    #[serde(default)]
    pub ttl: Option<i64>,
}

/// `PATCH /v1/collections/{c}/records/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecord {
    /// The fields to change (`null` removes an optional one).
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// What the caller may see of a record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    /// `r_<hex>`.
    pub id: String,
    /// Its collection.
    pub collection: String,
    /// Its matter.
    pub matter: String,
    /// Public values, and the redacted renditions the caller may see.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Fields shown as redacted renditions.
    pub redacted_fields: Vec<String>,
    /// Encrypted fields not shown: `POST …/decrypt` reveals them.
    pub withheld_fields: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// When it expires (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Under legal hold.
    pub legal_hold: bool,
    /// Reads so far (collections that track access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_count: Option<i64>,
    /// The last read (collections that track access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accessed_at: Option<i64>,
}

/// `GET /v1/collections/{c}/records`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordList {
    /// The page.
    pub records: Vec<RecordView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/collections/{c}/records/{id}/decrypt`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// The encrypted fields to reveal.
    pub fields: Vec<String>,
    /// Why, at least 20 characters; recorded permanently.
    #[serde(alias = "justification")]
    #[schema(schema_with = crate::rules::justification)]
    pub reason: String,
    /// A purpose code from the configured list.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// The answer of a decrypt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevealResponse {
    /// The plaintext values.
    #[schema(value_type = Object)]
    pub decrypted_fields: Map<String, Value>,
    /// That this access is recorded permanently.
    pub warning: String,
}

/// `POST /v1/collections/{c}/records/{id}/hold`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// `true` (the default) puts the record on legal hold, `false` lifts it.
    #[serde(default = "held")]
    pub hold: bool,
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::plain_justification)]
    pub justification: String,
}

fn held() -> bool {
    true
}

/// `POST /v1/subjects/{subject}/export`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectExportRequest {
    /// Why, at least 20 characters; recorded permanently.
    #[serde(alias = "reason")]
    #[schema(schema_with = crate::rules::justification)]
    pub justification: String,
    /// A purpose code from the configured list.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// One record of a subject export, decrypted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportedRecord {
    /// Its collection.
    pub collection: String,
    /// Its id.
    pub id: String,
    /// Its matter.
    pub matter: String,
    /// Every field, in plaintext.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The answer of a subject export.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectExport {
    /// Everything about the subject.
    pub records: Vec<ExportedRecord>,
    /// That this access is recorded permanently.
    pub warning: String,
}

/// `POST /v1/subjects/{subject}/erase`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectEraseRequest {
    /// Why, at least 20 characters.
    #[schema(schema_with = crate::rules::plain_justification)]
    pub justification: String,
}

/// A record named in an erasure report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordRef {
    /// Its collection.
    pub collection: String,
    /// Its id.
    pub id: String,
}

/// The answer of a subject erasure.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectErasure {
    /// Crypto-shredded: their data keys are destroyed.
    pub erased: Vec<RecordRef>,
    /// Kept because they are on legal hold.
    pub held: Vec<RecordRef>,
}

/// A stored blob (the answer of an upload).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlobView {
    /// The blob field.
    pub field: String,
    /// Plaintext bytes.
    pub size: u64,
    /// As uploaded.
    pub content_type: String,
    /// Hex SHA-256 of the plaintext (also the `ETag`).
    pub sha256: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// One of a matter's redaction terms: words redacted wherever they appear in
/// the matter's renditions (a party's name, a client's codename).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionTerm {
    /// The words, matched whole and in any case (1-200 characters, not only
    /// white space). A person's name of several words also matches each
    /// capitalised word alone.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub term: String,
    /// The placeholder it becomes: `PERSON` (the default), `ORG`, `LOCATION` or `ADDRESS`.
    #[serde(rename = "type", default = "person")]
    #[schema(schema_with = crate::rules::redaction_term_type)]
    pub kind: String,
}

fn person() -> String {
    "PERSON".into()
}

/// `PUT /v1/matters/{id}/redaction-terms`: the whole list, replacing the one before.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRedactionTerms {
    /// At most 10,000 terms.
    #[schema(max_items = 10000)]
    pub terms: Vec<RedactionTerm>,
    /// The revision read (0 before any list was set): the change is refused
    /// with 409 when another came first. Without it, the list is replaced unconditionally.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub revision: Option<i64>,
}

/// A matter's redaction terms.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedactionTermsView {
    /// The matter.
    pub matter: String,
    /// The terms.
    pub terms: Vec<RedactionTerm>,
    /// 0 before any list was set; each replacement adds one.
    pub revision: i64,
    /// Unix seconds of the last replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Who made it: `user:<id>` or `api_key:<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}
