//! The per-factory context: everything a request needs from its factory,
//! checked once by the builder and shared by every request through one `Arc`;
//! and the setting values it is made of that are this library's own
//! ([`CacheControl`], [`Compat`]).

use std::fmt;
use std::sync::Arc;

use crate::codec::Codec;
use crate::cookie::{CookieAttributes, CookieSigner};
use crate::id::IdGenerator;
use crate::store::{ClientCallable, RedisOptions, SessionStore};

/// What goes in `Cache-Control` on responses that set or delete the session
/// cookie (`redis.sessions.cache_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CacheControl {
    /// `Cache-Control: no-store`, unless the application set its own
    /// `Cache-Control` (the default): no shared cache keeps a response
    /// that carries someone's session cookie.
    #[default]
    NoStore,
    /// Leave `Cache-Control` alone.
    None,
}

impl CacheControl {
    /// Parses `no-store` or `none` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "no-store" => Some(Self::NoStore),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Which foreign session formats are understood (`redis.sessions.compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compat {
    /// Only this library's own formats (the default).
    #[default]
    None,
    /// Also the cookies and stored sessions of Python's
    /// `pyramid_redis_sessions`, so that both apps share sessions during a
    /// migration (see `legacy_secret`, `legacy_prefix`, `legacy_cookie_name`).
    PyramidRedisSessions,
}

impl Compat {
    /// Parses `none` or `pyramid_redis_sessions` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "pyramid_redis_sessions" => Some(Self::PyramidRedisSessions),
            _ => None,
        }
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
    /// Idle timeout in seconds (0: never), at most [`MAX_TIMEOUT`](crate::store::MAX_TIMEOUT).
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
    pub(crate) scheme: super::Scheme,
    /// The hooks called with session events.
    pub(crate) events: super::EventSlot,
    /// The process cache (`client_cache_size`), when on.
    pub(crate) cache: Option<Arc<super::SessionCache>>,
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
