//! Records (SPEC §5): collections with declared schemas, encrypted records
//! with per-role views, decrypt with justification, blind-index search, and
//! the redaction detectors that produce redacted renditions.

pub mod blobs;
mod keys;
mod model;
mod schema;
mod service;
pub mod storage;
mod terms;

/// The detectors behind redacted renditions live in their own crate, with their gazetteers.
pub use strongroom_redact as redact;

pub use crate::error::BlobError;
pub use crate::matter_keys::{is_rekeyed_name, successor_key};
pub(crate) use keys::Batch;
pub use model::{
    CollectionRecord, Cursor, IndexEntry, RecordsStore, RekeyedRecord, SealedTerms, StoredRecord, VersionCensus,
};
pub use schema::{CollectionSchema, FieldSpec, FieldType, Sensitivity, check_collection_name, templates};
pub use service::{DecryptOffer, MAX_PAGE, NewRecord, REVEAL_WARNING, RecordQuery, RecordView, Records};
pub use storage::{BlobDownload, BlobMeta, BlobReader, BlobRef, BlobStorage, BlobUpload, ByteRange, ByteSource};
pub use terms::RedactionTerms;
