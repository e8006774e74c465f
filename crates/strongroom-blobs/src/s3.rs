//! Blobs in an S3-compatible object store, over its REST API with SigV4
//! (`strongroom_crypto::sigv4`), path-style addressing (`endpoint/bucket/key`)
//! so that MinIO, Ceph, moto and AWS all work.
//!
//! Uploads of any size use constant memory: bytes are buffered up to one
//! 8 MiB part, parts go up as they fill (multipart upload), and the object
//! appears only when the upload completes; an aborted upload is aborted on
//! the store too. Small objects are one PUT.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use strongroom_core::StoreError;
use strongroom_core::records::{BlobReader, BlobStorage, BlobUpload};
use strongroom_crypto::sigv4::{self, SigV4Credentials, SigV4Request, amz_date, sha256_hex, uri_encode};
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use crate::check_name;

/// Bytes per uploaded part (S3 wants at least 5 MiB for all but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

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
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// A session token, for temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
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
#[derive(Debug, Clone)]
pub struct S3Blobs {
    http: reqwest::Client,
    settings: std::sync::Arc<S3Settings>,
    host: String,
}

fn backend(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

impl S3Blobs {
    /// A client for `settings.bucket`.
    pub fn new(mut settings: S3Settings) -> Result<Self, StoreError> {
        settings.endpoint = settings.endpoint.trim_end_matches('/').to_owned();
        let host = settings
            .endpoint
            .split_once("://")
            .map(|(_, rest)| rest)
            .ok_or_else(|| backend(format!("blobs.s3_endpoint {:?} needs http:// or https://", settings.endpoint)))?
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| backend(format!("cannot build the S3 client: {e}")))?;
        Ok(Self { http, settings: std::sync::Arc::new(settings), host })
    }

    /// `/bucket/prefix+name`, percent-encoded.
    fn path(&self, name: Option<&str>) -> String {
        match name {
            Some(name) => uri_encode(&format!("/{}/{}{name}", self.settings.bucket, self.settings.prefix), true),
            None => uri_encode(&format!("/{}", self.settings.bucket), true),
        }
    }

    /// A signed request.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let date = amz_date(now);
        let payload = sha256_hex(&body);
        let mut headers = vec![
            ("host".to_owned(), self.host.clone()),
            ("x-amz-content-sha256".to_owned(), payload.clone()),
            ("x-amz-date".to_owned(), date.clone()),
        ];
        if let Some(token) = &self.settings.session_token {
            headers.push(("x-amz-security-token".to_owned(), token.as_str().to_owned()));
        }
        let signing = SigV4Request {
            method: method.as_str(),
            path,
            query,
            headers: &headers,
            payload_sha256: &payload,
            region: &self.settings.region,
            service: "s3",
            amz_date: &date,
        };
        let credentials = SigV4Credentials {
            access_key_id: &self.settings.access_key_id,
            secret_access_key: self.settings.secret_access_key.as_str(),
        };
        let authorization = sigv4::authorization(&signing, &credentials);
        let query_text: Vec<String> =
            query.iter().map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false))).collect();
        let url = if query_text.is_empty() {
            format!("{}{path}", self.settings.endpoint)
        } else {
            format!("{}{path}?{}", self.settings.endpoint, query_text.join("&"))
        };
        let mut builder = self.http.request(method, url).header("authorization", authorization).body(body);
        for (name, value) in headers.into_iter().filter(|(name, _)| name != "host") {
            builder = builder.header(name, value);
        }
        builder
    }

    async fn send(&self, operation: &str, builder: reqwest::RequestBuilder) -> Result<reqwest::Response, StoreError> {
        let response =
            builder.send().await.map_err(|e| backend(format!("S3 {operation}: cannot reach the store: {e}")))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        // S3 errors name a code and a message, never a secret.
        let code = between(&text, "<Code>", "</Code>").unwrap_or_default();
        Err(backend(format!("S3 {operation} answered {status} {code}")))
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

struct S3Upload {
    store: S3Blobs,
    name: String,
    path: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<(u32, String)>,
    size: u64,
}

impl S3Upload {
    async fn upload_part(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        if self.upload_id.is_none() {
            let query = [("uploads".to_owned(), String::new())];
            let builder = self.store.request(reqwest::Method::POST, &self.path, &query, Vec::new());
            let answer = self.store.send("CreateMultipartUpload", builder).await?.text().await.unwrap_or_default();
            let id = between(&answer, "<UploadId>", "</UploadId>")
                .ok_or_else(|| backend("S3 CreateMultipartUpload: no UploadId in the answer".into()))?;
            self.upload_id = Some(id.to_owned());
        }
        let number = u32::try_from(self.parts.len() + 1).unwrap_or(u32::MAX);
        let query = [
            ("partNumber".to_owned(), number.to_string()),
            ("uploadId".to_owned(), self.upload_id.clone().unwrap_or_default()),
        ];
        let builder = self.store.request(reqwest::Method::PUT, &self.path, &query, bytes);
        let response = self.store.send("UploadPart", builder).await?;
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| backend("S3 UploadPart: no ETag".into()))?
            .to_owned();
        self.parts.push((number, etag));
        Ok(())
    }
}

#[async_trait]
impl BlobUpload for S3Upload {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.buffer.extend_from_slice(bytes);
        self.size += bytes.len() as u64;
        while self.buffer.len() >= PART_SIZE {
            let rest = self.buffer.split_off(PART_SIZE);
            let part = std::mem::replace(&mut self.buffer, rest);
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, StoreError> {
        let Some(upload_id) = self.upload_id.clone() else {
            let body = std::mem::take(&mut self.buffer);
            let builder = self.store.request(reqwest::Method::PUT, &self.path, &[], body);
            self.store.send("PutObject", builder).await?;
            return Ok(self.size);
        };
        if !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            if let Err(error) = self.upload_part(last).await {
                self.abort_upload(&upload_id).await;
                return Err(error);
            }
        }
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (number, etag) in &self.parts {
            xml.push_str(&format!("<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let query = [("uploadId".to_owned(), upload_id.clone())];
        let builder = self.store.request(reqwest::Method::POST, &self.path, &query, xml.into_bytes());
        match self.store.send("CompleteMultipartUpload", builder).await {
            // S3 may answer 200 with an error in the body.
            Ok(response) => match response.text().await {
                Ok(text) if !text.contains("<Error>") => Ok(self.size),
                _ => {
                    self.abort_upload(&upload_id).await;
                    Err(backend(format!("S3 CompleteMultipartUpload failed for {}", self.name)))
                }
            },
            Err(error) => {
                self.abort_upload(&upload_id).await;
                Err(error)
            }
        }
    }

    async fn abort(self: Box<Self>) {
        if let Some(upload_id) = &self.upload_id {
            self.abort_upload(upload_id).await;
        }
    }
}

impl S3Upload {
    async fn abort_upload(&self, upload_id: &str) {
        let query = [("uploadId".to_owned(), upload_id.to_owned())];
        let builder = self.store.request(reqwest::Method::DELETE, &self.path, &query, Vec::new());
        if let Err(error) = self.store.send("AbortMultipartUpload", builder).await {
            tracing::warn!(%error, object = %self.name, "could not abort a multipart upload; the store's lifecycle rules must clean it");
        }
    }
}

#[async_trait]
impl BlobStorage for S3Blobs {
    async fn begin(&self, name: &str) -> Result<Box<dyn BlobUpload>, StoreError> {
        check_name(name)?;
        Ok(Box::new(S3Upload {
            store: self.clone(),
            name: name.to_owned(),
            path: self.path(Some(name)),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            size: 0,
        }))
    }

    async fn read_range(&self, name: &str, start: u64, end: u64) -> Result<BlobReader, StoreError> {
        check_name(name)?;
        if end <= start {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let builder = self
            .request(reqwest::Method::GET, &self.path(Some(name)), &[], Vec::new())
            .header("range", format!("bytes={start}-{}", end - 1));
        let mut response = self.send("GetObject", builder).await?;
        // The body arrives in pieces; a pipe turns them into a reader.
        let (mut writer, reader) = tokio::io::duplex(256 * 1024);
        tokio::spawn(async move {
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if writer.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(error) => {
                        tracing::warn!(%error, "an S3 download broke off");
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(reader))
    }

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        let builder = self.request(reqwest::Method::DELETE, &self.path(Some(name)), &[], Vec::new());
        match self.send("DeleteObject", builder).await {
            Err(StoreError::Backend(error)) if error.to_string().contains("404") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        let builder = self.request(reqwest::Method::HEAD, &self.path(None), &[], Vec::new());
        self.send("HeadBucket", builder).await.map(|_| ())
    }
}
