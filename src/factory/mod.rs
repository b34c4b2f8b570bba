//! [`RedisSessionFactory`]: every setting of a session set-up, checked once,
//! shared by every request.
//!
//! The builder takes each parameter of the manual's `RedisSessionFactory`,
//! with the same name and default; [`RedisSessionFactory::layer`] turns the
//! factory into a tower layer. Every `redis.sessions.*` key is one row of
//! one table (`table.rs`): its default, how its text is read and which
//! builder setter takes it. `Settings`, `redis-sessions check` and
//! `docs/settings.md` follow that table, and tests hold them to it.
//!
//! A request reaches its factory through the per-factory `Context`
//! (`context.rs`): the signer, the cookie's attributes, the codecs, the id
//! generator, the store selector and the limits, behind one `Arc`.
//!
//! # Differences from pyramid_redis_sessions
//!
//! | parameter | here | original |
//! |---|---|---|
//! | `secret` | at least 32 bytes; old ones in `old_secrets` | any string |
//! | `timeout` | `0` means no expiry; at most 10 years | `0` deletes sessions at once |
//! | `socket_timeout` | unset means 5 s | unset waits forever |
//! | `cookie_samesite` | new, default `Lax` | no attribute |
//! | `cookie_name` | `__Host-`/`__Secure-` rules enforced | not checked |
//! | `serialize`/`deserialize` | a [`Codec`](crate::codec::Codec), MessagePack by default | `cPickle` |
//! | `id_generator` | 256-bit ids from the OS | SHA-1 of time and `random` |
//! | `connection_pool` | number of multiplexed connections | a pool object |
//! | `max_session_bytes`, `max_lifetime`, `cache_control` | new | absent |

mod builder;
mod checks;
mod sessions;
pub(crate) mod table;
pub(crate) mod values;

use std::fmt;
use std::sync::Arc;

pub use crate::session::context::{CacheControl, Compat};
pub use crate::store::ClientCallable;
pub use builder::{Builder, DEFAULT_MAX_SESSION_BYTES, MAX_SESSION_BYTES};
pub use values::UrlValue;

use crate::problem::Problem;
use crate::session::context::{Context, StoreSelector};
use crate::store::{self, RedisClient, RedisOptions};

/// The URL that selects the embedded in-memory store.
pub const MEMORY_URL: &str = "memory://";

/// Makes sessions: the checked settings, the store, the codec and the id
/// generator, shared by every request. Cheap to clone.
///
/// Build one with [`RedisSessionFactory::builder`] (or from INI settings
/// with [`Configurator`](crate::Configurator)), then add
/// [`RedisSessionFactory::layer`] to the app.
///
/// ```
/// use redis_sessions::{RedisSessionFactory, SameSite};
///
/// let factory = RedisSessionFactory::builder("q3Vd8J0m2yPZkQ5x7fLrT1sWnB4cH6gA9eUoIiKjM0pR")
///     .timeout(600)
///     .cookie_name("__Host-sid")
///     .cookie_secure(true)
///     .cookie_samesite(SameSite::Strict)
///     .url("redis://127.0.0.1:6379/0")
///     .build()?;
/// assert_eq!(factory.timeout(), 600);
/// assert!(factory.warnings().is_empty());
///
/// // Browsers drop a __Host- cookie sent without Secure: refused at build.
/// let err = RedisSessionFactory::builder("q3Vd8J0m2yPZkQ5x7fLrT1sWnB4cH6gA9eUoIiKjM0pR")
///     .cookie_name("__Host-sid")
///     .build()
///     .unwrap_err();
/// assert_eq!(err.problems()[0].key(), Some("redis.sessions.cookie_name"));
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisSessionFactory {
    pub(crate) context: Arc<Context>,
    redis_client: Option<RedisClient>,
    store_description: Arc<str>,
    warnings: Arc<[Problem]>,
}

impl fmt::Debug for RedisSessionFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionFactory")
            .field("context", &self.context)
            .field("store", &self.store_description)
            .finish_non_exhaustive()
    }
}

impl RedisSessionFactory {
    /// A builder with the manual's defaults and `secret` (required: it signs
    /// the cookies; at least 32 bytes, e.g. from `openssl rand -base64 48`).
    pub fn builder(secret: impl Into<String>) -> Builder {
        Builder::new(secret.into())
    }

    /// The tower layer that gives each request a [`Session`](crate::Session).
    pub fn layer(&self) -> crate::SessionLayer {
        // Metrics appear (at 0) in a recorder installed after the build.
        crate::metrics::describe();
        crate::SessionLayer::new(self.clone())
    }

    /// The actix-web middleware that gives each request a
    /// [`Session`](crate::Session): `App::new().wrap(factory.middleware())`.
    ///
    /// ```
    /// use actix_web::{App, web};
    /// use redis_sessions::{RedisSessionFactory, Session, session};
    ///
    /// async fn counter(session: Session) -> Result<String, session::Error> {
    ///     Ok(session.incr("counter", 1).await?.to_string())
    /// }
    ///
    /// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
    ///     .url(Some("memory://".into()))
    ///     .build()?;
    /// let app = App::new()
    ///     .route("/", web::get().to(counter))
    ///     .wrap(factory.middleware());
    /// # drop(app);
    /// # Ok::<(), redis_sessions::config::Error>(())
    /// ```
    #[cfg(feature = "actix")]
    #[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
    pub fn middleware(&self) -> crate::SessionMiddleware {
        crate::metrics::describe();
        crate::SessionMiddleware::new(self.clone())
    }

    /// The idle timeout in seconds (0: sessions never expire).
    pub fn timeout(&self) -> u64 {
        self.context.timeout
    }

    /// The text in front of every Redis key (`redis.sessions.prefix`).
    pub fn prefix(&self) -> &str {
        &self.context.prefix
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.context.cookie.name
    }

    /// Where sessions are kept, for people: a Redis URL (password redacted),
    /// `host:port db N`, a Unix socket, the embedded store, a custom store, or
    /// a client callable.
    pub fn store_description(&self) -> &str {
        &self.store_description
    }

    /// The Redis settings (what a `client_callable` receives).
    pub fn redis_options(&self) -> &RedisOptions {
        &self.context.redis
    }

    /// What works but should not go to production: a weak or published
    /// secret, `cookie_secure = false`, `legacy_*` settings without
    /// `compat`. Each is a [`Problem`] of kind
    /// [`ErrorKind::Warning`](crate::config::ErrorKind::Warning), with its
    /// file and line when the settings came from an INI file. They were
    /// logged once, at `warn`, when the factory was built.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// Logs every warning once, at `warn`.
    pub(crate) fn log_warnings(&self) {
        for warning in self.warnings.iter() {
            tracing::warn!(target: "redis_sessions::config", "{warning}");
        }
    }

    /// Adds file and line to each warning (from the settings it came from).
    pub(crate) fn locate_warnings(&mut self, locate: impl Fn(Problem) -> Problem) {
        self.warnings = self.warnings.iter().cloned().map(locate).collect();
    }

    /// Checks that the store answers: `PING` for Redis, nothing for a custom
    /// or in-memory store. With a `client_callable` there is no single server
    /// to ask, and this succeeds without I/O.
    ///
    /// # Errors
    ///
    /// The [`store::Error`] seen.
    pub async fn ping(&self) -> Result<(), store::Error> {
        match &self.context.store {
            StoreSelector::Fixed(_) => match &self.redis_client {
                Some(client) => client.ping().await,
                None => Ok(()),
            },
            StoreSelector::PerRequest(_) => Ok(()),
        }
    }
}

/// Where sessions are kept, for people (passwords redacted).
fn describe_store(redis: &RedisOptions, has_store: bool, has_callable: bool) -> String {
    match (has_store, has_callable, redis.redacted_url()) {
        (true, _, _) => "a custom store".to_owned(),
        (false, true, _) => "chosen per request by client_callable".to_owned(),
        (false, false, Some(url)) if url == MEMORY_URL => "the embedded in-memory store".to_owned(),
        (false, false, Some(url)) => url,
        (false, false, None) => match &redis.unix_socket_path {
            Some(path) => format!("unix socket {} db {}", path.display(), redis.db),
            None => format!("{}:{} db {}", redis.host, redis.port, redis.db),
        },
    }
}

#[cfg(test)]
mod tests;
