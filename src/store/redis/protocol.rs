//! The write protocol: how loads and batches of writes become Redis
//! commands, one pipeline per round trip.

use std::sync::OnceLock;
use std::time::Duration;

use redis::{RedisError, Script, Value};

use super::client::{RedisClient, map_error};
use crate::store::{
    CREATED_FIELD, Error, Field, SessionStore, StoreFuture, TIMEOUT_FIELD, Write, Written,
};

const CREATE_LUA: &str = include_str!("lua/create.lua");
static CREATE: OnceLock<Script> = OnceLock::new();

fn create_script() -> &'static Script {
    CREATE.get_or_init(|| Script::new(CREATE_LUA))
}

fn is_noscript(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

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
}

impl RedisStore {
    /// A store over `client`.
    pub fn new(client: RedisClient) -> Self {
        Self { client }
    }

    /// The client this store talks through.
    pub fn client(&self) -> &RedisClient {
        &self.client
    }

    /// `HGETALL` and a TTL refresh to the default in one pipeline (a session
    /// with its own timeout gets it back from a `Touch` at response time).
    async fn load_fields(
        &self,
        key: &str,
        default_timeout: u64,
    ) -> Result<Option<Vec<Field>>, Error> {
        let mut conn = self.client.connection()?;
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(key);
        ttl_command(&mut pipe, key, default_timeout).ignore();
        let (flat,): (Vec<Vec<u8>>,) = self.client.bounded(pipe.query_async(&mut conn)).await?;
        let mut fields = Vec::with_capacity(flat.len() / 2);
        let mut items = flat.into_iter();
        while let (Some(name), Some(value)) = (items.next(), items.next()) {
            fields.push((name, value));
        }
        if !fields.iter().any(|(name, _)| name == CREATED_FIELD) {
            // Absent, or left behind by an update that raced a delete.
            return Ok(None);
        }
        Ok(Some(fields))
    }

    async fn write_all(&self, writes: Vec<Write>) -> Result<Vec<Written>, Error> {
        let mut conn = self.client.connection()?;
        let mut pipe = redis::pipe();
        for write in &writes {
            add_write(&mut pipe, write);
        }
        let mut replies: Vec<Result<Value, RedisError>> = self
            .client
            .bounded(pipe.ignore_errors().query_async(&mut conn))
            .await?;
        if replies
            .iter()
            .any(|r| matches!(r, Err(e) if is_noscript(e)))
        {
            // Redis restarted or flushed its scripts: load the create script
            // and replay the creates that did not run (nothing else fails so).
            let mut load = redis::cmd("SCRIPT");
            load.arg("LOAD").arg(CREATE_LUA);
            self.client
                .bounded(load.query_async::<String>(&mut conn))
                .await?;
            let mut again = redis::pipe();
            let mut replayed = Vec::new();
            let mut i = 0;
            for write in &writes {
                let n = reply_count(write);
                if matches!(&replies[i + n - 1], Err(e) if is_noscript(e)) {
                    add_write(&mut again, write);
                    replayed.push(i + n - 1);
                }
                i += n;
            }
            let retried: Vec<Result<Value, RedisError>> = self
                .client
                .bounded(again.ignore_errors().query_async(&mut conn))
                .await?;
            for (at, reply) in replayed.into_iter().zip(retried) {
                replies[at] = reply;
            }
        }
        let timeout = self.client.timeout();
        let mut results = Vec::with_capacity(writes.len());
        let mut cleanup = redis::pipe();
        let mut i = 0;
        for write in &writes {
            let n = reply_count(write);
            let replies = &mut replies[i..i + n];
            i += n;
            let written = match write {
                Write::Delete { .. } => {
                    take(&mut replies[0], timeout)?;
                    Written::Deleted
                }
                Write::Touch { .. } => match take(&mut replies[0], timeout)? {
                    Value::Int(0) => Written::Missing,
                    _ => Written::Stored,
                },
                Write::Create { .. } => match take(&mut replies[0], timeout)? {
                    Value::Int(1) => Written::Stored,
                    Value::Int(-1) => Written::Collision,
                    other => return Err(unexpected(&other)),
                },
                Write::Update {
                    key, set, delete, ..
                } => {
                    let mut ints = Vec::with_capacity(n);
                    for reply in replies.iter_mut() {
                        ints.push(match take(reply, timeout)? {
                            Value::Int(v) => v,
                            _ => -1,
                        });
                    }
                    match &ints[n - update_checks(set, delete)..] {
                        [0, ..] => {
                            // The session was deleted meanwhile: remove the
                            // fields this update left behind.
                            cleanup.cmd("DEL").arg(key).ignore();
                            Written::Missing
                        }
                        [1, has_timeout, len] if *len <= 1 + *has_timeout => {
                            cleanup.cmd("DEL").arg(key).ignore();
                            Written::Emptied
                        }
                        [1, ..] => Written::Stored,
                        _ => {
                            return Err(Error::Backend(
                                "unexpected reply to a session update".into(),
                            ));
                        }
                    }
                }
            };
            results.push(written);
        }
        if !cleanup.is_empty() {
            self.client
                .bounded(cleanup.query_async::<()>(&mut conn))
                .await?;
        }
        Ok(results)
    }
}

/// Takes one reply out of the batch, turning a Redis error into ours.
fn take(reply: &mut Result<Value, RedisError>, timeout: Duration) -> Result<Value, Error> {
    std::mem::replace(reply, Ok(Value::Nil)).map_err(|e| map_error(e, timeout))
}

fn unexpected(value: &Value) -> Error {
    // The kind only: a reply could carry session data.
    let kind = match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) => "a string",
        Value::Array(_) => "an array",
        _ => "another kind of value",
    };
    Error::Backend(format!("unexpected reply ({kind}) to a session write"))
}

/// `EXPIRE key timeout`, or `PERSIST key` for no timeout.
fn ttl_command<'a>(
    pipe: &'a mut redis::Pipeline,
    key: &str,
    timeout: u64,
) -> &'a mut redis::Pipeline {
    if timeout > 0 {
        pipe.cmd("EXPIRE").arg(key).arg(timeout)
    } else {
        pipe.cmd("PERSIST").arg(key)
    }
}

/// How many checks end an update's transaction: whether the session still
/// exists, and, when nothing is set, whether it has user fields left.
fn update_checks(set: &[Field], delete: &[Vec<u8>]) -> usize {
    let sets_user_field = set.iter().any(|(name, _)| {
        !matches!(
            crate::store::classify(name),
            crate::store::FieldName::Meta(_)
        )
    });
    if sets_user_field || delete.is_empty() && !set.is_empty() {
        1
    } else {
        3
    }
}

/// How many replies `add_write` adds to the pipeline.
fn reply_count(write: &Write) -> usize {
    match write {
        // HSET, HDEL, the TTL, then the checks.
        Write::Update {
            set,
            delete,
            timeout,
            ..
        } => {
            usize::from(!set.is_empty())
                + usize::from(!delete.is_empty())
                + usize::from(timeout.is_some())
                + update_checks(set, delete)
        }
        _ => 1,
    }
}

fn add_write(pipe: &mut redis::Pipeline, write: &Write) {
    match write {
        Write::Delete { key } => {
            pipe.cmd("DEL").arg(key);
        }
        Write::Touch { key, timeout } => {
            ttl_command(pipe, key, *timeout);
        }
        Write::Create {
            key,
            fields,
            timeout,
        } => {
            let cmd = pipe
                .cmd("EVALSHA")
                .arg(create_script().get_hash())
                .arg(1)
                .arg(key)
                .arg(timeout);
            for (name, value) in fields {
                cmd.arg(name).arg(value);
            }
        }
        Write::Update {
            key,
            set,
            delete,
            timeout,
        } => {
            // No MULTI: a delete landing between these commands leaves at
            // worst fields without the creation field, which the check at
            // the end finds and removes, and which no load accepts meanwhile.
            if !set.is_empty() {
                let cmd = pipe.cmd("HSET").arg(key);
                for (name, value) in set {
                    cmd.arg(name).arg(value);
                }
            }
            if !delete.is_empty() {
                let cmd = pipe.cmd("HDEL").arg(key);
                for name in delete {
                    cmd.arg(name);
                }
            }
            if let Some(timeout) = timeout {
                ttl_command(pipe, key, *timeout);
            }
            pipe.cmd("HEXISTS").arg(key).arg(CREATED_FIELD);
            if update_checks(set, delete) == 3 {
                pipe.cmd("HEXISTS").arg(key).arg(TIMEOUT_FIELD);
                pipe.cmd("HLEN").arg(key);
            }
        }
    }
}

impl SessionStore for RedisStore {
    fn load<'a>(
        &'a self,
        key: &'a str,
        default_timeout: u64,
    ) -> StoreFuture<'a, Option<Vec<Field>>> {
        Box::pin(self.load_fields(key, default_timeout))
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        Box::pin(self.write_all(writes))
    }
}
