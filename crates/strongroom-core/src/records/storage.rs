//! The blob storage port and what crosses it: where blob objects live
//! (local disk, an S3-compatible store), how an upload is written and a
//! download read. The records service holds a storage; the blob use cases
//! (`blobs.rs`) stream through it.

use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use crate::error::BlobError;

/// Plaintext bytes per sealed segment.
pub const SEGMENT_SIZE: u32 = 64 * 1024;

/// Where blob objects live (local disk, an S3-compatible store). Objects are
/// ciphertext only; a name is visible only once its upload finished.
#[async_trait]
pub trait BlobStorage: Send + Sync + std::fmt::Debug {
    /// Starts writing object `name`.
    async fn begin(&self, name: &str) -> Result<Box<dyn BlobUpload>, BlobError>;
    /// Bytes `start..end` of object `name`.
    async fn read_range(&self, name: &str, start: u64, end: u64) -> Result<BlobReader, BlobError>;
    /// Deletes object `name`; absent is fine.
    async fn delete(&self, name: &str) -> Result<(), BlobError>;
    /// Whether the storage answers (for `/readyz`).
    async fn check(&self) -> Result<(), BlobError>;
    /// Removes what uploads interrupted without an abort (a killed process)
    /// left behind, if it is older than `older_than`; answers how many
    /// leftovers went. Run at start and on a schedule.
    async fn sweep(&self, older_than: std::time::Duration) -> Result<u64, BlobError>;
}

/// A byte stream read from storage.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object being written.
#[async_trait]
pub trait BlobUpload: Send {
    /// Appends bytes.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError>;
    /// Makes the object visible under its name; answers its size.
    async fn finish(self: Box<Self>) -> Result<u64, BlobError>;
    /// Drops what was written.
    async fn abort(self: Box<Self>);
}

/// Where an upload's bytes come from (the HTTP body).
#[async_trait]
pub trait ByteSource: Send {
    /// The next piece, or `None` at the end.
    async fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>>;
}

/// What is known of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The record's collection.
    pub collection: String,
    /// The record.
    pub record_id: String,
    /// The blob field.
    pub field: String,
    /// The object's name in storage.
    pub object: String,
    /// Plaintext bytes.
    pub size: u64,
    /// Stored (ciphertext) bytes.
    pub stored_size: u64,
    /// As uploaded.
    pub content_type: String,
    /// Hex SHA-256 of the plaintext.
    pub sha256: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// The bytes asked for (RFC 9110 ranges, positions counted from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=start-last` or `bytes=start-` (`last` inclusive).
    From {
        /// The first byte.
        start: u64,
        /// The last byte, inclusive; the end when absent.
        last: Option<u64>,
    },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// Which blob: a record's blob field.
#[derive(Debug, Clone, Copy)]
pub struct BlobRef<'a> {
    /// The collection.
    pub collection: &'a str,
    /// The record's id.
    pub record: &'a str,
    /// The blob field.
    pub field: &'a str,
}

/// A download: what it is, which bytes, and the plaintext as it is decrypted.
#[derive(Debug)]
pub struct BlobDownload {
    /// The blob.
    pub meta: BlobMeta,
    /// The plaintext range sent, `start..end`.
    pub range: (u64, u64),
    /// Plaintext pieces, in order; an error ends the stream.
    pub chunks: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}
