//! The write protocol: how loads, batches of writes and index operations
//! become Redis commands, one round trip each.
//!
//! Every write is exactly one command (`DEL`, or `EVALSHA` of a cached
//! script), so the replies of a pipeline map one to one onto the writes:
//! each write gets its own typed [`Written`], with no index arithmetic and
//! no cleanup round trip.
//!
//! # Why scripts rather than `MULTI`
//!
//! An update must set its fields and the TTL only if the session still
//! exists, atomically (otherwise an update racing a delete leaves a
//! field-only hash, and a connection lost between two commands leaves a key
//! without TTL). `MULTI`/`EXEC` makes the commands atomic but cannot make
//! them conditional without `WATCH` (a second round trip), and it leaves
//! the fields behind for a cleanup. Measured on redis-server 7.0 on the
//! 2-core test machine (`scripts/update-cpu.py`, 200 000 updates of a
//! session with 3 fields, 64 in flight; Redis CPU from `INFO cpu`, and the
//! `INFO commandstats` time summed over all commands):
//!
//! | candidate | commands per update | Redis CPU µs/update | commandstats µs/update |
//! |---|---:|---:|---:|
//! | `EVALSHA` of `update.lua` (`EXPIRE`, `HSET`) | 3 | 5.0 | 2.3 |
//! | `MULTI`, `HSET`, `EXPIRE`, `HEXISTS`, `EXEC` | 5 | 5.8 | 0.9 |
//!
//! The script does its existence check with the `EXPIRE` it needs anyway
//! (`EXPIRE` answers 0 for a missing key), so it counts fewer commands and
//! costs Redis less CPU in all (per-command parsing and dispatch dominate);
//! the script, and not `MULTI`, is also the only one that writes nothing
//! when the session is gone. Hence the script.

use std::sync::LazyLock;

use futures_util::future::try_join_all;
use redis::{Cmd, RedisError, Script, Value};

use super::client::{RedisClient, map_error};
use crate::store::api::{IndexEntry, MAX_INDEX_TIME, check_batch};
use crate::store::layout::{CREATED_FIELD, REFRESHED_FIELD, is_user_field};
use crate::store::{Error, Field, SessionStore, StoreFuture, Write, Written};

const CREATE_LUA: &str = include_str!("lua/create.lua");
const UPDATE_LUA: &str = include_str!("lua/update.lua");
const INDEX_LUA: &str = include_str!("lua/index.lua");
static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE_LUA));
static UPDATE: LazyLock<Script> = LazyLock::new(|| Script::new(UPDATE_LUA));
static INDEX: LazyLock<Script> = LazyLock::new(|| Script::new(INDEX_LUA));

/// Sessions in Redis, through a [`RedisClient`].
///
/// ```no_run
/// use redis_sessions::{RedisClient, RedisOptions, RedisStore};
///
/// let options = RedisOptions { url: Some("redis://127.0.0.1:6379/0".into()), ..Default::default() };
/// let store = RedisStore::new(RedisClient::open(&options)?);
/// # Ok::<(), redis_sessions::store::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RedisStore {
    client: RedisClient,
    pipeline_per_key: bool,
}

/// The reply slot of one write: Redis's answer, or its error.
type Reply = Result<Value, RedisError>;

impl RedisStore {
    /// A store over `client`.
    pub fn new(client: RedisClient) -> Self {
        Self {
            client,
            pipeline_per_key: false,
        }
    }

    /// Sends the writes of each session key in a pipeline of their own
    /// (all at once, each still one round trip) instead of one pipeline for
    /// the whole batch. Redis Cluster needs it: a pipeline must stay within
    /// one slot there. Default: `false` (one pipeline).
    pub fn pipeline_per_key(mut self, yes: bool) -> Self {
        self.pipeline_per_key = yes;
        self
    }

    /// The client this store talks through.
    pub fn client(&self) -> &RedisClient {
        &self.client
    }

    async fn load_fields(&self, key: &str) -> Result<Option<Vec<Field>>, Error> {
        let mut conn = self.client.connection()?;
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(key);
        let reply: Value = self.client.bounded(cmd.query_async(&mut conn)).await?;
        session_fields(reply)
    }

    async fn write_all(&self, writes: Vec<Write>) -> Result<Vec<Written>, Error> {
        check_batch(&writes)?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let all: Vec<usize> = (0..writes.len()).collect();
        let mut replies = self.send(&writes, &all).await?;
        let noscript: Vec<usize> = replies
            .iter()
            .enumerate()
            .filter(|(_, reply)| matches!(reply, Err(e) if is_noscript(e)))
            .map(|(i, _)| i)
            .collect();
        if !noscript.is_empty() {
            // Redis restarted or flushed its scripts: those writes did not
            // run. Load the scripts, then replay exactly those writes.
            self.load_scripts().await?;
            let again = self.send(&writes, &noscript).await?;
            for (i, reply) in noscript.into_iter().zip(again) {
                replies[i] = reply;
            }
        }
        let timeout = self.client.timeout();
        writes
            .iter()
            .zip(replies)
            .map(|(write, reply)| written(write, reply.map_err(|e| map_error(e, timeout))?))
            .collect()
    }

    /// Sends `writes[i]` for each `i` in `which` and returns their replies,
    /// in the order of `which`: one pipeline, or one per key.
    async fn send(&self, writes: &[Write], which: &[usize]) -> Result<Vec<Reply>, Error> {
        let groups = if self.pipeline_per_key {
            group_by_key(writes, which)
        } else {
            vec![which.to_vec()]
        };
        let sent = try_join_all(groups.iter().map(|group| async move {
            let mut conn = self.client.connection()?;
            let mut pipe = redis::pipe();
            for &i in group {
                pipe.add_command(command(&writes[i]));
            }
            let replies: Vec<Reply> = self
                .client
                .bounded(pipe.ignore_errors().query_async(&mut conn))
                .await?;
            if replies.len() != group.len() {
                return Err(Error::UnexpectedReply {
                    to: "a pipeline of session writes",
                    expected: "one reply per write",
                });
            }
            Ok::<_, Error>(group.iter().copied().zip(replies).collect::<Vec<_>>())
        }))
        .await?;
        let mut slots: Vec<(usize, Reply)> = sent.into_iter().flatten().collect();
        let position = |i: usize| which.iter().position(|&w| w == i);
        slots.sort_by_key(|(i, _)| position(*i));
        Ok(slots.into_iter().map(|(_, reply)| reply).collect())
    }

    async fn load_scripts(&self) -> Result<(), Error> {
        let mut conn = self.client.connection()?;
        let mut pipe = redis::pipe();
        for source in [CREATE_LUA, UPDATE_LUA, INDEX_LUA] {
            pipe.add_command(script_load(source)).ignore();
        }
        self.client.bounded(pipe.query_async::<()>(&mut conn)).await
    }

    /// Runs the index script on `index_key` with `args`, loading it once if
    /// Redis does not know it.
    async fn index(&self, index_key: &str, args: &[&[u8]]) -> Result<Value, Error> {
        let mut conn = self.client.connection()?;
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(INDEX.get_hash()).arg(1).arg(index_key);
        for arg in args {
            cmd.arg(*arg);
        }
        let reply: Result<Value, RedisError> =
            match tokio::time::timeout(self.client.timeout(), cmd.query_async(&mut conn)).await {
                Ok(reply) => reply,
                Err(_) => return Err(Error::Timeout(self.client.timeout())),
            };
        match reply {
            Err(e) if is_noscript(&e) => {
                self.client
                    .bounded(script_load(INDEX_LUA).query_async::<()>(&mut conn))
                    .await?;
                self.client.bounded(cmd.query_async(&mut conn)).await
            }
            other => other.map_err(|e| map_error(e, self.client.timeout())),
        }
    }
}

fn is_noscript(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

fn script_load(source: &str) -> Cmd {
    let mut cmd = redis::cmd("SCRIPT");
    cmd.arg("LOAD").arg(source);
    cmd
}

/// Positions in `which`, grouped by the key of their write, each group in
/// batch order (so writes to one key keep their order).
fn group_by_key(writes: &[Write], which: &[usize]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in which {
        let key = writes[i].key();
        match groups.iter_mut().find(|g| writes[g[0]].key() == key) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// The one command of a write.
fn command(write: &Write) -> Cmd {
    match write {
        Write::Delete { key } => {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(key);
            cmd
        }
        Write::Create {
            key,
            fields,
            timeout,
        } => {
            let mut cmd = evalsha(&CREATE, key);
            cmd.arg(timeout);
            for (name, value) in fields {
                cmd.arg(name).arg(value);
            }
            cmd
        }
        Write::Update {
            key,
            set,
            delete,
            timeout,
        } => {
            // Only an update that deletes and sets no user field can
            // leave the session without one.
            let check_empty = !delete.is_empty() && !set.iter().any(|(n, _)| is_user_field(n));
            let mut cmd = evalsha(&UPDATE, key);
            cmd.arg(timeout).arg(set.len()).arg(u8::from(check_empty));
            for (name, value) in set {
                cmd.arg(name).arg(value);
            }
            for name in delete {
                cmd.arg(name);
            }
            cmd
        }
        Write::Refresh { key, timeout, now } => {
            let mut cmd = evalsha(&UPDATE, key);
            cmd.arg(timeout)
                .arg(1)
                .arg(0)
                .arg(REFRESHED_FIELD)
                .arg(now.to_string());
            cmd
        }
    }
}

fn evalsha(script: &Script, key: &str) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(1).arg(key);
    cmd
}

/// The typed outcome of one write from its reply.
fn written(write: &Write, reply: Value) -> Result<Written, Error> {
    match (write, reply) {
        (Write::Delete { .. }, Value::Int(_)) => Ok(Written::Deleted),
        (Write::Delete { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session delete",
            expected: "an integer",
        }),
        (Write::Create { .. }, Value::Int(1)) => Ok(Written::Stored),
        (Write::Create { .. }, Value::Int(0)) => Ok(Written::Collision),
        (Write::Create { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session create",
            expected: "0 or 1",
        }),
        (Write::Update { .. }, Value::Int(1)) | (Write::Refresh { .. }, Value::Int(1)) => {
            Ok(Written::Stored)
        }
        (Write::Update { .. }, Value::Int(0)) | (Write::Refresh { .. }, Value::Int(0)) => {
            Ok(Written::Missing)
        }
        (Write::Update { .. }, Value::Int(2)) => Ok(Written::Emptied),
        (Write::Update { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session update",
            expected: "0, 1 or 2",
        }),
        (Write::Refresh { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session refresh",
            expected: "0 or 1",
        }),
    }
}

/// Field/value pairs from an `HGETALL` reply (RESP2 array or RESP3 map).
fn pairs(reply: Value, to: &'static str) -> Result<Vec<Field>, Error> {
    let bad = || Error::UnexpectedReply {
        to,
        expected: "field/value pairs of strings",
    };
    let bytes = |value: Value| match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(text) => Ok(text.into_bytes()),
        _ => Err(bad()),
    };
    match reply {
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(bad());
            }
            let mut fields = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(name), Some(value)) = (items.next(), items.next()) {
                fields.push((bytes(name)?, bytes(value)?));
            }
            Ok(fields)
        }
        Value::Map(items) => items
            .into_iter()
            .map(|(name, value)| Ok((bytes(name)?, bytes(value)?)))
            .collect(),
        _ => Err(bad()),
    }
}

/// The fields of a loaded session, or `None` if it is absent or lacks its
/// creation field.
fn session_fields(reply: Value) -> Result<Option<Vec<Field>>, Error> {
    let fields = pairs(reply, "a session load")?;
    if !fields.iter().any(|(name, _)| name == CREATED_FIELD) {
        // Absent (an empty hash), or not a session of ours.
        return Ok(None);
    }
    Ok(Some(fields))
}

/// The live entries of an index listing.
fn index_entries(reply: Value) -> Result<Vec<IndexEntry>, Error> {
    pairs(reply, "an index listing")?
        .into_iter()
        .map(|(member, value)| index_entry(member, &value))
        .collect()
}

/// Reads one live index entry: `expires created last_seen[ agent]`.
fn index_entry(member: Vec<u8>, value: &[u8]) -> Result<IndexEntry, Error> {
    let bad = Error::UnexpectedReply {
        to: "an index listing",
        expected: "entries of the form \"expires created last_seen[ agent]\"",
    };
    let member = String::from_utf8(member).map_err(|_| bad.clone())?;
    let text = std::str::from_utf8(value).map_err(|_| bad.clone())?;
    let mut parts = text.splitn(4, ' ');
    let mut time = || -> Result<u64, Error> {
        let part = parts.next().ok_or_else(|| bad.clone())?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad.clone());
        }
        part.parse().map_err(|_| bad.clone())
    };
    let (expires, created, last_seen) = (time()?, time()?, time()?);
    let agent = parts.next().filter(|a| !a.is_empty()).map(str::to_owned);
    Ok(IndexEntry {
        member,
        expires,
        created,
        last_seen,
        agent,
    })
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<Field>>> {
        Box::pin(self.load_fields(key))
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        Box::pin(self.write_all(writes))
    }

    fn index_put(&self, index_key: &str, entry: IndexEntry) -> StoreFuture<'_, ()> {
        let index_key = index_key.to_owned();
        Box::pin(async move {
            let entry = entry.checked()?;
            let (expires, created, seen) = (
                entry.expires.to_string(),
                entry.created.to_string(),
                entry.last_seen.to_string(),
            );
            let args: [&[u8]; 6] = [
                b"put",
                entry.member.as_bytes(),
                expires.as_bytes(),
                created.as_bytes(),
                seen.as_bytes(),
                entry.agent.as_deref().unwrap_or("").as_bytes(),
            ];
            match self.index(&index_key, &args).await? {
                Value::Int(1) => Ok(()),
                _ => Err(Error::UnexpectedReply {
                    to: "an index put",
                    expected: "1",
                }),
            }
        })
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        Box::pin(async move {
            let now = now.min(MAX_INDEX_TIME).to_string();
            index_entries(self.index(index_key, &[b"list", now.as_bytes()]).await?)
        })
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if until > MAX_INDEX_TIME {
                return Err(Error::BadIndexEntry(
                    "`until` is above 2^53 - 1 unix seconds",
                ));
            }
            if members.is_empty() {
                return Ok(());
            }
            let until = until.to_string();
            let mut args: Vec<&[u8]> = vec![b"remove", until.as_bytes()];
            args.extend(members.iter().map(|m| m.as_bytes()));
            match self.index(index_key, &args).await? {
                Value::Int(1) => Ok(()),
                _ => Err(Error::UnexpectedReply {
                    to: "an index remove",
                    expected: "1",
                }),
            }
        })
    }
}
