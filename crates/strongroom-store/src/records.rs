//! The [`RecordsStore`] implementation for both engines. Schemas, public
//! values and renditions are JSON text; encrypted fields a JSON object of
//! base64 `SR` values; the sealed data key a binary column.

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sqlx::Row;
use strongroom_core::StoreError;
use strongroom_core::audit::AuditRecord;
use strongroom_core::records::{
    BlobMeta, CollectionRecord, Cursor, IndexEntry, RecordsStore, RekeyedRecord, SealedTerms, StoredRecord,
    VersionCensus,
};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const RECORD_COLUMNS: &str = "collection, id, matter_id, public_fields, sealed_fields, renditions, wrapped_key, \
                              subject_index, created_at, updated_at, created_by, expires_at, legal_hold, \
                              access_count, last_accessed_at, revision";

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} does not parse").into())
}

fn sealed_text(sealed: &BTreeMap<String, Vec<u8>>) -> String {
    let encoded: BTreeMap<&str, String> = sealed.iter().map(|(k, v)| (k.as_str(), STANDARD.encode(v))).collect();
    serde_json::to_string(&encoded).unwrap_or_default()
}

fn parse_sealed(text: &str) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
    let encoded: BTreeMap<String, String> = serde_json::from_str(text).map_err(|_| corrupt("sealed fields"))?;
    encoded
        .into_iter()
        .map(|(k, v)| STANDARD.decode(v).map(|bytes| (k, bytes)).map_err(|_| corrupt("sealed fields")))
        .collect()
}

const BLOB_COLUMNS: &str = "collection, record_id, field, object, size, stored_size, content_type, sha256, created_at";

/// The derived columns of a record: its wrapping key and version (from the
/// sealed key's header) and how many sealed values it holds.
fn key_columns(record: &StoredRecord) -> Result<(String, i64, i64), StoreError> {
    let (name, version) = record.wrapping_key().ok_or_else(|| corrupt("sealed data key"))?;
    Ok((name, i64::from(version), record.sealed.len() as i64))
}

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| StoreError::Backend(e.into()))
}

fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| StoreError::Backend(e.into()))
}

macro_rules! impl_records_store {
    ($store:ident, $row:ty, $db:ty) => {
        impl $store {
            fn collection_from_row(row: &$row) -> Result<CollectionRecord, StoreError> {
                let schema: String = row.try_get("schema").map_err(map)?;
                Ok(CollectionRecord {
                    name: row.try_get("name").map_err(map)?,
                    schema: serde_json::from_str(&schema).map_err(|_| corrupt("collection schema"))?,
                    revision: row.try_get("revision").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    updated_at: row.try_get("updated_at").map_err(map)?,
                })
            }

            fn record_from_row(row: &$row) -> Result<StoredRecord, StoreError> {
                let public: String = row.try_get("public_fields").map_err(map)?;
                let sealed: String = row.try_get("sealed_fields").map_err(map)?;
                let renditions: String = row.try_get("renditions").map_err(map)?;
                Ok(StoredRecord {
                    collection: row.try_get("collection").map_err(map)?,
                    id: row.try_get("id").map_err(map)?,
                    matter_id: row.try_get("matter_id").map_err(map)?,
                    public: serde_json::from_str(&public).map_err(|_| corrupt("public fields"))?,
                    sealed: parse_sealed(&sealed)?,
                    renditions: serde_json::from_str(&renditions).map_err(|_| corrupt("renditions"))?,
                    wrapped_key: row.try_get("wrapped_key").map_err(map)?,
                    subject_index: row.try_get("subject_index").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    updated_at: row.try_get("updated_at").map_err(map)?,
                    created_by: row.try_get("created_by").map_err(map)?,
                    expires_at: row.try_get("expires_at").map_err(map)?,
                    legal_hold: row.try_get("legal_hold").map_err(map)?,
                    access_count: row.try_get("access_count").map_err(map)?,
                    last_accessed_at: row.try_get("last_accessed_at").map_err(map)?,
                    revision: row.try_get("revision").map_err(map)?,
                })
            }

            fn blob_from_row(row: &$row) -> Result<BlobMeta, StoreError> {
                Ok(BlobMeta {
                    collection: row.try_get("collection").map_err(map)?,
                    record_id: row.try_get("record_id").map_err(map)?,
                    field: row.try_get("field").map_err(map)?,
                    object: row.try_get("object").map_err(map)?,
                    size: to_u64(row.try_get("size").map_err(map)?)?,
                    stored_size: to_u64(row.try_get("stored_size").map_err(map)?)?,
                    content_type: row.try_get("content_type").map_err(map)?,
                    sha256: row.try_get("sha256").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                })
            }

            async fn insert_blob(tx: &mut sqlx::Transaction<'static, $db>, blob: &BlobMeta) -> Result<(), StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO record_blobs ({BLOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                )))
                .bind(&blob.collection)
                .bind(&blob.record_id)
                .bind(&blob.field)
                .bind(&blob.object)
                .bind(to_i64(blob.size)?)
                .bind(to_i64(blob.stored_size)?)
                .bind(&blob.content_type)
                .bind(&blob.sha256)
                .bind(blob.created_at)
                .execute(&mut **tx)
                .await
                .map_err(map)?;
                Ok(())
            }

            /// Fills the derived key columns of records stored before they
            /// existed (migration 10), a page at a time.
            pub(crate) async fn label_records(&self) -> Result<u64, StoreError> {
                let mut labelled = 0;
                loop {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {RECORD_COLUMNS} FROM records WHERE key_name IS NULL LIMIT 500"
                    )))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map)?;
                    if rows.is_empty() {
                        return Ok(labelled);
                    }
                    let mut tx = self.begin_write().await?;
                    for row in &rows {
                        let record = Self::record_from_row(row)?;
                        let (key_name, key_version, sealed_count) = key_columns(&record)?;
                        sqlx::query(
                            "UPDATE records SET key_name = $1, key_version = $2, sealed_count = $3 \
                             WHERE collection = $4 AND id = $5",
                        )
                        .bind(key_name)
                        .bind(key_version)
                        .bind(sealed_count)
                        .bind(&record.collection)
                        .bind(&record.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                        labelled += 1;
                    }
                    tx.commit().await.map_err(map)?;
                }
            }

            async fn write_index(
                tx: &mut sqlx::Transaction<'static, $db>,
                collection: &str,
                record_id: &str,
                index: &[IndexEntry],
            ) -> Result<(), StoreError> {
                for entry in index {
                    sqlx::query(
                        "INSERT INTO record_index (collection, field, digest, record_id) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(collection)
                    .bind(&entry.field)
                    .bind(&entry.digest)
                    .bind(record_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(map)?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl RecordsStore for $store {
            async fn create_collection(
                &self,
                collection: &CollectionRecord,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let schema = serde_json::to_string(&collection.schema).map_err(|e| StoreError::Backend(e.into()))?;
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO collections (name, schema, revision, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
                )
                .bind(&collection.name)
                .bind(schema)
                .bind(collection.revision)
                .bind(collection.created_at)
                .bind(collection.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, inserted, audit).await
            }

            async fn collection(&self, name: &str) -> Result<Option<CollectionRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT name, schema, revision, created_at, updated_at FROM collections WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::collection_from_row).transpose()
            }

            async fn list_collections(&self) -> Result<Vec<CollectionRecord>, StoreError> {
                let rows =
                    sqlx::query("SELECT name, schema, revision, created_at, updated_at FROM collections ORDER BY name")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                rows.iter().map(Self::collection_from_row).collect()
            }

            async fn update_collection(
                &self,
                collection: &CollectionRecord,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let schema = serde_json::to_string(&collection.schema).map_err(|e| StoreError::Backend(e.into()))?;
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE collections SET schema = $1, revision = $2, updated_at = $3 \
                     WHERE name = $4 AND revision = $5",
                )
                .bind(schema)
                .bind(collection.revision)
                .bind(collection.updated_at)
                .bind(&collection.name)
                .bind(collection.revision - 1)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, updated, audit).await
            }

            async fn insert_record(
                &self,
                record: &StoredRecord,
                index: &[IndexEntry],
                audit: &[AuditRecord],
            ) -> Result<(), StoreError> {
                let public = serde_json::to_string(&record.public).map_err(|e| StoreError::Backend(e.into()))?;
                let renditions =
                    serde_json::to_string(&record.renditions).map_err(|e| StoreError::Backend(e.into()))?;
                let (key_name, key_version, sealed_count) = key_columns(record)?;
                let mut tx = self.begin_write().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO records ({RECORD_COLUMNS}, key_name, key_version, sealed_count) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                )))
                .bind(&record.collection)
                .bind(&record.id)
                .bind(&record.matter_id)
                .bind(public)
                .bind(sealed_text(&record.sealed))
                .bind(renditions)
                .bind(&record.wrapped_key)
                .bind(&record.subject_index)
                .bind(record.created_at)
                .bind(record.updated_at)
                .bind(&record.created_by)
                .bind(record.expires_at)
                .bind(record.legal_hold)
                .bind(record.access_count)
                .bind(record.last_accessed_at)
                .bind(record.revision)
                .bind(key_name)
                .bind(key_version)
                .bind(sealed_count)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::write_index(&mut tx, &record.collection, &record.id, index).await?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn record(&self, collection: &str, id: &str) -> Result<Option<StoredRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE collection = $1 AND id = $2"
                )))
                .bind(collection)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::record_from_row).transpose()
            }

            async fn list_records(
                &self,
                collection: &str,
                matters: Option<&[String]>,
                cursor: Option<&Cursor>,
                limit: u32,
            ) -> Result<Vec<StoredRecord>, StoreError> {
                if matters.is_some_and(<[String]>::is_empty) {
                    return Ok(Vec::new());
                }
                let mut sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE collection = $1");
                let mut next = 2;
                if let Some(matters) = matters {
                    let placeholders: Vec<String> = (0..matters.len()).map(|i| format!("${}", next + i)).collect();
                    sql.push_str(&format!(" AND matter_id IN ({})", placeholders.join(", ")));
                    next += matters.len();
                }
                if cursor.is_some() {
                    sql.push_str(&format!(
                        " AND (created_at > ${a} OR (created_at = ${a} AND id > ${b}))",
                        a = next,
                        b = next + 1
                    ));
                    next += 2;
                }
                sql.push_str(&format!(" ORDER BY created_at, id LIMIT ${next}"));
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(collection);
                for matter in matters.unwrap_or_default() {
                    query = query.bind(matter);
                }
                if let Some((at, id)) = cursor {
                    query = query.bind(*at).bind(id);
                }
                let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await.map_err(map)?;
                rows.iter().map(Self::record_from_row).collect()
            }

            async fn find_indexed(
                &self,
                collection: &str,
                field: &str,
                digest: &str,
            ) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query(
                    "SELECT record_id FROM record_index WHERE collection = $1 AND field = $2 AND digest = $3 \
                     ORDER BY record_id LIMIT 1000",
                )
                .bind(collection)
                .bind(field)
                .bind(digest)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(|row| row.try_get("record_id").map_err(map)).collect()
            }

            async fn update_record(
                &self,
                record: &StoredRecord,
                index_fields: &[String],
                index: &[IndexEntry],
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let public = serde_json::to_string(&record.public).map_err(|e| StoreError::Backend(e.into()))?;
                let renditions =
                    serde_json::to_string(&record.renditions).map_err(|e| StoreError::Backend(e.into()))?;
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE records SET public_fields = $1, sealed_fields = $2, renditions = $3, updated_at = $4, \
                     revision = $5, expires_at = $6, legal_hold = $7, sealed_count = $8 \
                     WHERE collection = $9 AND id = $10 AND revision = $11",
                )
                .bind(public)
                .bind(sealed_text(&record.sealed))
                .bind(renditions)
                .bind(record.updated_at)
                .bind(record.revision)
                .bind(record.expires_at)
                .bind(record.legal_hold)
                .bind(record.sealed.len() as i64)
                .bind(&record.collection)
                .bind(&record.id)
                .bind(record.revision - 1)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                if updated {
                    for field in index_fields {
                        sqlx::query("DELETE FROM record_index WHERE collection = $1 AND record_id = $2 AND field = $3")
                            .bind(&record.collection)
                            .bind(&record.id)
                            .bind(field)
                            .execute(&mut *tx)
                            .await
                            .map_err(map)?;
                    }
                    Self::write_index(&mut tx, &record.collection, &record.id, index).await?;
                }
                Self::commit_audited(tx, updated, audit).await
            }

            async fn delete_record(
                &self,
                collection: &str,
                id: &str,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM record_index WHERE collection = $1 AND record_id = $2")
                    .bind(collection)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                let deleted = sqlx::query("DELETE FROM records WHERE collection = $1 AND id = $2")
                    .bind(collection)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?
                    .rows_affected()
                    == 1;
                Self::commit_audited(tx, deleted, audit).await
            }

            async fn set_hold(
                &self,
                collection: &str,
                id: &str,
                hold: bool,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let changed = sqlx::query(
                    "UPDATE records SET legal_hold = $1, revision = revision + 1 \
                     WHERE collection = $2 AND id = $3 AND legal_hold = $4",
                )
                .bind(hold)
                .bind(collection)
                .bind(id)
                .bind(!hold)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, changed, audit).await
            }

            async fn expired(&self, now: i64, limit: u32) -> Result<(Vec<(String, String)>, i64), StoreError> {
                let rows = sqlx::query(
                    "SELECT collection, id FROM records WHERE expires_at <= $1 AND legal_hold = $2 \
                     ORDER BY expires_at, collection, id LIMIT $3",
                )
                .bind(now)
                .bind(false)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                let due = rows
                    .iter()
                    .map(|row| Ok((row.try_get("collection").map_err(map)?, row.try_get("id").map_err(map)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let held: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM records WHERE expires_at <= $1 AND legal_hold = $2")
                        .bind(now)
                        .bind(true)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(map)?
                        .try_get("n")
                        .map_err(map)?;
                Ok((due, held))
            }

            async fn shred(
                &self,
                records: &[(String, String)],
                expired_at: Option<i64>,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut deleted = 0;
                for (collection, id) in records {
                    sqlx::query("DELETE FROM record_index WHERE collection = $1 AND record_id = $2")
                        .bind(collection)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    deleted += sqlx::query(
                        "DELETE FROM records WHERE collection = $1 AND id = $2 AND legal_hold = $3 \
                         AND ($4 IS NULL OR expires_at <= $4)",
                    )
                    .bind(collection)
                    .bind(id)
                    .bind(false)
                    .bind(expired_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?
                    .rows_affected();
                }
                let complete = deleted == records.len() as u64;
                Self::commit_audited(tx, complete, audit).await
            }

            async fn records_of_subject(&self, digest: &str) -> Result<Vec<StoredRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE subject_index = $1 ORDER BY collection, created_at, id"
                )))
                .bind(digest)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::record_from_row).collect()
            }

            async fn put_blob(
                &self,
                blob: &BlobMeta,
                revision: i64,
                audit: &[AuditRecord],
            ) -> Result<Option<String>, StoreError> {
                let mut tx = self.begin_write().await?;
                let current = sqlx::query(
                    "UPDATE records SET revision = revision + 1 WHERE collection = $1 AND id = $2 AND revision = $3",
                )
                .bind(&blob.collection)
                .bind(&blob.record_id)
                .bind(revision)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                if !current {
                    tx.rollback().await.map_err(map)?;
                    return Err(StoreError::Conflict("the record changed during the upload; upload again".into()));
                }
                let previous: Option<String> = sqlx::query(
                    "SELECT object FROM record_blobs WHERE collection = $1 AND record_id = $2 AND field = $3",
                )
                .bind(&blob.collection)
                .bind(&blob.record_id)
                .bind(&blob.field)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map)?
                .map(|row| row.try_get("object"))
                .transpose()
                .map_err(map)?;
                sqlx::query("DELETE FROM record_blobs WHERE collection = $1 AND record_id = $2 AND field = $3")
                    .bind(&blob.collection)
                    .bind(&blob.record_id)
                    .bind(&blob.field)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                Self::insert_blob(&mut tx, blob).await?;
                Self::commit_audited(tx, true, audit).await?;
                Ok(previous)
            }

            async fn blob(&self, collection: &str, id: &str, field: &str) -> Result<Option<BlobMeta>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {BLOB_COLUMNS} FROM record_blobs WHERE collection = $1 AND record_id = $2 AND field = $3"
                )))
                .bind(collection)
                .bind(id)
                .bind(field)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::blob_from_row).transpose()
            }

            async fn record_blobs(&self, collection: &str, id: &str) -> Result<Vec<BlobMeta>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {BLOB_COLUMNS} FROM record_blobs WHERE collection = $1 AND record_id = $2 ORDER BY field"
                )))
                .bind(collection)
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::blob_from_row).collect()
            }

            async fn key_census(&self, key_name: &str) -> Result<Vec<VersionCensus>, StoreError> {
                let rows = sqlx::query(
                    "SELECT r.key_version AS version, COUNT(*) AS data_keys, \
                     CAST(COALESCE(SUM(r.sealed_count), 0) + COALESCE(SUM((SELECT COUNT(*) FROM record_blobs b \
                       WHERE b.collection = r.collection AND b.record_id = r.id)), 0) AS BIGINT) AS ciphertexts \
                     FROM records r WHERE r.key_name = $1 GROUP BY r.key_version ORDER BY r.key_version",
                )
                .bind(key_name)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|row| {
                        Ok(VersionCensus {
                            version: u32::try_from(row.try_get::<i64, _>("version").map_err(map)?)
                                .map_err(|e| StoreError::Backend(e.into()))?,
                            data_keys: to_u64(row.try_get("data_keys").map_err(map)?)?,
                            ciphertexts: to_u64(row.try_get("ciphertexts").map_err(map)?)?,
                        })
                    })
                    .collect()
            }

            async fn records_under_key(
                &self,
                key_name: &str,
                below_version: Option<u32>,
                limit: u32,
            ) -> Result<Vec<StoredRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE key_name = $1 AND key_version < $2 \
                     ORDER BY collection, id LIMIT $3"
                )))
                .bind(key_name)
                .bind(below_version.map_or(i64::MAX, i64::from))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::record_from_row).collect()
            }

            async fn rekey_records(&self, batch: &[RekeyedRecord], audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut applied = 0;
                for RekeyedRecord { record, blobs } in batch {
                    let (key_name, key_version, sealed_count) = key_columns(record)?;
                    applied += sqlx::query(
                        "UPDATE records SET sealed_fields = $1, wrapped_key = $2, key_name = $3, key_version = $4, \
                         sealed_count = $5, revision = $6 WHERE collection = $7 AND id = $8 AND revision = $9",
                    )
                    .bind(sealed_text(&record.sealed))
                    .bind(&record.wrapped_key)
                    .bind(key_name)
                    .bind(key_version)
                    .bind(sealed_count)
                    .bind(record.revision)
                    .bind(&record.collection)
                    .bind(&record.id)
                    .bind(record.revision - 1)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?
                    .rows_affected();
                    for blob in blobs {
                        sqlx::query(
                            "DELETE FROM record_blobs WHERE collection = $1 AND record_id = $2 AND field = $3",
                        )
                        .bind(&blob.collection)
                        .bind(&blob.record_id)
                        .bind(&blob.field)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                        Self::insert_blob(&mut tx, blob).await?;
                    }
                }
                Self::commit_audited(tx, applied == batch.len() as u64, audit).await
            }

            async fn blob_objects(&self, records: &[(String, String)]) -> Result<Vec<String>, StoreError> {
                let mut objects = Vec::new();
                for (collection, id) in records {
                    let rows = sqlx::query("SELECT object FROM record_blobs WHERE collection = $1 AND record_id = $2")
                        .bind(collection)
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                    for row in rows {
                        objects.push(row.try_get("object").map_err(map)?);
                    }
                }
                Ok(objects)
            }

            async fn redaction_terms(&self, matter: &str) -> Result<Option<SealedTerms>, StoreError> {
                let row = sqlx::query(
                    "SELECT matter_id, sealed, revision, updated_at, updated_by FROM redaction_terms WHERE matter_id = $1",
                )
                .bind(matter)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.map(|row| {
                    Ok(SealedTerms {
                        matter_id: row.try_get("matter_id").map_err(map)?,
                        sealed: row.try_get("sealed").map_err(map)?,
                        revision: row.try_get("revision").map_err(map)?,
                        updated_at: row.try_get("updated_at").map_err(map)?,
                        updated_by: row.try_get("updated_by").map_err(map)?,
                    })
                })
                .transpose()
            }

            async fn put_redaction_terms(&self, terms: &SealedTerms, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let query = if terms.revision == 1 {
                    "INSERT INTO redaction_terms (sealed, revision, updated_at, updated_by, matter_id) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (matter_id) DO NOTHING"
                } else {
                    "UPDATE redaction_terms SET sealed = $1, revision = $2, updated_at = $3, updated_by = $4 \
                     WHERE matter_id = $5 AND revision = $6"
                };
                let mut statement = sqlx::query(query)
                    .bind(&terms.sealed)
                    .bind(terms.revision)
                    .bind(terms.updated_at)
                    .bind(&terms.updated_by)
                    .bind(&terms.matter_id);
                if terms.revision != 1 {
                    statement = statement.bind(terms.revision - 1);
                }
                let stored = statement.execute(&mut *tx).await.map_err(map)?.rows_affected() == 1;
                Self::commit_audited(tx, stored, audit).await
            }

            async fn count_access(&self, collection: &str, id: &str, at: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE records SET access_count = access_count + 1, last_accessed_at = $1 \
                     WHERE collection = $2 AND id = $3",
                )
                .bind(at)
                .bind(collection)
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(map)?;
                Ok(())
            }
        }
    };
}

impl_records_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::Sqlite);
impl_records_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::Postgres);
