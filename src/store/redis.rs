//! The Redis store: one shared, multiplexed, self-healing connection (or a
//! small pool of them), cached Lua scripts, a timeout on every call.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{
    Cmd, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisError, Script, Value,
};

use super::{
    CREATED_FIELD, Error, Field, SessionStore, StoreFuture, TIMEOUT_FIELD, Write, Written,
};

/// The timeout used when `socket_timeout` is not set.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest `connection_pool` accepted.
pub const MAX_CONNECTION_POOL: usize = 64;

const CREATE_LUA: &str = include_str!("lua/create.lua");
static CREATE: OnceLock<Script> = OnceLock::new();

fn create_script() -> &'static Script {
    CREATE.get_or_init(|| Script::new(CREATE_LUA))
}

/// The Redis connection settings: the manual's Redis-specific parameters.
///
/// These are what a `client_callable` receives. `url` wins over the separate
/// `host`/`port`/`db`/`password`/`unix_socket_path` settings when both are
/// given, as in the original. `Debug` never shows the password.
///
/// ```
/// use redis_sessions::RedisOptions;
///
/// let options = RedisOptions {
///     url: Some("redis://:hunter2@127.0.0.1:6380/2".into()),
///     ..RedisOptions::default()
/// };
/// assert!(!format!("{options:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis.sessions.url`: `redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path?db=N`. Default: unset.
    pub url: Option<String>,
    /// `redis.sessions.host`. Default: `localhost`.
    pub host: String,
    /// `redis.sessions.port`. Default: `6379`.
    pub port: u16,
    /// `redis.sessions.db`. Default: `0`.
    pub db: i64,
    /// `redis.sessions.password`. Default: unset.
    pub password: Option<String>,
    /// `redis.sessions.socket_timeout`: bounds connecting and every command.
    /// Default: unset, which means 5 seconds (the original waits forever).
    pub socket_timeout: Option<Duration>,
    /// `redis.sessions.connection_pool`: how many multiplexed connections to
    /// spread requests over. Default: unset, which means one.
    pub connection_pool: Option<usize>,
    /// `redis.sessions.charset`: the encoding of session key names. Only
    /// `utf-8` is accepted. Default: `utf-8`.
    pub charset: String,
    /// `redis.sessions.errors`: what to do with a stored key name that is not
    /// valid UTF-8: `strict` (the session is treated as corrupt), `replace`
    /// (U+FFFD replaces bad bytes) or `ignore` (the field is skipped).
    /// Default: `strict`.
    pub errors: String,
    /// `redis.sessions.unix_socket_path`: connect over this Unix socket
    /// instead of TCP. Default: unset.
    pub unix_socket_path: Option<PathBuf>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            url: None,
            host: "localhost".into(),
            port: 6379,
            db: 0,
            password: None,
            socket_timeout: None,
            connection_pool: None,
            charset: "utf-8".into(),
            errors: "strict".into(),
            unix_socket_path: None,
        }
    }
}

impl RedisOptions {
    /// `url` with its password replaced by `<redacted>`, for display.
    pub fn redacted_url(&self) -> Option<String> {
        self.url.as_deref().map(redact_url)
    }

    /// The effective timeout for connecting and for each command.
    pub fn timeout(&self) -> Duration {
        self.socket_timeout.unwrap_or(DEFAULT_SOCKET_TIMEOUT)
    }

    fn connection_info(&self) -> Result<redis::ConnectionInfo, Error> {
        if let Some(url) = &self.url {
            return url.as_str().into_connection_info().map_err(|e| {
                Error::Config(format!(
                    "{e}: expected redis://[user:password@]host[:port][/db], redis+unix:///path or memory://, e.g. redis://127.0.0.1:6379/0"
                ))
            });
        }
        let addr = match &self.unix_socket_path {
            Some(path) => ConnectionAddr::Unix(path.clone()),
            None => ConnectionAddr::Tcp(self.host.clone(), self.port),
        };
        let mut redis = RedisConnectionInfo::default().set_db(self.db);
        if let Some(password) = &self.password {
            redis = redis.set_password(password);
        }
        addr.into_connection_info()
            .map(|info| info.set_redis_settings(redis))
            .map_err(|e| {
                Error::Config(format!(
                    "{e}: expected a host name or address, e.g. 127.0.0.1"
                ))
            })
    }
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db", &self.db)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("socket_timeout", &self.socket_timeout)
            .field("connection_pool", &self.connection_pool)
            .field("charset", &self.charset)
            .field("errors", &self.errors)
            .field("unix_socket_path", &self.unix_socket_path)
            .finish()
    }
}

/// Replaces the password of a Redis URL with `<redacted>`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:<redacted>@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

/// A handle on one Redis server: cheap to clone, shared by every request.
///
/// Opening a client checks its settings but does not connect. The first
/// command connects; a dropped connection is re-established in the
/// background, so the application recovers by itself when Redis comes back.
/// Every command is bounded by `socket_timeout`.
///
/// ```
/// use redis_sessions::{RedisClient, RedisOptions};
///
/// // No I/O happens here, so this works without a server.
/// let client = RedisClient::open(&RedisOptions::default()).unwrap();
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct RedisClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    client: redis::Client,
    timeout: Duration,
    size: usize,
    pool: OnceLock<Vec<ConnectionManager>>,
    next: AtomicUsize,
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("timeout", &self.inner.timeout)
            .field("connections", &self.inner.size)
            .finish_non_exhaustive()
    }
}

impl RedisClient {
    /// Checks `options` and makes a client, without connecting.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL or address is malformed or the pool
    /// size is out of range.
    pub fn open(options: &RedisOptions) -> Result<Self, Error> {
        let size = options.connection_pool.unwrap_or(1);
        if !(1..=MAX_CONNECTION_POOL).contains(&size) {
            return Err(Error::Config(format!(
                "connection_pool = {size}: expected a number of connections from 1 to {MAX_CONNECTION_POOL}, e.g. 4"
            )));
        }
        let client = redis::Client::open(options.connection_info()?)
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                client,
                timeout: options.timeout(),
                size,
                pool: OnceLock::new(),
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// The timeout applied to every command.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Sends `PING` and waits for the answer.
    ///
    /// # Errors
    ///
    /// [`Error`] when Redis is unreachable, too slow or refuses the command
    /// (for example a wrong password).
    pub async fn ping(&self) -> Result<(), Error> {
        let reply: String = self.query(redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(Error::Backend(format!("PING answered {reply:?}")))
        }
    }

    fn connection(&self) -> Result<ConnectionManager, Error> {
        let inner = &self.inner;
        let pool = match inner.pool.get() {
            Some(pool) => pool,
            None => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    // `bounded` puts one timer on every call; a second one
                    // here would only cost time.
                    .set_connection_timeout(Some(inner.timeout))
                    .set_response_timeout(None)
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(200));
                let pool = (0..inner.size)
                    .map(|_| {
                        ConnectionManager::new_lazy_with_config(
                            inner.client.clone(),
                            config.clone(),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Error::Config(e.to_string()))?;
                // Another task may have won the race; either pool works.
                let _ = inner.pool.set(pool);
                inner
                    .pool
                    .get()
                    .ok_or_else(|| Error::Config("no connection".into()))?
            }
        };
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        Ok(pool[i].clone())
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: Cmd) -> Result<T, Error> {
        let mut conn = self.connection()?;
        self.bounded(cmd.query_async(&mut conn)).await
    }

    async fn bounded<T>(
        &self,
        future: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.inner.timeout, future).await {
            Ok(result) => result.map_err(|e| map_error(e, self.inner.timeout)),
            Err(_) => Err(Error::Timeout(self.inner.timeout)),
        }
    }
}

fn map_error(e: RedisError, timeout: Duration) -> Error {
    if e.is_timeout() {
        Error::Timeout(timeout)
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
    {
        Error::Unreachable(e.to_string())
    } else {
        Error::Backend(e.to_string())
    }
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
    let sets_user_field = set
        .iter()
        .any(|(name, _)| !matches!(super::classify(name), super::FieldName::Meta(_)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://user:pw@host:1/0"),
            "redis://user:<redacted>@host:1/0"
        );
        assert_eq!(redact_url("redis://:pw@host"), "redis://:<redacted>@host");
        assert_eq!(redact_url("redis://host:1/0"), "redis://host:1/0");
    }

    #[test]
    fn opening_checks_settings_without_connecting() {
        // Port 1 is never listened on; open must still succeed.
        let options = RedisOptions {
            url: Some("redis://127.0.0.1:1/0".into()),
            ..RedisOptions::default()
        };
        assert!(RedisClient::open(&options).is_ok());
        let bad = RedisOptions {
            url: Some("http://nope".into()),
            ..RedisOptions::default()
        };
        assert!(matches!(RedisClient::open(&bad), Err(Error::Config(_))));
        let pool = RedisOptions {
            connection_pool: Some(0),
            ..RedisOptions::default()
        };
        assert!(matches!(RedisClient::open(&pool), Err(Error::Config(_))));
    }
}
