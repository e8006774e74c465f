//! The [`ApiKeyStore`] implementation for both engines. Scopes (Strongroom's
//! and an application key's `app:` ones) are stored as one space-separated text column; an unknown scope read back is reported as
//! corruption rather than silently dropped.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::audit::AuditRecord;
use strongroom_core::authz::{PrincipalAccess, PrincipalKind};
use strongroom_core::{ApiKeyRecord, ApiKeyStore, Scope, StoreError, parse_app_scope};

use crate::authz::{access_columns, parse_access};
use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const COLUMNS: &str = "id, name, scopes, secret_hash, hash_key_version, created_at, expires_at, revoked_at, \
                       last_used_at, use_count, allowed_cidrs, rate_limit_per_minute, rate_limit_burst, owner_user_id, \
                       previous_secret_hash, previous_hash_key_version, previous_valid_until";

/// What is read with a key besides its own columns: whether its owner is
/// locked or disabled (NULL without an owner).
const OWNER_BLOCKED: &str = "(SELECT (users.locked OR users.disabled) FROM users \
                             WHERE users.id = api_keys.owner_user_id) AS owner_blocked";

fn key_version(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Backend("hash key version out of range".into()))
}

fn scopes_text(key: &ApiKeyRecord) -> String {
    key.scope_names().collect::<Vec<_>>().join(" ")
}

/// Strongroom's scopes and the application's (`app:<scope>`).
fn parse_scopes(text: &str) -> Result<(Vec<Scope>, Vec<String>), StoreError> {
    let (mut scopes, mut app_scopes) = (Vec::new(), Vec::new());
    for name in text.split_whitespace() {
        if let Some(app) = parse_app_scope(name) {
            app_scopes.push(app);
        } else {
            scopes.push(
                Scope::parse(name)
                    .ok_or_else(|| StoreError::Backend(format!("unknown stored scope {name:?}").into()))?,
            );
        }
    }
    Ok((scopes, app_scopes))
}

macro_rules! impl_api_key_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn api_key_from_row(row: &$row) -> Result<ApiKeyRecord, StoreError> {
                let version: i64 = row.try_get("hash_key_version").map_err(map)?;
                let (scopes, app_scopes) = parse_scopes(&row.try_get::<String, _>("scopes").map_err(map)?)?;
                Ok(ApiKeyRecord {
                    id: row.try_get("id").map_err(map)?,
                    name: row.try_get("name").map_err(map)?,
                    scopes,
                    app_scopes,
                    secret_hash: row.try_get("secret_hash").map_err(map)?,
                    hash_key_version: key_version(version)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    expires_at: row.try_get("expires_at").map_err(map)?,
                    revoked_at: row.try_get("revoked_at").map_err(map)?,
                    last_used_at: row.try_get("last_used_at").map_err(map)?,
                    use_count: row.try_get("use_count").map_err(map)?,
                    allowed_cidrs: row
                        .try_get::<String, _>("allowed_cidrs")
                        .map_err(map)?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    rate_limit_per_minute: row
                        .try_get::<Option<i64>, _>("rate_limit_per_minute")
                        .map_err(map)?
                        .map(|limit| u32::try_from(limit).unwrap_or(u32::MAX)),
                    rate_limit_burst: row
                        .try_get::<Option<i64>, _>("rate_limit_burst")
                        .map_err(map)?
                        .map(|burst| u32::try_from(burst).unwrap_or(u32::MAX)),
                    owner_user_id: row.try_get("owner_user_id").map_err(map)?,
                    owner_blocked: row.try_get::<Option<bool>, _>("owner_blocked").map_err(map)?.unwrap_or(false),
                    previous_secret: match (
                        row.try_get::<Option<Vec<u8>>, _>("previous_secret_hash").map_err(map)?,
                        row.try_get::<Option<i64>, _>("previous_hash_key_version").map_err(map)?,
                        row.try_get::<Option<i64>, _>("previous_valid_until").map_err(map)?,
                    ) {
                        (Some(hash), Some(version), Some(until)) => Some((hash, key_version(version)?, until)),
                        _ => None,
                    },
                })
            }
        }

        #[async_trait]
        impl ApiKeyStore for $store {
            async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &[AuditRecord]) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO api_keys ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                )))
                .bind(&key.id)
                .bind(&key.name)
                .bind(scopes_text(key))
                .bind(&key.secret_hash)
                .bind(i64::from(key.hash_key_version))
                .bind(key.created_at)
                .bind(key.expires_at)
                .bind(key.revoked_at)
                .bind(key.last_used_at)
                .bind(key.use_count)
                .bind(key.allowed_cidrs.join(" "))
                .bind(key.rate_limit_per_minute.map(i64::from))
                .bind(key.rate_limit_burst.map(i64::from))
                .bind(&key.owner_user_id)
                .bind(key.previous_secret.as_ref().map(|(hash, _, _)| hash.clone()))
                .bind(key.previous_secret.as_ref().map(|(_, version, _)| i64::from(*version)))
                .bind(key.previous_secret.as_ref().map(|(_, _, until)| *until))
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS}, {OWNER_BLOCKED} FROM api_keys WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.as_ref().map(Self::api_key_from_row).transpose()
            }

            async fn api_key_with_access(
                &self,
                id: &str,
                now: i64,
            ) -> Result<Option<(ApiKeyRecord, PrincipalAccess)>, StoreError> {
                let access = access_columns(PrincipalKind::ApiKey, "api_keys.id", "$2");
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS}, {OWNER_BLOCKED}, {access} FROM api_keys WHERE id = $1"
                )))
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref()
                    .map(|row| {
                        let access = parse_access(
                            row.try_get("access_grants").map_err(map)?,
                            row.try_get("access_elevations").map_err(map)?,
                        )?;
                        Ok((Self::api_key_from_row(row)?, access))
                    })
                    .transpose()
            }

            async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS}, {OWNER_BLOCKED} FROM api_keys ORDER BY created_at DESC, id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::api_key_from_row).collect()
            }

            async fn revoke_api_key(&self, id: &str, at: i64, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                Self::commit_audited(tx, updated.rows_affected() == 1, audit).await
            }

            async fn rotate_api_key_secret(
                &self,
                id: &str,
                secret_hash: &[u8],
                hash_key_version: u32,
                previous: Option<(Vec<u8>, u32, i64)>,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let (previous_hash, previous_version, previous_until) = match previous {
                    Some((hash, version, until)) => (Some(hash), Some(i64::from(version)), Some(until)),
                    None => (None, None, None),
                };
                let updated = sqlx::query(
                    "UPDATE api_keys SET secret_hash = $1, hash_key_version = $2, previous_secret_hash = $3, \
                     previous_hash_key_version = $4, previous_valid_until = $5 WHERE id = $6 AND revoked_at IS NULL",
                )
                .bind(secret_hash)
                .bind(i64::from(hash_key_version))
                .bind(previous_hash)
                .bind(previous_version)
                .bind(previous_until)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, updated.rows_affected() == 1, audit).await
            }

            async fn add_api_key_uses(&self, id: &str, count: i64, last_at: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE api_keys SET use_count = use_count + $1, last_used_at = CASE \
                     WHEN last_used_at IS NULL OR last_used_at < $2 THEN $2 ELSE last_used_at END WHERE id = $3",
                )
                .bind(count)
                .bind(last_at)
                .bind(id)
                    .execute(&self.writer)
                    .await
                    .map_err(map)?;
                Ok(())
            }
        }
    };
}

impl_api_key_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_api_key_store!(PostgresStore, sqlx::postgres::PgRow);
