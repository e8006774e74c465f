//! Housekeeping: purges what has stopped mattering, on a schedule — dead
//! sessions with their refresh-token families, spent or expired one-time
//! tokens, finished key jobs — once each is past its retention.
//!
//! Why keep them at all for a while: a dead session is still listed to its
//! user and to admins (who revoked it, why), a used refresh token is what
//! recognises a stolen one presented again (only while its session lives,
//! so it goes with the session), and a finished job is its key's recent
//! history. The audit log keeps the lasting record of all of them; these
//! rows are working state.
//!
//! Invariants a reader must not break:
//! - One run is one transaction with one `housekeeping.purge` event that
//!   gives the counts per kind: the rows go only if the event commits with
//!   them (audit or refuse), and a run that finds nothing writes nothing.
//! - The counts in the event are the rows deleted: the store deletes exactly
//!   the rows it was asked to count (same cutoffs, same order, same limit)
//!   and rolls back if another process changed them meanwhile.
//! - Cutoffs are fixed when a run starts, and a row only ever moves into
//!   them (a session dead before the cutoff never comes back to life), so a
//!   count and the delete that follows agree unless something else deleted.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{AuditContext, AuditLog, AuditRecord, EventType};
use crate::{Clock, CoreError, StoreError};

/// What one run may purge: every row that died before its cutoff (Unix
/// seconds), at most `limit` of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Sessions that expired (absolute timeout) or were revoked before this,
    /// with their refresh tokens.
    pub sessions_dead_before: i64,
    /// Sessions last seen before this died of idleness before
    /// `sessions_dead_before`.
    pub sessions_seen_before: i64,
    /// One-time tokens (MFA challenges, enrolment, password reset) that
    /// expired or were used before this.
    pub one_time_tokens_before: i64,
    /// Key jobs that finished (done or failed) before this.
    pub jobs_finished_before: i64,
    /// Failed-login counters whose window started before this (the next
    /// failure would start them over anyway) ...
    pub throttle_windows_before: i64,
    /// ... and whose lock, if any, ended before this (now).
    pub throttle_locks_ended_before: i64,
    /// At most this many sessions, one-time tokens and jobs each per run,
    /// so one transaction stays short on a large backlog.
    pub limit: u32,
}

impl PurgeCutoffs {
    /// The cutoffs of a run at `now` (Unix seconds) under `settings`. A
    /// session unseen for the idle time died then, so it is due once
    /// unseen for idle time plus retention.
    pub fn at(now: i64, settings: &HousekeepingSettings) -> Self {
        let before = |retention: Duration| now.saturating_sub(seconds(retention));
        let sessions_dead_before = before(settings.session_retention);
        Self {
            sessions_dead_before,
            sessions_seen_before: sessions_dead_before.saturating_sub(seconds(settings.session_idle)),
            one_time_tokens_before: before(settings.one_time_token_retention),
            jobs_finished_before: before(settings.job_retention),
            throttle_windows_before: before(settings.lockout_window),
            throttle_locks_ended_before: now,
            limit: settings.batch_size.max(1),
        }
    }
}

/// How many rows of each kind a run purged (or found due).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Sessions.
    pub sessions: u64,
    /// Refresh tokens of those sessions (used ones included: the family).
    pub refresh_tokens: u64,
    /// One-time tokens.
    pub one_time_tokens: u64,
    /// Finished key jobs.
    pub jobs: u64,
    /// Failed-login counters past their window and lock. Each name tried
    /// from each address leaves one, so without this a password-spraying
    /// run would grow the table for good.
    pub login_throttles: u64,
}

impl PurgeCounts {
    /// Every row.
    pub fn total(&self) -> u64 {
        self.sessions + self.refresh_tokens + self.one_time_tokens + self.jobs + self.login_throttles
    }

    /// The counts by kind name, as the audit event and the metrics name them.
    pub fn by_kind(&self) -> [(&'static str, u64); 5] {
        [
            ("sessions", self.sessions),
            ("refresh_tokens", self.refresh_tokens),
            ("one_time_tokens", self.one_time_tokens),
            ("jobs", self.jobs),
            ("login_throttles", self.login_throttles),
        ]
    }

    /// Whether any kind reached `limit`: more may be due right away.
    pub fn hit(&self, limit: u32) -> bool {
        let limit = u64::from(limit);
        self.sessions >= limit || self.one_time_tokens >= limit || self.jobs >= limit || self.login_throttles >= limit
    }

    /// Adds `other`'s counts (runs one after the other).
    pub fn add(&mut self, other: &Self) {
        self.sessions += other.sessions;
        self.refresh_tokens += other.refresh_tokens;
        self.one_time_tokens += other.one_time_tokens;
        self.jobs += other.jobs;
        self.login_throttles += other.login_throttles;
    }
}

/// The housekeeping storage port.
#[async_trait]
pub trait HousekeepingStore: Send + Sync + std::fmt::Debug {
    /// How many rows `cutoffs` would purge now.
    async fn purgeable(&self, cutoffs: &PurgeCutoffs) -> Result<PurgeCounts, StoreError>;

    /// Deletes what `cutoffs` select and appends `audit` in one transaction,
    /// if the rows deleted are exactly `expected`; otherwise (another
    /// process purged or changed some meanwhile) rolls back and answers
    /// `false`. The audit append failing rolls everything back
    /// ([`StoreError::AuditRefused`]).
    async fn purge(
        &self,
        cutoffs: &PurgeCutoffs,
        expected: &PurgeCounts,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
}

/// How long each kind is kept once dead, from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HousekeepingSettings {
    /// Dead (expired, idle, revoked) sessions and their refresh tokens.
    pub session_retention: Duration,
    /// Used or expired one-time tokens.
    pub one_time_token_retention: Duration,
    /// Finished (done or failed) key jobs.
    pub job_retention: Duration,
    /// Sessions die after this long unseen (`identity.session_idle_seconds`).
    pub session_idle: Duration,
    /// Failed logins are counted over this window (`identity.lockout_window_seconds`).
    pub lockout_window: Duration,
    /// Rows of each kind per run.
    pub batch_size: u32,
}

impl Default for HousekeepingSettings {
    fn default() -> Self {
        Self {
            session_retention: Duration::from_secs(7 * 86_400),
            one_time_token_retention: Duration::from_secs(86_400),
            job_retention: Duration::from_secs(30 * 86_400),
            session_idle: Duration::from_secs(8 * 3600),
            lockout_window: Duration::from_secs(900),
            batch_size: 10_000,
        }
    }
}

/// The purge use case.
#[derive(Debug)]
pub struct Housekeeping {
    store: Arc<dyn HousekeepingStore>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    settings: HousekeepingSettings,
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl Housekeeping {
    /// The use case over `store`, auditing through `audit`.
    pub fn new(
        store: Arc<dyn HousekeepingStore>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        settings: HousekeepingSettings,
    ) -> Self {
        Self { store, audit, clock, settings }
    }

    /// The settings in effect.
    pub fn settings(&self) -> &HousekeepingSettings {
        &self.settings
    }

    /// The cutoffs of a run starting now.
    pub fn cutoffs(&self) -> PurgeCutoffs {
        PurgeCutoffs::at(i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX), &self.settings)
    }

    /// One run as `context`: counts what is due, seals one
    /// `housekeeping.purge` event with the counts, and deletes the rows in
    /// the event's transaction. Answers what was purged (all zero when
    /// nothing was due, or when another process purged the same rows first:
    /// then nothing is written and the next run looks again). A run that
    /// hits the batch size leaves the rest for the next one
    /// ([`PurgeCounts::hit`]).
    pub async fn run(&self, context: &AuditContext) -> Result<PurgeCounts, CoreError> {
        let cutoffs = self.cutoffs();
        let due = self.store.purgeable(&cutoffs).await?;
        if due.total() == 0 {
            return Ok(PurgeCounts::default());
        }
        let mut event = self.audit.event(EventType::HousekeepingPurge, context);
        for (kind, count) in due.by_kind() {
            event = event.detail(kind, i64::try_from(count).unwrap_or(i64::MAX));
        }
        event = event
            .detail("session_retention_seconds", seconds(self.settings.session_retention))
            .detail("one_time_token_retention_seconds", seconds(self.settings.one_time_token_retention))
            .detail("job_retention_seconds", seconds(self.settings.job_retention));
        if !self.store.purge(&cutoffs, &due, &[self.audit.seal(&event)?]).await? {
            return Ok(PurgeCounts::default());
        }
        for (kind, count) in due.by_kind() {
            metrics::counter!("strongroom_housekeeping_purged_rows_total", "kind" => kind).increment(count);
        }
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_follow_the_clock_and_idle_sessions_die_retention_plus_idle_ago() {
        let settings = HousekeepingSettings {
            session_retention: Duration::from_secs(100),
            one_time_token_retention: Duration::from_secs(10),
            job_retention: Duration::from_secs(1000),
            session_idle: Duration::from_secs(50),
            lockout_window: Duration::from_secs(300),
            batch_size: 0,
        };
        let cutoffs = PurgeCutoffs::at(1_000_000, &settings);
        assert_eq!(cutoffs.sessions_dead_before, 999_900);
        assert_eq!(cutoffs.sessions_seen_before, 999_850);
        assert_eq!(cutoffs.one_time_tokens_before, 999_990);
        assert_eq!(cutoffs.jobs_finished_before, 999_000);
        assert_eq!((cutoffs.throttle_windows_before, cutoffs.throttle_locks_ended_before), (999_700, 1_000_000));
        assert_eq!(cutoffs.limit, 1, "a zero batch size still makes progress");
    }

    #[test]
    fn a_run_hits_its_limit_when_any_kind_does() {
        let counts = PurgeCounts { sessions: 2, refresh_tokens: 50, one_time_tokens: 0, jobs: 0, login_throttles: 1 };
        assert!(!counts.hit(3), "refresh tokens follow their sessions: no limit of their own");
        assert!(counts.hit(2));
        assert!(PurgeCounts { login_throttles: 3, ..PurgeCounts::default() }.hit(3));
        assert_eq!(counts.total(), 53);
    }
}
