//! The [`HousekeepingStore`] implementation for both engines.
//!
//! Each kind is selected by one subquery (its cutoffs, ordered by primary
//! key, limited), used alike by the count and by the delete, so a purge
//! deletes the rows its audit event counted; the delete compares every
//! count with the expected one and rolls back on a difference. Refresh
//! tokens are deleted explicitly before their sessions (not left to the
//! cascade) so they are counted.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::StoreError;
use strongroom_core::audit::AuditRecord;
use strongroom_core::housekeeping::{HousekeepingStore, PurgeCounts, PurgeCutoffs};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

/// Dead sessions: `$1` dead before, `$2` seen before, `$3` limit.
const DUE_SESSIONS: &str = "SELECT id FROM sessions \
     WHERE expires_at < $1 OR revoked_at < $1 OR last_seen_at < $2 ORDER BY id LIMIT $3";
/// Spent one-time tokens: `$1` expired or used before, `$2` limit.
const DUE_ONE_TIME: &str =
    "SELECT hash FROM one_time_tokens WHERE expires_at < $1 OR used_at < $1 ORDER BY hash LIMIT $2";
/// Finished key jobs: `$1` finished before, `$2` limit.
const DUE_JOBS: &str = "SELECT id FROM jobs WHERE state IN ('done', 'failed') AND updated_at < $1 ORDER BY id LIMIT $2";
/// Failed-login counters: `$1` window started before, `$2` lock ended before, `$3` limit.
const DUE_THROTTLES: &str = "SELECT throttle_key FROM login_throttle \
     WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < $2) ORDER BY throttle_key LIMIT $3";

fn count(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| StoreError::Backend(e.into()))
}

macro_rules! impl_housekeeping_store {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Runs the five statements of a count (`SELECT COUNT(*) …`) or a
            /// purge (`DELETE …`) on `connection`, in the order the purge needs.
            async fn per_kind(
                connection: &mut <$db as sqlx::Database>::Connection,
                cutoffs: &PurgeCutoffs,
                delete: bool,
            ) -> Result<PurgeCounts, StoreError> {
                let limit = i64::from(cutoffs.limit);
                let statements = if delete {
                    [
                        format!("DELETE FROM refresh_tokens WHERE session_id IN ({DUE_SESSIONS})"),
                        format!("DELETE FROM sessions WHERE id IN ({DUE_SESSIONS})"),
                        format!("DELETE FROM one_time_tokens WHERE hash IN ({DUE_ONE_TIME})"),
                        format!("DELETE FROM jobs WHERE id IN ({DUE_JOBS})"),
                        format!("DELETE FROM login_throttle WHERE throttle_key IN ({DUE_THROTTLES})"),
                    ]
                } else {
                    [
                        format!("SELECT COUNT(*) FROM refresh_tokens WHERE session_id IN ({DUE_SESSIONS})"),
                        format!("SELECT COUNT(*) FROM ({DUE_SESSIONS}) due"),
                        format!("SELECT COUNT(*) FROM ({DUE_ONE_TIME}) due"),
                        format!("SELECT COUNT(*) FROM ({DUE_JOBS}) due"),
                        format!("SELECT COUNT(*) FROM ({DUE_THROTTLES}) due"),
                    ]
                };
                let mut counts = [0u64; 5];
                for (i, statement) in statements.into_iter().enumerate() {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
                    query = match i {
                        0 | 1 => {
                            query.bind(cutoffs.sessions_dead_before).bind(cutoffs.sessions_seen_before).bind(limit)
                        }
                        2 => query.bind(cutoffs.one_time_tokens_before).bind(limit),
                        3 => query.bind(cutoffs.jobs_finished_before).bind(limit),
                        _ => query
                            .bind(cutoffs.throttle_windows_before)
                            .bind(cutoffs.throttle_locks_ended_before)
                            .bind(limit),
                    };
                    counts[i] = if delete {
                        query.execute(&mut *connection).await.map_err(map)?.rows_affected()
                    } else {
                        count(query.fetch_one(&mut *connection).await.map_err(map)?.try_get::<i64, _>(0).map_err(map)?)?
                    };
                }
                let [refresh_tokens, sessions, one_time_tokens, jobs, login_throttles] = counts;
                Ok(PurgeCounts { sessions, refresh_tokens, one_time_tokens, jobs, login_throttles })
            }
        }

        #[async_trait]
        impl HousekeepingStore for $store {
            async fn purgeable(&self, cutoffs: &PurgeCutoffs) -> Result<PurgeCounts, StoreError> {
                let mut connection = self.pool.acquire().await.map_err(map)?;
                Self::per_kind(&mut connection, cutoffs, false).await
            }

            async fn purge(
                &self,
                cutoffs: &PurgeCutoffs,
                expected: &PurgeCounts,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = Self::per_kind(&mut *tx, cutoffs, true).await?;
                Self::commit_audited(tx, deleted == *expected, audit).await
            }
        }
    };
}

impl_housekeeping_store!(SqliteStore, sqlx::Sqlite);
impl_housekeeping_store!(PostgresStore, sqlx::Postgres);
