//! [`Error`]: what a session method can fail with, and the HTTP status each
//! failure becomes.

use http::StatusCode;

use crate::{codec, id, store};

/// Errors from session methods.
///
/// As an axum response (feature `axum`), [`Error::status`] decides the code:
/// 503 when the store is unavailable, 413 when a change would make the
/// session larger than `max_session_bytes`, 400 for a timeout beyond
/// [`store::MAX_TIMEOUT`], else 500. The body is generic; the detail is
/// logged (target `redis_sessions::http`), never sent.
///
/// ```
/// use redis_sessions::session::Error;
///
/// let e = Error::TooLarge { limit: 1024 };
/// assert_eq!(e.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
/// assert_eq!(e.to_string(), "the session would exceed max_session_bytes = 1024: nothing was changed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// A value could not be encoded, or decoded as the requested type.
    #[error(transparent)]
    Codec(#[from] codec::Error),
    /// No session id could be made.
    #[error(transparent)]
    Id(#[from] id::Error),
    /// The change would make the session's encoded size exceed
    /// `max_session_bytes`; nothing of it was stored.
    #[error("the session would exceed max_session_bytes = {limit}: nothing was changed")]
    TooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// [`Session::incr`](crate::Session::incr) would go beyond the range of
    /// an `i64`; the value is left as it was.
    #[error("the increment would overflow a 64-bit integer: the value was left as it was")]
    Overflow,
    /// The session moved to a new id (a concurrent login or
    /// [`Session::regenerate`](crate::Session::regenerate)) after this
    /// request loaded it, so this request's changes were not saved. A 500:
    /// the request may be retried with the new cookie.
    #[error(
        "the session moved to a new id (a concurrent login or regenerate) after this request loaded it: its changes were not saved"
    )]
    Moved,
    /// A timeout beyond [`store::MAX_TIMEOUT`] was asked for; the session is
    /// left as it was.
    #[error("timeout = {requested} s is too long: expected at most {max} s (10 years)")]
    TimeoutTooLarge {
        /// The timeout asked for, in seconds.
        requested: u64,
        /// The largest timeout accepted, in seconds.
        max: u64,
    },
}

impl Error {
    /// True when the store is unreachable or too slow: retrying later may work.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_unavailable())
    }

    /// The HTTP status this error becomes.
    pub fn status(&self) -> StatusCode {
        match self {
            _ if self.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TimeoutTooLarge { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The generic response body for [`Error::status`]: it never carries the
    /// detail.
    pub fn body_text(&self) -> &'static str {
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => "503 session store unavailable",
            StatusCode::PAYLOAD_TOO_LARGE => "413 session too large",
            StatusCode::BAD_REQUEST => "400 bad session request",
            _ => "500 session error",
        }
    }
}
