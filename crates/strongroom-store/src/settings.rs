//! The [`Store`] implementation (health, change generation, instance
//! settings), written once for both engines: the SQL is portable (`$n`
//! placeholders, `ON CONFLICT DO NOTHING`), only the pool type differs, so a
//! macro stamps out one impl per engine.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::{Backend, Store, StoreError};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

macro_rules! impl_store {
    ($store:ident, $backend:expr) => {
        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map)?;
                Ok(())
            }

            async fn change_generation(&self) -> Result<u64, StoreError> {
                let row = sqlx::query("SELECT generation FROM change_generation WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map)?;
                let generation: i64 = row.try_get(0).map_err(map)?;
                u64::try_from(generation).map_err(|_| StoreError::Backend("a negative change generation".into()))
            }

            async fn schema_version(&self) -> Result<i64, StoreError> {
                // Before the first migration the bookkeeping table does not exist
                // yet; both engines name the missing table in their message.
                match sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&self.pool)
                    .await
                {
                    Ok(row) => row.try_get::<i64, _>(0).map_err(map),
                    Err(sqlx::Error::Database(db)) if db.message().contains("_sqlx_migrations") => Ok(0),
                    Err(other) => Err(map(other)),
                }
            }

            async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
                let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.map(|row| row.try_get::<Vec<u8>, _>(0).map_err(map)).transpose()
            }

            async fn setting_or_insert(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
                sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(value)
                    .execute(&self.writer)
                    .await
                    .map_err(map)?;
                self.setting(name)
                    .await?
                    .ok_or_else(|| StoreError::Backend(format!("setting {name} vanished after insert").into()))
            }

            async fn insert_settings_if_absent(&self, entries: &[(&str, &[u8])]) -> Result<bool, StoreError> {
                let mut tx = self.writer.begin().await.map_err(map)?;
                for (name, value) in entries {
                    let inserted =
                        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                            .bind(*name)
                            .bind(*value)
                            .execute(&mut *tx)
                            .await
                            .map_err(map)?;
                    if inserted.rows_affected() == 0 {
                        tx.rollback().await.map_err(map)?;
                        return Ok(false);
                    }
                }
                tx.commit().await.map_err(map)?;
                Ok(true)
            }
        }
    };
}

impl_store!(SqliteStore, Backend::Sqlite);
impl_store!(PostgresStore, Backend::Postgres);
