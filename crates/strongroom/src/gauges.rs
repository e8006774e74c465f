//! Gauges sampled on a timer while metrics are on: what no request moves
//! (key ages and rotations due, key-job progress, database pool use).
//!
//! Label cardinality stays bounded: keys are labelled by name only when an
//! operator or the system named them (transit, signing, HMAC keys); matter
//! keys, one or more per matter, only count in their purpose's aggregates;
//! jobs are summed by kind, never labelled by id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strongroom_core::{JobKind, Jobs, KeyPurpose, Keyring};
use strongroom_store::Database;

/// Samples every `interval`, the first time at once.
pub async fn sample(keyring: Arc<Keyring>, jobs: Arc<Jobs>, database: Database, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        pools(&database);
        if let Err(error) = keys(&keyring).await {
            tracing::debug!(%error, "cannot read the keys for the metrics");
        }
        if let Err(error) = key_jobs(&jobs).await {
            tracing::debug!(%error, "cannot read the running key jobs for the metrics");
        }
    }
}

fn pools(database: &Database) {
    for usage in database.pool_usage() {
        let pool = usage.pool;
        metrics::gauge!("strongroom_db_pool_connections", "pool" => pool, "state" => "in_use").set(usage.in_use);
        metrics::gauge!("strongroom_db_pool_connections", "pool" => pool, "state" => "idle").set(usage.idle);
        metrics::gauge!("strongroom_db_pool_max_connections", "pool" => pool).set(usage.max);
    }
}

async fn keys(keyring: &Keyring) -> Result<(), strongroom_core::CoreError> {
    let mut per_purpose: BTreeMap<&'static str, (i64, u32)> = BTreeMap::new();
    for key in keyring.rotation_status().await? {
        let purpose = key.purpose.as_str();
        let (oldest, due) = per_purpose.entry(purpose).or_default();
        *oldest = (*oldest).max(key.age_seconds);
        *due += u32::from(key.rotation_due);
        if key.purpose != KeyPurpose::MatterData {
            metrics::gauge!("strongroom_key_age_seconds", "key" => key.name.clone(), "purpose" => purpose)
                .set(key.age_seconds as f64);
            metrics::gauge!("strongroom_key_rotation_due", "key" => key.name, "purpose" => purpose)
                .set(f64::from(u8::from(key.rotation_due)));
        }
    }
    for (purpose, (oldest, due)) in per_purpose {
        metrics::gauge!("strongroom_keys_oldest_age_seconds", "purpose" => purpose).set(oldest as f64);
        metrics::gauge!("strongroom_keys_rotation_due", "purpose" => purpose).set(due);
    }
    Ok(())
}

async fn key_jobs(jobs: &Jobs) -> Result<(), strongroom_core::CoreError> {
    let mut per_kind: BTreeMap<&'static str, (u32, u64, u64)> =
        [JobKind::Rewrap, JobKind::Reencrypt].into_iter().map(|kind| (kind.as_str(), (0, 0, 0))).collect();
    for job in jobs.running().await? {
        let (running, done, total) = per_kind.entry(job.kind.as_str()).or_default();
        *running += 1;
        *done += job.done;
        *total += job.total;
    }
    for (kind, (running, done, total)) in per_kind {
        metrics::gauge!("strongroom_key_jobs_running", "kind" => kind).set(running);
        metrics::gauge!("strongroom_key_job_records_done", "kind" => kind).set(done as f64);
        metrics::gauge!("strongroom_key_job_records_total", "kind" => kind).set(total as f64);
    }
    Ok(())
}
