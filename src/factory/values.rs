//! [`UrlValue`] (what `url` takes) and the prefix of every setting's name.
//! The other setting values of this library's own, `CacheControl` and
//! `Compat`, belong to the session's context.

/// The prefix of every setting of this library.
pub const PREFIX: &str = "redis.sessions.";

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
