//! The [`KeyStore`] implementation, stamped out for both engines from one
//! body as in `settings.rs`. Versions are `BIGINT`s in the database and `u32`
//! in the domain; a stored value outside `u32` is reported as corruption.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::audit::AuditRecord;
use strongroom_core::{KeyStore, StoreError, StoredKey, StoredKeyVersion};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const KEY_COLUMNS: &str = "name, purpose, algorithm, state, latest_version, min_decryption_version, \
                           rotation_period_seconds, deletion_allowed, created_at, updated_at";

fn version(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Backend(format!("stored key version {value} out of range").into()))
}

macro_rules! impl_key_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn key_from_row(row: &$row) -> Result<StoredKey, StoreError> {
                Ok(StoredKey {
                    name: row.try_get("name").map_err(map)?,
                    purpose: row.try_get("purpose").map_err(map)?,
                    algorithm: row.try_get("algorithm").map_err(map)?,
                    state: row.try_get("state").map_err(map)?,
                    latest_version: version(row.try_get("latest_version").map_err(map)?)?,
                    min_decryption_version: version(row.try_get("min_decryption_version").map_err(map)?)?,
                    rotation_period_seconds: row.try_get("rotation_period_seconds").map_err(map)?,
                    deletion_allowed: row.try_get("deletion_allowed").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    updated_at: row.try_get("updated_at").map_err(map)?,
                })
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn insert_keys(
                &self,
                keys: &[(StoredKey, Vec<StoredKeyVersion>)],
                audit: &[AuditRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                for (key, versions) in keys {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    )))
                    .bind(&key.name)
                    .bind(&key.purpose)
                    .bind(&key.algorithm)
                    .bind(&key.state)
                    .bind(i64::from(key.latest_version))
                    .bind(i64::from(key.min_decryption_version))
                    .bind(key.rotation_period_seconds)
                    .bind(key.deletion_allowed)
                    .bind(key.created_at)
                    .bind(key.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                    for version in versions {
                        sqlx::query(
                            "INSERT INTO key_versions (key_name, version, wrapped_material, created_at) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&key.name)
                        .bind(i64::from(version.version))
                        .bind(&version.wrapped_material)
                        .bind(version.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    }
                }
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn key(&self, name: &str) -> Result<Option<StoredKey>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM keys WHERE name = $1")))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.as_ref().map(Self::key_from_row).transpose()
            }

            async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY name")))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map)?;
                rows.iter().map(Self::key_from_row).collect()
            }

            async fn key_version(&self, name: &str, number: u32) -> Result<Option<StoredKeyVersion>, StoreError> {
                let row = sqlx::query(
                    "SELECT version, wrapped_material, created_at FROM key_versions WHERE key_name = $1 AND version = $2",
                )
                .bind(name)
                .bind(i64::from(number))
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.map(|row| {
                    Ok(StoredKeyVersion {
                        version: version(row.try_get("version").map_err(map)?)?,
                        wrapped_material: row.try_get("wrapped_material").map_err(map)?,
                        created_at: row.try_get("created_at").map_err(map)?,
                    })
                })
                .transpose()
            }

            async fn current_version_times(&self) -> Result<Vec<(String, i64)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT k.name, v.created_at FROM keys k \
                     JOIN key_versions v ON v.key_name = k.name AND v.version = k.latest_version",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|row| Ok((row.try_get(0).map_err(map)?, row.try_get(1).map_err(map)?)))
                    .collect()
            }

            async fn key_version_times(&self, name: &str) -> Result<Vec<(u32, i64)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT version, created_at FROM key_versions WHERE key_name = $1 ORDER BY version",
                )
                .bind(name)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|row| Ok((version(row.try_get("version").map_err(map)?)?, row.try_get("created_at").map_err(map)?)))
                    .collect()
            }

            async fn append_key_version(
                &self,
                name: &str,
                expected_latest: u32,
                new: &StoredKeyVersion,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                // Claim the bump first: the row lock (PostgreSQL) or the write
                // lock (SQLite) makes a concurrent rotation wait, then miss.
                let claimed = sqlx::query(
                    "UPDATE keys SET latest_version = $1, updated_at = $2 WHERE name = $3 AND latest_version = $4",
                )
                .bind(i64::from(new.version))
                .bind(new.created_at)
                .bind(name)
                .bind(i64::from(expected_latest))
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                if claimed.rows_affected() == 0 {
                    return Self::commit_audited(tx, false, audit).await;
                }
                sqlx::query(
                    "INSERT INTO key_versions (key_name, version, wrapped_material, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(name)
                .bind(i64::from(new.version))
                .bind(&new.wrapped_material)
                .bind(new.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await
            }

            async fn update_key(&self, key: &StoredKey, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE keys SET state = $1, min_decryption_version = $2, rotation_period_seconds = $3, \
                     deletion_allowed = $4, updated_at = $5 WHERE name = $6",
                )
                .bind(&key.state)
                .bind(i64::from(key.min_decryption_version))
                .bind(key.rotation_period_seconds)
                .bind(key.deletion_allowed)
                .bind(key.updated_at)
                .bind(&key.name)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, updated.rows_affected() == 1, audit).await
            }

            async fn destroy_key_material(
                &self,
                name: &str,
                updated_at: i64,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query("UPDATE keys SET state = 'destroyed', updated_at = $1 WHERE name = $2")
                    .bind(updated_at)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                if updated.rows_affected() == 0 {
                    return Self::commit_audited(tx, false, audit).await;
                }
                sqlx::query("UPDATE key_versions SET wrapped_material = $1 WHERE key_name = $2")
                    .bind(Vec::<u8>::new())
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                Self::commit_audited(tx, true, audit).await
            }

            async fn delete_key(&self, name: &str, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM key_versions WHERE key_name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                let deleted =
                    sqlx::query("DELETE FROM keys WHERE name = $1").bind(name).execute(&mut *tx).await.map_err(map)?;
                Self::commit_audited(tx, deleted.rows_affected() == 1, audit).await
            }
        }
    };
}

impl_key_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_key_store!(PostgresStore, sqlx::postgres::PgRow);
