//! Extra audit sinks (a JSON-lines file, syslog, stdout), fed from the
//! durable log after the fact.
//!
//! Invariant: a sink can never hold up the log. Each sink has its own task
//! that reads committed entries from the store and delivers them; a slow,
//! full or broken sink only falls behind (and catches up when it recovers),
//! unlike a Vault audit device, whose failure blocks every request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::log::AuditLog;
use super::store::StoredEntry;

/// How many entries one delivery carries at most.
const DELIVERY_BATCH: u32 = 500;
/// A delivery taking longer than this counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A destination for copies of the audit entries.
#[async_trait]
pub trait AuditSink: Send + std::fmt::Debug {
    /// For messages: what and where.
    fn describe(&self) -> String;
    /// Where to start: the index after the last entry this sink holds, if it
    /// can tell (a file sink reads its last line); else `None` (start at the tail).
    async fn resume_from(&mut self) -> Option<u64>;
    /// Delivers entries, in index order.
    async fn deliver(&mut self, entries: &[StoredEntry]) -> Result<(), String>;
}

/// Feeds `sink` from `log` forever: on every append of this process, and
/// once a second for the appends of other instances.
pub async fn run_sink(log: Arc<AuditLog>, mut sink: Box<dyn AuditSink>) {
    let mut appended = log.subscribe();
    let mut cursor = match sink.resume_from().await {
        Some(next) => next,
        None => loop {
            match log.head().await {
                Ok(head) => break head.size,
                Err(error) => {
                    tracing::warn!(sink = %sink.describe(), %error, "cannot read the audit head; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        },
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        let entries = match log.entries(cursor, DELIVERY_BATCH).await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(sink = %sink.describe(), %error, "cannot read the audit log for a sink");
                Vec::new()
            }
        };
        if !entries.is_empty() {
            match tokio::time::timeout(DELIVERY_TIMEOUT, sink.deliver(&entries)).await {
                Ok(Ok(())) => {
                    cursor = entries.last().map_or(cursor, |last| last.index + 1);
                    backoff = Duration::from_secs(1);
                    continue;
                }
                Ok(Err(why)) => tracing::warn!(sink = %sink.describe(), %why, "audit sink failed; it will catch up"),
                Err(_) => tracing::warn!(sink = %sink.describe(), "audit sink timed out; it will catch up"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
            continue;
        }
        tokio::select! {
            _ = appended.changed() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
