//! Collections and records: validation against the schema, envelope
//! encryption, per-role views, decrypt with justification, blind-index
//! search.
//!
//! Envelope: every record has its own random data key. Encrypted fields are
//! `SR` v1 values under that key, bound to (collection, record, field); the
//! data key is sealed under the matter's keyring key `matter.<id>` (purpose
//! `matter_data`), bound to (collection, record). Deleting a record deletes
//! its sealed data key: what it protected is gone (crypto-shredding).
//!
//! Views (docs/authorization.md): a plain read shows public fields to holders
//! of `record.read`, redacted renditions to holders of `record.read_redacted`,
//! and never plaintext of an encrypted field; only `decrypt` reveals, with a
//! justification, and is audited as a reveal.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use strongroom_crypto::{AssociatedData, SealedHeader, SecretKey, random_bytes, to_hex};
use zeroize::Zeroizing;

use super::model::{CollectionRecord, Cursor, IndexEntry, RecordsStore, StoredRecord};
use super::schema::{CollectionSchema, FieldSpec, FieldType, Sensitivity, check_collection_name};
use super::storage::BlobStorage;
use crate::audit::{AuditContext, AuditLog, EventType, Target};
use crate::authz::{Action, Ask, Authz, Resource, Subject, check_id, not_found};
use crate::{Clock, CoreError, KeyPurpose, KeySpec, Keyring};

/// The name sealed values of record fields carry in their header: the
/// record's data key, at the version of the matter key that wraps it.
pub(super) const DATA_KEY_NAME: &str = "record-data-key";

/// The keyring key of the data subjects' blind index.
const SUBJECT_INDEX_KEY: &str = "blind.subject";

/// The notice every decrypt answers with.
pub const REVEAL_WARNING: &str = "This decryption is recorded permanently in the audit log with your identity, \
                                  the fields revealed and your justification.";

/// Most records per listing page.
pub const MAX_PAGE: u32 = 200;

/// A record to create.
#[derive(Debug, Clone, Default)]
pub struct NewRecord {
    /// The matter it belongs to.
    pub matter_id: String,
    /// Field values; for a `redacted` field either the value (redacted
    /// automatically) or `{"value": …, "redacted": "…"}` with the caller's rendition.
    pub fields: Map<String, Value>,
    /// The data subject (a user id, an e-mail), kept only as an HMAC.
    pub subject: Option<String>,
    /// Unix seconds; the collection's default TTL applies when neither this
    /// nor `ttl_seconds` is given.
    pub expires_at: Option<i64>,
    /// Seconds from now (what an API caller gives as `ttl`); not with `expires_at`.
    pub ttl_seconds: Option<i64>,
}

/// What a caller may see of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView {
    /// The record's id.
    pub id: String,
    /// Its collection.
    pub collection: String,
    /// Its matter.
    pub matter_id: String,
    /// Public values, and redacted renditions the caller may see.
    pub fields: Map<String, Value>,
    /// The fields shown as redacted renditions.
    pub redacted: Vec<String>,
    /// The encrypted fields not shown (decrypt reveals them).
    pub withheld: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// When it expires.
    pub expires_at: Option<i64>,
    /// Under legal hold.
    pub legal_hold: bool,
    /// Reads so far (collections that track access).
    pub access_count: Option<i64>,
    /// The last read (collections that track access).
    pub last_accessed_at: Option<i64>,
}

/// Whether a decrypt is offered (see [`Records::decrypt_offer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptOffer {
    /// The policies allow it now.
    Now,
    /// After the subject proves a second factor again.
    AfterStepUp,
    /// Not for this subject.
    Never,
}

/// A listing's filters.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// Only this matter.
    pub matter_id: Option<String>,
    /// Equality on public fields.
    pub equals: Vec<(String, Value)>,
    /// Exact match on one searchable encrypted field, through its blind index.
    pub search: Option<(String, Value)>,
    /// Continue after this record.
    pub cursor: Option<Cursor>,
    /// Page size (1-200, default 50).
    pub limit: Option<u32>,
    /// `field:value` filters as a caller wrote them (an HTTP query string):
    /// typed by the collection's schema, then added to `equals` (a public
    /// field) or `search` (one searchable encrypted field).
    pub written: Vec<(String, String)>,
}

/// Who tries what on a record, for refusing a missing one the way an
/// existing one is refused.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt<'a> {
    pub(super) subject: &'a Subject,
    pub(super) action: Action,
    pub(super) ask: &'a Ask<'a>,
    pub(super) context: &'a AuditContext,
}

/// Collections and records.
pub struct Records {
    pub(super) store: Arc<dyn RecordsStore>,
    pub(super) keyring: Arc<Keyring>,
    pub(super) authz: Arc<Authz>,
    pub(super) audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    blobs: Option<Arc<dyn BlobStorage>>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish_non_exhaustive()
    }
}

pub(super) fn record_context(collection: &str, record: &str, field: &str) -> AssociatedData {
    AssociatedData::new()
        .with("collection", collection.as_bytes())
        .with("record", record.as_bytes())
        .with("field", field.as_bytes())
}

pub(super) fn record_target(record: &StoredRecord) -> Target {
    Target {
        kind: "record".into(),
        id: Some(record.id.clone()),
        collection: Some(record.collection.clone()),
        matter: Some(record.matter_id.clone()),
    }
}

fn resource(record: &StoredRecord) -> Resource {
    Resource::Record { id: record.id.clone(), matter: record.matter_id.clone(), collection: record.collection.clone() }
}

/// A record's data key, and the version of the matter key that wraps it
/// (named in the header of every value it seals).
struct DataKey {
    key: SecretKey,
    version: u32,
}

/// A key the server creates for itself: the purpose's algorithm, no
/// automatic rotation (blind indexes would stop matching; matter keys rotate
/// on demand), never deletable.
pub(super) fn server_key(purpose: KeyPurpose) -> KeySpec {
    KeySpec { purpose, algorithm: None, rotation_period_seconds: None, deletion_allowed: false }
}

fn index_key(collection: &str, field: &str) -> String {
    format!("blind.{collection}.{field}")
}

/// The form of a value that blind indexes hash: strings trimmed, lower-cased
/// and with runs of white space made one space (so `" Ann@Example.com"` finds
/// `"ann@example.com"`); numbers and booleans as JSON.
fn normalized(value: &Value) -> String {
    match value {
        Value::String(text) => text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase(),
        other => other.to_string(),
    }
}

/// Fills the fields that are renditions of others (`rendition_of`) and that
/// `fields` does not give, from the source's value in `fields` (a source
/// given as `{"value": …}` counts too).
fn add_renditions(schema: &CollectionSchema, fields: &mut Map<String, Value>, terms: &strongroom_redact::Terms) {
    for field in &schema.fields {
        let Some(source) = &field.rendition_of else { continue };
        if fields.contains_key(&field.name) {
            continue;
        }
        let text = match fields.get(source) {
            Some(Value::String(text)) => text,
            Some(Value::Object(given)) => match given.get("value") {
                Some(Value::String(text)) => text,
                _ => continue,
            },
            _ => continue,
        };
        let rendition = strongroom_redact::redact_with(text, terms);
        fields.insert(field.name.clone(), Value::String(rendition));
    }
}

fn random_record_id() -> Result<String, CoreError> {
    Ok(format!("r_{}", to_hex(&random_bytes::<12>()?)))
}

impl Records {
    /// The records service.
    pub fn new(
        store: Arc<dyn RecordsStore>,
        keyring: Arc<Keyring>,
        authz: Arc<Authz>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { store, keyring, authz, audit, clock, blobs: None }
    }

    /// Stores blobs in `storage` (without it, blob fields refuse uploads).
    pub fn with_blob_storage(mut self, storage: Arc<dyn BlobStorage>) -> Self {
        self.blobs = Some(storage);
        self
    }

    /// Deletes blob objects of records just deleted. Their keys went with
    /// the records' rows, so an object left behind (storage down) is
    /// unreadable ciphertext; it is logged, not retried.
    pub(super) async fn delete_objects(&self, objects: Vec<String>) {
        let Some(storage) = self.blob_storage() else { return };
        for object in objects {
            if let Err(error) = storage.delete(&object).await {
                tracing::warn!(%error, %object, "could not delete the blob object of a deleted record");
            }
        }
    }

    /// Where blobs are stored, if anywhere.
    pub(super) fn blob_storage(&self) -> Option<&dyn BlobStorage> {
        self.blobs.as_deref()
    }

    pub(super) fn now_seconds(&self) -> i64 {
        self.now()
    }

    pub(super) fn resource_of(record: &StoredRecord) -> Resource {
        resource(record)
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX)
    }

    // ---- Collections -------------------------------------------------------

    /// Creates a collection. Blind-index keys are created at the first value
    /// they index, so a new server's keyring holds no data keys (and can take
    /// a key restore).
    pub async fn create_collection(
        &self,
        subject: &Subject,
        name: &str,
        schema: CollectionSchema,
        context: &AuditContext,
    ) -> Result<CollectionRecord, CoreError> {
        self.authz.authorize(subject, Action::CollectionManage, &Resource::Service, &Ask::default(), context).await?;
        self.create_collection_unchecked(name, schema, context).await
    }

    /// Creates a collection for an operator command (`strongroom init`).
    pub async fn create_collection_unchecked(
        &self,
        name: &str,
        schema: CollectionSchema,
        context: &AuditContext,
    ) -> Result<CollectionRecord, CoreError> {
        check_collection_name(name)?;
        schema.check()?;
        let now = self.now();
        let collection =
            CollectionRecord { name: name.to_owned(), schema, revision: 1, created_at: now, updated_at: now };
        let event = self
            .audit
            .event(EventType::ConfigChange, context)
            .target(Target::new("collection", name))
            .detail("change", "collection created")
            .detail("fields", i64::try_from(collection.schema.fields.len()).unwrap_or(0));
        if self.store.create_collection(&collection, &[self.audit.seal(&event)?]).await? {
            Ok(collection)
        } else {
            Err(CoreError::Conflict(format!("a collection {name:?} exists already")))
        }
    }

    /// Creates the built-in collections that do not exist yet.
    pub async fn ensure_templates(&self, context: &AuditContext) -> Result<Vec<String>, CoreError> {
        let mut created = Vec::new();
        for (name, schema) in super::schema::templates() {
            if self.store.collection(name).await?.is_none() {
                match self.create_collection_unchecked(name, schema, context).await {
                    Ok(_) => created.push(name.to_owned()),
                    Err(CoreError::Conflict(_)) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(created)
    }

    /// Every collection (any principal: schemas hold no data).
    pub async fn collections(&self) -> Result<Vec<CollectionRecord>, CoreError> {
        Ok(self.store.list_collections().await?)
    }

    /// One collection.
    pub async fn collection(&self, name: &str) -> Result<CollectionRecord, CoreError> {
        self.store.collection(name).await?.ok_or_else(|| CoreError::NotFound(format!("no collection {name:?}")))
    }

    /// Replaces a collection's schema, unless the change would orphan stored data.
    pub async fn change_schema(
        &self,
        subject: &Subject,
        name: &str,
        schema: CollectionSchema,
        context: &AuditContext,
    ) -> Result<CollectionRecord, CoreError> {
        self.authz.authorize(subject, Action::CollectionManage, &Resource::Service, &Ask::default(), context).await?;
        schema.check()?;
        let mut collection = self.collection(name).await?;
        if let Some(reason) = collection.schema.change_refused(&schema) {
            return Err(CoreError::Conflict(format!("schema change refused: {reason}")));
        }
        collection.schema = schema;
        collection.revision += 1;
        collection.updated_at = self.now();
        let event = self
            .audit
            .event(EventType::ConfigChange, context)
            .target(Target::new("collection", name))
            .detail("change", "schema changed")
            .detail("revision", collection.revision);
        if self.store.update_collection(&collection, &[self.audit.seal(&event)?]).await? {
            Ok(collection)
        } else {
            Err(CoreError::Conflict(format!("collection {name:?} changed meanwhile; read it again")))
        }
    }

    // ---- Records -----------------------------------------------------------

    /// Creates a record: the values are checked against the schema, the
    /// encrypted ones sealed under a new data key, all in one transaction
    /// with its audit event. A matter the caller holds no grant on answers
    /// as one that does not exist.
    pub async fn create(
        &self,
        subject: &Subject,
        collection_name: &str,
        new: NewRecord,
        context: &AuditContext,
    ) -> Result<RecordView, CoreError> {
        let collection = self.collection(collection_name).await?;
        check_id("matter", &new.matter_id)?;
        let matter = Resource::Matter(new.matter_id.clone());
        self.authz.authorize(subject, Action::RecordWrite, &matter, &Ask::default(), context).await?;
        let schema = &collection.schema;
        for name in new.fields.keys() {
            if schema.field(name).is_none() {
                return Err(CoreError::InvalidInput(format!("fields.{name}: {collection_name:?} has no such field")));
            }
        }
        for field in schema.fields.iter().filter(|f| f.required) {
            if !new.fields.contains_key(&field.name) {
                return Err(CoreError::InvalidInput(format!("fields.{}: required", field.name)));
            }
        }
        let now = self.now();
        let asked = match (new.expires_at, new.ttl_seconds) {
            (Some(_), Some(_)) => {
                return Err(CoreError::InvalidInput("give expires_at or a ttl, not both".into()));
            }
            (None, Some(ttl)) if ttl <= 0 => {
                return Err(CoreError::InvalidInput("ttl: a positive number of seconds".into()));
            }
            (None, Some(ttl)) => Some(now.saturating_add(ttl)),
            (at, None) => at,
        };
        let expires_at = match (asked, schema.default_ttl_seconds) {
            (Some(at), _) if at <= now => {
                return Err(CoreError::InvalidInput("expires_at: a time in the future".into()));
            }
            (Some(at), _) => Some(at),
            (None, Some(ttl)) => Some(now.saturating_add(ttl)),
            (None, None) => None,
        };
        let id = random_record_id()?;
        let data_key = Zeroizing::new(random_bytes::<32>()?);
        let matter_key = self.current_matter_key(&new.matter_id, context).await?;
        let wrapped_key = self
            .keyring
            .encrypt(KeyPurpose::MatterData, &matter_key, &data_key[..], &record_context(collection_name, &id, ""))
            .await?;
        let (wrapped_header, _) = SealedHeader::parse(&wrapped_key)?;
        let mut record = StoredRecord {
            collection: collection_name.to_owned(),
            id,
            matter_id: new.matter_id,
            public: Map::new(),
            sealed: BTreeMap::new(),
            renditions: BTreeMap::new(),
            wrapped_key,
            subject_index: None,
            created_at: now,
            updated_at: now,
            created_by: subject.reference(),
            expires_at,
            legal_hold: false,
            access_count: 0,
            last_accessed_at: None,
            revision: 1,
        };
        let key = DataKey { key: SecretKey::from_bytes(*data_key), version: wrapped_header.key_version };
        let terms = self.terms_if_redacted(schema, &record.matter_id).await?;
        let mut fields = new.fields;
        add_renditions(schema, &mut fields, &terms);
        let mut index = Vec::new();
        for (name, value) in fields {
            let field =
                schema.field(&name).ok_or_else(|| CoreError::InvalidInput(format!("fields.{name}: unknown")))?;
            self.place(&mut record, field, value, &key, &terms, &mut index, context).await?;
        }
        let subject_value = new.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if let Some(subject_value) = subject_value {
            record.subject_index = Some(self.subject_digest(subject_value, context).await?);
        }
        let written: Vec<String> = record.public.keys().chain(record.sealed.keys()).cloned().collect();
        let mut event =
            self.audit.event(EventType::RecordCreate, context).target(record_target(&record)).fields(written);
        if let Some(subject_value) = subject_value {
            event = event.personal("subject", self.audit.pseudonym(subject_value)?);
        }
        self.store.insert_record(&record, &index, &[self.audit.seal(&event)?]).await?;
        Ok(self.view(&record, schema, subject, context))
    }

    /// The matter's redaction terms when the collection has a `redacted`
    /// field to render (no read otherwise).
    async fn terms_if_redacted(
        &self,
        schema: &CollectionSchema,
        matter: &str,
    ) -> Result<strongroom_redact::Terms, CoreError> {
        if schema.fields.iter().any(|f| f.sensitivity == Sensitivity::Redacted || f.rendition_of.is_some()) {
            self.matter_terms(matter).await
        } else {
            Ok(strongroom_redact::Terms::default())
        }
    }

    /// Checks a value and stores it where its sensitivity says; a `redacted`
    /// field's rendition also replaces the matter's own `terms`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the record, the field and its value, and what any placed value may need: data key, matter terms, index, audit context"
    )]
    async fn place(
        &self,
        record: &mut StoredRecord,
        field: &FieldSpec,
        value: Value,
        key: &DataKey,
        terms: &strongroom_redact::Terms,
        index: &mut Vec<IndexEntry>,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let name = field.name.clone();
        let (value, rendition) = match (field.sensitivity, value) {
            (Sensitivity::Redacted, Value::Object(mut given)) if given.contains_key("value") => {
                let rendition = match given.remove("redacted") {
                    Some(Value::String(text)) => Some(text),
                    Some(_) => {
                        return Err(CoreError::InvalidInput(format!("fields.{name}.redacted: a string")));
                    }
                    None => None,
                };
                if given.len() != 1 {
                    return Err(CoreError::InvalidInput(format!(
                        "fields.{name}: give the value, or {{\"value\": …, \"redacted\": \"…\"}}"
                    )));
                }
                (given.remove("value").unwrap_or(Value::Null), rendition)
            }
            (_, value) => (value, None),
        };
        if value.is_null() {
            if field.required {
                return Err(CoreError::InvalidInput(format!("fields.{name}: required")));
            }
            return Ok(());
        }
        field.check(&value)?;
        match field.sensitivity {
            Sensitivity::Public => {
                record.public.insert(name, value);
            }
            Sensitivity::Redacted | Sensitivity::Secret => {
                if field.searchable {
                    let key_name = index_key(&record.collection, &name);
                    self.keyring.ensure(&key_name, server_key(KeyPurpose::BlindIndexHmac), context).await?;
                    let (_, digest) = self.keyring.mac(&key_name, normalized(&value).as_bytes()).await?;
                    index.push(IndexEntry { field: name.clone(), digest: to_hex(&digest) });
                }
                if field.sensitivity == Sensitivity::Redacted {
                    let rendition = match rendition {
                        Some(text) => text,
                        None => strongroom_redact::redact_with(value.as_str().unwrap_or_default(), terms),
                    };
                    record.renditions.insert(name.clone(), rendition);
                }
                let plaintext =
                    Zeroizing::new(serde_json::to_vec(&value).map_err(|e| CoreError::InvalidInput(e.to_string()))?);
                let header = SealedHeader { key_name: DATA_KEY_NAME.into(), key_version: key.version };
                let sealed = strongroom_crypto::seal(
                    &key.key,
                    &header,
                    &plaintext,
                    &record_context(&record.collection, &record.id, &name),
                )?;
                record.sealed.insert(name, sealed);
            }
        }
        Ok(())
    }

    async fn subject_digest(&self, subject: &str, context: &AuditContext) -> Result<String, CoreError> {
        self.keyring.ensure(SUBJECT_INDEX_KEY, server_key(KeyPurpose::BlindIndexHmac), context).await?;
        let (_, digest) =
            self.keyring.mac(SUBJECT_INDEX_KEY, normalized(&Value::String(subject.to_owned())).as_bytes()).await?;
        Ok(to_hex(&digest))
    }

    /// The view of `record` for `subject`.
    fn view(
        &self,
        record: &StoredRecord,
        schema: &CollectionSchema,
        subject: &Subject,
        context: &AuditContext,
    ) -> RecordView {
        let redacted_allowed =
            self.authz.decide(subject, Action::RecordReadRedacted, &resource(record), &Ask::default(), context).allowed;
        let mut fields = Map::new();
        let (mut redacted, mut withheld) = (Vec::new(), Vec::new());
        for field in &schema.fields {
            match field.sensitivity {
                Sensitivity::Public => {
                    if let Some(value) = record.public.get(&field.name) {
                        fields.insert(field.name.clone(), value.clone());
                    }
                }
                Sensitivity::Redacted if redacted_allowed => {
                    if let Some(text) = record.renditions.get(&field.name) {
                        fields.insert(field.name.clone(), Value::String(text.clone()));
                        redacted.push(field.name.clone());
                    }
                }
                Sensitivity::Redacted | Sensitivity::Secret => {
                    if record.sealed.contains_key(&field.name) {
                        withheld.push(field.name.clone());
                    }
                }
            }
        }
        let tracked = schema.track_access;
        RecordView {
            id: record.id.clone(),
            collection: record.collection.clone(),
            matter_id: record.matter_id.clone(),
            fields,
            redacted,
            withheld,
            created_at: record.created_at,
            updated_at: record.updated_at,
            expires_at: record.expires_at,
            legal_hold: record.legal_hold,
            access_count: tracked.then_some(record.access_count),
            last_accessed_at: if tracked { record.last_accessed_at } else { None },
        }
    }

    /// A live record (not expired) for `attempt`, or "not found" after the
    /// same work as a refusal in a matter the caller holds nothing on
    /// ([`Authz::refuse_missing`]), so timing does not tell the two apart.
    pub(super) async fn live_record(
        &self,
        collection: &str,
        id: &str,
        attempt: Attempt<'_>,
    ) -> Result<StoredRecord, CoreError> {
        match self.store.record(collection, id).await? {
            Some(record) if record.expires_at.is_none_or(|at| self.now() < at) => Ok(record),
            _ => {
                let resource =
                    Resource::Record { id: id.to_owned(), matter: String::new(), collection: collection.to_owned() };
                let Attempt { subject, action, ask, context } = attempt;
                Err(self.authz.refuse_missing(subject, action, &resource, ask, context).await)
            }
        }
    }

    /// Reads a record: the caller's view, audited as `record.read`.
    pub async fn read(
        &self,
        subject: &Subject,
        collection_name: &str,
        id: &str,
        context: &AuditContext,
    ) -> Result<RecordView, CoreError> {
        let collection = self.collection(collection_name).await?;
        let ask = Ask::default();
        let attempt = Attempt { subject, action: Action::RecordRead, ask: &ask, context };
        let mut record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordRead, &resource(&record), &ask, context).await?;
        let view = self.view(&record, &collection.schema, subject, context);
        let shown: Vec<String> = view.fields.keys().cloned().collect();
        let event = self.audit.event(EventType::RecordRead, context).target(record_target(&record)).fields(shown);
        self.audit.record(&event).await?;
        if collection.schema.track_access {
            let now = self.now();
            self.store.count_access(collection_name, id, now).await?;
            record.access_count += 1;
            record.last_accessed_at = Some(now);
            return Ok(self.view(&record, &collection.schema, subject, context));
        }
        Ok(view)
    }

    /// Reveals encrypted fields: only with `record.decrypt`, a justification
    /// of at least 20 characters and (when configured) a purpose; audited as a
    /// reveal with the fields and the justification before they are returned.
    pub async fn decrypt(
        &self,
        subject: &Subject,
        collection_name: &str,
        id: &str,
        fields: &[String],
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> Result<Map<String, Value>, CoreError> {
        let collection = self.collection(collection_name).await?;
        let attempt = Attempt { subject, action: Action::RecordDecrypt, ask, context };
        let record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordDecrypt, &resource(&record), ask, context).await?;
        if fields.is_empty() {
            return Err(CoreError::InvalidInput("fields: name at least one encrypted field".into()));
        }
        for name in fields {
            match collection.schema.field(name) {
                None => {
                    return Err(CoreError::InvalidInput(format!("fields: {collection_name:?} has no field {name:?}")));
                }
                Some(field) if !field.encrypted() => {
                    return Err(CoreError::InvalidInput(format!("fields: {name:?} is public; read the record")));
                }
                Some(field) if field.field_type == FieldType::Blob => {
                    return Err(CoreError::InvalidInput(format!("fields: {name:?} is a blob; download it")));
                }
                Some(_) => {}
            }
        }
        let key = self.data_key(&record).await?;
        let mut revealed = Map::new();
        for name in fields {
            if let Some(sealed) = record.sealed.get(name) {
                let plaintext = strongroom_crypto::open(&key, sealed, &record_context(collection_name, id, name))?;
                let value: Value = serde_json::from_slice(plaintext.expose())
                    .map_err(|_| CoreError::Crypto(strongroom_crypto::CryptoError::Decrypt))?;
                revealed.insert(name.clone(), value);
            }
        }
        // The fields revealed: one the record has no value for reveals nothing.
        let mut event = self
            .audit
            .event(EventType::RecordDecrypt, context)
            .target(record_target(&record))
            .fields(revealed.keys().cloned().collect())
            .justification(ask.justification.unwrap_or_default().trim());
        if let Some(purpose) = ask.purpose {
            event = event.purpose(purpose);
        }
        self.audit.record(&event).await?;
        if collection.schema.track_access {
            self.store.count_access(collection_name, id, self.now()).await?;
        }
        Ok(revealed)
    }

    /// Refuses, and audits the refusal, unless `subject` may decrypt the
    /// record with `ask`: for a page that offers an encrypted blob's player
    /// before the player asks for its bytes (each of which asks is decided
    /// and audited as `blob.read`).
    pub async fn check_decrypt(
        &self,
        subject: &Subject,
        collection_name: &str,
        id: &str,
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let attempt = Attempt { subject, action: Action::RecordDecrypt, ask, context };
        let record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordDecrypt, &resource(&record), ask, context).await?;
        Ok(())
    }

    /// Whether a page should offer `subject` the decrypt of a record it was
    /// shown: the decision as it would be with a justification and a purpose
    /// given, not audited; and if not now, whether it would be after the
    /// subject proves a second factor again (the production profiles ask
    /// for a recent one). It only hides a button that would be refused; the
    /// decrypt itself is decided again, and audited.
    pub fn decrypt_offer(&self, subject: &Subject, view: &RecordView, context: &AuditContext) -> DecryptOffer {
        let resource = Resource::Record {
            id: view.id.clone(),
            matter: view.matter_id.clone(),
            collection: view.collection.clone(),
        };
        let purpose = self.authz.settings().purposes.first().map(String::as_str);
        let ask = Ask { justification: Some("a justification, as the decrypt form asks for"), purpose };
        if self.authz.decide(subject, Action::RecordDecrypt, &resource, &ask, context).allowed {
            return DecryptOffer::Now;
        }
        let stepped_up = Subject { mfa_at: Some(self.now()), ..subject.clone() };
        if self.authz.decide(&stepped_up, Action::RecordDecrypt, &resource, &ask, context).allowed {
            DecryptOffer::AfterStepUp
        } else {
            DecryptOffer::Never
        }
    }

    /// Opens a record's data key with the key its header names, which must
    /// be a generation of the record's own matter key (so a row edited to
    /// point at another matter's key does not open).
    pub(super) async fn data_key(&self, record: &StoredRecord) -> Result<SecretKey, CoreError> {
        let (header, _) = SealedHeader::parse(&record.wrapped_key)?;
        if !crate::matter_keys::is_key_of_matter(&header.key_name, &record.matter_id) {
            return Err(CoreError::Crypto(strongroom_crypto::CryptoError::Decrypt));
        }
        let plaintext = self
            .keyring
            .decrypt(
                KeyPurpose::MatterData,
                &header.key_name,
                &record.wrapped_key,
                &record_context(&record.collection, &record.id, ""),
            )
            .await?;
        Ok(SecretKey::from_slice(plaintext.expose())?)
    }

    /// Records the caller may read, oldest first, filtered on public fields
    /// or found through one blind index.
    pub async fn list(
        &self,
        subject: &Subject,
        collection_name: &str,
        query: RecordQuery,
        context: &AuditContext,
    ) -> Result<(Vec<RecordView>, Option<Cursor>), CoreError> {
        let collection = self.collection(collection_name).await?;
        let query = typed_filters(query, &collection.schema)?;
        let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
        for (name, _) in &query.equals {
            match collection.schema.field(name) {
                Some(field) if !field.encrypted() => {}
                Some(_) => {
                    return Err(CoreError::InvalidInput(format!(
                        "{name}: encrypted; search it with search.{name}= if the schema makes it searchable"
                    )));
                }
                None => return Err(CoreError::InvalidInput(format!("{name}: {collection_name:?} has no such field"))),
            }
        }
        let matters: Option<Vec<String>> = match &query.matter_id {
            Some(matter) => {
                check_id("matter", matter)?;
                let resource = Resource::Matter(matter.clone());
                self.authz.authorize(subject, Action::RecordRead, &resource, &Ask::default(), context).await?;
                Some(vec![matter.clone()])
            }
            None => {
                let now = self.now();
                let mut mine = subject.facts.matters.clone();
                mine.extend(subject.elevations.iter().filter(|e| now < e.expires_at).map(|e| e.matter_id.clone()));
                mine.sort();
                mine.dedup();
                Some(mine)
            }
        };
        let candidates = match &query.search {
            Some((name, value)) => {
                let field = collection.schema.field(name).filter(|f| f.searchable).ok_or_else(|| {
                    CoreError::InvalidInput(format!("search.{name}: not a searchable field of {collection_name:?}"))
                })?;
                field.check(value)?;
                // No key yet: nothing was ever indexed under this field.
                let ids = match self.keyring.mac(&index_key(collection_name, name), normalized(value).as_bytes()).await
                {
                    Ok((_, digest)) => {
                        let digest = to_hex(&digest);
                        self.store.find_indexed(collection_name, name, &digest).await?
                    }
                    Err(CoreError::KeyNotFound(_)) => Vec::new(),
                    Err(error) => return Err(error),
                };
                let mut found = Vec::new();
                for id in ids {
                    if let Some(record) = self.store.record(collection_name, &id).await? {
                        found.push(record);
                    }
                }
                found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                found
                    .into_iter()
                    .filter(|r| query.cursor.as_ref().is_none_or(|(at, id)| (r.created_at, &r.id) > (*at, id)))
                    .collect()
            }
            None => {
                self.store.list_records(collection_name, matters.as_deref(), query.cursor.as_ref(), limit * 4).await?
            }
        };
        let now = self.now();
        let mut views = Vec::new();
        let mut last = None;
        for record in candidates {
            last = Some((record.created_at, record.id.clone()));
            let visible = matters.as_ref().is_none_or(|m| m.contains(&record.matter_id))
                && record.expires_at.is_none_or(|at| now < at)
                && query.equals.iter().all(|(name, value)| record.public.get(name) == Some(value))
                && self.authz.decide(subject, Action::RecordRead, &resource(&record), &Ask::default(), context).allowed;
            if visible {
                views.push(self.view(&record, &collection.schema, subject, context));
                if views.len() == limit as usize {
                    break;
                }
            }
        }
        let next = if views.len() == limit as usize { last } else { None };
        Ok((views, next))
    }

    /// Changes fields of a record (encrypted ones are sealed again under its
    /// data key); one transaction with its audit event.
    pub async fn update(
        &self,
        subject: &Subject,
        collection_name: &str,
        id: &str,
        fields: Map<String, Value>,
        context: &AuditContext,
    ) -> Result<RecordView, CoreError> {
        let collection = self.collection(collection_name).await?;
        let ask = Ask::default();
        let attempt = Attempt { subject, action: Action::RecordWrite, ask: &ask, context };
        let mut record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordWrite, &resource(&record), &ask, context).await?;
        if fields.is_empty() {
            return Err(CoreError::InvalidInput("fields: give at least one field to change".into()));
        }
        let (wrapped_header, _) = SealedHeader::parse(&record.wrapped_key)?;
        let key = DataKey { key: self.data_key(&record).await?, version: wrapped_header.key_version };
        let terms = self.terms_if_redacted(&collection.schema, &record.matter_id).await?;
        let mut fields = fields;
        add_renditions(&collection.schema, &mut fields, &terms);
        let mut index = Vec::new();
        let mut changed = Vec::new();
        for (name, value) in fields {
            let field = collection.schema.field(&name).ok_or_else(|| {
                CoreError::InvalidInput(format!("fields.{name}: {collection_name:?} has no such field"))
            })?;
            if value.is_null() && field.required {
                return Err(CoreError::InvalidInput(format!("fields.{name}: required")));
            }
            record.public.remove(&name);
            record.sealed.remove(&name);
            record.renditions.remove(&name);
            self.place(&mut record, field, value, &key, &terms, &mut index, context).await?;
            changed.push(name);
        }
        let index_fields: Vec<String> = changed
            .iter()
            .filter(|name| collection.schema.field(name).is_some_and(|f| f.searchable))
            .cloned()
            .collect();
        record.updated_at = self.now();
        record.revision += 1;
        let event = self.audit.event(EventType::RecordUpdate, context).target(record_target(&record)).fields(changed);
        if !self.store.update_record(&record, &index_fields, &index, &[self.audit.seal(&event)?]).await? {
            return Err(CoreError::Conflict(format!("record {id:?} changed meanwhile; read it again")));
        }
        Ok(self.view(&record, &collection.schema, subject, context))
    }

    /// Deletes a record by destroying its sealed data key with it
    /// (crypto-shredding); refused under legal hold.
    pub async fn delete(
        &self,
        subject: &Subject,
        collection_name: &str,
        id: &str,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        let ask = Ask::default();
        let attempt = Attempt { subject, action: Action::RecordDelete, ask: &ask, context };
        let record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordDelete, &resource(&record), &ask, context).await?;
        if record.legal_hold {
            return Err(CoreError::Conflict(format!("record {id:?} is under legal hold: it cannot be deleted")));
        }
        let event = self
            .audit
            .event(EventType::RecordDelete, context)
            .target(record_target(&record))
            .detail("method", "crypto-shred: the record's data key is destroyed");
        let objects = self.store.blob_objects(&[(collection_name.to_owned(), id.to_owned())]).await?;
        if self.store.delete_record(collection_name, id, &[self.audit.seal(&event)?]).await? {
            self.delete_objects(objects).await;
            Ok(())
        } else {
            Err(not_found(&resource(&record)))
        }
    }

    /// Puts a record on legal hold (or lifts it): a held record is neither
    /// deleted, nor expired, nor erased with its subject. Needs a justification.
    pub async fn hold(
        &self,
        subject: &Subject,
        collection_name: &str,
        id: &str,
        hold: bool,
        justification: &str,
        context: &AuditContext,
    ) -> Result<RecordView, CoreError> {
        let collection = self.collection(collection_name).await?;
        let ask = Ask::default();
        let attempt = Attempt { subject, action: Action::RecordHold, ask: &ask, context };
        let mut record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordHold, &resource(&record), &ask, context).await?;
        let justification = justification.trim();
        if justification.chars().count() < crate::authz::MIN_JUSTIFICATION {
            return Err(CoreError::InvalidInput("justification: at least 20 characters saying why".into()));
        }
        let event = self
            .audit
            .event(EventType::RecordHold, context)
            .target(record_target(&record))
            .detail("hold", hold)
            .justification(justification);
        if !self.store.set_hold(collection_name, id, hold, &[self.audit.seal(&event)?]).await? {
            let state = if hold { "on legal hold already" } else { "not on legal hold" };
            return Err(CoreError::Conflict(format!("record {id:?} is {state}")));
        }
        record.legal_hold = hold;
        Ok(self.view(&record, &collection.schema, subject, context))
    }

    /// Crypto-shreds records whose time has passed (not those on legal hold),
    /// up to `batch` at a time, with one `retention.run` event giving the
    /// counts. Answers how many were shredded.
    pub async fn sweep_expired(&self, batch: u32) -> Result<usize, CoreError> {
        let context = AuditContext::service("retention");
        let now = self.now();
        let (due, held) = self.store.expired(now, batch).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut per_collection = BTreeMap::<String, i64>::new();
        for (collection, _) in &due {
            *per_collection.entry(collection.clone()).or_default() += 1;
        }
        let mut event = self
            .audit
            .event(EventType::RetentionRun, &context)
            .detail("shredded", i64::try_from(due.len()).unwrap_or(i64::MAX))
            .detail("held", held)
            .detail("method", "crypto-shred: each record's data key is destroyed");
        for (collection, count) in per_collection {
            event = event.detail(&format!("shredded.{collection}"), count);
        }
        let objects = self.store.blob_objects(&due).await?;
        if self.store.shred(&due, Some(now), &[self.audit.seal(&event)?]).await? {
            self.delete_objects(objects).await;
            Ok(due.len())
        } else {
            // A record was put on hold or changed meanwhile: nothing was
            // shredded or recorded; the next run sees the new state.
            Ok(0)
        }
    }

    /// The records of a data subject (the HMAC of the normalised subject).
    async fn subject_records(&self, subject_value: &str) -> Result<Vec<StoredRecord>, CoreError> {
        let normalized_subject = normalized(&Value::String(subject_value.to_owned()));
        match self.keyring.mac(SUBJECT_INDEX_KEY, normalized_subject.as_bytes()).await {
            Ok((_, digest)) => {
                let digest = to_hex(&digest);
                Ok(self.store.records_of_subject(&digest).await?)
            }
            Err(CoreError::KeyNotFound(_)) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// Everything about a data subject, decrypted, across collections and
    /// matters: `subject.export` (admins), with a justification and purpose
    /// like any reveal; audited as `subject.export` with the subject's HMAC.
    pub async fn export_subject(
        &self,
        subject: &Subject,
        subject_value: &str,
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> Result<Vec<(StoredRecord, Map<String, Value>)>, CoreError> {
        self.authz.authorize(subject, Action::SubjectExport, &Resource::Service, ask, context).await?;
        let subject_value = subject_value.trim();
        if subject_value.is_empty() {
            return Err(CoreError::InvalidInput("subject: required".into()));
        }
        let now = self.now();
        let mut exported = Vec::new();
        for record in self.subject_records(subject_value).await? {
            if record.expires_at.is_some_and(|at| at <= now) {
                continue;
            }
            let key = self.data_key(&record).await?;
            let mut fields = record.public.clone();
            for (name, sealed) in &record.sealed {
                let plaintext =
                    strongroom_crypto::open(&key, sealed, &record_context(&record.collection, &record.id, name))?;
                let value: Value = serde_json::from_slice(plaintext.expose())
                    .map_err(|_| CoreError::Crypto(strongroom_crypto::CryptoError::Decrypt))?;
                fields.insert(name.clone(), value);
            }
            exported.push((record, fields));
        }
        let mut event = self
            .audit
            .event(EventType::SubjectExport, context)
            .target(Target::new("subject", "hmac"))
            .personal("subject", self.audit.pseudonym(subject_value)?)
            .detail("records", i64::try_from(exported.len()).unwrap_or(i64::MAX))
            .justification(ask.justification.unwrap_or_default().trim());
        if let Some(purpose) = ask.purpose {
            event = event.purpose(purpose);
        }
        self.audit.record(&event).await?;
        Ok(exported)
    }

    /// Crypto-shreds everything about a data subject, except records on
    /// legal hold: `subject.erase` (admins), with a justification; one
    /// transaction with its `subject.erase` event. Answers the erased and the
    /// held records (collection, id).
    pub async fn erase_subject(
        &self,
        subject: &Subject,
        subject_value: &str,
        justification: &str,
        context: &AuditContext,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), CoreError> {
        self.authz.authorize(subject, Action::SubjectErase, &Resource::Service, &Ask::default(), context).await?;
        let justification = justification.trim();
        if justification.chars().count() < crate::authz::MIN_JUSTIFICATION {
            return Err(CoreError::InvalidInput("justification: at least 20 characters saying why".into()));
        }
        let subject_value = subject_value.trim();
        if subject_value.is_empty() {
            return Err(CoreError::InvalidInput("subject: required".into()));
        }
        let (held, erasable): (Vec<StoredRecord>, Vec<StoredRecord>) =
            self.subject_records(subject_value).await?.into_iter().partition(|r| r.legal_hold);
        let erased: Vec<(String, String)> = erasable.iter().map(|r| (r.collection.clone(), r.id.clone())).collect();
        let held: Vec<(String, String)> = held.iter().map(|r| (r.collection.clone(), r.id.clone())).collect();
        let event = self
            .audit
            .event(EventType::SubjectErase, context)
            .target(Target::new("subject", "hmac"))
            .personal("subject", self.audit.pseudonym(subject_value)?)
            .detail("erased", i64::try_from(erased.len()).unwrap_or(i64::MAX))
            .detail("held", i64::try_from(held.len()).unwrap_or(i64::MAX))
            .detail("method", "crypto-shred: each record's data key is destroyed")
            .justification(justification);
        let objects = self.store.blob_objects(&erased).await?;
        if !self.store.shred(&erased, None, &[self.audit.seal(&event)?]).await? {
            return Err(CoreError::Conflict(
                "a record of the subject changed meanwhile; nothing was erased, retry".into(),
            ));
        }
        self.delete_objects(objects).await;
        Ok((erased, held))
    }
}
/// Moves `query.written` filters into `equals` or `search`, each value typed
/// as its field is: text for string, text and timestamp fields, JSON for the
/// rest (falling back to text). One encrypted field per search.
fn typed_filters(mut query: RecordQuery, schema: &CollectionSchema) -> Result<RecordQuery, CoreError> {
    for (name, text) in std::mem::take(&mut query.written) {
        let field = schema.field(&name);
        let value = match field.map(|f| f.field_type) {
            Some(FieldType::String | FieldType::Text | FieldType::Timestamp) => Value::String(text),
            _ => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        };
        if field.is_some_and(FieldSpec::encrypted) {
            if query.search.is_some() {
                return Err(CoreError::InvalidInput("where: one encrypted field per search".into()));
            }
            query.search = Some((name, value));
        } else {
            query.equals.push((name, value));
        }
    }
    Ok(query)
}
