//! The process cache (`client_cache_size`): sessions kept decoded in the
//! process, served without a Redis command, and kept true by Redis.
//!
//! # How it stays true
//!
//! A tracker (see `store::redis::tracking`) holds one connection per Redis
//! node with `CLIENT TRACKING ON BCAST PREFIX <prefix>`: Redis then sends it
//! the name of every session key that changes, expires or is deleted, by
//! anyone. Each name evicts the entry ([`Invalidate::evict`]); a flush
//! (`FLUSHALL`, a restart, a failover) empties the cache.
//!
//! The cache serves only while every tracking connection is up
//! ([`Invalidate::go_live`]). While one is down, connecting or after its
//! task ended, nothing is served from it and nothing fills it: requests go
//! to Redis (and answer 503 when Redis is down). It is emptied before it
//! serves again.
//!
//! # The fill race
//!
//! A load reads a session, then fills the cache with it. A change made in
//! between would be lost if its invalidation were processed before the
//! fill. So a load takes a [`Ticket`] before it sends its command: the
//! cache's epoch (bumped by every flush) and the stamp of the key's slot
//! (bumped by every eviction of a key in that slot). The fill stores the
//! session only if neither moved, and checks again after storing it,
//! removing it when one did. Slots are shared by many keys, so an eviction
//! may cost another key its fill; never its correctness.
//!
//! # The invalidation window
//!
//! Redis sends a write's invalidation to the tracking connections before
//! the writer can act on its reply, but this process may read the
//! connection later than it serves the next request. So a hit is served
//! only when every tracking connection's [`Fence`] says nothing sent by
//! Redis is waiting: not in the socket (a non-blocking peek), not read and
//! still being handled. Otherwise the request reads from Redis. What
//! remains is a push still on the wire when the next request arrives: on
//! one machine or one network, a write's reply reaches its writer no sooner
//! than its invalidation reaches the tracker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use quick_cache::Weighter;

use super::{
    Append, Appended, Increment, Incremented, IndexEntry, SessionStore, StoreFuture, Write, Written,
};

/// The number of eviction stamps: keys share them by hash.
const SLOTS: usize = 4096;

/// What the tracker calls when Redis speaks.
pub(crate) trait Invalidate: Send + Sync + 'static {
    /// The key `key` changed, expired or was deleted.
    fn evict(&self, key: &[u8]);
    /// Everything may have changed (a flush, a reconnect, a failover).
    fn flush(&self);
    /// Every tracking connection is up: the cache is flushed, then serves
    /// while every fence says its connection holds nothing unprocessed.
    fn go_live(&self, fences: Vec<Fence>);
    /// A tracking connection is down or being made: flushed, not served.
    fn go_dark(&self);
    /// The tracker's task ended: nothing is served until another starts.
    fn stopped(&self);
}

/// True when a tracking connection has nothing that Redis sent and the
/// tracker has not processed yet (neither in the socket nor read and still
/// being handled): a hit is served only when every fence says so, which
/// closes the window between a write's reply and its invalidation.
pub(crate) type Fence = Box<dyn Fn() -> bool + Send + Sync>;

/// Starts the tracker for a cache on the current Tokio runtime; false when
/// there is none.
pub(crate) type Start = Box<dyn Fn(Weak<dyn Invalidate>) -> bool + Send + Sync>;

/// The size a cached value counts for against `client_cache_bytes`.
pub(crate) trait Weigh {
    /// Bytes held, roughly: keys, values and their bookkeeping.
    fn bytes(&self) -> u64;
}

/// Proof of what the cache knew when a load started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    slot: usize,
    stamp: u64,
}

#[derive(Clone)]
struct ByBytes {
    /// The least an entry counts for, so that at most `entries` fit.
    floor: u64,
}

impl<V: Weigh> Weighter<String, V> for ByBytes {
    fn weight(&self, key: &String, value: &V) -> u64 {
        (key.len() as u64 + value.bytes()).max(self.floor)
    }
}

/// Sessions by store key, bounded by entries and bytes.
pub(crate) struct ClientCache<V> {
    entries: quick_cache::sync::Cache<String, V, ByBytes>,
    live: AtomicBool,
    epoch: AtomicU64,
    stamps: Box<[AtomicU64]>,
    /// A tracker task is running (or being started).
    running: AtomicBool,
    fences: RwLock<Vec<Fence>>,
    start: Start,
}

impl<V: Clone + Weigh> std::fmt::Debug for ClientCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache")
            .field("entries", &self.entries.len())
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<V: Clone + Weigh + Send + Sync + 'static> ClientCache<V> {
    /// A cache of at most `entries` sessions and `bytes` bytes, kept true by
    /// the tracker that `start` starts on first use.
    pub(crate) fn new(entries: u64, bytes: u64, start: Start) -> Arc<Self> {
        let entries = entries.max(1);
        let floor = (bytes / entries).max(1);
        Arc::new(Self {
            entries: quick_cache::sync::Cache::with_weighter(
                usize::try_from(entries).unwrap_or(usize::MAX),
                bytes.max(floor),
                ByBytes { floor },
            ),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            stamps: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            running: AtomicBool::new(false),
            fences: RwLock::new(Vec::new()),
            start,
        })
    }

    /// True when the cache may be used: its tracker runs and every tracking
    /// connection is up. Starts the tracker when none runs.
    fn usable(self: &Arc<Self>) -> bool {
        if !self.running.load(Ordering::Acquire)
            && self
                .running
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let this: Arc<dyn Invalidate> = Arc::clone(self) as Arc<dyn Invalidate>;
            if !(self.start)(Arc::downgrade(&this)) {
                self.running.store(false, Ordering::Release);
            }
        }
        self.live.load(Ordering::SeqCst)
    }

    /// The cached session at `key`, if the cache may serve it.
    pub(crate) fn get(self: &Arc<Self>, key: &str) -> Option<V> {
        if !self.usable() {
            return None;
        }
        // The fences first: an invalidation they wait for is processed
        // before the entry is looked up.
        let fences = self.fences.read().unwrap_or_else(PoisonError::into_inner);
        if !fences.iter().all(|quiet| quiet()) {
            return None;
        }
        drop(fences);
        self.entries.get(key)
    }

    /// A ticket for a load of `key` about to be sent, or `None` when its
    /// result must not be cached.
    pub(crate) fn ticket(self: &Arc<Self>, key: &str) -> Option<Ticket> {
        if !self.usable() {
            return None;
        }
        let slot = slot_of(key.as_bytes());
        Some(Ticket {
            epoch: self.epoch.load(Ordering::SeqCst),
            slot,
            stamp: self.stamps[slot].load(Ordering::SeqCst),
        })
    }

    fn still(&self, ticket: Ticket) -> bool {
        self.live.load(Ordering::SeqCst)
            && self.epoch.load(Ordering::SeqCst) == ticket.epoch
            && self.stamps[ticket.slot].load(Ordering::SeqCst) == ticket.stamp
    }

    /// Keeps `value`, read at `key` by the load that took `ticket`, unless
    /// an eviction or flush came since.
    pub(crate) fn fill(&self, key: &str, value: V, ticket: Ticket) {
        if !self.still(ticket) {
            return;
        }
        self.entries.insert(key.to_owned(), value);
        if !self.still(ticket) {
            self.entries.remove(key);
        }
    }

    /// How many sessions are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl<V: Clone + Weigh + Send + Sync + 'static> Invalidate for ClientCache<V> {
    fn evict(&self, key: &[u8]) {
        // The stamp first: a fill racing this eviction sees it moved.
        self.stamps[slot_of(key)].fetch_add(1, Ordering::SeqCst);
        if let Ok(key) = std::str::from_utf8(key) {
            self.entries.remove(key);
        }
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    fn go_live(&self, fences: Vec<Fence>) {
        *self.fences.write().unwrap_or_else(PoisonError::into_inner) = fences;
        self.flush();
        self.live.store(true, Ordering::SeqCst);
    }

    fn go_dark(&self) {
        self.live.store(false, Ordering::SeqCst);
        self.flush();
        // A fence holds its socket open: without this, a dropped
        // connection would stay open on the server, still sent pushes.
        let fences =
            std::mem::take(&mut *self.fences.write().unwrap_or_else(PoisonError::into_inner));
        drop(fences);
    }

    fn stopped(&self) {
        self.go_dark();
        self.running.store(false, Ordering::Release);
    }
}

/// A store whose writes evict what they touch from the process cache as
/// they return, so that this process reads its own writes at once rather
/// than when Redis's invalidation arrives. Evicted whatever the outcome: a
/// write that timed out may have been applied.
pub(crate) struct Evicting {
    inner: Arc<dyn SessionStore>,
    cache: Arc<dyn Invalidate>,
}

impl Evicting {
    pub(crate) fn new(inner: Arc<dyn SessionStore>, cache: Arc<dyn Invalidate>) -> Self {
        Self { inner, cache }
    }
}

impl SessionStore for Evicting {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, super::Loaded> {
        self.inner.load(key)
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        let keys: Vec<String> = writes
            .iter()
            .flat_map(|write| match write {
                Write::Move { from, key, .. } => vec![from.clone(), key.clone()],
                Write::Create { key, .. }
                | Write::Update { key, .. }
                | Write::Delete { key }
                | Write::Retire { key } => vec![key.clone()],
            })
            .collect();
        Box::pin(async move {
            let written = self.inner.write(writes).await;
            for key in keys {
                self.cache.evict(key.as_bytes());
            }
            written
        })
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>> {
        let put = self.inner.index_put(index_key, entry, cap);
        Box::pin(async move {
            let revoked = put.await?;
            for key in &revoked {
                self.cache.evict(key.as_bytes());
            }
            Ok(revoked)
        })
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        self.inner.index_list(index_key, now)
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        self.inner.index_remove(index_key, members, until)
    }

    fn moves_atomically(&self) -> bool {
        self.inner.moves_atomically()
    }

    fn increment<'a>(&'a self, op: &'a Increment) -> StoreFuture<'a, Option<Incremented>> {
        Box::pin(async move {
            let done = self.inner.increment(op).await;
            self.cache.evict(op.key.as_bytes());
            done
        })
    }

    fn append<'a>(&'a self, op: &'a Append) -> StoreFuture<'a, Option<Appended>> {
        Box::pin(async move {
            let done = self.inner.append(op).await;
            self.cache.evict(op.key.as_bytes());
            done
        })
    }
}

/// The stamp slot of a key (FNV-1a: keys are digests, spread already).
fn slot_of(key: &[u8]) -> usize {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % SLOTS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Value(u64);

    impl Weigh for Value {
        fn bytes(&self) -> u64 {
            self.0
        }
    }

    fn live_cache(entries: u64, bytes: u64) -> Arc<ClientCache<Value>> {
        let cache = ClientCache::new(entries, bytes, Box::new(|_| true));
        cache.go_live(Vec::new());
        cache
    }

    #[test]
    fn nothing_is_served_or_filled_until_live() {
        let cache = ClientCache::new(10, 10_000, Box::new(|_| true));
        assert!(cache.ticket("k").is_none());
        cache.go_live(Vec::new());
        let ticket = cache.ticket("k").unwrap();
        cache.fill("k", Value(1), ticket);
        assert_eq!(cache.get("k"), Some(Value(1)));
        cache.go_dark();
        assert_eq!(cache.get("k"), None);
        cache.go_live(Vec::new());
        assert_eq!(cache.get("k"), None, "flushed before serving again");
        let ticket = cache.ticket("k").unwrap();
        cache.fill("k", Value(1), ticket);
        assert_eq!(cache.get("k"), Some(Value(1)));
        let quiet = Arc::new(AtomicBool::new(false));
        let fence = Arc::clone(&quiet);
        cache.go_live(vec![Box::new(move || fence.load(Ordering::SeqCst))]);
        let ticket = cache.ticket("k").unwrap();
        cache.fill("k", Value(2), ticket);
        assert_eq!(cache.get("k"), None, "a connection with unprocessed pushes");
        quiet.store(true, Ordering::SeqCst);
        assert_eq!(cache.get("k"), Some(Value(2)));
    }

    #[test]
    fn an_eviction_or_flush_during_a_load_stops_its_fill() {
        let cache = live_cache(10, 10_000);
        let ticket = cache.ticket("k").unwrap();
        cache.evict(b"k");
        cache.fill("k", Value(1), ticket);
        assert_eq!(cache.get("k"), None);
        let ticket = cache.ticket("k").unwrap();
        cache.flush();
        cache.fill("k", Value(1), ticket);
        assert_eq!(cache.get("k"), None);
        // A reconnect between ticket and fill: the epoch moved.
        let ticket = cache.ticket("k").unwrap();
        cache.go_dark();
        cache.go_live(Vec::new());
        cache.fill("k", Value(1), ticket);
        assert_eq!(cache.get("k"), None);
        let ticket = cache.ticket("k").unwrap();
        cache.fill("k", Value(2), ticket);
        assert_eq!(cache.get("k"), Some(Value(2)));
        cache.evict(b"k");
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn bounded_by_entries_and_by_bytes() {
        let cache = live_cache(100, 100_000);
        for i in 0..1000 {
            let key = format!("k{i}");
            let ticket = cache.ticket(&key).unwrap();
            cache.fill(&key, Value(1), ticket);
        }
        assert!(cache.len() <= 100, "{}", cache.len());
        let cache = live_cache(100, 10_000);
        for i in 0..1000 {
            let key = format!("k{i}");
            let ticket = cache.ticket(&key).unwrap();
            cache.fill(&key, Value(1_000), ticket);
        }
        assert!(cache.len() <= 10, "{}", cache.len());
    }

    #[test]
    fn a_stopped_tracker_is_started_again() {
        let starts = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&starts);
        let cache: Arc<ClientCache<Value>> = ClientCache::new(
            10,
            1000,
            Box::new(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                true
            }),
        );
        assert!(cache.get("k").is_none());
        assert!(cache.get("k").is_none());
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        cache.stopped();
        assert!(cache.get("k").is_none());
        assert_eq!(starts.load(Ordering::SeqCst), 2);
    }
}
