//! The types of setting values that are this library's own:
//! [`CacheControl`], [`Compat`], and [`UrlValue`] (what `url` takes), and
//! the prefix of their names.

/// The prefix of every setting of this library.
pub const PREFIX: &str = "redis.sessions.";

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

/// What [`Builder::url`](super::Builder::url) takes: a URL as `&str` or `String`, or an
/// `Option<String>` where `None` unsets it.
pub trait UrlValue {
    /// The URL, or `None` for unset.
    fn into_url(self) -> Option<String>;
}

impl UrlValue for &str {
    fn into_url(self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl UrlValue for String {
    fn into_url(self) -> Option<String> {
        Some(self)
    }
}

impl UrlValue for &String {
    fn into_url(self) -> Option<String> {
        Some(self.clone())
    }
}

impl UrlValue for Option<String> {
    fn into_url(self) -> Option<String> {
        self
    }
}
