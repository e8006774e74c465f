//! The time port. Everything that depends on time (expiry, TOTP windows,
//! rotation) asks a [`Clock`], so tests pin the time instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tells the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, as a duration since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        // Invariant: the system clock is after 1970 on any machine we run on.
        SystemTime::now().duration_since(UNIX_EPOCH).expect("system clock after 1970")
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<Duration>);

impl FixedClock {
    /// A clock standing at `now`.
    pub fn at(now: Duration) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += by;
    }

    /// Moves the clock back by `by` (a skewed or reset clock, in tests of
    /// tokens that are not valid yet).
    pub fn rewind(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = now.saturating_sub(by);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Duration {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_advanced() {
        let clock = FixedClock::at(Duration::from_secs(100));
        assert_eq!(clock.now(), Duration::from_secs(100));
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), Duration::from_secs(105));
    }
}
