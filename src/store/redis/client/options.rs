//! The Redis connection settings, [`RedisOptions`]: what the manual's
//! Redis-specific parameters become, checked without connecting.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::target;
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
    /// `redis.sessions.url`: `redis://[user:password@]host[:port][/db]`,
    /// `rediss://…` (TLS), `redis+unix:///path?db=N`,
    /// `redis+sentinel://[user:password@]host:port[,host:port…]/MASTER[/db]`
    /// or `redis+cluster://[user:password@]host:port[,host:port…]`
    /// (`rediss+sentinel://`, `rediss+cluster://` for TLS). Default: unset.
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

    /// Checks the settings without connecting: the URL (or host), and the
    /// TLS files (readable PEM of the right kind, only with a TLS URL,
    /// certificate and key together). [`RedisClient::open`](super::RedisClient::open) runs the same
    /// checks.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] whose message starts with the setting's name and
    /// value (the URL's password redacted), then says what was wrong and
    /// what was expected, e.g. `tls_ca_file = "/etc/redis/ca.pem": cannot
    /// read it (No such file or directory (os error 2)): expected a PEM
    /// file …`. `memory://` (the embedded store) passes. A caller that knows where the setting came from puts
    /// `file:line: redis.sessions.` in front.
    ///
    /// ```
    /// use redis_sessions::RedisOptions;
    ///
    /// let options = RedisOptions {
    ///     url: Some("redis+sentinel://:hunter2@10.0.0.1:26379".into()),
    ///     ..RedisOptions::default()
    /// };
    /// let message = options.validate().unwrap_err().to_string();
    /// assert!(message.starts_with("url = \"redis+sentinel://:<redacted>@10.0.0.1:26379\": no master name"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.url.as_deref() == Some(crate::MEMORY_URL) {
            // The embedded store: nothing of Redis to check.
            return Ok(());
        }
        target::validate(self).map(|_| ())
    }

    /// Checks one URL alone, as [`validate`](Self::validate) does
    /// (`memory://`, the embedded store, passes).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] starting with `url = "…": `.
    pub fn validate_url(url: &str) -> Result<(), Error> {
        if url == crate::MEMORY_URL {
            return Ok(());
        }
        target::parse_url(url).map(|_| ())
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
