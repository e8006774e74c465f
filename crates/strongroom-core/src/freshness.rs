//! Caches of what every request reads (key metadata, API-key principals),
//! and when they may be trusted.
//!
//! Reading a key's state or an API key's row on every request costs a trip
//! to the database's thread per read, most of a small request's time. So
//! the keyring and the API keys cache them, under these rules:
//!
//! - A cached value is used only while this process has confirmed recently
//!   ([`Freshness::confirm`], called by the server's poller every
//!   `database.cache_refresh_ms`) that the database's change generation
//!   has not moved since the value was read. The generation is a counter
//!   that triggers in the database move on every change to keys, key
//!   versions, API keys, grants and access requests, whoever makes it
//!   (another instance, a CLI command, an operator's SQL), and it becomes
//!   visible when that change commits.
//! - A change made through this process's services drops the caches at once
//!   ([`Freshness::changed`]), after it commits.
//! - When the poller has not confirmed within [`Freshness::max_age`] (the
//!   database is unreachable or slow), or never ran (CLI commands, tests),
//!   nothing cached is used: every read goes to the store. Caching fails
//!   towards reading, never towards serving a stale answer for longer.
//!
//! So a change made elsewhere takes effect here within one refresh interval
//! (plus the poll's own time), and at most `max_age` after it committed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many entries one cache holds before it starts over; entries are only
/// made for things that exist in the store, so this bounds memory, not hits.
const MAX_ENTRIES: usize = 10_000;

/// Whether values cached from the store may still be used (see the module).
#[derive(Debug)]
pub struct Freshness {
    /// Moves whenever something cached may have changed.
    epoch: AtomicU64,
    /// The store's change generation last seen by the poller (`u64::MAX`: none yet).
    generation: AtomicU64,
    /// When the poller last confirmed, in ms since `started` (0: never).
    confirmed_ms: AtomicU64,
    started: Instant,
    max_age: Duration,
}

/// The epoch a value was read at: it may be cached under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(u64);

impl Freshness {
    /// Caches trusted for `max_age` after each confirmation. A zero
    /// `max_age` turns caching off.
    pub fn new(max_age: Duration) -> Self {
        Self {
            epoch: AtomicU64::new(0),
            generation: AtomicU64::new(u64::MAX),
            confirmed_ms: AtomicU64::new(0),
            started: Instant::now(),
            max_age,
        }
    }

    /// Caching off: every read goes to the store.
    pub fn off() -> Self {
        Self::new(Duration::ZERO)
    }

    /// How long a confirmation is trusted.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// The current epoch, if cached values may be used now; `None` when the
    /// poller has not confirmed within `max_age`.
    pub fn current(&self) -> Option<Epoch> {
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        let max_age = u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX);
        if confirmed == 0 || self.elapsed_ms().saturating_sub(confirmed) >= max_age {
            return None;
        }
        Some(Epoch(self.epoch.load(Ordering::Acquire)))
    }

    /// The epoch to tag a value with, read *before* the value is read from
    /// the store, so a change committed meanwhile makes the tag stale;
    /// `None` when caching is off, so nothing is kept that is never used.
    pub fn before_read(&self) -> Option<Epoch> {
        (!self.max_age.is_zero()).then(|| Epoch(self.epoch.load(Ordering::Acquire)))
    }

    /// Something cached may have changed (a change of ours just committed):
    /// drop every cached value.
    pub fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `write` (a store call that changes something cached), then
    /// drops every cached value, whether it committed or not: a failed
    /// write changed nothing, and dropping then costs one read each.
    pub async fn after_change<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        let outcome = write.await;
        self.changed();
        outcome
    }

    /// The poller read the store's change `generation`: if it moved, drop
    /// every cached value; either way, what is cached is confirmed as of now.
    pub fn confirm(&self, generation: u64) {
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            self.changed();
        }
        self.confirmed_ms.store(self.elapsed_ms(), Ordering::Release);
    }
}

/// Values read from the store, each kept with the epoch it was read at.
#[derive(Debug)]
pub struct Cached<K, V> {
    entries: Mutex<HashMap<K, (Epoch, V)>>,
}

impl<K, V> Default for Cached<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> Cached<K, V> {
    /// The value of `key`, if one is cached and `freshness` says it may be used.
    pub fn get<Q>(&self, freshness: &Freshness, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let now = freshness.current()?;
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(epoch, _)| *epoch == now).map(|(_, value)| value.clone())
    }

    /// Keeps `value`, read at `epoch` (from [`Freshness::before_read`]);
    /// nothing when there is no epoch (caching is off).
    pub fn put(&self, epoch: Option<Epoch>, key: K, value: V) {
        let Some(epoch) = epoch else { return };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (kept, _)| *kept == epoch);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (epoch, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirmed() -> Freshness {
        let freshness = Freshness::new(Duration::from_secs(60));
        freshness.confirm(7);
        freshness
    }

    #[test]
    fn nothing_is_used_until_the_poller_confirms() {
        let freshness = Freshness::new(Duration::from_secs(60));
        let cache = Cached::default();
        cache.put(freshness.before_read(), "k", 1);
        assert_eq!(cache.get(&freshness, "k"), None);
        freshness.confirm(3);
        assert_eq!(cache.get(&freshness, "k"), None, "the first generation seen drops what was read before");
        cache.put(freshness.before_read(), "k", 2);
        assert_eq!(cache.get(&freshness, "k"), Some(2));
    }

    #[test]
    fn a_change_here_or_in_the_store_drops_every_value() {
        let freshness = confirmed();
        let cache = Cached::default();
        cache.put(freshness.before_read(), "k", 1);
        freshness.confirm(7);
        assert_eq!(cache.get(&freshness, "k"), Some(1), "the same generation keeps it");
        freshness.changed();
        assert_eq!(cache.get(&freshness, "k"), None);
        cache.put(freshness.before_read(), "k", 2);
        freshness.confirm(8);
        assert_eq!(cache.get(&freshness, "k"), None, "another process changed something");
    }

    #[test]
    fn a_value_read_across_a_change_is_never_served() {
        let freshness = confirmed();
        let cache = Cached::default();
        let epoch = freshness.before_read();
        freshness.changed(); // committed while the read was under way
        cache.put(epoch, "k", 1);
        assert_eq!(cache.get(&freshness, "k"), None);
    }

    #[test]
    fn an_unconfirmed_cache_goes_back_to_the_store() {
        let freshness = Freshness::new(Duration::from_millis(30));
        freshness.confirm(1);
        let cache = Cached::default();
        cache.put(freshness.before_read(), "k", 1);
        assert_eq!(cache.get(&freshness, "k"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&freshness, "k"), None, "the poller stopped confirming");
        freshness.confirm(1);
        assert_eq!(cache.get(&freshness, "k"), Some(1));
        let off = Freshness::off();
        off.confirm(1);
        assert_eq!(cache.get(&off, "k"), None, "max_age 0 turns caching off");
        let unused = Cached::default();
        unused.put(off.before_read(), "k", 1);
        assert!(unused.entries.lock().unwrap().is_empty(), "and then nothing is kept");
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let freshness = confirmed();
        let cache = Cached::default();
        let epoch = freshness.before_read();
        for i in 0..MAX_ENTRIES + 5 {
            cache.put(epoch, i, i);
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
