//! Which keyring key wraps a matter's data keys, what each key version still
//! protects, and the batches the key jobs (`crate::jobs`) run over records.
//!
//! Generations: a matter's data keys are wrapped by `matter.<id>`. When that
//! key is marked compromised, new records and the re-encryption job use
//! `matter.<id>.r2` (then `.r3`, …); matter ids ending in `.r<digits>` are
//! refused, so these names never belong to another matter. A record's
//! sealed data key names its wrapping key in its header; a record is only
//! opened with a key that is a generation of its own matter.
//!
//! Batches are all or nothing: each commits its records with one audit event,
//! and only if none of them changed since it was read (otherwise it is read
//! again). A batch never leaves a record half moved: a rewrap only replaces
//! the sealed data key; a re-encryption replaces the data key, every sealed
//! value and every blob (into new objects, the old ones deleted after the
//! commit) in one row update.

use std::collections::BTreeMap;

use strongroom_crypto::{SealedHeader, SecretKey, random_bytes};
use zeroize::Zeroizing;

use super::model::{RekeyedRecord, StoredRecord, VersionCensus};
use super::service::{DATA_KEY_NAME, Records, record_context, server_key};
use crate::audit::{AuditContext, EventType, Target};
use crate::matter_keys::matter_key_name;
use crate::{CoreError, KeyPurpose, KeyState};

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batch {
    /// Nothing was left to move.
    Empty,
    /// These many records moved.
    Moved(usize),
    /// A record changed while the batch ran: nothing moved; read it again.
    Conflict,
}

impl Records {
    /// The key new data keys of `matter` are wrapped by: its first
    /// generation that is neither compromised nor destroyed, created here on
    /// first use (by whoever comes first, the job or a new record).
    pub(super) async fn current_matter_key(&self, matter: &str, context: &AuditContext) -> Result<String, CoreError> {
        for generation in 1..=1000 {
            let name = matter_key_name(matter, generation);
            match self.keyring.info(&name).await {
                Ok(info) if matches!(info.state, KeyState::Compromised | KeyState::Destroyed) => continue,
                Ok(_) => return Ok(name),
                Err(CoreError::KeyNotFound(_)) => {
                    self.keyring.ensure(&name, server_key(KeyPurpose::MatterData), context).await?;
                    return Ok(name);
                }
                Err(error) => return Err(error),
            }
        }
        Err(CoreError::InvalidKeyChange(format!("matter {matter:?} has no usable key generation left")))
    }

    /// Per version of `key_name`: how many records' data keys it wraps and
    /// how many sealed values and blobs those protect. Empty for keys that
    /// wrap no record data (transit ciphertexts live in the applications).
    pub async fn census(&self, key_name: &str) -> Result<Vec<VersionCensus>, CoreError> {
        Ok(self.store.key_census(key_name).await?)
    }

    /// Moves up to `limit` data keys wrapped by `key_name` below version
    /// `below` to its latest version, without touching the data they
    /// protect; one transaction with a `key.rewrap` event for job `job`.
    pub(crate) async fn rewrap_batch(
        &self,
        job: &str,
        key_name: &str,
        below: u32,
        limit: u32,
        context: &AuditContext,
    ) -> Result<Batch, CoreError> {
        let records = self.store.records_under_key(key_name, Some(below), limit).await?;
        if records.is_empty() {
            return Ok(Batch::Empty);
        }
        let key = self.keyring.use_key(KeyPurpose::MatterData, key_name).await?;
        let mut batch = Vec::with_capacity(records.len());
        for mut record in records {
            let context = record_context(&record.collection, &record.id, "");
            record.wrapped_key = key.rewrap(&record.wrapped_key, &context).await.map_err(|e| at_record(&record, e))?;
            record.revision += 1;
            batch.push(RekeyedRecord { record, blobs: Vec::new() });
        }
        let event = self
            .audit
            .event(EventType::KeyRewrap, context)
            .target(Target::new("key", key_name))
            .detail("job", job)
            .detail("records", batch.len() as i64)
            .detail("to_version", key.info().latest_version);
        if self.store.rekey_records(&batch, &[self.audit.seal(&event)?]).await? {
            Ok(Batch::Moved(batch.len()))
        } else {
            Ok(Batch::Conflict)
        }
    }

    /// Re-encrypts up to `limit` records whose data keys `key_name` wraps
    /// under new data keys wrapped by `successor`: every sealed value is
    /// sealed again and every blob re-encrypted into a new object. One
    /// transaction with a `key.reencrypt` event for job `job`; the old blob
    /// objects are deleted after it commits, the new ones if it does not.
    pub(crate) async fn reencrypt_batch(
        &self,
        job: &str,
        key_name: &str,
        successor: &str,
        limit: u32,
        context: &AuditContext,
    ) -> Result<Batch, CoreError> {
        let records = self.store.records_under_key(key_name, None, limit).await?;
        if records.is_empty() {
            return Ok(Batch::Empty);
        }
        self.keyring.ensure(successor, server_key(KeyPurpose::MatterData), context).await?;
        let fresh = self.keyring.use_key(KeyPurpose::MatterData, successor).await?;
        let mut batch = Vec::with_capacity(records.len());
        let mut old_objects = Vec::new();
        let mut new_objects = Vec::new();
        let mut blob_count = 0;
        let prepared = async {
            for old in records {
                let old_key = self.data_key(&old).await.map_err(|e| at_record(&old, e))?;
                let data_key = Zeroizing::new(random_bytes::<32>()?);
                let new_key = SecretKey::from_bytes(*data_key);
                let mut record = old.clone();
                record.wrapped_key =
                    fresh.encrypt(&data_key[..], &record_context(&record.collection, &record.id, "")).await?;
                record.sealed =
                    reseal(&old, &old_key, &new_key, fresh.info().latest_version).map_err(|e| at_record(&old, e))?;
                record.revision += 1;
                let mut blobs = Vec::new();
                for meta in self.store.record_blobs(&old.collection, &old.id).await? {
                    let moved = self.reencrypt_blob(&old, &old_key, &record, &new_key, &meta, context).await?;
                    old_objects.push(meta.object);
                    new_objects.push(moved.object.clone());
                    blobs.push(moved);
                }
                blob_count += blobs.len();
                batch.push(RekeyedRecord { record, blobs });
            }
            Ok::<_, CoreError>(())
        }
        .await;
        let committed = match prepared {
            Ok(()) => {
                let event = self
                    .audit
                    .event(EventType::KeyReencrypt, context)
                    .target(Target::new("key", key_name))
                    .detail("job", job)
                    .detail("to_key", successor)
                    .detail("records", batch.len() as i64)
                    .detail("blobs", blob_count as i64);
                match self.audit.seal(&event) {
                    Ok(sealed) => self.store.rekey_records(&batch, &[sealed]).await.map_err(CoreError::from),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        };
        let (garbage, outcome) = match committed {
            Ok(true) => (old_objects, Ok(Batch::Moved(batch.len()))),
            Ok(false) => (new_objects, Ok(Batch::Conflict)),
            Err(error) => (new_objects, Err(error)),
        };
        self.delete_objects(garbage).await;
        outcome
    }
}

/// A decryption failure named after the record it happened on, so a job
/// that stops on it tells the operator where to look; other errors (the
/// database, the audit log) keep their kind, so the job retries them.
fn at_record(record: &StoredRecord, error: CoreError) -> CoreError {
    match error {
        CoreError::Crypto(_) => CoreError::InvalidKeyChange(format!(
            "record {}/{} does not decrypt with its data key; it was left where it is",
            record.collection, record.id
        )),
        other => other,
    }
}

/// Every sealed value of `record` opened with `old_key` and sealed again
/// under `new_key`, with the same context.
fn reseal(
    record: &StoredRecord,
    old_key: &SecretKey,
    new_key: &SecretKey,
    version: u32,
) -> Result<BTreeMap<String, Vec<u8>>, CoreError> {
    let header = SealedHeader { key_name: DATA_KEY_NAME.into(), key_version: version };
    record
        .sealed
        .iter()
        .map(|(name, sealed)| {
            let context = record_context(&record.collection, &record.id, name);
            let plaintext = strongroom_crypto::open(old_key, sealed, &context)?;
            Ok((name.clone(), strongroom_crypto::seal(new_key, &header, plaintext.expose(), &context)?))
        })
        .collect()
}
