//! Collections' declared schemas: each field's type, sensitivity, PII type,
//! whether it is required and searchable, and the built-in templates of the
//! two seed applications and the PII vault. Values are checked against the
//! schema before anything is written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::CoreError;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A short string (at most 1,000 characters).
    String,
    /// Long text (at most `max_bytes`, default 1 MiB).
    Text,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Bool,
    /// An RFC 3339 time, kept as given.
    Timestamp,
    /// Any JSON value.
    Json,
    /// An array of numbers (embeddings).
    Vector,
    /// A file stored through the blob endpoints; the record holds its metadata.
    Blob,
}

/// Who sees a field, and how (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Plaintext metadata: every reader of the record sees it.
    Public,
    /// Encrypted, with a redacted rendition beside it that analysts see.
    Redacted,
    /// Encrypted; only a decrypt with a justification reveals it.
    Secret,
}

/// One field of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// `[a-z][a-z0-9_]{0,55}`.
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Who sees it.
    pub sensitivity: Sensitivity,
    /// The kind of personal data it holds (`email`, `phone`, `name`, …), for
    /// redaction and subject requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<String>,
    /// A record must give it.
    #[serde(default)]
    pub required: bool,
    /// Exact-match search through a blind index (encrypted fields only; public
    /// fields are always filterable).
    #[serde(default)]
    pub searchable: bool,
    /// The largest value, bytes of its JSON (default: 1,000 for `string`,
    /// 4 GiB for `blob`, 1 MiB otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// For `blob`: the accepted content types (`audio/*` for every audio
    /// type); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<String>,
    /// For a public `text` or `string` field: when a record does not give
    /// it, the redacted rendition of the named field's value (the
    /// interviews' `anonymized_answer` of `transcribed_text`), so the
    /// anonymised answer exists even when the application sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendition_of: Option<String>,
}

/// A collection's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSchema {
    /// The fields, in order.
    pub fields: Vec<FieldSpec>,
    /// Records expire this long after creation unless they say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl_seconds: Option<i64>,
    /// Count reads and remember the last one (the PII vault).
    #[serde(default)]
    pub track_access: bool,
}

/// The largest string field, bytes.
const DEFAULT_STRING_BYTES: u64 = 1_000;
/// The largest other field, bytes.
const DEFAULT_VALUE_BYTES: u64 = 1024 * 1024;
/// The largest blob by default, bytes.
const DEFAULT_BLOB_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Most fields per collection.
const MAX_FIELDS: usize = 100;

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 56
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a collection name: `[a-z][a-z0-9_]{0,55}`.
pub fn check_collection_name(name: &str) -> Result<(), CoreError> {
    check_name("collection", name)
}

/// Checks a field name given in a path (a blob's), before anything else
/// looks at it: `../x`, NUL or 300 characters are refused as such.
pub(super) fn check_field_name(name: &str) -> Result<(), CoreError> {
    check_name("field", name)
}

fn check_name(what: &str, name: &str) -> Result<(), CoreError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(CoreError::InvalidInput(format!(
            "{what} {:?}: use 1-56 characters of a-z, 0-9 and '_', starting with a letter",
            name.chars().take(64).collect::<String>()
        )))
    }
}

impl FieldSpec {
    /// A field.
    pub fn new(name: &str, field_type: FieldType, sensitivity: Sensitivity) -> Self {
        Self {
            name: name.to_owned(),
            field_type,
            sensitivity,
            pii: None,
            required: false,
            searchable: false,
            max_bytes: None,
            content_types: Vec::new(),
            rendition_of: None,
        }
    }

    fn rendition_of(mut self, source: &str) -> Self {
        self.rendition_of = Some(source.to_owned());
        self
    }

    fn accepting(mut self, content_types: &[&str]) -> Self {
        self.content_types = content_types.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn searchable(mut self) -> Self {
        self.searchable = true;
        self
    }

    fn pii(mut self, kind: &str) -> Self {
        self.pii = Some(kind.to_owned());
        self
    }

    /// The largest accepted value, bytes of its JSON.
    pub fn limit(&self) -> u64 {
        self.max_bytes.unwrap_or(match self.field_type {
            FieldType::String => DEFAULT_STRING_BYTES,
            FieldType::Blob => DEFAULT_BLOB_BYTES,
            _ => DEFAULT_VALUE_BYTES,
        })
    }

    /// Whether the value is stored encrypted.
    pub fn encrypted(&self) -> bool {
        self.sensitivity != Sensitivity::Public
    }

    /// Checks `value` against the field; the error names the field and the rule.
    pub fn check(&self, value: &Value) -> Result<(), CoreError> {
        let name = &self.name;
        let fits = match self.field_type {
            FieldType::String | FieldType::Text | FieldType::Timestamp => value.is_string(),
            FieldType::Number => value.is_number(),
            FieldType::Bool => value.is_boolean(),
            FieldType::Json => true,
            FieldType::Vector => value.as_array().is_some_and(|items| items.iter().all(Value::is_number)),
            FieldType::Blob => false,
        };
        if !fits {
            let expected = match self.field_type {
                FieldType::String | FieldType::Text => "a string",
                FieldType::Timestamp => "an RFC 3339 time as a string",
                FieldType::Number => "a number",
                FieldType::Bool => "true or false",
                FieldType::Json => "any JSON value",
                FieldType::Vector => "an array of numbers",
                FieldType::Blob => "uploaded with PUT …/blobs/{name}, not given in the record",
            };
            return Err(CoreError::InvalidInput(format!("fields.{name}: expected {expected}")));
        }
        if self.field_type == FieldType::Timestamp && value.as_str().and_then(is_rfc3339).is_none() {
            return Err(CoreError::InvalidInput(format!(
                "fields.{name}: expected an RFC 3339 time such as 2026-11-23T14:05:00Z"
            )));
        }
        let size = u64::try_from(value.to_string().len()).unwrap_or(u64::MAX);
        if size > self.limit() {
            return Err(CoreError::InvalidInput(format!("fields.{name}: at most {} bytes", self.limit())));
        }
        Ok(())
    }
}

/// Whether `text` is an RFC 3339 time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`).
fn is_rfc3339(text: &str) -> Option<()> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let shape = digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19);
    let mut rest = bytes.get(19..)?;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let zone = matches!(rest, [b'Z' | b'z'])
        || (rest.len() == 6
            && matches!(rest[0], b'+' | b'-')
            && rest[1..3].iter().all(u8::is_ascii_digit)
            && rest[3] == b':'
            && rest[4..6].iter().all(u8::is_ascii_digit));
    (shape && zone).then_some(())
}

impl CollectionSchema {
    /// Checks the schema itself.
    pub fn check(&self) -> Result<(), CoreError> {
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return Err(CoreError::InvalidInput(format!("fields: 1 to {MAX_FIELDS} fields")));
        }
        let mut seen = std::collections::HashSet::new();
        for field in &self.fields {
            if !valid_name(&field.name) {
                return Err(CoreError::InvalidInput(format!(
                    "fields: {:?} is not a field name (1-56 characters of a-z, 0-9 and '_', starting with a letter)",
                    field.name
                )));
            }
            if !seen.insert(field.name.as_str()) {
                return Err(CoreError::InvalidInput(format!("fields: {:?} appears twice", field.name)));
            }
            if field.searchable && !field.encrypted() {
                return Err(CoreError::InvalidInput(format!(
                    "fields.{}: searchable applies to encrypted fields (public fields are filterable as they are)",
                    field.name
                )));
            }
            if field.searchable && !matches!(field.field_type, FieldType::String | FieldType::Number | FieldType::Bool)
            {
                return Err(CoreError::InvalidInput(format!(
                    "fields.{}: only string, number and bool fields can be searchable",
                    field.name
                )));
            }
            if field.field_type == FieldType::Blob && field.required {
                return Err(CoreError::InvalidInput(format!(
                    "fields.{}: a blob is uploaded after the record exists, so it cannot be required",
                    field.name
                )));
            }
            let ceiling =
                if field.field_type == FieldType::Blob { 64 * DEFAULT_BLOB_BYTES } else { 16 * DEFAULT_VALUE_BYTES };
            if field.max_bytes.is_some_and(|limit| limit == 0 || limit > ceiling) {
                return Err(CoreError::InvalidInput(format!(
                    "fields.{}: max_bytes 1 to {} MiB",
                    field.name,
                    ceiling / (1024 * 1024)
                )));
            }
            if !field.content_types.is_empty() && field.field_type != FieldType::Blob {
                return Err(CoreError::InvalidInput(format!("fields.{}: content_types apply to blobs", field.name)));
            }
        }
        for field in &self.fields {
            let Some(source) = &field.rendition_of else { continue };
            let textual = |f: &FieldSpec| matches!(f.field_type, FieldType::String | FieldType::Text);
            if field.sensitivity != Sensitivity::Public || !textual(field) {
                return Err(CoreError::InvalidInput(format!(
                    "fields.{}: rendition_of applies to public string and text fields",
                    field.name
                )));
            }
            match self.field(source) {
                Some(from) if textual(from) && from.rendition_of.is_none() && from.name != field.name => {}
                _ => {
                    return Err(CoreError::InvalidInput(format!(
                        "fields.{}: rendition_of names another string or text field of the collection",
                        field.name
                    )));
                }
            }
        }
        if self.default_ttl_seconds.is_some_and(|ttl| ttl <= 0) {
            return Err(CoreError::InvalidInput("default_ttl_seconds: a positive number of seconds".into()));
        }
        Ok(())
    }

    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Why `next` cannot replace this schema, if it cannot: a change that
    /// would orphan stored data (removing a field, changing its type or
    /// sensitivity, making a stored field searchable) is refused; adding
    /// optional fields and loosening limits are not.
    pub fn change_refused(&self, next: &CollectionSchema) -> Option<String> {
        for field in &self.fields {
            let Some(new) = next.field(&field.name) else {
                return Some(format!(
                    "field {:?} would be removed: its stored values would be orphaned (create a new collection instead)",
                    field.name
                ));
            };
            if new.field_type != field.field_type {
                return Some(format!("field {:?} would change type: stored values would no longer match", field.name));
            }
            if new.sensitivity != field.sensitivity {
                return Some(format!(
                    "field {:?} would change sensitivity: stored values are kept {} and cannot be moved in place",
                    field.name,
                    if field.encrypted() { "encrypted" } else { "in clear" }
                ));
            }
            if new.searchable && !field.searchable {
                return Some(format!(
                    "field {:?} would become searchable: stored records have no blind index for it",
                    field.name
                ));
            }
        }
        for new in &next.fields {
            if new.required && self.field(&new.name).is_none_or(|old| !old.required) {
                return Some(format!("field {:?} would become required: stored records lack it", new.name));
            }
        }
        None
    }
}

/// The built-in collections: name, description and schema.
pub fn templates() -> Vec<(&'static str, CollectionSchema)> {
    use FieldType::{Blob, Bool, Json, Number, String, Text, Timestamp, Vector};
    use Sensitivity::{Public, Redacted, Secret};
    vec![
        (
            "recordings",
            CollectionSchema {
                fields: vec![
                    FieldSpec::new("title", String, Public).required(),
                    FieldSpec::new("recorded_at", Timestamp, Public),
                    FieldSpec::new("audio", Blob, Secret).accepting(&[
                        "audio/*",
                        "video/mp4",
                        "application/octet-stream",
                    ]),
                    FieldSpec::new("transcript", Text, Redacted),
                    FieldSpec::new("duration_seconds", Number, Public),
                    FieldSpec::new("speaker_count", Number, Public),
                    FieldSpec::new("status", String, Public),
                ],
                default_ttl_seconds: None,
                track_access: false,
            },
        ),
        (
            "interviews",
            CollectionSchema {
                fields: vec![
                    FieldSpec::new("user_id", String, Public).required(),
                    FieldSpec::new("consent_id", String, Public),
                    FieldSpec::new("timestamp", Timestamp, Public),
                    FieldSpec::new("transcribed_text", Text, Secret).pii("free_text"),
                    FieldSpec::new("tokens", Json, Secret),
                    FieldSpec::new("embedding", Vector, Secret),
                    FieldSpec::new("anonymized_answer", Text, Public).rendition_of("transcribed_text"),
                    FieldSpec::new("score", Number, Public),
                    FieldSpec::new("feedback", Text, Public),
                    FieldSpec::new("status", String, Public),
                ],
                default_ttl_seconds: None,
                track_access: false,
            },
        ),
        (
            "pii_vault",
            CollectionSchema {
                fields: vec![
                    FieldSpec::new("payload", Json, Secret).required(),
                    FieldSpec::new("purpose", String, Public).required(),
                    FieldSpec::new("reference", String, Secret).searchable().pii("identifier"),
                    FieldSpec::new("consented", Bool, Public),
                ],
                default_ttl_seconds: Some(7 * 24 * 3600),
                track_access: true,
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn templates_are_valid_schemas() {
        for (name, schema) in templates() {
            check_collection_name(name).unwrap();
            schema.check().unwrap();
        }
    }

    #[test]
    fn values_are_checked_by_type_and_size() {
        let text = FieldSpec::new("note", FieldType::String, Sensitivity::Public);
        assert!(text.check(&json!("hello")).is_ok());
        assert!(text.check(&json!(3)).unwrap_err().to_string().contains("fields.note: expected a string"));
        assert!(text.check(&json!("x".repeat(1001))).is_err());
        let vector = FieldSpec::new("embedding", FieldType::Vector, Sensitivity::Secret);
        assert!(vector.check(&json!([0.1, -2, 3e5])).is_ok());
        assert!(vector.check(&json!([0.1, "x"])).is_err());
        let time = FieldSpec::new("at", FieldType::Timestamp, Sensitivity::Public);
        assert!(time.check(&json!("2026-11-23T14:05:00Z")).is_ok());
        assert!(time.check(&json!("2026-11-23T14:05:00.123+01:00")).is_ok());
        assert!(time.check(&json!("yesterday")).is_err());
        let blob = FieldSpec::new("audio", FieldType::Blob, Sensitivity::Secret);
        assert!(blob.check(&json!("bytes")).is_err());
    }

    #[test]
    fn changes_that_would_orphan_data_are_refused_with_the_reason() {
        let (_, schema) = templates().remove(1);
        let mut removed = schema.clone();
        removed.fields.retain(|f| f.name != "embedding");
        assert!(schema.change_refused(&removed).unwrap().contains("\"embedding\" would be removed"));
        let mut exposed = schema.clone();
        exposed.fields.iter_mut().find(|f| f.name == "transcribed_text").unwrap().sensitivity = Sensitivity::Public;
        assert!(schema.change_refused(&exposed).unwrap().contains("sensitivity"));
        let mut added = schema.clone();
        added.fields.push(FieldSpec::new("reviewer", FieldType::String, Sensitivity::Public));
        assert_eq!(schema.change_refused(&added), None, "an optional field may be added");
        let mut required = added.clone();
        required.fields.last_mut().unwrap().required = true;
        assert!(added.change_refused(&required).unwrap().contains("required"));
    }

    #[test]
    fn bad_schemas_are_refused_naming_the_field() {
        let bad = |fields: Vec<FieldSpec>| CollectionSchema { fields, default_ttl_seconds: None, track_access: false };
        assert!(bad(vec![]).check().is_err());
        let upper = bad(vec![FieldSpec::new("Name", FieldType::String, Sensitivity::Public)]);
        assert!(upper.check().unwrap_err().to_string().contains("\"Name\""));
        let public_search = bad(vec![FieldSpec::new("email", FieldType::String, Sensitivity::Public).searchable()]);
        assert!(public_search.check().is_err());
        let twice = bad(vec![
            FieldSpec::new("a", FieldType::String, Sensitivity::Public),
            FieldSpec::new("a", FieldType::Text, Sensitivity::Secret),
        ]);
        assert!(twice.check().unwrap_err().to_string().contains("twice"));
    }
}
