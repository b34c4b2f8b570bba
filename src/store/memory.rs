//! The embedded in-memory store: the same semantics as Redis, in this process.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{
    CREATED_FIELD, Error, Field, FieldName, SessionStore, StoreFuture, TIMEOUT_FIELD, Write,
    Written, classify,
};

const SHARDS: usize = 16;
/// Every this many writes, one shard is swept of expired sessions.
const SWEEP_EVERY: u64 = 64;

/// Sessions kept in this process's memory (`url = memory://`).
///
/// For development, tests and single-process apps: sessions vanish when the
/// process exits and are not shared between processes. Expiry follows the
/// same idle-timeout rules as Redis, on tokio's clock.
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

    /// On load: the session's own timeout if it has one, else the default.
    fn refresh(&mut self, default_timeout: u64, now: Instant) {
        let timeout = stored_timeout(
            self.fields
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
        )
        .unwrap_or(default_timeout);
        self.expire_in(timeout, now);
    }

    fn expire_in(&mut self, timeout: u64, now: Instant) {
        self.expires = (timeout > 0).then(|| now + Duration::from_secs(timeout));
    }

    fn user_fields(&self) -> usize {
        self.fields.keys().filter(|name| !is_meta(name)).count()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
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

    fn load_now(&self, key: &str, default_timeout: u64) -> Option<Vec<Field>> {
        let now = Instant::now();
        let mut shard = self.lock(self.shard(key));
        let entry = shard.get_mut(key)?;
        if !entry.is_live(now) || !entry.fields.contains_key(CREATED_FIELD) {
            shard.remove(key);
            return None;
        }
        entry.refresh(default_timeout, now);
        Some(
            entry
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    fn write_one(&self, write: Write, now: Instant) -> Written {
        match write {
            Write::Delete { key } => {
                self.lock(self.shard(&key)).remove(&key);
                Written::Deleted
            }
            Write::Touch { key, timeout } => {
                let mut shard = self.lock(self.shard(&key));
                match shard.get_mut(&key).filter(|e| e.is_live(now)) {
                    Some(entry) => {
                        entry.expire_in(timeout, now);
                        Written::Stored
                    }
                    None => Written::Missing,
                }
            }
            Write::Create {
                key,
                fields,
                timeout,
            } => {
                let mut shard = self.lock(self.shard(&key));
                if shard.get(&key).is_some_and(|e| e.is_live(now)) {
                    return Written::Collision;
                }
                let mut entry = Entry {
                    fields: fields.into_iter().collect(),
                    expires: None,
                };
                if entry.user_fields() == 0 {
                    shard.remove(&key);
                    return Written::Emptied;
                }
                entry.expire_in(timeout, now);
                shard.insert(key, entry);
                Written::Stored
            }
            Write::Update {
                key,
                set,
                delete,
                timeout,
            } => {
                let mut shard = self.lock(self.shard(&key));
                let Some(entry) = shard.get_mut(&key).filter(|e| e.is_live(now)) else {
                    shard.remove(&key);
                    return Written::Missing;
                };
                entry.fields.extend(set);
                for name in &delete {
                    entry.fields.remove(name);
                }
                if entry.user_fields() == 0 {
                    shard.remove(&key);
                    return Written::Emptied;
                }
                if let Some(timeout) = timeout {
                    entry.expire_in(timeout, now);
                }
                Written::Stored
            }
        }
    }

    fn sweep(&self) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(SWEEP_EVERY) {
            let now = Instant::now();
            let shard = ((n / SWEEP_EVERY) as usize) % SHARDS;
            self.lock(shard).retain(|_, entry| entry.is_live(now));
        }
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(
        &'a self,
        key: &'a str,
        default_timeout: u64,
    ) -> StoreFuture<'a, Option<Vec<Field>>> {
        let fields = self.load_now(key, default_timeout);
        Box::pin(async move { Ok::<_, Error>(fields) })
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        let now = Instant::now();
        let results = writes.into_iter().map(|w| self.write_one(w, now)).collect();
        self.sweep();
        Box::pin(async move { Ok(results) })
    }
}

/// True if a field name is metadata rather than a user key.
fn is_meta(field: &[u8]) -> bool {
    matches!(classify(field), FieldName::Meta(_))
}

/// Returns the timeout stored in a session's fields, if any.
fn stored_timeout<'a>(mut fields: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Option<u64> {
    fields
        .find(|(name, _)| *name == TIMEOUT_FIELD)
        .and_then(|(_, value)| std::str::from_utf8(value).ok()?.parse().ok())
}
