//! The embedded in-memory store: the same semantics as Redis, in this process.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::api::{IndexEntry, MAX_INDEX_TIME, check_batch, may_empty};
use super::error::Error;
use super::layout::{
    CREATED_FIELD, REFRESHED_FIELD, TIMEOUT_FIELD, is_user_field, read_created, read_number,
};
use super::{Field, Increment, Incremented, SessionStore, StoreFuture, Write, Written};

const SHARDS: usize = 16;
/// Every this many writes, one shard is swept of expired sessions.
const SWEEP_EVERY: u64 = 64;

/// Sessions kept in this process's memory (`url = memory://`).
///
/// For development, tests and single-process apps: sessions vanish when the
/// process exits and are not shared between processes. Expiry follows the
/// same idle-timeout rules as Redis, on tokio's clock; user indexes expire
/// by the unix times their entries carry.
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
    shards: Vec<Mutex<HashMap<String, Entry>>>,
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

    fn has_user_field(&self) -> bool {
        self.fields.keys().any(|name| is_user_field(name))
    }
}

/// One user's index: member -> entry, or the time until which a removed
/// member stays removed (0: forever).
#[derive(Debug, Default)]
struct Index {
    slots: HashMap<String, Slot>,
}

#[derive(Debug)]
enum Slot {
    Live(IndexEntry),
    Removed(u64),
}

impl Slot {
    /// The time this slot is kept until (0: never expires).
    fn until(&self) -> u64 {
        match self {
            Self::Live(entry) => entry.expires,
            Self::Removed(until) => *until,
        }
    }
}

impl Index {
    /// Drops what is kept until <= `now` (`now` = 0 drops nothing).
    fn prune(&mut self, now: u64) {
        self.slots.retain(|_, slot| {
            let until = slot.until();
            until == 0 || until > now
        });
    }
}

/// The later of two "kept until" times, where 0 means never.
fn later(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 { 0 } else { a.max(b) }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Moves the session at `from` (in `old`) to `key` (in `new`, or in `old`
/// when both share a shard): see [`Write::Move`].
fn move_between(
    old: &mut HashMap<String, Entry>,
    new: Option<&mut HashMap<String, Entry>>,
    from: &str,
    key: String,
    fields: Vec<Field>,
    timeout: u64,
    now: Instant,
) -> Result<Written, Error> {
    let taken = match &new {
        Some(new) => new.get(&key),
        None => old.get(&key),
    }
    .is_some_and(|e| e.is_live(now));
    if taken {
        return Ok(Written::Collision);
    }
    if !old.remove(from).is_some_and(|e| e.is_live(now)) {
        return Ok(Written::Missing);
    }
    let mut entry = Entry {
        fields: fields.into_iter().collect(),
        expires: None,
    };
    entry.expire_in(timeout, now)?;
    new.unwrap_or(old).insert(key, entry);
    Ok(Written::Stored)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            indexes: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            writes: AtomicU64::new(0),
        }
    }

    /// How many live sessions the store holds.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        (0..SHARDS)
            .map(|i| self.lock(i).values().filter(|e| e.is_live(now)).count())
            .sum()
    }

    /// True when the store holds no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, HashMap<String, Entry>> {
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
        if !entry.is_live(now) || !entry.fields.contains_key(CREATED_FIELD) {
            shard.remove(key);
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
        let number = |name: &[u8]| -> Option<Option<u64>> {
            match entry.fields.get(name) {
                None => Some(None),
                Some(value) => read_number(value).map(Some),
            }
        };
        let (created, embedded) = read_created(entry.fields.get(CREATED_FIELD)?)?;
        let refreshed = embedded.max(number(REFRESHED_FIELD)?);
        let refresh_due = op.check(created, refreshed, number(TIMEOUT_FIELD)?)?;
        // Only a field that exists: a new one would grow the session
        // unweighed.
        let current = op.format.read(entry.fields.get(&op.field)?)?;
        let sum = current.checked_add(op.by)?;
        entry.fields.insert(op.field.clone(), op.format.write(sum));
        Some(Incremented::new(sum, refresh_due))
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

    fn write_one(&self, write: Write, now: Instant) -> Result<Written, Error> {
        if let Write::Move {
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
            Write::Delete { key } => {
                shard.remove(&key);
                Written::Deleted
            }
            Write::Create {
                key,
                fields,
                timeout,
            } => {
                if shard.get(&key).is_some_and(|e| e.is_live(now)) {
                    return Ok(Written::Collision);
                }
                let mut entry = Entry {
                    fields: fields.into_iter().collect(),
                    expires: None,
                };
                entry.expire_in(timeout, now)?;
                shard.insert(key, entry);
                Written::Stored
            }
            Write::Update {
                key,
                set,
                delete,
                timeout,
            } => {
                let Some(entry) = shard.get_mut(&key).filter(|e| e.is_live(now)) else {
                    shard.remove(&key);
                    return Ok(Written::Missing);
                };
                entry.expire_in(timeout, now)?;
                let check_empty = may_empty(&set, &delete);
                entry.fields.extend(set);
                for name in &delete {
                    entry.fields.remove(name);
                }
                if check_empty && !entry.has_user_field() {
                    shard.remove(&key);
                    return Ok(Written::Emptied);
                }
                Written::Stored
            }
            Write::Move { .. } => unreachable!("moves are applied by move_one"),
            Write::Refresh {
                key,
                timeout,
                now: unix_now,
            } => {
                let Some(entry) = shard.get_mut(&key).filter(|e| e.is_live(now)) else {
                    shard.remove(&key);
                    return Ok(Written::Missing);
                };
                entry.expire_in(timeout, now)?;
                entry
                    .fields
                    .insert(REFRESHED_FIELD.to_vec(), unix_now.to_string().into_bytes());
                Written::Stored
            }
        })
    }

    fn write_now(&self, writes: Vec<Write>) -> Result<Vec<Written>, Error> {
        check_batch(&writes)?;
        let now = Instant::now();
        let results = writes
            .into_iter()
            .map(|w| self.write_one(w, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.sweep();
        Ok(results)
    }

    fn index_put_now(&self, index_key: &str, entry: IndexEntry) -> Result<(), Error> {
        let entry = entry.checked()?;
        let seen = entry.last_seen;
        let mut indexes = self.lock_indexes();
        let index = indexes.entry(index_key.to_owned()).or_default();
        let member = entry.member.clone();
        let merged = match index.slots.get(&member) {
            Some(Slot::Removed(_)) => None,
            Some(Slot::Live(old)) => Some(entry.merged_into(old)),
            None => Some(entry),
        };
        if let Some(merged) = merged {
            index.slots.insert(member, Slot::Live(merged));
        }
        index.prune(seen);
        if index.slots.is_empty() {
            indexes.remove(index_key);
        }
        Ok(())
    }

    fn index_list_now(&self, index_key: &str, now: u64) -> Vec<IndexEntry> {
        let mut indexes = self.lock_indexes();
        let Some(index) = indexes.get_mut(index_key) else {
            return Vec::new();
        };
        index.prune(now);
        let live = index
            .slots
            .values()
            .filter_map(|slot| match slot {
                Slot::Live(entry) => Some(entry.clone()),
                Slot::Removed(_) => None,
            })
            .collect();
        if index.slots.is_empty() {
            indexes.remove(index_key);
        }
        live
    }

    fn index_remove_now(
        &self,
        index_key: &str,
        members: &[String],
        until: u64,
    ) -> Result<(), Error> {
        if until > MAX_INDEX_TIME {
            return Err(Error::BadIndexEntry(
                "`until` is above 2^53 - 1 unix seconds",
            ));
        }
        if members.is_empty() {
            return Ok(());
        }
        let mut indexes = self.lock_indexes();
        let index = indexes.entry(index_key.to_owned()).or_default();
        for member in members {
            let keep = index
                .slots
                .get(member)
                .map_or(until, |slot| later(until, slot.until()));
            index.slots.insert(member.clone(), Slot::Removed(keep));
        }
        Ok(())
    }

    fn sweep(&self) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(SWEEP_EVERY) {
            let now = Instant::now();
            let shard = ((n / SWEEP_EVERY) as usize) % SHARDS;
            self.lock(shard).retain(|_, entry| entry.is_live(now));
            if shard == 0 {
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
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<Field>>> {
        let fields = self.load_now(key);
        Box::pin(async move { Ok::<_, Error>(fields) })
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        let results = self.write_now(writes);
        Box::pin(async move { results })
    }

    fn index_put(&self, index_key: &str, entry: IndexEntry) -> StoreFuture<'_, ()> {
        let result = self.index_put_now(index_key, entry);
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
}
