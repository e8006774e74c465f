//! Blobs: files of any size stored beside a record (the audio of a
//! recording), streamed through the `SRBLOB` v1 format on the way in and out.
//!
//! Keys: each blob has its own random data key, sealed under the record's
//! data key (bound to collection, record and `blob:<field>`) and kept in the
//! blob's header. So the object alone is useless without the record's row,
//! and deleting the record shreds its blobs too, in every copy of the object
//! store. Plaintext never touches the disk: the body is sealed segment by
//! segment as it arrives, with one segment in memory.

use async_trait::async_trait;
use strongroom_crypto::{
    AssociatedData, BlobHeader, BlobOpener, BlobSealer, SealedHeader, SecretKey, Sha256Stream, random_bytes,
};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::model::StoredRecord;
use super::schema::{FieldType, check_field_name};
use super::service::{Attempt, Records, record_target};
use super::storage::{BlobDownload, BlobMeta, BlobReader, BlobRef, BlobStorage, ByteRange, ByteSource, SEGMENT_SIZE};
use crate::CoreError;
use crate::audit::{AuditContext, EventType};
use crate::authz::{Action, Ask};
use crate::error::BlobError;

fn blob_context(record: &StoredRecord, field: &str) -> AssociatedData {
    AssociatedData::new()
        .with("collection", record.collection.as_bytes())
        .with("record", record.id.as_bytes())
        .with("field", format!("blob:{field}").as_bytes())
}

/// Whether `content_type` (parameters ignored) is allowed by `allowed`
/// (empty: any; `audio/*` matches every audio type).
fn type_allowed(content_type: &str, allowed: &[String]) -> bool {
    let base = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    allowed.is_empty()
        || allowed.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == base || a.strip_suffix("/*").is_some_and(|major| base.split('/').next() == Some(major))
        })
}

impl Records {
    /// Whether blob storage answers (for `/readyz`); `None` without one.
    pub async fn check_blob_storage(&self) -> Option<Result<(), BlobError>> {
        Some(self.blob_storage()?.check().await)
    }

    /// Removes what killed uploads left in blob storage, older than
    /// `older_than`; `None` without storage.
    pub async fn sweep_blob_uploads(&self, older_than: std::time::Duration) -> Option<Result<u64, BlobError>> {
        Some(self.blob_storage()?.sweep(older_than).await)
    }

    fn storage(&self) -> Result<&dyn BlobStorage, CoreError> {
        self.blob_storage().ok_or_else(|| CoreError::InvalidInput("this server stores no blobs".into()))
    }

    /// Streams `body` into the blob field `field` of a record, sealing it on
    /// the way; replaces an earlier blob of that field. An upload that fails
    /// or exceeds the field's limit leaves nothing behind.
    pub async fn upload_blob(
        &self,
        subject: &crate::authz::Subject,
        target: BlobRef<'_>,
        content_type: &str,
        body: &mut dyn ByteSource,
        context: &AuditContext,
    ) -> Result<BlobMeta, CoreError> {
        let BlobRef { collection: collection_name, record: id, field: field_name } = target;
        check_field_name(field_name)?;
        let storage = self.storage()?;
        let collection = self.collection(collection_name).await?;
        let ask = Ask::default();
        let attempt = Attempt { subject, action: Action::RecordWrite, ask: &ask, context };
        let record = self.live_record(collection_name, id, attempt).await?;
        self.authz.authorize(subject, Action::RecordWrite, &Self::resource_of(&record), &ask, context).await?;
        let field = collection
            .schema
            .field(field_name)
            .filter(|f| f.field_type == FieldType::Blob)
            .ok_or_else(|| CoreError::NotFound(format!("{collection_name:?} has no blob field {field_name:?}")))?;
        if !type_allowed(content_type, &field.content_types) {
            return Err(CoreError::InvalidInput(format!(
                "Content-Type {content_type:?} is not accepted for {field_name:?}; use one of {}",
                field.content_types.join(", ")
            )));
        }
        let record_key = self.data_key(&record).await?;
        let sealed = self.seal_stream(storage, &record, &record_key, field_name, field.limit(), body).await?;
        let meta = BlobMeta {
            collection: collection_name.to_owned(),
            record_id: id.to_owned(),
            field: field_name.to_owned(),
            object: sealed.object,
            size: sealed.size,
            stored_size: sealed.stored_size,
            content_type: content_type.to_owned(),
            sha256: sealed.sha256,
            created_at: self.now_seconds(),
        };
        let event = self
            .audit
            .event(EventType::BlobWrite, context)
            .target(record_target(&record))
            .fields(vec![field_name.to_owned()])
            .detail("bytes", i64::try_from(meta.size).unwrap_or(i64::MAX))
            .detail("content_type", content_type);
        // Only onto the record as read: its data key may have been replaced
        // meanwhile (a re-encryption), which would leave this blob unreadable.
        match self.store.put_blob(&meta, record.revision, &[self.audit.seal(&event)?]).await {
            Ok(previous) => {
                metrics::counter!("strongroom_blob_bytes_in_total").increment(meta.size);
                if let Some(previous) = previous
                    && let Err(error) = storage.delete(&previous).await
                {
                    tracing::warn!(%error, object = %previous, "could not delete a replaced blob object; its key is gone with the record's row");
                }
                Ok(meta)
            }
            Err(error) => {
                let _ = storage.delete(&meta.object).await;
                Err(error.into())
            }
        }
    }

    /// Streams the plaintext of a blob, or of bytes `range` of it (end
    /// exclusive). A blob of an encrypted field is a reveal: `record.decrypt`
    /// with a justification and purpose, audited as `blob.read`; a public one
    /// needs `record.read`.
    pub async fn download_blob(
        &self,
        subject: &crate::authz::Subject,
        target: BlobRef<'_>,
        range: Option<ByteRange>,
        ask: &Ask<'_>,
        context: &AuditContext,
    ) -> Result<BlobDownload, CoreError> {
        let BlobRef { collection: collection_name, record: id, field: field_name } = target;
        check_field_name(field_name)?;
        let storage = self.storage()?;
        let collection = self.collection(collection_name).await?;
        let field = collection.schema.field(field_name).filter(|f| f.field_type == FieldType::Blob);
        let action = if field.is_some_and(|f| f.encrypted()) { Action::RecordDecrypt } else { Action::RecordRead };
        let record = self.live_record(collection_name, id, Attempt { subject, action, ask, context }).await?;
        let resource = Self::resource_of(&record);
        self.authz.authorize(subject, action, &resource, ask, context).await?;
        let missing = || CoreError::NotFound(format!("record {id:?} has no blob {field_name:?}"));
        field.ok_or_else(missing)?;
        let meta = self.store.blob(collection_name, id, field_name).await?.ok_or_else(missing)?;
        let (start, end) = match range {
            None => (0, meta.size),
            Some(ByteRange::From { start, last }) => {
                let end = last.map_or(meta.size, |l| l.saturating_add(1).min(meta.size));
                if start >= meta.size || start >= end {
                    return Err(CoreError::RangeNotSatisfiable(meta.size));
                }
                (start, end)
            }
            Some(ByteRange::Suffix(length)) => {
                if length == 0 || meta.size == 0 {
                    return Err(CoreError::RangeNotSatisfiable(meta.size));
                }
                (meta.size.saturating_sub(length), meta.size)
            }
        };
        let record_key = self.data_key(&record).await?;
        let opened = match open_blob(storage, &record, &record_key, &meta).await {
            Err(CoreError::Blob(BlobError::Missing(object))) => {
                self.report_missing(&record, &meta, context).await;
                return Err(BlobError::Missing(object).into());
            }
            opened => opened?,
        };
        let mut event = self
            .audit
            .event(EventType::BlobRead, context)
            .target(record_target(&record))
            .fields(vec![field_name.to_owned()])
            .detail("range", format!("{start}-{}", end.saturating_sub(1)));
        if action == Action::RecordDecrypt {
            event = event.justification(ask.justification.unwrap_or_default().trim());
            if let Some(purpose) = ask.purpose {
                event = event.purpose(purpose);
            }
        }
        self.audit.record(&event).await?;
        let chunks = stream_plaintext(storage, &meta.object, opened, start, end, true).await?;
        Ok(BlobDownload { meta, range: (start, end), chunks })
    }
}

impl Records {
    /// Records `blob.missing` (critical; the `blob_missing` alert rule
    /// counts it): the row names an object storage no longer has, so the
    /// blob is lost unless restored from a backup of the store. A failure
    /// to record is logged, the caller gets `blob_missing` either way.
    async fn report_missing(&self, record: &StoredRecord, meta: &BlobMeta, context: &AuditContext) {
        tracing::error!(object = %meta.object, collection = %record.collection, record = %record.id, field = %meta.field,
            "a blob object is missing from storage: data loss");
        let event = self
            .audit
            .event(EventType::BlobMissing, context)
            .target(record_target(record))
            .fields(vec![meta.field.clone()])
            .detail("object", meta.object.as_str())
            .detail("sha256", meta.sha256.as_str());
        if let Err(error) = self.audit.record(&event).await {
            tracing::error!(%error, "could not record blob.missing");
        }
    }
}

/// A stream turned into a sealed object.
pub(super) struct SealedObject {
    /// Its name in storage.
    pub(super) object: String,
    /// Plaintext bytes.
    pub(super) size: u64,
    /// Stored bytes.
    pub(super) stored_size: u64,
    /// Hex SHA-256 of the plaintext.
    pub(super) sha256: String,
}

impl Records {
    /// Seals `body` into a new object for `field` of `record`: a new blob
    /// key sealed under `record_key` goes into the header, then the body
    /// segment by segment as it arrives (one segment in memory). Past
    /// `limit` bytes, or on any failure, the object is aborted: nothing is
    /// left in storage.
    pub(super) async fn seal_stream(
        &self,
        storage: &dyn BlobStorage,
        record: &StoredRecord,
        record_key: &SecretKey,
        field_name: &str,
        limit: u64,
        body: &mut dyn ByteSource,
    ) -> Result<SealedObject, CoreError> {
        let (record_header, _) = SealedHeader::parse(&record.wrapped_key)?;
        let blob_key = Zeroizing::new(random_bytes::<32>()?);
        let header =
            SealedHeader { key_name: super::service::DATA_KEY_NAME.into(), key_version: record_header.key_version };
        let wrapped = strongroom_crypto::seal(record_key, &header, &blob_key[..], &blob_context(record, field_name))?;
        let mut sealer = BlobSealer::new(&SecretKey::from_bytes(*blob_key), &wrapped, SEGMENT_SIZE)?;
        let object = format!(
            "{}/{}/{field_name}/{}",
            record.collection,
            record.id,
            strongroom_crypto::to_hex(&random_bytes::<12>()?)
        );
        let mut upload = storage.begin(&object).await?;
        let streamed = async {
            upload.write(sealer.header().encoded()).await?;
            let segment = SEGMENT_SIZE as usize;
            let mut pending: Vec<u8> = Vec::with_capacity(segment * 2);
            let mut size: u64 = 0;
            let mut digest = Sha256Stream::default();
            while let Some(chunk) =
                body.next_chunk().await.map_err(|e| CoreError::InvalidInput(format!("the upload broke off: {e}")))?
            {
                size += chunk.len() as u64;
                if size > limit {
                    return Err(CoreError::TooLarge(format!("{field_name:?} takes at most {limit} bytes")));
                }
                digest.update(&chunk);
                pending.extend_from_slice(&chunk);
                // Keep at least one byte back: only the end of the body says
                // which segment is the last.
                while pending.len() > segment {
                    let mut next: Vec<u8> = pending.drain(..segment).collect();
                    sealer.seal_segment(&mut next, false)?;
                    upload.write(&next).await?;
                }
            }
            sealer.seal_segment(&mut pending, true)?;
            upload.write(&pending).await?;
            Ok::<_, CoreError>((size, digest.finish()))
        }
        .await;
        let (size, digest) = match streamed {
            Ok(done) => done,
            Err(error) => {
                upload.abort().await;
                return Err(error);
            }
        };
        let stored_size = upload.finish().await?;
        Ok(SealedObject { object, size, stored_size, sha256: strongroom_crypto::to_hex(&digest) })
    }

    /// Re-encrypts a blob of `old` (whose data key is `old_key`) into a new
    /// object under a new blob key sealed by `new_key`, the data key of
    /// `new` (the same record, rekeyed); streamed, one segment at a time.
    /// The plaintext's hash must come out as stored. The old object stays
    /// until the caller has committed the new one.
    pub(super) async fn reencrypt_blob(
        &self,
        old: &StoredRecord,
        old_key: &SecretKey,
        new: &StoredRecord,
        new_key: &SecretKey,
        meta: &BlobMeta,
        context: &AuditContext,
    ) -> Result<BlobMeta, CoreError> {
        let storage = self.storage()?;
        let opened = match open_blob(storage, old, old_key, meta).await {
            // Lost, not late: retrying cannot bring it back, so the job
            // stops on it, named, with the loss on record.
            Err(CoreError::Blob(BlobError::Missing(_))) => {
                self.report_missing(old, meta, context).await;
                return Err(CoreError::InvalidKeyChange(format!(
                    "the {} blob of record {}/{} is missing from storage (blob.missing is in the audit log); \
                     restore the object from a backup of the store or clear the field, then resume the job",
                    meta.field, old.collection, old.id
                )));
            }
            opened => opened?,
        };
        let chunks = stream_plaintext(storage, &meta.object, opened, 0, meta.size, false).await?;
        let sealed = self.seal_stream(storage, new, new_key, &meta.field, u64::MAX, &mut ChannelSource(chunks)).await?;
        if sealed.sha256 != meta.sha256 || sealed.size != meta.size {
            let _ = storage.delete(&sealed.object).await;
            return Err(CoreError::Crypto(strongroom_crypto::CryptoError::Decrypt));
        }
        Ok(BlobMeta { object: sealed.object, stored_size: sealed.stored_size, ..meta.clone() })
    }
}

/// Decrypted pieces from [`stream_plaintext`] as a byte source.
struct ChannelSource(mpsc::Receiver<std::io::Result<Vec<u8>>>);

#[async_trait]
impl ByteSource for ChannelSource {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        self.0.recv().await.transpose()
    }
}

/// A stored blob ready to read: its opener and layout, checked against
/// what the row says of it.
struct OpenedBlob {
    opener: BlobOpener,
    layout: strongroom_crypto::BlobLayout,
}

/// Reads a blob's header and unseals its key with `record_key`.
async fn open_blob(
    storage: &dyn BlobStorage,
    record: &StoredRecord,
    record_key: &SecretKey,
    meta: &BlobMeta,
) -> Result<OpenedBlob, CoreError> {
    // The header: fixed part, then the wrapped key.
    let fixed =
        read_all(storage.read_range(&meta.object, 0, strongroom_crypto::FIXED_HEADER_LEN as u64).await?).await?;
    let header_len = BlobHeader::encoded_len(&fixed)? as u64;
    let encoded = read_all(storage.read_range(&meta.object, 0, header_len).await?).await?;
    let header = BlobHeader::parse(&encoded)?;
    let blob_key = strongroom_crypto::open(record_key, header.wrapped_dek(), &blob_context(record, &meta.field))?;
    let opener = BlobOpener::new(header, &SecretKey::from_slice(blob_key.expose())?);
    let layout = opener.layout(meta.stored_size)?;
    if layout.plaintext_len() != meta.size {
        return Err(CoreError::Crypto(strongroom_crypto::CryptoError::Decrypt));
    }
    Ok(OpenedBlob { opener, layout })
}

/// Plaintext bytes `start..end` of an opened blob, decrypted segment by
/// segment by a task as the receiver takes them (four pieces ahead at most);
/// only the segments holding the range are read. With `served` (a download,
/// not a re-encryption) the bytes handed on count in
/// `strongroom_blob_bytes_out_total`.
async fn stream_plaintext(
    storage: &dyn BlobStorage,
    object: &str,
    opened: OpenedBlob,
    start: u64,
    end: u64,
    served: bool,
) -> Result<mpsc::Receiver<std::io::Result<Vec<u8>>>, CoreError> {
    let OpenedBlob { opener, layout } = opened;
    let (sender, chunks) = mpsc::channel(4);
    let (first, last) = if end == 0 { (0, 0) } else { (layout.segment_of(start), layout.segment_of(end - 1)) };
    // segment_range is (offset, length) within the stored object.
    let cipher_start = layout.segment_range(first).0;
    let (last_offset, last_length) = layout.segment_range(last);
    let mut reader = storage.read_range(object, cipher_start, last_offset + last_length).await?;
    tokio::spawn(async move {
        for index in first..=last {
            let (_, length) = layout.segment_range(index);
            let mut segment = vec![0u8; usize::try_from(length).unwrap_or(0)];
            let outcome = match reader.read_exact(&mut segment).await {
                Ok(_) => opener
                    .open_segment(index, &mut segment, layout.is_last(index))
                    .map_err(|_| std::io::Error::other("the stored blob does not decrypt")),
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                let _ = sender.send(Err(error)).await;
                return;
            }
            let segment_start = layout.plaintext_start(index);
            let skip = usize::try_from(start.saturating_sub(segment_start)).unwrap_or(0);
            let keep = usize::try_from(end.min(segment_start + segment.len() as u64) - segment_start).unwrap_or(0);
            if skip < keep {
                if sender.send(Ok(segment[skip..keep].to_vec())).await.is_err() {
                    return;
                }
                if served {
                    metrics::counter!("strongroom_blob_bytes_out_total").increment((keep - skip) as u64);
                }
            }
        }
    });
    Ok(chunks)
}

async fn read_all(mut reader: BlobReader) -> Result<Vec<u8>, CoreError> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.map_err(|e| BlobError::from_io(e, None))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_match_exactly_or_by_major_type() {
        let audio = vec!["audio/*".to_owned(), "application/pdf".to_owned()];
        assert!(type_allowed("audio/mpeg", &audio));
        assert!(type_allowed("Audio/WAV; codecs=1", &audio));
        assert!(type_allowed("application/pdf", &audio));
        assert!(!type_allowed("text/html", &audio));
        assert!(!type_allowed("audiox/mpeg", &audio));
        assert!(type_allowed("anything/at-all", &[]));
    }

    #[test]
    fn a_full_disk_is_storage_full_and_a_vanished_file_is_a_missing_object() {
        let enospc = std::io::Error::from_raw_os_error(28);
        assert!(matches!(BlobError::from_io(enospc, Some("c/r/f/01")), BlobError::Full(_)));
        let edquot = std::io::Error::from_raw_os_error(122);
        assert!(matches!(BlobError::from_io(edquot, None), BlobError::Full(_)));
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(matches!(BlobError::from_io(gone, Some("c/r/f/01")), BlobError::Missing(name) if name == "c/r/f/01"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(BlobError::from_io(refused, None), BlobError::Unavailable(_)));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(matches!(BlobError::from_io(denied, None), BlobError::Failed(_)));
    }
}
