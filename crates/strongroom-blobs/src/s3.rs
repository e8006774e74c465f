//! Blobs in an S3-compatible object store through `object_store` (the
//! Apache Arrow project's client, used by DataFusion, Delta Lake and
//! others), with path-style addressing (`endpoint/bucket/key`) so that AWS,
//! MinIO, Ceph and moto all work.
//!
//! Uploads of any size use bounded memory: bytes are buffered up to one
//! 8 MiB part, at most two parts are in flight, and the object appears only
//! when the multipart upload completes; an aborted upload is aborted on the
//! store too. Reads stream the requested byte range.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredentialProvider};
use object_store::path::Path;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use strongroom_core::records::{BlobError, BlobReader, BlobStorage, BlobUpload};
use tokio::io::{AsyncRead, ReadBuf};

use crate::check_name;

/// Bytes per uploaded part (S3 wants at least 5 MiB for all but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts uploading at once: enough to keep the link busy while the next
/// part fills, few enough that an upload holds at most ~24 MiB.
const PARTS_IN_FLIGHT: usize = 2;

/// Where and how to reach the store.
#[derive(Clone)]
pub struct S3Settings {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The SigV4 region.
    pub region: String,
    /// Prepended to every object name (`strongroom/`), may be empty.
    pub prefix: String,
    /// Where credentials come from: static keys, web identity, a container
    /// or instance role (the binary builds the standard AWS chain).
    pub credentials: AwsCredentialProvider,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Objects in one bucket.
#[derive(Clone)]
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs").field("bucket", &self.bucket).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// Sorts a store's answer. `NotFound` is a missing object; errors of the
/// request itself (connection refused, timeouts, 5xx and throttling after
/// the retries) are `Generic` in `object_store` and count as unavailable,
/// as do refused credentials (they expire and are renewed); the rest are
/// faults of this code or of its setup.
fn backend(error: object_store::Error) -> BlobError {
    use object_store::Error;
    match error {
        Error::NotFound { path, .. } => BlobError::Missing(path),
        Error::Generic { .. } | Error::Unauthenticated { .. } | Error::PermissionDenied { .. } => {
            BlobError::Unavailable(Box::new(error))
        }
        other => BlobError::Failed(Box::new(other)),
    }
}

impl S3Blobs {
    /// A client for `settings.bucket`; nothing is sent until the first call.
    pub fn new(settings: S3Settings) -> Result<Self, BlobError> {
        let endpoint = settings.endpoint.trim_end_matches('/');
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(BlobError::Failed(format!("blobs.s3_endpoint {endpoint:?} needs http:// or https://").into()));
        }
        let builder = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_credentials(settings.credentials)
            // A store that is down answers within a minute, not the default three.
            .with_retry(RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(60), ..Default::default() })
            // allow_http lives in the client options: set it there, or they reset it.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_connect_timeout(Duration::from_secs(10)),
            );
        let store = builder.build().map_err(|e| BlobError::Failed(Box::new(e)))?;
        Ok(Self { store: Arc::new(store), bucket: settings.bucket, prefix: settings.prefix })
    }

    fn path(&self, name: &str) -> Result<Path, BlobError> {
        check_name(name)?;
        Path::parse(format!("{}{name}", self.prefix)).map_err(|e| BlobError::Failed(Box::new(e)))
    }
}

struct S3Upload {
    writer: WriteMultipart,
    size: u64,
}

#[async_trait]
impl BlobUpload for S3Upload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        // Back-pressure: the body is read no faster than parts go up.
        self.writer.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(backend)?;
        self.writer.write(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<u64, BlobError> {
        // On failure `finish` aborts the upload on the store itself.
        self.writer.finish().await.map_err(backend)?;
        Ok(self.size)
    }

    async fn abort(self: Box<Self>) {
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(%error, "could not abort a multipart upload; the bucket's lifecycle rules must clean it");
        }
    }
}

/// An object's byte stream as an [`AsyncRead`]; a broken download is an
/// error, never a short read that looks like the end.
struct StreamReader {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
}

impl AsyncRead for StreamReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if !self.chunk.is_empty() {
                let n = self.chunk.len().min(buf.remaining());
                let piece = self.chunk.split_to(n);
                buf.put_slice(&piece);
                return Poll::Ready(Ok(()));
            }
            match self.stream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => self.chunk = bytes,
                Poll::Ready(Some(Err(error))) => {
                    // A broken download is the store's or the link's, so
                    // the kind says "retry" (see `BlobError::from_io`).
                    return Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, error)));
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[async_trait]
impl BlobStorage for S3Blobs {
    async fn begin(&self, name: &str) -> Result<Box<dyn BlobUpload>, BlobError> {
        let upload = self.store.put_multipart(&self.path(name)?).await.map_err(backend)?;
        Ok(Box::new(S3Upload { writer: WriteMultipart::new_with_chunk_size(upload, PART_SIZE), size: 0 }))
    }

    async fn read_range(&self, name: &str, start: u64, end: u64) -> Result<BlobReader, BlobError> {
        let path = self.path(name)?;
        if end <= start {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let options = GetOptions { range: Some(GetRange::Bounded(start..end)), ..Default::default() };
        let result = self.store.get_opts(&path, options).await.map_err(backend)?;
        Ok(Box::pin(StreamReader { stream: result.into_stream(), chunk: Bytes::new() }))
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(backend(error)),
        }
    }

    async fn check(&self) -> Result<(), BlobError> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.trim_end_matches('/')));
        self.store.list_with_delimiter(prefix.as_ref()).await.map(|_| ()).map_err(backend)
    }

    /// Nothing to do here: `object_store` can abort an upload it started but
    /// cannot list the uploads of a bucket (no `ListMultipartUploads`), so
    /// those of a killed process are left to the bucket's lifecycle rule
    /// `AbortIncompleteMultipartUpload` (see docs/records.md).
    async fn sweep(&self, _older_than: Duration) -> Result<u64, BlobError> {
        Ok(0)
    }
}
