//! What the records store keeps: collections with their schemas, and
//! records as public values in clear, encrypted fields sealed under the
//! record's own data key, redacted renditions, and the data key sealed
//! under the matter's key.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::schema::CollectionSchema;
use super::storage::BlobMeta;
use crate::StoreError;
use crate::audit::AuditRecord;

/// A collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRecord {
    /// `[a-z][a-z0-9_]{0,55}`.
    pub name: String,
    /// Its schema.
    pub schema: CollectionSchema,
    /// 1, 2, …: each schema change adds one.
    pub revision: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A matter's redaction terms as stored: a JSON list sealed under the
/// keyring key `system.redaction-terms`, bound to the matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedTerms {
    /// The matter.
    pub matter_id: String,
    /// The sealed list.
    pub sealed: Vec<u8>,
    /// 1, 2, …: each replacement adds one.
    pub revision: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// `user:<id>` or `api_key:<id>`.
    pub updated_by: String,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Its collection.
    pub collection: String,
    /// `r_<hex>`.
    pub id: String,
    /// The matter it belongs to.
    pub matter_id: String,
    /// Public fields, in clear.
    pub public: Map<String, Value>,
    /// Encrypted fields: `SR` v1 values sealed under the record's data key.
    pub sealed: BTreeMap<String, Vec<u8>>,
    /// Redacted renditions of `redacted` fields.
    pub renditions: BTreeMap<String, String>,
    /// The record's data key, sealed under the matter's key (`matter.<id>`).
    pub wrapped_key: Vec<u8>,
    /// HMAC of the data subject, for subject requests (never the subject in clear).
    pub subject_index: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// `user:<id>` or `api_key:<id>`.
    pub created_by: String,
    /// Unix seconds after which the record is gone.
    pub expires_at: Option<i64>,
    /// A legal hold blocks deletion and expiry.
    pub legal_hold: bool,
    /// Reads so far (collections that track access).
    pub access_count: i64,
    /// The last read (collections that track access).
    pub last_accessed_at: Option<i64>,
    /// 1, 2, …: each update adds one (optimistic concurrency).
    pub revision: i64,
}

impl StoredRecord {
    /// The keyring key and version that wrap the record's data key, read
    /// from the sealed key's header (`None` if it does not parse).
    pub fn wrapping_key(&self) -> Option<(String, u32)> {
        strongroom_crypto::SealedHeader::parse(&self.wrapped_key).ok().map(|(h, _)| (h.key_name, h.key_version))
    }
}

/// What one version of a key still protects among the stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VersionCensus {
    /// The key version.
    pub version: u32,
    /// Records' data keys it wraps.
    pub data_keys: u64,
    /// Sealed values and blobs under those data keys.
    pub ciphertexts: u64,
}

/// A record with new keys and sealed values, replacing the stored one if
/// that is still at `expected_revision` (a rewrap or a re-encryption).
#[derive(Debug, Clone)]
pub struct RekeyedRecord {
    /// The record as it is to be stored (its `revision` one above the expected).
    pub record: StoredRecord,
    /// Its blobs, re-encrypted into new objects (empty for a rewrap).
    pub blobs: Vec<BlobMeta>,
}

/// One blind-index entry: `digest` is the hex HMAC of a field's normalised
/// value under the collection+field key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The field.
    pub field: String,
    /// Hex HMAC-SHA256.
    pub digest: String,
}

/// Where a listing starts: after this record (creation time, id).
pub type Cursor = (i64, String);

/// Storage for collections and records. Every change commits together with
/// its audit records or not at all.
#[async_trait]
pub trait RecordsStore: Send + Sync + std::fmt::Debug {
    /// Inserts a collection; `false` if the name is taken.
    async fn create_collection(&self, collection: &CollectionRecord, audit: &[AuditRecord])
    -> Result<bool, StoreError>;
    /// One collection.
    async fn collection(&self, name: &str) -> Result<Option<CollectionRecord>, StoreError>;
    /// Every collection, by name.
    async fn list_collections(&self) -> Result<Vec<CollectionRecord>, StoreError>;
    /// Replaces a collection's schema if its revision is still
    /// `collection.revision - 1`; `false` otherwise.
    async fn update_collection(&self, collection: &CollectionRecord, audit: &[AuditRecord])
    -> Result<bool, StoreError>;
    /// Inserts a record and its index entries.
    async fn insert_record(
        &self,
        record: &StoredRecord,
        index: &[IndexEntry],
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// One record.
    async fn record(&self, collection: &str, id: &str) -> Result<Option<StoredRecord>, StoreError>;
    /// Records of `collection` in `matters` (every matter when `None`), oldest
    /// first, after `cursor`, at most `limit`.
    async fn list_records(
        &self,
        collection: &str,
        matters: Option<&[String]>,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// Ids of the records of `collection` whose `field` has index `digest`.
    async fn find_indexed(&self, collection: &str, field: &str, digest: &str) -> Result<Vec<String>, StoreError>;
    /// Replaces a record (and the index entries of the fields in
    /// `index_fields`) if its revision is still `record.revision - 1`.
    async fn update_record(
        &self,
        record: &StoredRecord,
        index_fields: &[String],
        index: &[IndexEntry],
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// Deletes a record, its sealed data key and its index entries; `false` if absent.
    async fn delete_record(&self, collection: &str, id: &str, audit: &[AuditRecord]) -> Result<bool, StoreError>;
    /// Counts one read of a record at `at`.
    async fn count_access(&self, collection: &str, id: &str, at: i64) -> Result<(), StoreError>;
    /// Puts a record on legal hold or lifts it; `false` if absent or already so.
    async fn set_hold(&self, collection: &str, id: &str, hold: bool, audit: &[AuditRecord])
    -> Result<bool, StoreError>;
    /// Records expired at `now` and not on hold, oldest first, at most `limit`,
    /// and how many expired ones are held.
    async fn expired(&self, now: i64, limit: u32) -> Result<(Vec<(String, String)>, i64), StoreError>;
    /// Deletes these records (their sealed data keys and index entries with
    /// them) in one transaction with `audit`, provided every one of them is
    /// still deletable (not on hold, and expired at `expired_at` when given);
    /// otherwise deletes nothing and answers `false`.
    async fn shred(
        &self,
        records: &[(String, String)],
        expired_at: Option<i64>,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// Every record of the data subject whose HMAC is `digest`.
    async fn records_of_subject(&self, digest: &str) -> Result<Vec<StoredRecord>, StoreError>;
    /// Records a blob of a record (replacing the field's earlier one) with
    /// its audit event, and moves the record to the next revision, provided
    /// it is still at `revision` (`Conflict` otherwise); answers the replaced
    /// blob's object name.
    async fn put_blob(
        &self,
        blob: &BlobMeta,
        revision: i64,
        audit: &[AuditRecord],
    ) -> Result<Option<String>, StoreError>;
    /// The blob of a record's field.
    async fn blob(&self, collection: &str, id: &str, field: &str) -> Result<Option<BlobMeta>, StoreError>;
    /// The object names of these records' blobs (to delete after the records).
    async fn blob_objects(&self, records: &[(String, String)]) -> Result<Vec<String>, StoreError>;
    /// The blobs of one record.
    async fn record_blobs(&self, collection: &str, id: &str) -> Result<Vec<BlobMeta>, StoreError>;
    /// Per version of `key_name`: the data keys it wraps and the sealed
    /// values and blobs under them, versions with none left out.
    async fn key_census(&self, key_name: &str) -> Result<Vec<VersionCensus>, StoreError>;
    /// Up to `limit` records whose data key is wrapped by `key_name` (below
    /// `below_version` when given), in (collection, id) order. A job takes
    /// them from the start each time: the ones it moved no longer match.
    async fn records_under_key(
        &self,
        key_name: &str,
        below_version: Option<u32>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// Stores a batch of rekeyed records (and their blobs' new objects) in
    /// one transaction with `audit`, provided every one is still at the
    /// revision it was read at; otherwise stores nothing and answers `false`.
    async fn rekey_records(&self, batch: &[RekeyedRecord], audit: &[AuditRecord]) -> Result<bool, StoreError>;

    /// A matter's redaction terms, sealed, and their revision.
    async fn redaction_terms(&self, matter: &str) -> Result<Option<SealedTerms>, StoreError>;

    /// Stores a matter's redaction terms at `terms.revision`, when the stored
    /// revision is the one before (none stored for revision 1); false when
    /// another change came first. Appends `audit` in the same transaction.
    async fn put_redaction_terms(&self, terms: &SealedTerms, audit: &[AuditRecord]) -> Result<bool, StoreError>;
}
