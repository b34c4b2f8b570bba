//! The Redis client: settings, one shared, multiplexed, self-healing
//! connection (or a small pool of them), a timeout on every call.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Cmd, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisError};

use crate::store::Error;

/// The timeout used when `socket_timeout` is not set.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest `connection_pool` accepted.
pub const MAX_CONNECTION_POOL: usize = 64;

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
    /// `redis.sessions.tls_ca_file`: PEM file of the certificate authority
    /// that signed the server's certificate (`rediss://` URLs). Default:
    /// unset, which means the system roots.
    pub tls_ca_file: Option<PathBuf>,
    /// `redis.sessions.tls_cert_file`: PEM client certificate for mutual TLS.
    /// Default: unset.
    pub tls_cert_file: Option<PathBuf>,
    /// `redis.sessions.tls_key_file`: PEM private key of `tls_cert_file`.
    /// Default: unset.
    pub tls_key_file: Option<PathBuf>,
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
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
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
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
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

    pub(crate) fn connection(&self) -> Result<ConnectionManager, Error> {
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

    pub(crate) async fn bounded<T>(
        &self,
        future: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.inner.timeout, future).await {
            Ok(result) => result.map_err(|e| map_error(e, self.inner.timeout)),
            Err(_) => Err(Error::Timeout(self.inner.timeout)),
        }
    }
}

pub(crate) fn map_error(e: RedisError, timeout: Duration) -> Error {
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
