//! [`RedisSessionFactory`]: every setting of a session set-up, checked once,
//! shared by every request.
//!
//! The builder takes each parameter of the manual's `RedisSessionFactory`,
//! with the same name and default; [`RedisSessionFactory::layer`] turns the
//! factory into a tower layer.
//!
//! # Differences from pyramid_redis_sessions
//!
//! | parameter | here | original |
//! |---|---|---|
//! | `secret` | at least 32 bytes | any string |
//! | `timeout` | `0` means no expiry | `0` deletes sessions at once |
//! | `socket_timeout` | unset means 5 s | unset waits forever |
//! | `cookie_samesite` | new, default `Lax` | no attribute |
//! | `serialize`/`deserialize` | a [`Codec`], MessagePack by default | `cPickle` |
//! | `id_generator` | 256-bit ids from the OS | SHA-1 of time and `random` |
//! | `connection_pool` | number of multiplexed connections | a pool object |
//!
//! ```
//! use redis_sessions::RedisSessionFactory;
//!
//! let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
//!     .timeout(600)
//!     .cookie_name("sid")
//!     .cookie_secure(true)
//!     .url(Some("redis://127.0.0.1:6379/0".into()))
//!     .build()?;
//! assert_eq!(factory.timeout(), 600);
//! # Ok::<(), redis_sessions::config::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{Codec, MsgPack};
use crate::config::{Error, ErrorKind, Problem};
use crate::cookie::{CookieAttributes, CookieSigner, SameSite};
use crate::id::{DefaultIdGenerator, IdGenerator};
use crate::store::{self, RedisClient, RedisOptions, RedisStore, SessionStore};

/// The URL that selects the embedded in-memory store.
pub const MEMORY_URL: &str = "memory://";

/// Returns the Redis client to use for one request (the manual's
/// `client_callable`).
///
/// It receives the request's head and the configured [`RedisOptions`], so it
/// can pick a server per request (by `Host`, tenant, …). It is called once
/// for every request that passes the layer, so it should hand out clients it
/// keeps (a [`RedisClient`] is a cheap clone) rather than open new ones.
///
/// ```
/// use std::sync::OnceLock;
/// use redis_sessions::{RedisClient, RedisOptions, RedisSessionFactory};
///
/// static SHARED: OnceLock<RedisClient> = OnceLock::new();
///
/// fn get_redis_client(
///     _request: &http::request::Parts,
///     options: &RedisOptions,
/// ) -> Result<RedisClient, redis_sessions::store::Error> {
///     if let Some(client) = SHARED.get() {
///         return Ok(client.clone());
///     }
///     let client = RedisClient::open(options)?;
///     Ok(SHARED.get_or_init(|| client).clone())
/// }
///
/// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
///     .client_callable(get_redis_client)
///     .build()?;
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
pub trait ClientCallable: Send + Sync + 'static {
    /// Returns the client for this request.
    ///
    /// # Errors
    ///
    /// A [`store::Error`]; the session access then fails with it (a 503 when
    /// [`store::Error::is_unavailable`]).
    fn client(
        &self,
        request: &http::request::Parts,
        options: &RedisOptions,
    ) -> Result<RedisClient, store::Error>;
}

impl<F> ClientCallable for F
where
    F: Fn(&http::request::Parts, &RedisOptions) -> Result<RedisClient, store::Error>
        + Send
        + Sync
        + 'static,
{
    fn client(
        &self,
        request: &http::request::Parts,
        options: &RedisOptions,
    ) -> Result<RedisClient, store::Error> {
        self(request, options)
    }
}

/// How stored key names that are not UTF-8 are read (`errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyErrors {
    Strict,
    Replace,
    Ignore,
}

/// Where a request's store comes from.
#[derive(Clone)]
pub(crate) enum StoreSource {
    Shared(Arc<dyn SessionStore>),
    PerRequest(Arc<dyn ClientCallable>),
}

/// The settings every request shares.
pub(crate) struct Shared {
    pub(crate) signer: CookieSigner,
    pub(crate) cookie: CookieAttributes,
    pub(crate) timeout: u64,
    pub(crate) cookie_on_exception: bool,
    pub(crate) prefix: String,
    pub(crate) serialize: Arc<dyn Codec>,
    pub(crate) deserialize: Arc<dyn Codec>,
    pub(crate) id_generator: Arc<dyn IdGenerator>,
    pub(crate) store: StoreSource,
    pub(crate) key_errors: KeyErrors,
    pub(crate) redis: RedisOptions,
    pub(crate) max_session_bytes: u64,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) cache_control_no_store: bool,
    pub(crate) events: crate::session::EventSlot,
}

/// Makes sessions: the checked settings, the store, the codec and the id
/// generator, shared by every request. Cheap to clone.
///
/// Build one with [`RedisSessionFactory::builder`], then add
/// [`RedisSessionFactory::layer`] to the app.
#[derive(Clone)]
pub struct RedisSessionFactory {
    pub(crate) shared: Arc<Shared>,
    redis_client: Option<RedisClient>,
    store_description: String,
}

impl fmt::Debug for RedisSessionFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("RedisSessionFactory")
            .field("secret", &"<redacted>")
            .field("timeout", &s.timeout)
            .field("cookie", &s.cookie)
            .field("cookie_on_exception", &s.cookie_on_exception)
            .field("prefix", &s.prefix)
            .field("serialize", &s.serialize.name())
            .field("deserialize", &s.deserialize.name())
            .field("redis", &s.redis)
            .finish_non_exhaustive()
    }
}

impl RedisSessionFactory {
    /// A builder with the manual's defaults and `secret` (required: it signs
    /// the cookies).
    pub fn builder(secret: impl Into<String>) -> Builder {
        Builder::new(secret.into())
    }

    /// The tower layer that gives each request a [`Session`](crate::Session).
    pub fn layer(&self) -> crate::SessionLayer {
        crate::SessionLayer::new(self.clone())
    }

    /// The idle timeout in seconds (0: sessions never expire).
    pub fn timeout(&self) -> u64 {
        self.shared.timeout
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.shared.cookie.name
    }

    /// Where sessions are kept, for people: a Redis URL (password redacted),
    /// `host:port db N`, a Unix socket, the embedded store, a custom store, or
    /// a client callable.
    pub fn store_description(&self) -> &str {
        &self.store_description
    }

    /// The Redis settings (what a `client_callable` receives).
    pub fn redis_options(&self) -> &RedisOptions {
        &self.shared.redis
    }

    /// Checks that the store answers: `PING` for Redis, nothing for a custom
    /// or in-memory store. With a `client_callable` there is no single server
    /// to ask, and this succeeds without I/O.
    ///
    /// # Errors
    ///
    /// The [`store::Error`] seen.
    pub async fn ping(&self) -> Result<(), store::Error> {
        match &self.shared.store {
            StoreSource::Shared(_) => match &self.redis_client {
                Some(client) => client.ping().await,
                None => Ok(()),
            },
            StoreSource::PerRequest(_) => Ok(()),
        }
    }
}

/// Builds a [`RedisSessionFactory`]; every setter names its INI key
/// (`redis.sessions.` + the setter's name) and its default.
#[must_use]
pub struct Builder {
    secret: String,
    timeout: u64,
    cookie_name: String,
    cookie_max_age: Option<u64>,
    cookie_path: String,
    cookie_domain: Option<String>,
    cookie_secure: bool,
    cookie_httponly: bool,
    cookie_samesite: SameSite,
    cookie_on_exception: bool,
    redis: RedisOptions,
    client_callable: Option<Arc<dyn ClientCallable>>,
    serialize: Arc<dyn Codec>,
    deserialize: Arc<dyn Codec>,
    id_generator: Arc<dyn IdGenerator>,
    prefix: String,
    store: Option<Arc<dyn SessionStore>>,
    max_session_bytes: u64,
    max_lifetime: Option<u64>,
    cache_control: CacheControl,
}

/// Whether responses that set or delete the session cookie get
/// `Cache-Control: no-store` (`redis.sessions.cache_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CacheControl {
    /// `no-store`, unless the app set its own `Cache-Control` (the default).
    #[default]
    NoStore,
    /// Never added.
    None,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("cookie_name", &self.cookie_name)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

macro_rules! setters {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty => |$b:ident, $v:ident| $set:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $v: $ty) -> Self {
                let $b = &mut self;
                $set;
                self
            }
        )*
    };
}

impl Builder {
    fn new(secret: String) -> Self {
        Self {
            secret,
            timeout: 1200,
            cookie_name: "session".into(),
            cookie_max_age: None,
            cookie_path: "/".into(),
            cookie_domain: None,
            cookie_secure: false,
            cookie_httponly: true,
            cookie_samesite: SameSite::Lax,
            cookie_on_exception: true,
            redis: RedisOptions::default(),
            client_callable: None,
            serialize: Arc::new(MsgPack),
            deserialize: Arc::new(MsgPack),
            id_generator: Arc::new(DefaultIdGenerator),
            prefix: String::new(),
            store: None,
            max_session_bytes: 1 << 20,
            max_lifetime: None,
            cache_control: CacheControl::NoStore,
        }
    }

    setters! {
        /// `redis.sessions.max_session_bytes`. Default: 1 MiB.
        max_session_bytes: u64 => |b, n| b.max_session_bytes = n;
        /// `redis.sessions.max_lifetime`. Default: unset.
        max_lifetime: Option<u64> => |b, secs| b.max_lifetime = secs;
        /// `redis.sessions.cache_control`. Default: `no-store`.
        cache_control: CacheControl => |b, c| b.cache_control = c;
        /// `redis.sessions.timeout`: seconds of inactivity before a session
        /// expires; `0` means never. Default: `1200`.
        timeout: u64 => |b, secs| b.timeout = secs;
        /// `redis.sessions.cookie_name`. Default: `session`.
        cookie_name: impl Into<String> => |b, name| b.cookie_name = name.into();
        /// `redis.sessions.cookie_max_age`: the cookie's `Max-Age` in seconds;
        /// unset means a browser-session cookie. Default: unset.
        cookie_max_age: Option<u64> => |b, secs| b.cookie_max_age = secs;
        /// `redis.sessions.cookie_path`. Default: `/`.
        cookie_path: impl Into<String> => |b, path| b.cookie_path = path.into();
        /// `redis.sessions.cookie_domain`. Default: unset (the request's host).
        cookie_domain: Option<String> => |b, domain| b.cookie_domain = domain;
        /// `redis.sessions.cookie_secure`: send the cookie over HTTPS only.
        /// Default: `false`.
        ///
        /// # Warning
        ///
        /// Turn this on in production; without it the cookie travels in the clear
        /// over plain HTTP.
        cookie_secure: bool => |b, on| b.cookie_secure = on;
        /// `redis.sessions.cookie_httponly`: hide the cookie from scripts.
        /// Default: `true`.
        ///
        /// # Warning
        ///
        /// Turning this off lets any injected script read the session id.
        cookie_httponly: bool => |b, on| b.cookie_httponly = on;
        /// `redis.sessions.cookie_samesite`: `Strict`, `Lax` or `None`.
        /// Default: `Lax`.
        ///
        /// # Warning
        ///
        /// `None` sends the cookie on cross-site requests (browsers also require
        /// `cookie_secure`); check CSRF tokens on every state-changing request.
        cookie_samesite: SameSite => |b, samesite| b.cookie_samesite = samesite;
        /// `redis.sessions.cookie_on_exception`: on a 5xx response, still save the
        /// session and set the cookie. Default: `true`.
        cookie_on_exception: bool => |b, on| b.cookie_on_exception = on;
        /// `redis.sessions.url`: `redis://[user:password@]host[:port][/db]`,
        /// `redis+unix:///path`, or `memory://` for the embedded store. Wins over
        /// `host`, `port`, `db`, `password` and `unix_socket_path`. Default: unset.
        url: Option<String> => |b, url| b.redis.url = url;
        /// `redis.sessions.host`. Default: `localhost`.
        host: impl Into<String> => |b, host| b.redis.host = host.into();
        /// `redis.sessions.port`. Default: `6379`.
        port: u16 => |b, port| b.redis.port = port;
        /// `redis.sessions.db`. Default: `0`.
        db: i64 => |b, db| b.redis.db = db;
        /// `redis.sessions.password`. Default: unset.
        password: Option<String> => |b, password| b.redis.password = password;
        /// `redis.sessions.socket_timeout`: bounds connecting and every Redis
        /// command; a store slower than this makes the request fail with 503.
        /// Default: unset, meaning 5 seconds.
        socket_timeout: Option<Duration> => |b, timeout| b.redis.socket_timeout = timeout;
        /// `redis.sessions.connection_pool`: the number of multiplexed
        /// connections requests are spread over. Default: unset, meaning 1.
        connection_pool: Option<usize> => |b, size| b.redis.connection_pool = size;
        /// `redis.sessions.charset`: the encoding of stored key names; only
        /// `utf-8` is accepted. Default: `utf-8`.
        charset: impl Into<String> => |b, charset| b.redis.charset = charset.into();
        /// `redis.sessions.errors`: how stored key names that are not UTF-8 are
        /// read: `strict` (the session counts as corrupt and a fresh one is
        /// started), `replace` or `ignore`. Default: `strict`.
        errors: impl Into<String> => |b, errors| b.redis.errors = errors.into();
        /// `redis.sessions.unix_socket_path`: reach Redis over this Unix socket.
        /// Default: unset.
        unix_socket_path: Option<PathBuf> => |b, path| b.redis.unix_socket_path = path;
        /// `redis.sessions.prefix`: put in front of every Redis key, e.g.
        /// `myapp:session:`. Default: empty.
        prefix: impl Into<String> => |b, prefix| b.prefix = prefix.into();
    }

    /// `redis.sessions.client_callable`: picks the Redis client per request.
    /// Default: unset (one shared client built from the Redis settings).
    pub fn client_callable(mut self, callable: impl ClientCallable) -> Self {
        self.client_callable = Some(Arc::new(callable));
        self
    }

    /// Like [`Builder::client_callable`] with a callable already shared.
    pub fn client_callable_arc(mut self, callable: Arc<dyn ClientCallable>) -> Self {
        self.client_callable = Some(callable);
        self
    }

    /// `redis.sessions.serialize`: the codec that writes values.
    /// Default: MessagePack.
    pub fn serialize(mut self, codec: impl Codec) -> Self {
        self.serialize = Arc::new(codec);
        self
    }

    /// `redis.sessions.deserialize`: the codec that reads values; it must
    /// read what `serialize` writes. Default: MessagePack.
    pub fn deserialize(mut self, codec: impl Codec) -> Self {
        self.deserialize = Arc::new(codec);
        self
    }

    /// Sets both `serialize` and `deserialize` to `codec`.
    pub fn codec(mut self, codec: impl Codec) -> Self {
        let codec: Arc<dyn Codec> = Arc::new(codec);
        self.serialize = Arc::clone(&codec);
        self.deserialize = codec;
        self
    }

    /// Like [`Builder::serialize`] and [`Builder::deserialize`] with
    /// codecs already shared.
    pub fn codecs(mut self, serialize: Arc<dyn Codec>, deserialize: Arc<dyn Codec>) -> Self {
        self.serialize = serialize;
        self.deserialize = deserialize;
        self
    }

    /// `redis.sessions.id_generator`: makes new session ids.
    /// Default: 32 bytes from the OS CSPRNG.
    pub fn id_generator(mut self, generator: impl IdGenerator) -> Self {
        self.id_generator = Arc::new(generator);
        self
    }

    /// Like [`Builder::id_generator`] with a generator already shared.
    pub fn id_generator_arc(mut self, generator: Arc<dyn IdGenerator>) -> Self {
        self.id_generator = generator;
        self
    }

    /// Uses `store` instead of one built from the Redis settings.
    /// Default: Redis from `url`/`host`/… (or the embedded store for `memory://`).
    pub fn store(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Checks every setting and builds the factory. No I/O happens: Redis is
    /// first contacted by the first request that uses a session.
    ///
    /// # Errors
    ///
    /// A [`config::Error`](Error) listing every problem found.
    pub fn build(self) -> Result<RedisSessionFactory, Error> {
        let mut problems = Vec::new();
        let key = |name: &str| format!("redis.sessions.{name}");
        let signer = CookieSigner::new(&self.secret)
            .map_err(|e| {
                problems.push(
                    Problem::new(
                        if self.secret.is_empty() {
                            ErrorKind::Missing
                        } else {
                            ErrorKind::Invalid
                        },
                        e.to_string(),
                    )
                    .with_key(key("secret")),
                );
            })
            .ok();
        if self.cookie_name.is_empty()
            || !self
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            problems.push(
                Problem::new(
                    ErrorKind::Invalid,
                    "expected a cookie name of letters, digits and !#$%&'*+-.^_`|~, e.g. session",
                )
                .with_key(key("cookie_name"))
                .with_value(&self.cookie_name),
            );
        }
        if !self.cookie_path.starts_with('/') || self.cookie_path.contains([';', ',']) {
            problems.push(
                Problem::new(
                    ErrorKind::Invalid,
                    "expected a path starting with /, without ; or ,, e.g. /",
                )
                .with_key(key("cookie_path"))
                .with_value(&self.cookie_path),
            );
        }
        if let Some(domain) = &self.cookie_domain
            && (domain.is_empty() || domain.contains([';', ',', ' ', '/']))
        {
            problems.push(
                Problem::new(
                    ErrorKind::Invalid,
                    "expected a domain name, e.g. example.com",
                )
                .with_key(key("cookie_domain"))
                .with_value(domain),
            );
        }
        if self.cookie_samesite == SameSite::None && !self.cookie_secure {
            problems.push(
                Problem::new(
                    ErrorKind::Conflict,
                    "browsers drop SameSite=None cookies without Secure: set redis.sessions.cookie_secure = true",
                )
                .with_key(key("cookie_samesite"))
                .with_value("None"),
            );
        }
        let charset = self.redis.charset.to_ascii_lowercase();
        if charset != "utf-8" && charset != "utf8" {
            problems.push(
                Problem::new(
                    ErrorKind::Invalid,
                    "expected utf-8 (session keys are Rust strings)",
                )
                .with_key(key("charset"))
                .with_value(&self.redis.charset),
            );
        }
        let key_errors = match self.redis.errors.to_ascii_lowercase().as_str() {
            "strict" => KeyErrors::Strict,
            "replace" => KeyErrors::Replace,
            "ignore" => KeyErrors::Ignore,
            _ => {
                problems.push(
                    Problem::new(ErrorKind::Invalid, "expected strict, replace or ignore")
                        .with_key(key("errors"))
                        .with_value(&self.redis.errors),
                );
                KeyErrors::Strict
            }
        };
        if self.redis.socket_timeout.is_some_and(|t| t.is_zero()) {
            problems.push(
                Problem::new(
                    ErrorKind::Invalid,
                    "expected a positive number of seconds, e.g. 1.5",
                )
                .with_key(key("socket_timeout"))
                .with_value("0"),
            );
        }
        if let Some(size) = self.redis.connection_pool
            && !(1..=store::MAX_CONNECTION_POOL).contains(&size)
        {
            problems.push(
                Problem::new(
                    ErrorKind::Invalid,
                    format!(
                        "expected a number of connections from 1 to {}, e.g. 4",
                        store::MAX_CONNECTION_POOL
                    ),
                )
                .with_key(key("connection_pool"))
                .with_value(size.to_string()),
            );
        }
        let mut redis_client = None;
        let store_description = match (
            &self.store,
            &self.client_callable,
            self.redis.redacted_url(),
        ) {
            (Some(_), _, _) => "a custom store".to_owned(),
            (None, Some(_), _) => "chosen per request by client_callable".to_owned(),
            (None, None, Some(url)) if url == MEMORY_URL => {
                "the embedded in-memory store".to_owned()
            }
            (None, None, Some(url)) => url,
            (None, None, None) => match &self.redis.unix_socket_path {
                Some(path) => format!("unix socket {} db {}", path.display(), self.redis.db),
                None => format!(
                    "{}:{} db {}",
                    self.redis.host, self.redis.port, self.redis.db
                ),
            },
        };
        let store = match (self.store, self.client_callable) {
            (Some(store), None) => Some(StoreSource::Shared(store)),
            (Some(_), Some(_)) => {
                problems.push(
                    Problem::new(
                        ErrorKind::Conflict,
                        "a custom store and a client_callable cannot be combined: remove one",
                    )
                    .with_key(key("client_callable")),
                );
                None
            }
            (None, Some(callable)) => Some(StoreSource::PerRequest(callable)),
            (None, None) if self.redis.url.as_deref() == Some(MEMORY_URL) => memory_store()
                .map_err(|p| problems.push(p.with_key(key("url")).with_value(MEMORY_URL)))
                .ok(),
            (None, None) if !problems.is_empty() => None,
            (None, None) => match RedisClient::open(&self.redis) {
                Ok(client) => {
                    redis_client = Some(client.clone());
                    Some(StoreSource::Shared(Arc::new(RedisStore::new(client))))
                }
                Err(e) => {
                    let name = if self.redis.url.is_some() {
                        "url"
                    } else {
                        "host"
                    };
                    problems
                        .push(Problem::new(ErrorKind::Invalid, e.to_string()).with_key(key(name)));
                    None
                }
            },
        };
        let (Some(signer), Some(store), true) = (signer, store, problems.is_empty()) else {
            return Err(Error::new(problems));
        };
        Ok(RedisSessionFactory {
            shared: Arc::new(Shared {
                signer,
                cookie: CookieAttributes {
                    name: self.cookie_name,
                    max_age: self.cookie_max_age.map(Duration::from_secs),
                    path: self.cookie_path,
                    domain: self.cookie_domain,
                    secure: self.cookie_secure,
                    httponly: self.cookie_httponly,
                    samesite: self.cookie_samesite,
                },
                timeout: self.timeout,
                cookie_on_exception: self.cookie_on_exception,
                prefix: self.prefix,
                serialize: self.serialize,
                deserialize: self.deserialize,
                id_generator: self.id_generator,
                store,
                key_errors,
                redis: self.redis,
                max_session_bytes: self.max_session_bytes,
                max_lifetime: self.max_lifetime,
                cache_control_no_store: self.cache_control == CacheControl::NoStore,
                events: crate::session::EventSlot::default(),
            }),
            redis_client,
            store_description,
        })
    }
}

#[cfg(feature = "memory-store")]
fn memory_store() -> Result<StoreSource, Problem> {
    Ok(StoreSource::Shared(Arc::new(store::MemoryStore::new())))
}

#[cfg(not(feature = "memory-store"))]
fn memory_store() -> Result<StoreSource, Problem> {
    Err(Problem::new(
        ErrorKind::Invalid,
        "the embedded store is not compiled in: enable the memory-store cargo feature",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_are_the_manuals() {
        let f = RedisSessionFactory::builder(SECRET).build().unwrap();
        let s = &f.shared;
        assert_eq!(s.timeout, 1200);
        assert_eq!(s.cookie.name, "session");
        assert_eq!(s.cookie.max_age, None);
        assert_eq!(s.cookie.path, "/");
        assert_eq!(s.cookie.domain, None);
        assert!(!s.cookie.secure);
        assert!(s.cookie.httponly);
        assert_eq!(s.cookie.samesite, SameSite::Lax);
        assert!(s.cookie_on_exception);
        assert_eq!(s.redis, RedisOptions::default());
        assert_eq!(s.redis.host, "localhost");
        assert_eq!(s.redis.port, 6379);
        assert_eq!(s.serialize.name(), "msgpack");
        assert_eq!(s.prefix, "");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = RedisSessionFactory::builder("")
            .cookie_name("bad name")
            .charset("latin-1")
            .errors("loud")
            .cookie_samesite(SameSite::None)
            .build()
            .unwrap_err();
        let keys: Vec<_> = err.problems().iter().map(|p| p.key().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "redis.sessions.secret",
                "redis.sessions.cookie_name",
                "redis.sessions.cookie_samesite",
                "redis.sessions.charset",
                "redis.sessions.errors",
            ]
        );
        assert_eq!(err.problems()[0].kind(), ErrorKind::Missing);
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let f = RedisSessionFactory::builder(SECRET)
            .password(Some("hunter2hunter2".into()))
            .build()
            .unwrap();
        let text = format!("{f:?}");
        assert!(
            !text.contains(SECRET) && !text.contains("hunter2"),
            "{text}"
        );
    }
}
