//! [`PyramidStore`]: a [`SessionStore`] over the original's storage, one
//! pickled blob `{'managed_dict': {...}, 'created': float, 'timeout': int}`
//! per session, under the session id.
//!
//! Loading (one `GET`) turns the blob into a [`Record`]: each
//! `managed_dict` entry with a str key becomes an entry holding that
//! value's own pickle (see [`PickleCodec`](super::PickleCodec)), `created`
//! and `timeout` become the record's (the original keeps a timeout per
//! session). Entries with keys that are not str are not shown, and are kept
//! by every update. Other metadata (the last refresh, a bound user) is kept
//! as extra top-level entries of the blob, named `"\0r"`, `"\0u"`, `"\0a"`
//! and `"\0b"`: Python ignores them, and drops them when it next writes the
//! session (the next refresh then simply comes early).
//!
//! An update that deletes keys and leaves `managed_dict` empty deletes the
//! session ([`Written::Emptied`]), but one that only sets metadata does not
//! (the original makes empty sessions on every first access). The per-user
//! index lives in our own format, next to the sessions.
//!
//! An update reads the blob again, applies its fields to it and stores it
//! with a script that checks the blob is still the one read (by SHA-1), so
//! a concurrent write by either side is never undone: on a mismatch it reads
//! again after a short random wait, up to [`UPDATE_ATTEMPTS`] times. That is two round trips per
//! update. Keys are never watched: connections are shared by all requests.

use std::sync::OnceLock;

use redis::Script;
use sha1::{Digest, Sha1};

use super::pickle::{self, Value};
use crate::store::{
    Change, Corrupt, Error, IndexEntry, Loaded, MAX_TIMEOUT, Meta, Record, RedisClient, RedisStore,
    SessionStore, StoreFuture, Write, Written, log_tag,
};

/// The top-level blob entries that keep our metadata the original has no
/// place for (Python ignores them).
const REFRESHED: &str = "\0r";
const USER: &str = "\0u";
const AGENT: &str = "\0a";
const BOUND: &str = "\0b";

/// How often an update is tried when the blob keeps changing under it. Each
/// round lets at least one of the concurrent writers through.
pub(crate) const UPDATE_ATTEMPTS: usize = 16;

const CAS_LUA: &str = r"
-- KEYS[1]: the session. ARGV[1]: SHA-1 (hex) of the blob the change was
-- made to. ARGV[2]: the new blob, or '' to delete. ARGV[3]: the TTL in
-- seconds (0: none). 1 when done, 0 when the blob changed or went away
-- meanwhile.
local current = redis.call('GET', KEYS[1])
if not current or redis.sha1hex(current) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
";

fn cas_script() -> &'static Script {
    static CAS: OnceLock<Script> = OnceLock::new();
    CAS.get_or_init(|| Script::new(CAS_LUA))
}

/// The original's session blob: its `managed_dict` pairs, and the other
/// pairs of its top-level dict (with a placeholder where `managed_dict` goes).
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    top: Vec<(Value, Value)>,
    managed: Vec<(Value, Value)>,
}

fn backend(what: impl std::fmt::Display) -> Error {
    Error::Backend(format!("pyramid_redis_sessions session blob: {what}"))
}

const MANAGED: &str = "managed_dict";

impl Blob {
    /// Reads a blob.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when it is not a pickle of a dict with a dict
    /// under `managed_dict`.
    #[cfg(test)]
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse_within(bytes, pickle::MAX_EXPANDED_BYTES)
    }

    /// Reads a blob that expands to at most `budget` bytes.
    ///
    /// # Errors
    ///
    /// As [`Blob::parse`], and past the budget.
    pub(crate) fn parse_within(bytes: &[u8], budget: u64) -> Result<Self, Error> {
        let mut top = match pickle::parse_within(bytes, budget).map_err(backend)? {
            Value::Dict(top) => top,
            _ => return Err(backend("expected a dict")),
        };
        // The last one wins, as when Python builds the dict.
        let at = top
            .iter()
            .rposition(|(k, _)| k.as_str() == Some(MANAGED))
            .ok_or_else(|| backend("expected a 'managed_dict'"))?;
        let managed = match std::mem::replace(&mut top[at].1, Value::None) {
            Value::Dict(pairs) => pairs,
            _ => return Err(backend("expected a dict under 'managed_dict'")),
        };
        Ok(Self { top, managed })
    }

    /// A new blob, as the original's `_insert_session_id_if_unique` makes.
    fn new(created: f64, timeout: u64) -> Self {
        Self {
            top: vec![
                (Value::Str(MANAGED.into()), Value::None),
                (Value::Str("created".into()), Value::Float(created)),
                (Value::Str("timeout".into()), Value::Int(py_int(timeout))),
            ],
            managed: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        get(&self.top, key)
    }

    /// The `managed_dict` pairs.
    pub(crate) fn entries(&self) -> &[(Value, Value)] {
        &self.managed
    }

    /// `created`, in unix seconds.
    pub(crate) fn created(&self) -> f64 {
        match self.get("created") {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(n)) => *n as f64,
            _ => 0.0,
        }
    }

    /// `timeout`, in seconds (`None` when missing or not a whole number).
    pub(crate) fn timeout(&self) -> Option<u64> {
        match self.get("timeout") {
            Some(Value::Int(n)) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut top = self.top.clone();
        if let Some((_, slot)) = top
            .iter_mut()
            .rev()
            .find(|(k, _)| k.as_str() == Some(MANAGED))
        {
            *slot = Value::Dict(self.managed.clone());
        }
        pickle::to_bytes(&Value::Dict(top))
    }

    /// Applies a [`Change`] to the blob.
    fn apply(&mut self, change: Change) -> Result<(), Error> {
        let Change {
            set: entries,
            delete,
            times,
            timeout,
            user,
            agent,
            bound,
        } = change;
        for (name, value) in entries {
            let key = String::from_utf8(name).map_err(|_| backend("a key name is not UTF-8"))?;
            let value = pickle::parse(&value).map_err(backend)?;
            set(&mut self.managed, &key, value);
        }
        if let Some(timeout) = timeout {
            set(&mut self.top, "timeout", Value::Int(py_int(timeout)));
        }
        if let Some((created, refreshed)) = times {
            // The original's time has a fraction: kept unless it changed.
            if self.created().max(0.0) as u64 != created {
                set(&mut self.top, "created", Value::Float(created as f64));
            }
            self.set_meta(REFRESHED, refreshed.to_string());
        }
        if let Some(user) = user {
            self.set_meta(USER, user);
        }
        if let Some(agent) = agent {
            self.set_meta(AGENT, agent);
        }
        if let Some(bound) = bound {
            self.set_meta(BOUND, bound.to_string());
        }
        for name in delete {
            self.managed
                .retain(|(k, _)| k.as_str().map(str::as_bytes) != Some(name.as_slice()));
        }
        Ok(())
    }

    fn set_meta(&mut self, name: &str, value: String) {
        set(&mut self.top, name, Value::Bytes(value.into_bytes()));
    }

    /// One of our metadata entries, if the blob has it.
    fn meta(&self, name: &str) -> Result<Option<String>, Corrupt> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bytes(bytes)) => String::from_utf8(bytes.clone())
                .map(Some)
                .map_err(|_| Corrupt("a metadata field is not UTF-8")),
            Some(_) => Err(Corrupt("a metadata field is not bytes")),
        }
    }

    /// The blob as a session (see the module docs).
    fn record(&self) -> Result<Record, Corrupt> {
        let number = |name, what| -> Result<u64, Corrupt> {
            self.meta(name)?
                .map_or(Ok(0), |text| text.parse().map_err(|_| Corrupt(what)))
        };
        let entries = self
            .entries()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.as_bytes().to_vec(), pickle::to_bytes(v))))
            .collect();
        let timeout = self.timeout();
        let meta = Meta {
            created: self.created().max(0.0) as u64,
            refreshed: number(REFRESHED, "the refresh time is not a number")?,
            timeout,
            user: self.meta(USER)?,
            agent: self.meta(AGENT)?,
            bound: number(BOUND, "the time the user was bound is not a number")?,
        };
        Ok(Record::new(meta, entries))
    }
}

fn get<'a>(pairs: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    // A later duplicate wins, as when Python builds the dict.
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Sets `key` as a Python dict would: in place if present, else at the end.
fn set(pairs: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    let mut found = false;
    pairs.retain_mut(|(k, v)| {
        if k.as_str() != Some(key) {
            return true;
        }
        if found {
            return false;
        }
        found = true;
        *v = value.clone();
        true
    });
    if !found {
        pairs.push((Value::Str(key.to_owned()), value));
    }
}

fn py_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Waits a random while, growing with `attempt` (up to 2 ms times the
/// attempt, 20 ms at most), so that writers that keep colliding spread out.
async fn backoff(attempt: usize) {
    let mut byte = [0u8; 1];
    // Without randomness the wait is the longest: still correct, only slower.
    let jitter = getrandom::fill(&mut byte).map_or(255, |()| byte[0]);
    let cap_us = (attempt as u64 * 2_000).min(20_000);
    let wait = cap_us * u64::from(jitter) / 255;
    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sessions in the original's format, through a [`RedisClient`].
#[derive(Debug, Clone)]
pub(crate) struct PyramidStore {
    client: RedisClient,
    /// The most bytes a blob may expand to (`max_session_bytes`).
    budget: u64,
    /// The per-user index, in our own format.
    index: RedisStore,
}

impl PyramidStore {
    /// A store over `client`.
    pub(crate) fn new(client: RedisClient) -> Self {
        Self {
            index: RedisStore::new(client.clone()),
            client,
            budget: pickle::MAX_EXPANDED_BYTES,
        }
    }

    /// Reads blobs only while they expand to at most `bytes`.
    pub(crate) fn with_budget(mut self, bytes: u64) -> Self {
        self.budget = bytes;
        self
    }

    /// One `GET`; the TTL is left alone.
    async fn load_blob(&self, key: &str) -> Result<Loaded, Error> {
        let Some(blob) = self.get(key).await? else {
            return Ok(None);
        };
        match Blob::parse_within(&blob, self.budget) {
            Ok(blob) => Ok(Some(blob.record())),
            Err(e) => {
                // Left in place: the Python app may still read it.
                if let Some(n) = crate::throttle::SHARED.count("compat_unreadable") {
                    tracing::warn!(target: "redis_sessions::compat", session = log_tag(key), problem = %e, occurrences = n, "stored session cannot be read: starting a new session");
                }
                Ok(None)
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut conn = self.client.connection()?;
        self.client
            .bounded(redis::cmd("GET").arg(key).query_async(&mut conn))
            .await
    }

    async fn create(&self, key: &str, session: Record, timeout: u64) -> Result<Written, Error> {
        let Record { meta, entries } = session;
        let mut blob = Blob::new(meta.created as f64, timeout);
        let bound = (meta.user.is_some() && meta.bound > 0).then_some(meta.bound);
        blob.apply(Change {
            set: entries,
            delete: Vec::new(),
            times: Some((meta.created, meta.refreshed)),
            timeout: meta.timeout,
            user: meta.user,
            agent: meta.agent,
            bound,
        })?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(blob.to_bytes()).arg("NX");
        if timeout > 0 {
            cmd.arg("EX").arg(timeout);
        }
        let mut conn = self.client.connection()?;
        let done: Option<String> = self.client.bounded(cmd.query_async(&mut conn)).await?;
        Ok(if done.is_some() {
            Written::Stored
        } else {
            Written::Collision
        })
    }

    /// Reads the blob, applies `set` and `delete`, and stores it with a TTL
    /// of `timeout` if nobody changed it meanwhile; else tries again.
    async fn change(&self, key: &str, change: &Change, timeout: u64) -> Result<Written, Error> {
        for attempt in 0..UPDATE_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some(old) = self.get(key).await? else {
                return Ok(Written::Missing);
            };
            let mut blob = Blob::parse_within(&old, self.budget)?;
            blob.apply(change.clone())?;
            let emptied = !change.delete.is_empty() && blob.entries().is_empty();
            let new = if emptied { Vec::new() } else { blob.to_bytes() };
            let mut conn = self.client.connection()?;
            let mut invocation = cas_script().key(key);
            invocation.arg(sha1_hex(&old)).arg(new).arg(timeout);
            let done: i64 = self
                .client
                .bounded(invocation.invoke_async(&mut conn))
                .await?;
            if done == 1 {
                return Ok(if emptied {
                    Written::Emptied
                } else {
                    Written::Stored
                });
            }
            tracing::debug!(target: "redis_sessions::compat", session = log_tag(key), "session blob changed meanwhile: applying the changes again");
        }
        Err(Error::Backend(format!(
            "the session kept changing under {UPDATE_ATTEMPTS} attempts to update it"
        )))
    }

    async fn write_all(&self, writes: Vec<Write>) -> Result<Vec<Written>, Error> {
        for write in &writes {
            if let Write::Create { ttl, .. } | Write::Update { ttl, .. } = write
                && *ttl > MAX_TIMEOUT
            {
                return Err(Error::TimeoutTooLong(*ttl));
            }
        }
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            let written = match write {
                Write::Create { key, session, ttl } => self.create(&key, session, ttl).await?,
                // The blob is rewritten whole; its size is not weighed here.
                Write::Update {
                    key, change, ttl, ..
                } => self.change(&key, &change, ttl).await?,
                Write::Move { .. } => {
                    // Never sent: this store does not move atomically.
                    return Err(Error::Config(
                        "the original's session store cannot move a session in one step".into(),
                    ));
                }
                // The original's format has no marker: a retired session
                // is deleted.
                Write::Delete { key } | Write::Retire { key } => {
                    let mut conn = self.client.connection()?;
                    let _: i64 = self
                        .client
                        .bounded(redis::cmd("DEL").arg(&key).query_async(&mut conn))
                        .await?;
                    Written::Deleted
                }
            };
            results.push(written);
        }
        Ok(results)
    }
}

impl SessionStore for PyramidStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded> {
        Box::pin(self.load_blob(key))
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        Box::pin(self.write_all(writes))
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>> {
        self.index.index_put(index_key, entry, cap)
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        self.index.index_list(index_key, now)
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        self.index.index_remove(index_key, members, until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> Blob {
        let mut blob = Blob::new(1_700_000_000.5, 1200);
        set(&mut blob.managed, "a", Value::Int(1));
        blob.managed
            .push((Value::Int(7), Value::Str("seven".into())));
        blob
    }

    #[test]
    fn a_blob_becomes_a_record_and_non_str_keys_stay_hidden() {
        let record = blob().record().unwrap();
        assert_eq!(record.entries.len(), 1);
        assert_eq!(record.entries[0].0, b"a");
        assert_eq!(pickle::parse(&record.entries[0].1).unwrap(), Value::Int(1));
        assert_eq!(record.meta, Meta::new(1_700_000_000, 0).with_timeout(1200));
    }

    #[test]
    fn updates_replace_in_place_append_new_keys_and_keep_the_rest() {
        let mut b = blob();
        let set = vec![
            (b"b".to_vec(), pickle::to_bytes(&Value::Str("x".into()))),
            (b"a".to_vec(), pickle::to_bytes(&Value::Int(2))),
        ];
        b.apply(
            Change::entries(set, vec![])
                .with_timeout(60)
                .with_refresh(1_700_000_000, 1_700_000_100),
        )
        .unwrap();
        let keys: Vec<_> = b.entries().iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(
            keys,
            [
                Value::Str("a".into()),
                Value::Int(7),
                Value::Str("b".into())
            ]
        );
        assert_eq!(b.timeout(), Some(60));
        assert_eq!(b.record().unwrap().meta.refreshed, 1_700_000_100);
        b.apply(Change::entries(vec![], vec![b"a".to_vec(), b"b".to_vec()]))
            .unwrap();
        assert_eq!(b.entries().len(), 1);
        let again = Blob::parse(&b.to_bytes()).unwrap();
        assert_eq!(again.entries(), b.entries());
        assert_eq!(again.created(), 1_700_000_000.5);
    }

    #[test]
    fn a_blob_that_is_not_a_session_is_refused() {
        assert!(Blob::parse(&pickle::to_bytes(&Value::Int(1))).is_err());
        let no_dict = Value::Dict(vec![(Value::Str("managed_dict".into()), Value::None)]);
        assert!(Blob::parse(&pickle::to_bytes(&no_dict)).is_err());
        assert!(Blob::parse(b"garbage").is_err());
    }
}
