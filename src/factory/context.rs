//! The per-factory context: everything a request needs from its factory,
//! checked once by the builder and shared by every request through one `Arc`.

use std::fmt;
use std::sync::Arc;

use super::values::{CacheControl, Compat};
use crate::codec::Codec;
use crate::cookie::{CookieAttributes, CookieSigner};
use crate::id::IdGenerator;
use crate::store::{self, RedisClient, RedisOptions, SessionStore};

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
pub(crate) enum StoreSelector {
    /// One store for every request (Redis from the settings, the embedded
    /// store, or a custom one).
    Fixed(Arc<dyn SessionStore>),
    /// A Redis client picked per request by a `client_callable`.
    PerRequest(Arc<dyn ClientCallable>),
}

/// The original's formats, when `compat = pyramid_redis_sessions`; unset
/// `legacy_*` settings are resolved to ours.
#[derive(Clone)]
pub(crate) struct Legacy {
    /// The original's signing secret (the raw text, as Pyramid uses it).
    #[allow(dead_code)] // read by the compat formats
    pub(crate) secret: String,
    /// The original's key prefix.
    pub(crate) prefix: String,
    /// The original's cookie name.
    pub(crate) cookie_name: String,
    /// The most bytes a stored session may expand to (`max_session_bytes`).
    #[cfg_attr(not(feature = "compat"), allow(dead_code))] // read by the compat formats
    pub(crate) budget: u64,
}

impl fmt::Debug for Legacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Legacy")
            .field("secret", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("cookie_name", &self.cookie_name)
            .finish()
    }
}

/// Everything a request needs from its factory.
pub(crate) struct Context {
    /// Signs new cookies with the current secret; verifies with it, then
    /// with the old secrets.
    pub(crate) signer: CookieSigner,
    pub(crate) cookie: CookieAttributes,
    /// Idle timeout in seconds (0: never), at most [`store::MAX_TIMEOUT`].
    pub(crate) timeout: u64,
    pub(crate) cookie_on_exception: bool,
    pub(crate) prefix: String,
    pub(crate) serialize: Arc<dyn Codec>,
    pub(crate) deserialize: Arc<dyn Codec>,
    pub(crate) id_generator: Arc<dyn IdGenerator>,
    pub(crate) store: StoreSelector,
    pub(crate) key_errors: KeyErrors,
    pub(crate) redis: RedisOptions,
    /// Largest encoded size of all values of one session, in bytes.
    pub(crate) max_session_bytes: u64,
    /// The most live sessions one user keeps (0: no limit).
    pub(crate) max_sessions_per_user: usize,
    /// Seconds after creation past which a session is rejected, however
    /// active it is.
    pub(crate) max_lifetime: Option<u64>,
    /// What goes in `Cache-Control` on responses that set or delete the cookie.
    pub(crate) cache_control: CacheControl,
    /// Which foreign formats are read and written.
    pub(crate) compat: Compat,
    /// Set when `compat` is not [`Compat::None`] or `legacy_secret` is set.
    pub(crate) legacy: Option<Legacy>,
    /// How cookies, ids and keys look: ours, the original's, or ours with
    /// the original's upgraded on sight.
    pub(crate) scheme: crate::session::Scheme,
    /// The hooks called with session events.
    pub(crate) events: crate::session::EventSlot,
    /// The process cache (`client_cache_size`), when on.
    pub(crate) cache: Option<Arc<crate::session::SessionCache>>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("signer", &self.signer)
            .field("cookie", &self.cookie)
            .field("timeout", &self.timeout)
            .field("cookie_on_exception", &self.cookie_on_exception)
            .field("prefix", &self.prefix)
            .field("serialize", &self.serialize.name())
            .field("deserialize", &self.deserialize.name())
            .field("key_errors", &self.key_errors)
            .field("redis", &self.redis)
            .field("max_session_bytes", &self.max_session_bytes)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("max_lifetime", &self.max_lifetime)
            .field("cache_control", &self.cache_control)
            .field("compat", &self.compat)
            .field("legacy", &self.legacy)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
