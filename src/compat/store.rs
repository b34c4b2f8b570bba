//! [`PyramidStore`]: a [`SessionStore`] over the original's storage, one
//! pickled blob `{'managed_dict': {...}, 'created': float, 'timeout': int}`
//! per session, under the session id.
//!
//! Loading (one `GET`) turns the blob into fields: each `managed_dict` entry
//! with a str key becomes a user field holding that value's own pickle (see
//! [`PickleCodec`](super::PickleCodec)), `created` becomes
//! [`CREATED_FIELD`] and `timeout` becomes [`TIMEOUT_FIELD`] (the original
//! keeps a timeout per session). Entries with keys that are not str are not
//! shown, and are kept by every update. Other metadata (the last refresh, a
//! bound user) is kept as extra top-level entries of the blob, named as the
//! field: Python ignores them, and drops them when it next writes the
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
    CREATED_FIELD, Error, Field, FieldName, IndexEntry, MAX_TIMEOUT, REFRESHED_FIELD, RedisClient,
    RedisStore, SessionStore, StoreFuture, TIMEOUT_FIELD, Write, Written, classify, log_tag,
    read_created, user_field,
};

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

    /// Applies fields as [`Write::Update`] carries them.
    fn apply(&mut self, fields: &[Field], delete: &[Vec<u8>]) -> Result<(), Error> {
        for (name, value) in fields {
            match classify(name) {
                FieldName::User(raw) => {
                    let key = String::from_utf8(raw.to_vec())
                        .map_err(|_| backend("a key name is not UTF-8"))?;
                    let value = pickle::parse(value).map_err(backend)?;
                    set(&mut self.managed, &key, value);
                }
                FieldName::Meta(meta) if meta == TIMEOUT_FIELD => {
                    set(&mut self.top, "timeout", Value::Int(py_int(number(value)?)));
                }
                FieldName::Meta(meta) if meta == CREATED_FIELD => {
                    let (created, refreshed) = read_created(value)
                        .ok_or_else(|| backend("the creation time is not a number"))?;
                    set(&mut self.top, "created", Value::Float(created as f64));
                    if let Some(refreshed) = refreshed {
                        // Kept as the other metadata fields are.
                        let name = String::from_utf8_lossy(REFRESHED_FIELD).into_owned();
                        let value = refreshed.to_string().into_bytes();
                        set(&mut self.top, &name, Value::Bytes(value));
                    }
                }
                FieldName::Meta(meta) => {
                    let name = String::from_utf8_lossy(meta).into_owned();
                    set(&mut self.top, &name, Value::Bytes(value.clone()));
                }
            }
        }
        for name in delete {
            if let FieldName::User(raw) = classify(name) {
                self.managed
                    .retain(|(k, _)| k.as_str().map(str::as_bytes) != Some(raw));
            }
        }
        Ok(())
    }

    /// The blob as session fields (see the module docs).
    fn fields(&self) -> Vec<Field> {
        let mut fields: Vec<Field> = self
            .entries()
            .iter()
            .filter_map(|(k, v)| Some((user_field(k.as_str()?), pickle::to_bytes(v))))
            .collect();
        let created = self.created().max(0.0) as u64;
        fields.push((CREATED_FIELD.to_vec(), created.to_string().into_bytes()));
        if let Some(timeout) = self.timeout() {
            fields.push((TIMEOUT_FIELD.to_vec(), timeout.to_string().into_bytes()));
        }
        for (k, v) in &self.top {
            if let (Some(name), Value::Bytes(value)) = (k.as_str(), v)
                && name.starts_with('\0')
            {
                fields.push((name.as_bytes().to_vec(), value.clone()));
            }
        }
        fields
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

fn number(value: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| backend("a metadata field is not a number"))
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

/// Unix time in seconds, as Python's `time.time()`.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
    async fn load_blob(&self, key: &str) -> Result<Option<Vec<Field>>, Error> {
        let Some(blob) = self.get(key).await? else {
            return Ok(None);
        };
        match Blob::parse_within(&blob, self.budget) {
            Ok(blob) => Ok(Some(blob.fields())),
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

    async fn create(&self, key: &str, fields: &[Field], timeout: u64) -> Result<Written, Error> {
        let created = fields
            .iter()
            .find(|(name, _)| name == CREATED_FIELD)
            .map(|(_, v)| {
                read_created(v)
                    .map(|(created, _)| created)
                    .ok_or_else(|| backend("the creation time is not a number"))
            })
            .transpose()?
            .map_or_else(now, |secs| secs as f64);
        let mut blob = Blob::new(created, timeout);
        blob.apply(fields, &[])?;
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
    async fn change(
        &self,
        key: &str,
        set: &[Field],
        delete: &[Vec<u8>],
        timeout: u64,
    ) -> Result<Written, Error> {
        for attempt in 0..UPDATE_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some(old) = self.get(key).await? else {
                return Ok(Written::Missing);
            };
            let mut blob = Blob::parse_within(&old, self.budget)?;
            blob.apply(set, delete)?;
            let emptied = !delete.is_empty() && blob.entries().is_empty();
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
            if let Write::Create { timeout, .. } | Write::Update { timeout, .. } = write
                && *timeout > MAX_TIMEOUT
            {
                return Err(Error::TimeoutTooLong(*timeout));
            }
        }
        let mut results = Vec::with_capacity(writes.len());
        for write in &writes {
            let written = match write {
                Write::Create {
                    key,
                    fields,
                    timeout,
                } => self.create(key, fields, *timeout).await?,
                // The blob is rewritten whole; its size is not weighed here.
                Write::Update {
                    key,
                    set,
                    delete,
                    timeout,
                    ..
                } => self.change(key, set, delete, *timeout).await?,
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
                        .bounded(redis::cmd("DEL").arg(key).query_async(&mut conn))
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
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<Field>>> {
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
    fn a_blob_becomes_fields_and_non_str_keys_stay_hidden() {
        let fields = blob().fields();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].0, b"a");
        assert_eq!(pickle::parse(&fields[0].1).unwrap(), Value::Int(1));
        assert_eq!(fields[1], (CREATED_FIELD.to_vec(), b"1700000000".to_vec()));
        assert_eq!(fields[2], (TIMEOUT_FIELD.to_vec(), b"1200".to_vec()));
    }

    #[test]
    fn updates_replace_in_place_append_new_keys_and_keep_the_rest() {
        let mut b = blob();
        b.apply(
            &[
                (b"b".to_vec(), pickle::to_bytes(&Value::Str("x".into()))),
                (b"a".to_vec(), pickle::to_bytes(&Value::Int(2))),
                (TIMEOUT_FIELD.to_vec(), b"60".to_vec()),
                (b"\0r".to_vec(), b"1700000100".to_vec()),
            ],
            &[],
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
        assert!(
            b.fields()
                .contains(&(b"\0r".to_vec(), b"1700000100".to_vec()))
        );
        b.apply(&[], &[b"a".to_vec(), b"b".to_vec()]).unwrap();
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
