//! Request rate limits per client address, per user and per API key, shared
//! by every instance.
//!
//! The algorithm is GCRA (the generic cell rate algorithm): each bucket
//! keeps one number, its *theoretical arrival time* (TAT). A request of
//! cost `n` at `now` moves it to `max(TAT, now) + n·interval`, and is
//! admitted when the result is at most `burst·interval` ahead of `now`. So
//! a bucket admits `burst` requests at once, then one per `interval`, and a
//! refusal knows exactly when the next request would pass (`Retry-After`).
//! One number per bucket makes the shared versions single atomic steps: one
//! `INSERT … ON CONFLICT` on PostgreSQL, one Lua script on Redis.
//!
//! Where the count lives: a [`RateLimitStore`] that every instance shares
//! (PostgreSQL's unlogged `rate_limits` table, or Redis when
//! `ratelimit.redis_url` is set), or this process's memory
//! ([`LocalRateLimits`]) on SQLite, which has one instance. When the shared
//! store fails, each instance counts in its own memory until it answers
//! again: a limit is a guard against floods, and refusing every request
//! because the counter is away would make the outage bigger. The switch is
//! logged both ways.
//!
//! A bucket refused over and over is recorded in the audit log as one
//! `ratelimit.exceeded` event per bucket per minute at most, with the
//! number of refusals since the last one: sustained pressure is visible to
//! operators without a flood of events feeding the flood.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::audit::{AuditContext, AuditLog, EventType, Outcome, Target};
use crate::{Clock, CoreError, StoreError};

/// How often one bucket's refusals are recorded in the audit log at most.
const REFUSALS_RECORDED_EVERY: Duration = Duration::from_secs(60);

/// Buckets one process remembers before it forgets the idle ones.
const LOCAL_BUCKETS: usize = 100_000;

/// A rate: `burst` requests at once, then one every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Time between two requests at the sustained rate, in microseconds.
    pub interval_us: u64,
    /// Requests admitted at once after a quiet period.
    pub burst: u32,
}

impl Rate {
    /// `per_second` sustained with bursts of `burst`; `None` when
    /// `per_second` is 0 (no limit).
    pub fn per_second(per_second: u32, burst: u32) -> Option<Self> {
        (per_second > 0).then(|| Self { interval_us: 1_000_000 / u64::from(per_second), burst: burst.max(1) })
    }

    /// `per_minute` sustained with bursts of `burst` (default: a second's
    /// worth, at least one); `None` when `per_minute` is 0.
    pub fn per_minute(per_minute: u32, burst: Option<u32>) -> Option<Self> {
        (per_minute > 0).then(|| Self {
            interval_us: 60_000_000 / u64::from(per_minute),
            burst: burst.unwrap_or(per_minute / 60).max(1),
        })
    }

    /// How far ahead of now a bucket's TAT may be and still admit.
    pub fn tolerance_us(self) -> u64 {
        self.interval_us.saturating_mul(u64::from(self.burst))
    }
}

/// What a bucket said to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Admitted and counted.
    Admitted,
    /// Refused, nothing counted; the same request passes after this long.
    Refused {
        /// Time until the request would be admitted.
        retry_after: Duration,
    },
}

/// One GCRA step on a bucket's stored TAT (µs; `None`: a new bucket) at
/// `now_us`: the new TAT to store when admitted, or how long to wait. The
/// formula every store implements; the local one calls it.
pub fn gcra(stored_tat_us: Option<u64>, now_us: u64, rate: Rate, cost: u32) -> Result<u64, Duration> {
    let tat = stored_tat_us.unwrap_or(now_us).max(now_us);
    let new_tat = tat.saturating_add(rate.interval_us.saturating_mul(u64::from(cost)));
    let allowed_from = new_tat.saturating_sub(rate.tolerance_us());
    if allowed_from <= now_us { Ok(new_tat) } else { Err(Duration::from_micros(allowed_from - now_us)) }
}

/// Where buckets are counted when every instance must see the same count.
/// Implementations take `now` from their own clock (the database's, Redis's),
/// so instances whose clocks differ still agree.
#[async_trait]
pub trait RateLimitStore: Send + Sync + fmt::Debug {
    /// Spends `cost` from `bucket` at `rate`, atomically.
    async fn spend(&self, bucket: &str, rate: Rate, cost: u32) -> Result<Spent, StoreError>;
}

/// Buckets in this process's memory: SQLite's one instance, and every
/// instance while the shared store is away.
#[derive(Debug)]
pub struct LocalRateLimits {
    tats: Mutex<HashMap<String, u64>>,
}

impl Default for LocalRateLimits {
    fn default() -> Self {
        Self { tats: Mutex::new(HashMap::new()) }
    }
}

impl LocalRateLimits {
    /// Spends `cost` from `bucket` at `rate`, at `now_us` (µs since the epoch).
    pub fn spend(&self, bucket: &str, rate: Rate, cost: u32, now: u64) -> Spent {
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        if tats.len() >= LOCAL_BUCKETS && !tats.contains_key(bucket) {
            // A bucket whose TAT has passed is as good as a new one.
            tats.retain(|_, tat| *tat > now);
        }
        match gcra(tats.get(bucket).copied(), now, rate, cost) {
            Ok(new_tat) => {
                tats.insert(bucket.to_owned(), new_tat);
                Spent::Admitted
            }
            Err(retry_after) => Spent::Refused { retry_after },
        }
    }
}

/// What is limited, each with its own bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limited<'a> {
    /// Every request from one client address.
    Address(IpAddr),
    /// Every request of one user's sessions.
    User(&'a str),
    /// Every request made with one API key (and its service tokens).
    ApiKey(&'a str),
}

impl Limited<'_> {
    fn bucket(&self) -> String {
        match self {
            Self::Address(ip) => format!("a:{ip}"),
            Self::User(id) => format!("u:{id}"),
            Self::ApiKey(id) => format!("k:{id}"),
        }
    }

    fn target(&self) -> Target {
        match self {
            // The address itself goes into the event's context, where the
            // audit settings decide whether it is kept or hashed.
            Self::Address(_) => Target { kind: "client_address".into(), ..Target::default() },
            Self::User(id) => Target::new("user", *id),
            Self::ApiKey(id) => Target::new("api_key", *id),
        }
    }
}

/// The limits that apply to every client address and every user
/// (`[ratelimit]`); API keys carry their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimitSettings {
    /// Every request from one address, before its credentials are checked.
    pub per_address: Option<Rate>,
    /// Every request of one user.
    pub per_user: Option<Rate>,
}

/// The limiter every request passes (see the module).
pub struct RateLimits {
    shared: Option<Arc<dyn RateLimitStore>>,
    local: LocalRateLimits,
    settings: RateLimitSettings,
    audit: Arc<AuditLog>,
    /// The local buckets' time.
    clock: Arc<dyn Clock>,
    /// Set while the shared store fails, so the switch is logged once.
    shared_failing: AtomicBool,
    /// Per refused bucket: when its refusals were last recorded, and how
    /// many came since.
    refusals: Mutex<HashMap<String, (Instant, u64)>>,
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits").field("shared", &self.shared).field("settings", &self.settings).finish()
    }
}

impl RateLimits {
    /// Counts in `shared` when given (several instances), else in memory
    /// by `clock`; refusals are recorded in `audit`.
    pub fn new(
        shared: Option<Arc<dyn RateLimitStore>>,
        settings: RateLimitSettings,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            shared,
            local: LocalRateLimits::default(),
            settings,
            audit,
            clock,
            shared_failing: AtomicBool::new(false),
            refusals: Mutex::new(HashMap::new()),
        }
    }

    /// The limits for addresses and users.
    pub fn settings(&self) -> RateLimitSettings {
        self.settings
    }

    /// Counts a request from `ip` against the per-address limit.
    pub async fn admit_address(&self, ip: IpAddr, context: &AuditContext) -> Result<(), CoreError> {
        match self.settings.per_address {
            Some(rate) => self.spend(Limited::Address(ip), rate, 1, context).await,
            None => Ok(()),
        }
    }

    /// Counts a request of user `id` against the per-user limit.
    pub async fn admit_user(&self, id: &str, context: &AuditContext) -> Result<(), CoreError> {
        match self.settings.per_user {
            Some(rate) => self.spend(Limited::User(id), rate, 1, context).await,
            None => Ok(()),
        }
    }

    /// Spends `cost` of `limited`'s bucket at `rate`: `TooManyAttempts`
    /// with the wait when refused (nothing spent), recorded as the module
    /// says. A cost above the burst can never pass and says so.
    pub async fn spend(
        &self,
        limited: Limited<'_>,
        rate: Rate,
        cost: u32,
        context: &AuditContext,
    ) -> Result<(), CoreError> {
        if cost > rate.burst {
            return Err(CoreError::InvalidInput(format!(
                "this request counts as {cost} requests, more than the {} its rate limit admits at once",
                rate.burst
            )));
        }
        let bucket = limited.bucket();
        let now = u64::try_from(self.clock.now().as_micros()).unwrap_or(u64::MAX);
        let spent = match &self.shared {
            Some(shared) => match shared.spend(&bucket, rate, cost).await {
                Ok(spent) => {
                    if self.shared_failing.swap(false, Ordering::AcqRel) {
                        metrics::gauge!("strongroom_rate_limits_local_only").set(0.0);
                        tracing::info!("the shared rate-limit store answers again: limits are shared again");
                    }
                    spent
                }
                Err(error) => {
                    if !self.shared_failing.swap(true, Ordering::AcqRel) {
                        metrics::gauge!("strongroom_rate_limits_local_only").set(1.0);
                        tracing::warn!(%error, "the shared rate-limit store fails: counting in this instance only");
                    }
                    self.local.spend(&bucket, rate, cost, now)
                }
            },
            None => self.local.spend(&bucket, rate, cost, now),
        };
        match spent {
            Spent::Admitted => Ok(()),
            Spent::Refused { retry_after } => {
                self.note_refusal(&limited, bucket, rate, context).await;
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Err(CoreError::TooManyAttempts {
                    retry_after_seconds: i64::try_from(seconds.max(1)).unwrap_or(i64::MAX),
                })
            }
        }
    }

    /// Records the refusals of `bucket` when its last record is a minute old.
    async fn note_refusal(&self, limited: &Limited<'_>, bucket: String, rate: Rate, context: &AuditContext) {
        let refused_since = {
            let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            if refusals.len() >= LOCAL_BUCKETS {
                refusals.retain(|_, (at, _)| at.elapsed() < REFUSALS_RECORDED_EVERY);
            }
            match refusals.get_mut(&bucket) {
                Some((at, count)) if at.elapsed() < REFUSALS_RECORDED_EVERY => {
                    *count += 1;
                    return;
                }
                Some((at, count)) => {
                    let since = *count + 1;
                    (*at, *count) = (Instant::now(), 0);
                    since
                }
                None => {
                    refusals.insert(bucket, (Instant::now(), 0));
                    1
                }
            }
        };
        let per_second = 1_000_000 / rate.interval_us.max(1);
        let event = self
            .audit
            .event(EventType::RateLimitExceeded, context)
            .target(limited.target())
            .detail("refused", i64::try_from(refused_since).unwrap_or(i64::MAX))
            .detail("per_second", i64::try_from(per_second).unwrap_or(i64::MAX))
            .detail("burst", i64::from(rate.burst))
            .failed(Outcome::Denied, "rate_limited");
        self.audit.record_refusal(&event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_PER_SECOND: Rate = Rate { interval_us: 100_000, burst: 10 };

    #[test]
    fn a_new_bucket_admits_a_burst_then_one_per_interval() {
        let now = 1_000_000_000;
        let mut tat = None;
        for _ in 0..10 {
            tat = Some(gcra(tat, now, TEN_PER_SECOND, 1).expect("within the burst"));
        }
        let wait = gcra(tat, now, TEN_PER_SECOND, 1).expect_err("the burst is spent");
        assert_eq!(wait, Duration::from_millis(100), "the next one passes one interval later");
        assert!(gcra(tat, now + 100_000, TEN_PER_SECOND, 1).is_ok());
    }

    #[test]
    fn a_quiet_bucket_refills_only_up_to_its_burst() {
        let tat = gcra(None, 0, TEN_PER_SECOND, 10).unwrap();
        let later = 3_600_000_000;
        let tat = gcra(Some(tat), later, TEN_PER_SECOND, 10).expect("an hour later the whole burst is back");
        assert!(gcra(Some(tat), later, TEN_PER_SECOND, 1).is_err(), "but not more than the burst");
    }

    #[test]
    fn a_refused_request_spends_nothing() {
        let limits = LocalRateLimits::default();
        let rate = Rate { interval_us: 60_000_000, burst: 2 };
        let now = 1_000_000_000;
        assert_eq!(limits.spend("k", rate, 2, now), Spent::Admitted);
        for _ in 0..5 {
            assert!(matches!(limits.spend("k", rate, 1, now), Spent::Refused { .. }));
        }
        let Spent::Refused { retry_after } = limits.spend("k", rate, 1, now) else { panic!("admitted") };
        assert_eq!(retry_after, Duration::from_secs(60), "refusals did not push the wait further");
        assert_eq!(limits.spend("other", rate, 1, now), Spent::Admitted, "buckets are separate");
        assert_eq!(limits.spend("k", rate, 1, now + 60_000_000), Spent::Admitted);
    }

    #[test]
    fn rates_from_configuration() {
        assert_eq!(Rate::per_second(0, 10), None);
        assert_eq!(Rate::per_second(10, 0), Some(Rate { interval_us: 100_000, burst: 1 }));
        assert_eq!(Rate::per_minute(600, None), Some(Rate { interval_us: 100_000, burst: 10 }));
        assert_eq!(Rate::per_minute(30, None), Some(Rate { interval_us: 2_000_000, burst: 1 }));
        assert_eq!(Rate::per_minute(30, Some(5)).map(|r| r.burst), Some(5));
    }
}
