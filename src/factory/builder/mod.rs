//! [`Builder`]: every parameter of a session set-up, checked in one pass by
//! [`Builder::build`], which reports every problem at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::checks::{self, Findings};
use super::values::UrlValue;
use super::{MEMORY_URL, RedisSessionFactory};
use crate::codec::{Codec, MsgPack};
use crate::cookie::{CookieAttributes, CookieSigner, SameSite};
use crate::id::{DefaultIdGenerator, IdGenerator};
use crate::problem::{Error, ErrorKind};
use crate::session::context::{CacheControl, Compat, Context, KeyErrors, StoreSelector};
use crate::store::ClientCallable;
use crate::store::{self, RedisClient, RedisOptions, RedisStore, SessionStore};

mod limits;
mod stores;
use stores::memory_store;

/// The default of `max_session_bytes`: 1 MiB.
pub const DEFAULT_MAX_SESSION_BYTES: u64 = 1024 * 1024;

/// The default of `memory_max_sessions`.
const DEFAULT_MEMORY_MAX_SESSIONS: u64 = 100_000;
/// The largest `memory_max_sessions` accepted.
const MAX_MEMORY_SESSIONS: u64 = 100_000_000;

/// The default of `client_cache_size`: on, for 10,000 sessions (see
/// [`Builder::client_cache_size`]).
const DEFAULT_CLIENT_CACHE_SIZE: u64 = 10_000;
/// The largest `client_cache_size` accepted.
const MAX_CLIENT_CACHE_SIZE: u64 = 100_000_000;
/// The default of `client_cache_bytes`: 64 MiB.
const DEFAULT_CLIENT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// The largest `client_cache_bytes` accepted: 64 GiB.
const MAX_CLIENT_CACHE_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// The largest `max_session_bytes` accepted: 512 MiB, Redis's own limit for
/// one value.
pub const MAX_SESSION_BYTES: u64 = 512 * 1024 * 1024;

/// Builds a [`RedisSessionFactory`]; every setter names its INI key
/// (`redis.sessions.` + the setter's name) and its default.
#[must_use]
pub struct Builder {
    secret: String,
    old_secrets: Vec<String>,
    timeout: u64,
    max_lifetime: Option<u64>,
    max_session_bytes: u64,
    memory_max_sessions: u64,
    client_cache_size: u64,
    client_cache_bytes: u64,
    max_sessions_per_user: u64,
    cookie_name: String,
    cookie_max_age: Option<u64>,
    cookie_path: String,
    cookie_domain: Option<String>,
    cookie_secure: bool,
    cookie_httponly: bool,
    cookie_samesite: SameSite,
    cookie_on_exception: bool,
    cache_control: CacheControl,
    redis: RedisOptions,
    client_callable: Option<Arc<dyn ClientCallable>>,
    serialize: Arc<dyn Codec>,
    deserialize: Arc<dyn Codec>,
    id_generator: Arc<dyn IdGenerator>,
    prefix: String,
    store: Option<Arc<dyn SessionStore>>,
    compat: Compat,
    legacy_secret: Option<String>,
    legacy_prefix: Option<String>,
    legacy_cookie_name: Option<String>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("secret", &"<redacted>")
            .field("old_secrets", &self.old_secrets.len())
            .field("timeout", &self.timeout)
            .field("cookie_name", &self.cookie_name)
            .field("redis", &self.redis)
            .field("compat", &self.compat)
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
    pub(super) fn new(secret: String) -> Self {
        Self {
            secret,
            old_secrets: Vec::new(),
            timeout: 1200,
            max_lifetime: None,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
            memory_max_sessions: DEFAULT_MEMORY_MAX_SESSIONS,
            client_cache_size: DEFAULT_CLIENT_CACHE_SIZE,
            client_cache_bytes: DEFAULT_CLIENT_CACHE_BYTES,
            max_sessions_per_user: 100,
            cookie_name: "session".into(),
            cookie_max_age: None,
            cookie_path: "/".into(),
            cookie_domain: None,
            cookie_secure: false,
            cookie_httponly: true,
            cookie_samesite: SameSite::Lax,
            cookie_on_exception: true,
            cache_control: CacheControl::NoStore,
            redis: RedisOptions::default(),
            client_callable: None,
            serialize: Arc::new(MsgPack),
            deserialize: Arc::new(MsgPack),
            id_generator: Arc::new(DefaultIdGenerator),
            prefix: String::new(),
            store: None,
            compat: Compat::None,
            legacy_secret: None,
            legacy_prefix: None,
            legacy_cookie_name: None,
        }
    }

    setters! {
        /// `redis.sessions.old_secrets`: former secrets, most recent first.
        /// A cookie signed with one of them is accepted and signed again with
        /// the current secret; each must be at least 32 bytes. Default: `None`.
        old_secrets: impl IntoIterator<Item = impl Into<String>> =>
            |b, secrets| b.old_secrets = secrets.into_iter().map(Into::into).collect();
        /// `redis.sessions.timeout`: seconds of inactivity before a session
        /// expires; `0` means never; at most [`store::MAX_TIMEOUT`] (10
        /// years). Default: `1200`.
        timeout: u64 => |b, secs| b.timeout = secs;
        /// `redis.sessions.max_lifetime`: seconds after its creation past which
        /// a session is rejected and deleted, however active it is; at most
        /// [`store::MAX_TIMEOUT`]. Default: `None` (no limit).
        max_lifetime: Option<u64> => |b, secs| b.max_lifetime = secs;
        /// `redis.sessions.max_session_bytes`: the largest encoded size of all
        /// the values of one session; a change that would exceed it fails
        /// (413) and nothing of it is stored. From 1 to [`MAX_SESSION_BYTES`].
        /// Default: `1048576` (1 MiB).
        max_session_bytes: u64 => |b, bytes| b.max_session_bytes = bytes;
        /// `redis.sessions.memory_max_sessions`: the most sessions the
        /// embedded store (`url = memory://`) keeps; past it, the least
        /// recently used go first. From 1 to 100000000.
        /// Default: `100000`.
        memory_max_sessions: u64 => |b, n| b.memory_max_sessions = n;
        /// `redis.sessions.client_cache_size`: the most sessions kept
        /// decoded in this process, so that reading one again costs no Redis
        /// command; `0` turns the cache off. Redis keeps the cache true: a
        /// connection per node with `CLIENT TRACKING` (Redis 6 or later)
        /// hears of every change to a session key, by any process, and
        /// evicts it; while that connection is down nothing is served from
        /// the cache. Only for Redis from the settings in our own format
        /// (not `memory://`, a custom store, a `client_callable` or
        /// `compat`). From 0 to 100000000. Default: `10000`.
        client_cache_size: u64 => |b, n| b.client_cache_size = n;
        /// `redis.sessions.client_cache_bytes`: the most bytes of keys and
        /// values the process cache keeps (every entry counts for at least
        /// `client_cache_bytes / client_cache_size`). From 1024 to 64 GiB.
        /// Default: `67108864` (64 MiB).
        client_cache_bytes: u64 => |b, n| b.client_cache_bytes = n;
        /// `redis.sessions.max_sessions_per_user`: the most live sessions one
        /// user keeps; past it, at each login or refresh, the sessions that
        /// end first (the least recently refreshed) are revoked. `0` means
        /// no limit. Default: `100`.
        max_sessions_per_user: u64 => |b, n| b.max_sessions_per_user = n;
        /// `redis.sessions.cookie_name`. A `__Host-` name requires
        /// `cookie_secure`, `cookie_path = /` and no `cookie_domain`; a
        /// `__Secure-` name requires `cookie_secure`. Default: `session`.
        cookie_name: impl Into<String> => |b, name| b.cookie_name = name.into();
        /// `redis.sessions.cookie_max_age`: the cookie's `Max-Age` in seconds;
        /// unset means a browser-session cookie. Default: `None`.
        cookie_max_age: Option<u64> => |b, secs| b.cookie_max_age = secs;
        /// `redis.sessions.cookie_path`. Default: `/`.
        cookie_path: impl Into<String> => |b, path| b.cookie_path = path.into();
        /// `redis.sessions.cookie_domain`. Default: `None` (the request's host).
        cookie_domain: Option<String> => |b, domain| b.cookie_domain = domain;
        /// `redis.sessions.cookie_secure`: send the cookie over HTTPS only.
        /// Default: `false` (with a warning).
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
        /// `redis.sessions.cache_control`: `no-store` adds `Cache-Control:
        /// no-store` to responses that set or delete the cookie (unless the
        /// application set its own); `none` leaves them alone.
        /// Default: `no-store`.
        cache_control: CacheControl => |b, value| b.cache_control = value;
        /// `redis.sessions.url`: `redis://[user:password@]host[:port][/db]`,
        /// `redis+unix:///path`, or `memory://` for the embedded store, as
        /// `&str` or `String` (`None` unsets it). Wins over `host`, `port`,
        /// `db`, `password` and `unix_socket_path`. Default: `None`.
        url: impl UrlValue => |b, url| b.redis.url = url.into_url();
        /// `redis.sessions.host`. Default: `localhost`.
        host: impl Into<String> => |b, host| b.redis.host = host.into();
        /// `redis.sessions.port`. Default: `6379`.
        port: u16 => |b, port| b.redis.port = port;
        /// `redis.sessions.db`. Default: `0`.
        db: i64 => |b, db| b.redis.db = db;
        /// `redis.sessions.password`. Default: `None`.
        password: Option<String> => |b, password| b.redis.password = password;
        /// `redis.sessions.socket_timeout`: bounds connecting and every Redis
        /// command; a store slower than this makes the request fail with 503.
        /// Default: `None`, meaning 5 seconds.
        socket_timeout: Option<Duration> => |b, timeout| b.redis.socket_timeout = timeout;
        /// `redis.sessions.connection_pool`: the number of multiplexed
        /// connections requests are spread over, from 1 to
        /// [`store::MAX_CONNECTION_POOL`]. Default: `None`, meaning 1.
        connection_pool: Option<usize> => |b, size| b.redis.connection_pool = size;
        /// `redis.sessions.charset`: the encoding of stored key names; only
        /// `utf-8` is accepted. Default: `utf-8`.
        charset: impl Into<String> => |b, charset| b.redis.charset = charset.into();
        /// `redis.sessions.errors`: how stored key names that are not UTF-8 are
        /// read: `strict` (the session counts as corrupt and a fresh one is
        /// started), `replace` or `ignore`. Default: `strict`.
        errors: impl Into<String> => |b, errors| b.redis.errors = errors.into();
        /// `redis.sessions.unix_socket_path`: reach Redis over this Unix socket.
        /// Default: `None`.
        unix_socket_path: Option<PathBuf> => |b, path| b.redis.unix_socket_path = path;
        /// `redis.sessions.tls_ca_file`: PEM file of the authority that signed
        /// the server's certificate (`rediss://` URLs); it must be readable.
        /// Default: `None` (the system's roots).
        tls_ca_file: Option<PathBuf> => |b, path| b.redis.tls_ca_file = path;
        /// `redis.sessions.tls_cert_file`: PEM client certificate for mutual
        /// TLS; needs `tls_key_file`. Default: `None`.
        tls_cert_file: Option<PathBuf> => |b, path| b.redis.tls_cert_file = path;
        /// `redis.sessions.tls_key_file`: PEM private key of `tls_cert_file`;
        /// needs `tls_cert_file`. Default: `None`.
        tls_key_file: Option<PathBuf> => |b, path| b.redis.tls_key_file = path;
        /// `redis.sessions.prefix`: put in front of every Redis key, e.g.
        /// `myapp:session:`. Default: empty.
        prefix: impl Into<String> => |b, prefix| b.prefix = prefix.into();
        /// `redis.sessions.compat`: `PyramidRedisSessions` also reads and
        /// writes the sessions of Python's `pyramid_redis_sessions`.
        /// Default: `none`.
        compat: Compat => |b, compat| b.compat = compat;
        /// `redis.sessions.legacy_secret`: the secret of the Python app, with
        /// `compat`. Default: `None` (the same as `secret`).
        legacy_secret: Option<String> => |b, secret| b.legacy_secret = secret;
        /// `redis.sessions.legacy_prefix`: the key prefix of the Python app,
        /// with `compat`. Default: `None` (the same as `prefix`).
        legacy_prefix: Option<String> => |b, prefix| b.legacy_prefix = prefix;
        /// `redis.sessions.legacy_cookie_name`: the cookie name of the Python
        /// app, with `compat`. Default: `None` (the same as `cookie_name`).
        legacy_cookie_name: Option<String> => |b, name| b.legacy_cookie_name = name;
    }

    /// `redis.sessions.client_callable`: picks the Redis client per request.
    /// Default: `None` (one shared client built from the Redis settings).
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
    /// Default: `msgpack`.
    pub fn serialize(mut self, codec: impl Codec) -> Self {
        self.serialize = Arc::new(codec);
        self
    }

    /// `redis.sessions.deserialize`: the codec that reads values; it must
    /// read what `serialize` writes. Default: `msgpack`.
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
    /// Default: `generate_session_id` (32 bytes from the OS CSPRNG).
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

    /// Checks every setting and builds the factory. No network I/O happens
    /// (the TLS files are opened to check that they are readable): Redis is
    /// first contacted by the first request that uses a session. Warnings
    /// (a weak secret, `cookie_secure = false`, …) are logged once through
    /// `tracing` and kept in [`RedisSessionFactory::warnings`].
    ///
    /// # Errors
    ///
    /// A [`config::Error`](Error) listing every problem found.
    pub fn build(self) -> Result<RedisSessionFactory, Error> {
        let factory = self.build_unlogged()?;
        factory.log_warnings();
        Ok(factory)
    }

    /// [`Builder::build`] without logging the warnings (the caller adds
    /// their file and line first).
    pub(crate) fn build_unlogged(self) -> Result<RedisSessionFactory, Error> {
        crate::metrics::describe();
        let mut found = Findings::default();
        let signer = self.signer(&mut found);
        let cookie = self.cookie_attributes(&mut found);
        self.check_limits(&mut found);
        let key_errors = self.key_errors(&mut found);
        self.check_redis(&mut found);
        let legacy = self.legacy(&mut found);
        let (store, redis_client, store_description) = self.store_selector(&mut found);
        let (scheme, store) = stores::scheme(
            self.compat,
            legacy.as_ref(),
            store,
            redis_client.as_ref(),
            &mut found,
        );
        let (Some(signer), Some(store), None) = (signer, store, found.error()) else {
            return Err(found.into_error());
        };
        let (store, cache) = self.client_cache(store, &scheme, redis_client.as_ref(), &mut found);
        #[cfg_attr(not(feature = "compat"), allow(unused_mut))] // compat renames it
        let mut cookie = cookie;
        let (serialize, deserialize) = match &scheme {
            #[cfg(feature = "compat")]
            crate::session::Scheme::Pyramid(compat) => {
                // The Python app reads the cookie by its name and every
                // value as a pickle.
                cookie.name = compat.cookie_name().to_owned();
                let pickle: Arc<dyn Codec> = Arc::new(crate::compat::PickleCodec);
                (Arc::clone(&pickle), pickle)
            }
            _ => (self.serialize, self.deserialize),
        };
        Ok(RedisSessionFactory {
            context: Arc::new(Context {
                signer,
                cookie,
                timeout: self.timeout,
                cookie_on_exception: self.cookie_on_exception,
                prefix: self.prefix,
                serialize,
                deserialize,
                id_generator: self.id_generator,
                store,
                key_errors,
                redis: self.redis,
                max_session_bytes: self.max_session_bytes,
                max_sessions_per_user: usize::try_from(self.max_sessions_per_user)
                    .unwrap_or(usize::MAX),
                max_lifetime: self.max_lifetime,
                cache_control: self.cache_control,
                compat: self.compat,
                legacy,
                scheme,
                events: crate::session::EventSlot::default(),
                cache,
            }),
            redis_client,
            store_description: Arc::from(store_description),
            warnings: Arc::from(found.warnings),
        })
    }

    /// The signer of the current and old secrets; warns on a weak secret.
    fn signer(&self, found: &mut Findings) -> Option<CookieSigner> {
        let signer = CookieSigner::new(&self.secret)
            .map_err(|e| {
                let kind = if self.secret.is_empty() {
                    ErrorKind::Missing
                } else {
                    ErrorKind::Invalid
                };
                found.problem(kind, "secret", e.to_string());
            })
            .ok()?;
        if let Some(weakness) = checks::weak_secret(&self.secret) {
            found.warning(
                "secret",
                format!("{weakness}: generate one with `openssl rand -base64 48`"),
            );
        }
        signer
            .with_old_secrets(&self.old_secrets)
            .map_err(|e| found.problem(ErrorKind::Invalid, "old_secrets", e.to_string()))
            .ok()
    }

    /// The cookie's attributes, with the rules of names, paths and prefixes.
    fn cookie_attributes(&self, found: &mut Findings) -> CookieAttributes {
        checks::cookie_name(found, "cookie_name", &self.cookie_name);
        checks::cookie_path_and_domain(found, &self.cookie_path, self.cookie_domain.as_deref());
        if self.cookie_samesite == SameSite::None && !self.cookie_secure {
            found
                .problem(
                    ErrorKind::Conflict,
                    "cookie_samesite",
                    "browsers drop SameSite=None cookies without Secure: set redis.sessions.cookie_secure = true",
                )
                .seen("None");
        }
        checks::cookie_prefix(
            found,
            &self.cookie_name,
            self.cookie_secure,
            &self.cookie_path,
            self.cookie_domain.as_deref(),
        );
        checks::cookie_max_age(found, self.cookie_max_age, self.timeout);
        if !self.cookie_secure {
            found.warning(
                "cookie_secure",
                "the session cookie is also sent over plain HTTP: set redis.sessions.cookie_secure = true outside development",
            );
        }
        CookieAttributes {
            name: self.cookie_name.clone(),
            max_age: self.cookie_max_age.map(Duration::from_secs),
            path: self.cookie_path.clone(),
            domain: self.cookie_domain.clone(),
            secure: self.cookie_secure,
            httponly: self.cookie_httponly,
            samesite: self.cookie_samesite,
        }
    }

    /// `charset` and `errors`: how stored key names are read.
    fn key_errors(&self, found: &mut Findings) -> KeyErrors {
        let charset = self.redis.charset.to_ascii_lowercase();
        if charset != "utf-8" && charset != "utf8" {
            found
                .problem(
                    ErrorKind::Invalid,
                    "charset",
                    "expected utf-8 (session keys are Rust strings)",
                )
                .seen(&self.redis.charset);
        }
        match self.redis.errors.to_ascii_lowercase().as_str() {
            "strict" => KeyErrors::Strict,
            "replace" => KeyErrors::Replace,
            "ignore" => KeyErrors::Ignore,
            _ => {
                found
                    .problem(
                        ErrorKind::Invalid,
                        "errors",
                        "expected strict, replace or ignore",
                    )
                    .seen(&self.redis.errors);
                KeyErrors::Strict
            }
        }
    }

    /// The connection settings that can be checked without a server.
    fn check_redis(&self, found: &mut Findings) {
        if self.redis.port == 0 {
            found
                .problem(
                    ErrorKind::Invalid,
                    "port",
                    "expected a port number from 1 to 65535, e.g. 6379",
                )
                .seen("0");
        }
        if self.redis.db < 0 {
            found
                .problem(
                    ErrorKind::Invalid,
                    "db",
                    "expected a database number, e.g. 0",
                )
                .seen(self.redis.db.to_string());
        }
        if self.redis.socket_timeout.is_some_and(|t| t.is_zero()) {
            found
                .problem(
                    ErrorKind::Invalid,
                    "socket_timeout",
                    "expected a positive number of seconds, e.g. 1.5",
                )
                .seen("0");
        }
        if let Some(size) = self.redis.connection_pool
            && !(1..=store::MAX_CONNECTION_POOL).contains(&size)
        {
            found
                .problem(
                    ErrorKind::Invalid,
                    "connection_pool",
                    format!(
                        "expected a number of connections from 1 to {}, e.g. 4",
                        store::MAX_CONNECTION_POOL
                    ),
                )
                .seen(size.to_string());
        }
        let tls: [(&str, Option<&Path>); 3] = [
            ("tls_ca_file", self.redis.tls_ca_file.as_deref()),
            ("tls_cert_file", self.redis.tls_cert_file.as_deref()),
            ("tls_key_file", self.redis.tls_key_file.as_deref()),
        ];
        for (name, path) in tls {
            if let Some(path) = path {
                checks::readable_file(found, name, path);
            }
        }
        match (&self.redis.tls_cert_file, &self.redis.tls_key_file) {
            (Some(_), None) => {
                found.problem(
                    ErrorKind::Conflict,
                    "tls_cert_file",
                    "a client certificate needs its private key: set redis.sessions.tls_key_file too",
                );
            }
            (None, Some(_)) => {
                found.problem(
                    ErrorKind::Conflict,
                    "tls_key_file",
                    "a private key needs its client certificate: set redis.sessions.tls_cert_file too",
                );
            }
            _ => {}
        }
    }

    /// Where requests find their store, the shared Redis client if any, and
    /// a description for people. Redis is opened (without I/O) only when no
    /// other problem was found.
    fn store_selector(
        &self,
        found: &mut Findings,
    ) -> (Option<StoreSelector>, Option<RedisClient>, String) {
        let description = super::describe_store(
            &self.redis,
            self.store.is_some(),
            self.client_callable.is_some(),
        );
        let selector = match (&self.store, &self.client_callable) {
            (Some(_), Some(_)) => {
                found.problem(
                    ErrorKind::Conflict,
                    "client_callable",
                    "a custom store and a client_callable cannot be combined: remove one",
                );
                None
            }
            (Some(store), None) => Some(StoreSelector::Fixed(Arc::clone(store))),
            (None, Some(callable)) => Some(StoreSelector::PerRequest(Arc::clone(callable))),
            (None, None) if self.redis.url.as_deref() == Some(MEMORY_URL) => {
                memory_store(found, self.memory_max_sessions)
            }
            (None, None) if found.error().is_some() => None,
            (None, None) => match RedisClient::open(&self.redis) {
                Ok(client) => {
                    let store = RedisStore::new(client.clone());
                    return (
                        Some(StoreSelector::Fixed(Arc::new(store))),
                        Some(client),
                        description,
                    );
                }
                Err(e) => {
                    let default = if self.redis.url.is_some() {
                        "url"
                    } else {
                        "host"
                    };
                    checks::redis_problem(found, &e.to_string(), default);
                    None
                }
            },
        };
        (selector, None, description)
    }
}
