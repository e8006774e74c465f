//! Core's [`RateLimitStore`] on Redis (`ratelimit.redis_url`): every
//! instance counts in the same Redis keys, one script call per request.
//!
//! The script is the GCRA step of `strongroom_core::rate_limits::gcra` with
//! Redis's own clock (`TIME`) as `now`, so instances whose clocks differ
//! still agree; Redis runs a script alone, so the read and the write of a
//! bucket are one atomic step. A key expires when its time has passed,
//! which is when it means the same as no key: Redis holds only busy
//! buckets. Times are microseconds since the epoch, which a Lua number (a
//! double) holds exactly until the year 2255.
//!
//! The connection is redis-rs's `ConnectionManager`: one multiplexed
//! connection that reconnects by itself, made at start; a call that fails
//! or takes longer than [`RESPONSE_TIMEOUT`] is an error, and core then
//! counts locally.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use strongroom_core::StoreError;
use strongroom_core::rate_limits::{Rate, RateLimitStore, Spent};

/// How long one call may take before the request is counted locally instead.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);

/// KEYS[1]: the bucket; ARGV[1]: what this request adds to its TAT (µs);
/// ARGV[2]: how far ahead of now the TAT may be (µs). Returns -1 when
/// admitted, else the wait in µs.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local increment = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + increment
local allowed_from = new_tat - tolerance
if allowed_from > now then return allowed_from - now end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return -1
";

/// How long after a failed connection attempt the next may start; calls
/// in between are counted locally.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The shared buckets in Redis.
pub struct RedisRateLimits {
    client: redis::Client,
    /// The connection once made (it then reconnects by itself).
    connection: Mutex<Option<ConnectionManager>>,
    /// Held while a connection is being made, so that the requests
    /// meanwhile wait for it rather than count locally; with the time of
    /// the last failed attempt.
    connecting: tokio::sync::Mutex<Option<Instant>>,
    script: redis::Script,
    prefix: String,
}

impl std::fmt::Debug for RedisRateLimits {
    // Neither the client (its address may carry a password) nor the script.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimits").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisRateLimits {
    /// Counts in the Redis at `url` (`redis://…`), naming keys
    /// `<prefix><bucket>`. An unusable URL is a start-up error; a Redis
    /// that is down is not (see [`connect`](Self::connect)).
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        // The URL's text never goes into an error: it may hold a password.
        let client = redis::Client::open(url)
            .map_err(|error| anyhow::anyhow!("ratelimit.redis_url is not a usable Redis URL ({:?})", error.kind()))?;
        Ok(Self {
            client,
            connection: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(None),
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
        })
    }

    /// Connects now (the server calls this at start, so its first requests
    /// find the connection made). A failure is only logged: requests are
    /// counted locally (core's fallback) and a connection is tried again at
    /// most every [`RECONNECT_AFTER`].
    pub async fn connect(&self) {
        if let Err(error) = self.connection().await {
            tracing::warn!(%error, "cannot reach Redis for rate limits yet: counting in this instance until it answers");
        }
    }

    /// The connection, made now if it is not yet and the last failed
    /// attempt is older than [`RECONNECT_AFTER`]; requests that come while
    /// it is being made wait for it.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(connection) = &*self.connection.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(connection.clone());
        }
        let mut failed_at = self.connecting.lock().await;
        if let Some(connection) = &*self.connection.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(connection.clone());
        }
        if failed_at.is_some_and(|at| at.elapsed() < RECONNECT_AFTER) {
            return Err(StoreError::Unavailable("Redis is not connected".into()));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        match self.client.get_connection_manager_with_config(config).await {
            Ok(connection) => {
                *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection.clone());
                Ok(connection)
            }
            Err(error) => {
                *failed_at = Some(Instant::now());
                Err(StoreError::Unavailable(format!("cannot reach Redis: {:?}", error.kind()).into()))
            }
        }
    }
}

#[async_trait]
impl RateLimitStore for RedisRateLimits {
    async fn spend(&self, bucket: &str, rate: Rate, cost: u32) -> Result<Spent, StoreError> {
        let increment = rate.interval_us.saturating_mul(u64::from(cost));
        let mut connection = self.connection().await?;
        let answer: i64 = self
            .script
            .key(format!("{}{bucket}", self.prefix))
            .arg(increment)
            .arg(rate.tolerance_us())
            .invoke_async(&mut connection)
            .await
            .map_err(|error| StoreError::Unavailable(format!("Redis: {:?}", error.kind()).into()))?;
        Ok(match u64::try_from(answer) {
            Ok(wait) => Spent::Refused { retry_after: Duration::from_micros(wait.max(1)) },
            Err(_) => Spent::Admitted,
        })
    }
}
