//! The embedded in-memory store: the same semantics as Redis, in this process.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lru::LruCache;

mod index;
use index::Index;
use tokio::time::Instant;

use super::api::{IndexEntry, check_batch};
use super::error::Error;
use super::hash::{RawWrite, decode};
use super::layout::{
    CREATED_FIELD, Field, MOVED_FIELD, MOVED_GRACE, REFRESHED_FIELD, TIMEOUT_FIELD, is_user_field,
    read_created, read_number, user_field,
};
use super::{
    Append, Appended, Guard, Increment, Incremented, Loaded, SessionStore, StoreFuture, Times,
    Write, Written,
};

/// Shards of a store of at least [`MANY`] sessions (fewer get one, so that
/// the least recently used session of the whole store goes first).
const SHARDS: usize = 16;
const MANY: usize = 1024;
/// Every this many writes, the user indexes are swept of expired entries.
const SWEEP_EVERY: u64 = 64;
/// At each write, at most this many of the least recently used sessions
/// of its shard are checked, and dropped when expired: sweeping costs a
/// few steps per write, never a pass over the store.
const SWEEP_STEPS: usize = 8;
/// The default of `memory_max_sessions`.
pub(crate) const DEFAULT_MAX_SESSIONS: usize = 100_000;

type Shard = LruCache<String, Entry>;

/// Sessions kept in this process's memory (`url = memory://`).
///
/// For development, tests and single-process apps: sessions vanish when the
/// process exits and are not shared between processes. Expiry follows the
/// same idle-timeout rules as Redis, on tokio's clock; user indexes expire
/// by the unix times their entries carry.
///
/// The store holds at most `memory_max_sessions` sessions
/// (100,000 unless set with [`MemoryStore::with_max_sessions`]):
/// past it, the least recently used ones are dropped first (in a store of
/// 1024 or more, per sixteenth of the store, each holding a sixteenth of
/// the bound), so anonymous traffic cannot grow it without bound.
///
/// ```
/// use redis_sessions::{MemoryStore, RedisSessionFactory};
///
/// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
///     .store(MemoryStore::new())
///     .build()
///     .unwrap();
/// # let _ = factory;
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    shards: Vec<Mutex<Shard>>,
    /// The most sessions one shard holds.
    per_shard: usize,
    indexes: Mutex<HashMap<String, Index>>,
    hasher: RandomState,
    writes: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    fields: HashMap<Vec<u8>, Vec<u8>>,
    expires: Option<Instant>,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }

    /// Sets the TTL; the timeout was checked against `MAX_TIMEOUT`, and the
    /// sum is checked too.
    fn expire_in(&mut self, timeout: u64, now: Instant) -> Result<(), Error> {
        self.expires = match timeout {
            0 => None,
            _ => Some(
                now.checked_add(Duration::from_secs(timeout))
                    .ok_or(Error::TimeoutTooLong(timeout))?,
            ),
        };
        Ok(())
    }

    /// The marker a moved session leaves at its old key.
    fn moved(now: Instant) -> Self {
        Self {
            fields: HashMap::from([(MOVED_FIELD.to_vec(), b"1".to_vec())]),
            expires: now.checked_add(Duration::from_secs(MOVED_GRACE)),
        }
    }

    /// Whether this is a session (not a moved session's marker).
    fn is_session(&self) -> bool {
        self.fields.contains_key(CREATED_FIELD)
    }

    /// The creation time, the last refresh and the per-session timeout, as
    /// an in-place change checks them; `None` when one is not a number.
    fn metadata(&self) -> Option<(u64, Option<u64>, Option<u64>)> {
        let number = |name: &[u8]| -> Option<Option<u64>> {
            match self.fields.get(name) {
                None => Some(None),
                Some(value) => read_number(value).map(Some),
            }
        };
        let (created, embedded) = read_created(self.fields.get(CREATED_FIELD)?)?;
        let refreshed = embedded.max(number(REFRESHED_FIELD)?);
        Some((created, refreshed, number(TIMEOUT_FIELD)?))
    }

    /// The session's times, if its metadata are whole and pass `guard`.
    fn times(&self, guard: &Guard) -> Option<Times> {
        let (created, refreshed, timeout) = self.metadata()?;
        guard
            .admits(created, timeout)
            .then(|| Times::new(refreshed.unwrap_or(0), timeout))
    }

    /// The bytes of the user fields, names and values.
    fn size(&self) -> usize {
        self.fields
            .iter()
            .filter(|(name, _)| is_user_field(name))
            .map(|(name, value)| name.len() + value.len())
            .sum()
    }

    /// Whether setting `set` and deleting `delete` would grow the user
    /// fields past `max` (an update that does not grow them always may).
    fn grows_past(&self, set: &[Field], delete: &[Vec<u8>], max: u64) -> bool {
        let weight = |name: &[u8]| {
            self.fields
                .get(name)
                .filter(|_| is_user_field(name))
                .map_or(0, |old| (name.len() + old.len()) as i64)
        };
        let mut delta = 0i64;
        for (name, value) in set.iter().filter(|(name, _)| is_user_field(name)) {
            delta += (name.len() + value.len()) as i64 - weight(name);
        }
        for name in delete {
            delta -= weight(name);
        }
        delta > 0 && self.size() as i64 + delta > max as i64
    }

    fn has_user_field(&self) -> bool {
        self.fields.keys().any(|name| is_user_field(name))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Moves the session at `from` (in `old`) to `key` (in `new`, or in `old`
/// when both share a shard): see [`Write::Move`].
fn move_between(
    old: &mut Shard,
    new: Option<&mut Shard>,
    from: &str,
    key: String,
    fields: Vec<Field>,
    timeout: u64,
    now: Instant,
) -> Result<Written, Error> {
    let taken = match &new {
        Some(new) => new.peek(&key),
        None => old.peek(&key),
    }
    .is_some_and(|e| e.is_live(now));
    if taken {
        return Ok(Written::Collision);
    }
    if !old
        .pop(from)
        .is_some_and(|e| e.is_live(now) && e.is_session())
    {
        return Ok(Written::Missing);
    }
    old.put(from.to_owned(), Entry::moved(now));
    let mut entry = Entry {
        fields: fields.into_iter().collect(),
        expires: None,
    };
    entry.expire_in(timeout, now)?;
    new.unwrap_or(old).put(key, entry);
    Ok(Written::Stored)
}

impl MemoryStore {
    /// An empty store of at most 100,000 sessions (`memory_max_sessions`).
    pub fn new() -> Self {
        Self::with_max_sessions(DEFAULT_MAX_SESSIONS)
    }

    /// An empty store of at most `max` sessions (`memory_max_sessions`; at
    /// least 1): past it, the least recently used sessions are dropped.
    ///
    /// ```
    /// use redis_sessions::MemoryStore;
    ///
    /// let store = MemoryStore::with_max_sessions(10_000);
    /// assert!(store.is_empty());
    /// ```
    pub fn with_max_sessions(max: usize) -> Self {
        let max = max.max(1);
        let shards = if max < MANY { 1 } else { SHARDS };
        Self {
            shards: (0..shards)
                .map(|_| Mutex::new(LruCache::unbounded()))
                .collect(),
            per_shard: max.div_ceil(shards),
            indexes: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            writes: AtomicU64::new(0),
        }
    }

    /// How many live sessions the store holds.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        (0..self.shards.len())
            .map(|i| self.lock(i).iter().filter(|(_, e)| e.is_live(now)).count())
            .sum()
    }

    /// True when the store holds no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> usize {
        match self.shards.len() {
            1 => 0,
            n => (self.hasher.hash_one(key) as usize) % n,
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        // No code below panics while holding the lock, so poisoning cannot
        // leave a half-made change behind.
        self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_indexes(&self) -> MutexGuard<'_, HashMap<String, Index>> {
        // As `lock`: nothing panics while the lock is held.
        self.indexes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn load_now(&self, key: &str) -> Option<Vec<Field>> {
        let now = Instant::now();
        let mut shard = self.lock(self.shard(key));
        let entry = shard.get(key)?;
        if !entry.is_live(now) {
            shard.pop(key);
            return None;
        }
        if !entry.is_session() {
            // A moved session's marker stays for the writers it is for.
            return None;
        }
        Some(
            entry
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// An [`Increment`], if it is allowed (see there).
    fn increment_now(&self, op: &Increment) -> Option<Incremented> {
        let now = Instant::now();
        let mut shard = self.lock(self.shard(&op.key));
        let entry = shard.get_mut(&op.key).filter(|entry| entry.is_live(now))?;
        let times = entry.times(&op.guard)?;
        let field = user_field(op.entry.clone());
        // Only a field that exists: a new one would grow the session
        // unweighed.
        let current = op.format.read(entry.fields.get(&field)?)?;
        let sum = current.checked_add(op.by)?;
        entry.fields.insert(field, op.format.write(sum));
        Some(Incremented::new(sum, times))
    }

    /// An [`Append`], if it is allowed (see there).
    fn append_now(&self, op: &Append) -> Option<Appended> {
        let now = Instant::now();
        let mut shard = self.lock(self.shard(&op.key));
        let entry = shard.get_mut(&op.key).filter(|entry| entry.is_live(now))?;
        let times = entry.times(&op.guard)?;
        let field = user_field(op.entry.clone());
        let old = entry.fields.get(&field);
        let value = op.format.append(old.map(Vec::as_slice), &op.element)?;
        let grown =
            entry.size() - old.map_or(0, |old| field.len() + old.len()) + field.len() + value.len();
        if grown as u64 > op.max_bytes {
            return Some(Appended::TooLarge);
        }
        entry.fields.insert(field, value.clone());
        Some(Appended::Stored { value, times })
    }

    /// A [`Write::Move`], holding both shards' locks (in index order, so two
    /// moves never wait on each other).
    fn move_one(
        &self,
        from: &str,
        key: String,
        fields: Vec<Field>,
        timeout: u64,
        now: Instant,
    ) -> Result<Written, Error> {
        let (a, b) = (self.shard(from), self.shard(&key));
        if a == b {
            let mut shard = self.lock(a);
            return move_between(&mut shard, None, from, key, fields, timeout, now);
        }
        let mut low = self.lock(a.min(b));
        let mut high = self.lock(a.max(b));
        let (old, new) = if a < b {
            (&mut *low, &mut *high)
        } else {
            (&mut *high, &mut *low)
        };
        move_between(old, Some(new), from, key, fields, timeout, now)
    }

    fn write_one(&self, write: RawWrite, now: Instant) -> Result<Written, Error> {
        if let RawWrite::Move {
            from,
            key,
            fields,
            timeout,
        } = write
        {
            return self.move_one(&from, key, fields, timeout, now);
        }
        let mut shard = self.lock(self.shard(write.key()));
        Ok(match write {
            RawWrite::Delete { key } => {
                shard.pop(&key);
                Written::Deleted
            }
            RawWrite::Retire { key } => {
                if shard.pop(&key).is_some_and(|e| e.is_live(now)) {
                    shard.put(key, Entry::moved(now));
                }
                Written::Deleted
            }
            RawWrite::Create {
                key,
                fields,
                timeout,
            } => {
                if shard.peek(&key).is_some_and(|e| e.is_live(now)) {
                    return Ok(Written::Collision);
                }
                let mut entry = Entry {
                    fields: fields.into_iter().collect(),
                    expires: None,
                };
                entry.expire_in(timeout, now)?;
                shard.put(key, entry);
                Written::Stored
            }
            RawWrite::Update {
                key,
                set,
                delete,
                timeout,
                max_bytes,
                check_empty,
            } => {
                let Some(entry) = shard.get_mut(&key).filter(|e| e.is_live(now)) else {
                    shard.pop(&key);
                    return Ok(Written::Missing);
                };
                if !entry.is_session() {
                    return Ok(if entry.fields.contains_key(MOVED_FIELD) {
                        Written::Moved
                    } else {
                        Written::Missing
                    });
                }
                if max_bytes > 0 && entry.grows_past(&set, &delete, max_bytes) {
                    return Ok(Written::TooLarge);
                }
                entry.expire_in(timeout, now)?;
                entry.fields.extend(set);
                for name in &delete {
                    entry.fields.remove(name);
                }
                if check_empty && !entry.has_user_field() {
                    shard.pop(&key);
                    return Ok(Written::Emptied);
                }
                Written::Stored
            }
            RawWrite::Move { .. } => unreachable!("moves are applied by move_one"),
        })
    }

    fn write_now(&self, writes: Vec<Write>) -> Result<Vec<Written>, Error> {
        check_batch(&writes)?;
        let now = Instant::now();
        let mut touched = Vec::with_capacity(2);
        let results = writes
            .into_iter()
            .map(|w| {
                touched.push(self.shard(w.key()));
                self.write_one(RawWrite::from(w), now)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for shard in touched {
            self.trim(shard, now);
        }
        self.sweep();
        Ok(results)
    }

    /// Drops the expired sessions among the least recently used few of
    /// `shard`, then the least recently used ones past its bound.
    fn trim(&self, shard: usize, now: Instant) {
        let mut shard = self.lock(shard);
        for _ in 0..SWEEP_STEPS {
            match shard.peek_lru() {
                Some((_, entry)) if !entry.is_live(now) => {
                    shard.pop_lru();
                }
                _ => break,
            }
        }
        while shard.len() > self.per_shard {
            shard.pop_lru();
        }
    }

    fn sweep(&self) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(SWEEP_EVERY) {
            // Indexes expire by the unix times of their entries.
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            self.lock_indexes().retain(|_, index| {
                index.prune(unix);
                !index.slots.is_empty()
            });
        }
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded> {
        let loaded = self.load_now(key).map(decode);
        Box::pin(async move { Ok::<_, Error>(loaded) })
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        let results = self.write_now(writes);
        Box::pin(async move { results })
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>> {
        let result = self.index_put_now(index_key, entry, cap);
        Box::pin(async move { result })
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        let live = self.index_list_now(index_key, now);
        Box::pin(async move { Ok(live) })
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        let result = self.index_remove_now(index_key, members, until);
        Box::pin(async move { result })
    }

    fn moves_atomically(&self) -> bool {
        true
    }

    fn increment<'a>(&'a self, op: &'a Increment) -> StoreFuture<'a, Option<Incremented>> {
        let sum = self.increment_now(op);
        Box::pin(async move { Ok(sum) })
    }

    fn append<'a>(&'a self, op: &'a Append) -> StoreFuture<'a, Option<Appended>> {
        let appended = self.append_now(op);
        Box::pin(async move { Ok(appended) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Meta, Record};

    fn create(store: &MemoryStore, key: &str) -> Written {
        let session = Record::new(Meta::new(1, 1), vec![(b"k".to_vec(), b"v".to_vec())]);
        store
            .write_now(vec![Write::create(key, session, 1200)])
            .unwrap()[0]
    }

    #[tokio::test]
    async fn past_its_bound_the_least_recently_used_sessions_go_first() {
        let store = MemoryStore::with_max_sessions(10);
        for i in 0..10 {
            assert_eq!(create(&store, &format!("s{i}")), Written::Stored);
        }
        // s0 is used again: s1 is now the least recently used.
        assert!(store.load_now("s0").is_some());
        create(&store, "s10");
        assert_eq!(store.len(), 10);
        assert!(store.load_now("s0").is_some(), "recently used: kept");
        assert!(store.load_now("s1").is_none(), "least recently used: gone");
        for i in 11..100 {
            create(&store, &format!("s{i}"));
        }
        assert_eq!(store.len(), 10, "never more than the bound");
    }

    #[tokio::test]
    async fn anonymous_traffic_cannot_grow_the_default_store_past_its_bound() {
        let store = MemoryStore::new();
        for i in 0..DEFAULT_MAX_SESSIONS + 20_000 {
            create(&store, &format!("anonymous-{i}"));
        }
        let len = store.len();
        assert!(
            len <= DEFAULT_MAX_SESSIONS && len > DEFAULT_MAX_SESSIONS * 9 / 10,
            "{len}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expired_sessions_are_swept_a_few_at_a_time_by_later_writes() {
        let store = MemoryStore::with_max_sessions(1000);
        for i in 0..8 {
            create(&store, &format!("old{i}"));
        }
        tokio::time::advance(Duration::from_secs(1201)).await;
        create(&store, "new");
        let shard = store.lock(0);
        assert_eq!(shard.len(), 1, "the expired ones were dropped by the write");
    }
}
