//! The [`PasskeyStore`] implementation for both engines: passkeys and the
//! ceremonies in progress (migration 0021). A ceremony is taken with
//! `DELETE … RETURNING`, so of two requests with one response only one gets it.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::StoreError;
use strongroom_core::audit::AuditRecord;
use strongroom_core::identity::{PasskeyCeremony, PasskeyRecord, PasskeyStore};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const PASSKEY_COLUMNS: &str =
    "credential_id, user_id, user_handle, name, static_state, dynamic_state, created_at, last_used_at";

macro_rules! impl_passkey_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn passkey_from_row(row: &$row) -> Result<PasskeyRecord, StoreError> {
                Ok(PasskeyRecord {
                    credential_id: row.try_get("credential_id").map_err(map)?,
                    user_id: row.try_get("user_id").map_err(map)?,
                    user_handle: row.try_get("user_handle").map_err(map)?,
                    name: row.try_get("name").map_err(map)?,
                    static_state: row.try_get("static_state").map_err(map)?,
                    dynamic_state: row.try_get("dynamic_state").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    last_used_at: row.try_get("last_used_at").map_err(map)?,
                })
            }
        }

        #[async_trait]
        impl PasskeyStore for $store {
            async fn insert_passkey_ceremony(&self, ceremony: &PasskeyCeremony, now: i64) -> Result<(), StoreError> {
                let mut tx = self.writer.begin().await.map_err(map)?;
                sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                sqlx::query(
                    "INSERT INTO passkey_ceremonies (challenge, user_id, state, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&ceremony.challenge)
                .bind(&ceremony.user_id)
                .bind(&ceremony.state)
                .bind(ceremony.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                tx.commit().await.map_err(map)
            }

            async fn take_passkey_ceremony(&self, challenge: &[u8]) -> Result<Option<PasskeyCeremony>, StoreError> {
                let row = sqlx::query(
                    "DELETE FROM passkey_ceremonies WHERE challenge = $1 RETURNING challenge, user_id, state, expires_at",
                )
                .bind(challenge)
                .fetch_optional(&self.writer)
                .await
                .map_err(map)?;
                row.map(|row| {
                    Ok(PasskeyCeremony {
                        challenge: row.try_get("challenge").map_err(map)?,
                        user_id: row.try_get("user_id").map_err(map)?,
                        state: row.try_get("state").map_err(map)?,
                        expires_at: row.try_get("expires_at").map_err(map)?,
                    })
                })
                .transpose()
            }

            async fn insert_passkey(&self, passkey: &PasskeyRecord, audit: &[AuditRecord]) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                )))
                .bind(&passkey.credential_id)
                .bind(&passkey.user_id)
                .bind(&passkey.user_handle)
                .bind(&passkey.name)
                .bind(&passkey.static_state)
                .bind(&passkey.dynamic_state)
                .bind(passkey.created_at)
                .bind(passkey.last_used_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id"
                )))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::passkey_from_row).collect()
            }

            async fn passkey(&self, credential_id: &[u8]) -> Result<Option<PasskeyRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"
                )))
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::passkey_from_row).transpose()
            }

            async fn use_passkey(&self, credential_id: &[u8], dynamic_state: &[u8], at: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE passkeys SET dynamic_state = $1, last_used_at = $2 WHERE credential_id = $3")
                    .bind(dynamic_state)
                    .bind(at)
                    .bind(credential_id)
                    .execute(&self.writer)
                    .await
                    .map_err(map)?;
                Ok(())
            }

            async fn delete_passkey(
                &self,
                user_id: &str,
                credential_id: &[u8],
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
                    .bind(user_id)
                    .bind(credential_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?
                    .rows_affected();
                if deleted == 0 {
                    return Ok(false);
                }
                Self::commit_audited(tx, true, audit).await.map(|_| true)
            }
        }
    };
}

impl_passkey_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_passkey_store!(PostgresStore, sqlx::postgres::PgRow);
