//! The [`JobStore`] implementation for both engines. A claim is one
//! conditional `UPDATE … RETURNING`, so two processes never hold one job.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::audit::AuditRecord;
use strongroom_core::{Job, JobKind, JobState, JobStore, StoreError};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const JOB_COLUMNS: &str = "id, kind, key_name, target, state, total, done, error, created_by, created_at, updated_at";

fn count(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| StoreError::Backend(e.into()))
}

fn signed(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| StoreError::Backend(e.into()))
}

macro_rules! impl_job_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn job_from_row(row: &$row) -> Result<Job, StoreError> {
                let corrupt = |what: &str| StoreError::Backend(format!("stored job has an unknown {what}").into());
                let kind: String = row.try_get("kind").map_err(map)?;
                let state: String = row.try_get("state").map_err(map)?;
                Ok(Job {
                    id: row.try_get("id").map_err(map)?,
                    kind: JobKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                    key_name: row.try_get("key_name").map_err(map)?,
                    target: row.try_get("target").map_err(map)?,
                    state: JobState::parse(&state).ok_or_else(|| corrupt("state"))?,
                    total: count(row.try_get("total").map_err(map)?)?,
                    done: count(row.try_get("done").map_err(map)?)?,
                    error: row.try_get("error").map_err(map)?,
                    created_by: row.try_get("created_by").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    updated_at: row.try_get("updated_at").map_err(map)?,
                })
            }
        }

        #[async_trait]
        impl JobStore for $store {
            async fn insert_job(&self, job: &Job, audit: &[AuditRecord]) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO jobs ({JOB_COLUMNS}, lease_owner, lease_until) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, 0)"
                )))
                .bind(&job.id)
                .bind(job.kind.as_str())
                .bind(&job.key_name)
                .bind(&job.target)
                .bind(job.state.as_str())
                .bind(signed(job.total)?)
                .bind(signed(job.done)?)
                .bind(&job.error)
                .bind(&job.created_by)
                .bind(job.created_at)
                .bind(job.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn jobs_of_key(&self, key_name: &str) -> Result<Vec<Job>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE key_name = $1 ORDER BY created_at DESC, id DESC LIMIT 20"
                )))
                .bind(key_name)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::job_from_row).collect()
            }

            async fn running_jobs(&self) -> Result<Vec<Job>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' ORDER BY created_at, id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::job_from_row).collect()
            }

            async fn claim_job(
                &self,
                owner: &str,
                only: Option<&str>,
                now: i64,
                lease_until: i64,
            ) -> Result<Option<Job>, StoreError> {
                let claimable =
                    "state = 'running' AND (lease_until < $3 OR lease_owner = $1) AND ($4 IS NULL OR id = $4)";
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET lease_owner = $1, lease_until = $2 \
                     WHERE id = (SELECT id FROM jobs WHERE {claimable} ORDER BY created_at, id LIMIT 1) \
                     AND {claimable} RETURNING {JOB_COLUMNS}"
                )))
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(only)
                .fetch_optional(&self.writer)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn save_job(
                &self,
                job: &Job,
                owner: &str,
                lease_until: i64,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let held = sqlx::query(
                    "UPDATE jobs SET state = $1, total = $2, done = $3, error = $4, updated_at = $5, lease_until = $6 \
                     WHERE id = $7 AND lease_owner = $8",
                )
                .bind(job.state.as_str())
                .bind(signed(job.total)?)
                .bind(signed(job.done)?)
                .bind(&job.error)
                .bind(job.updated_at)
                .bind(lease_until)
                .bind(&job.id)
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, held, audit).await
            }
        }
    };
}

impl_job_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_job_store!(PostgresStore, sqlx::postgres::PgRow);
