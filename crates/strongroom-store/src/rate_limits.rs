//! Core's [`RateLimitStore`] on PostgreSQL: every instance counts in the
//! unlogged `rate_limits` table (migration 19), one statement per request.
//!
//! The statement is the GCRA step of `strongroom_core::rate_limits::gcra`
//! in SQL, with the database's clock as `now`, so instances whose clocks
//! differ still agree. The upsert's `WHERE` decides under the row's lock:
//! two instances spending from one bucket at once are serialised by
//! PostgreSQL, and a refused request writes nothing. Rows whose time has
//! passed mean the same as none; a sweep, at most once a minute, deletes
//! them so the table stays as small as the set of busy buckets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::{PgPool, Row};
use strongroom_core::StoreError;
use strongroom_core::rate_limits::{Rate, RateLimitStore, Spent};

use crate::error::map;

/// How often passed buckets are deleted at most, seconds.
const SWEEP_EVERY_SECONDS: u64 = 60;

/// The shared buckets on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresRateLimits {
    pool: PgPool,
    /// Unix seconds of the last sweep.
    swept_at: Arc<AtomicU64>,
}

impl PostgresRateLimits {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool, swept_at: Arc::new(AtomicU64::new(unix_seconds())) }
    }

    /// Starts a sweep in the background when the last is a minute old.
    fn sweep_now_and_then(&self) {
        let now = unix_seconds();
        let last = self.swept_at.load(Ordering::Relaxed);
        if now < last + SWEEP_EVERY_SECONDS
            || self.swept_at.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_err()
        {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let swept = sqlx::query(
                "DELETE FROM rate_limits \
                 WHERE tat_us < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
            )
            .execute(&pool)
            .await;
            if let Err(error) = swept {
                tracing::debug!(%error, "could not sweep passed rate-limit buckets; the next sweep will");
            }
        });
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[async_trait]
impl RateLimitStore for PostgresRateLimits {
    async fn spend(&self, bucket: &str, rate: Rate, cost: u32) -> Result<Spent, StoreError> {
        self.sweep_now_and_then();
        let increment = i64::try_from(rate.interval_us.saturating_mul(u64::from(cost))).unwrap_or(i64::MAX);
        let tolerance = i64::try_from(rate.tolerance_us()).unwrap_or(i64::MAX);
        // $2: what this request adds to the TAT; $3: how far ahead of now
        // the TAT may be. The CTE's last SELECT reads the row as it was
        // before the upsert (one snapshot), which is what a refusal needs.
        let row = sqlx::query(
            "WITH clock AS (SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT) AS now_us), \
             spent AS ( \
                 INSERT INTO rate_limits AS r (bucket, tat_us) \
                 SELECT $1, clock.now_us + $2 FROM clock WHERE $2 <= $3 \
                 ON CONFLICT (bucket) DO UPDATE \
                     SET tat_us = GREATEST(r.tat_us, EXCLUDED.tat_us - $2) + $2 \
                     WHERE GREATEST(r.tat_us, EXCLUDED.tat_us - $2) + $2 - $3 <= EXCLUDED.tat_us - $2 \
                 RETURNING tat_us) \
             SELECT (SELECT COUNT(*) FROM spent) AS admitted, \
                    (SELECT tat_us FROM rate_limits WHERE bucket = $1) AS stored_us, \
                    (SELECT now_us FROM clock) AS now_us",
        )
        .bind(bucket)
        .bind(increment)
        .bind(tolerance)
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        if row.try_get::<i64, _>("admitted").map_err(map)? > 0 {
            return Ok(Spent::Admitted);
        }
        let now: i64 = row.try_get("now_us").map_err(map)?;
        let stored: Option<i64> = row.try_get("stored_us").map_err(map)?;
        let allowed_from = stored.unwrap_or(now).max(now).saturating_add(increment).saturating_sub(tolerance);
        let wait = u64::try_from(allowed_from.saturating_sub(now)).unwrap_or(0);
        Ok(Spent::Refused { retry_after: Duration::from_micros(wait.max(1)) })
    }
}
