//! The session a request sees: [`Session`], a lazy handle with a dict-like
//! API over serde values, flash messages and CSRF tokens.
//!
//! # Lifecycle
//!
//! A handle is created for every request by the layer and costs nothing
//! until used: the first method that needs data loads the whole session
//! (one round trip, which also refreshes its idle TTL). Changes are recorded
//! per key and written when the response goes out (one round trip, only if
//! something changed), so concurrent requests that change different keys of
//! one session both keep their changes.
//!
//! # Differences from pyramid_redis_sessions
//!
//! - Methods are `async` and return `Result`: a store outage is an error
//!   (503), never an empty session.
//! - A signed id that the store does not know is never adopted: a fresh id is
//!   minted.
//! - `invalidate()` then writes start a new session with a new id;
//!   `regenerate()` moves the data to a new id (use it at login).
//! - Flash queues (`_f_` + queue) and the CSRF token (`_csrft_`) are ordinary
//!   session keys, as in Pyramid.

mod csrf;
mod flash;
mod handle;
mod state;

pub use handle::Session;
pub(crate) use handle::{Finish, Finishing};

use crate::{codec, id, store};

/// Errors from session methods.
///
/// As an axum response (feature `axum`), [`Error::status`] decides the code:
/// 503 when the store is unavailable, else 500. The body never carries the
/// detail, which is logged instead.
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
}

impl Error {
    /// True when the store is unreachable or too slow: retrying later may work.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_unavailable())
    }

    /// The HTTP status this error becomes: 503 when the store is unavailable,
    /// else 500.
    pub fn status(&self) -> http::StatusCode {
        if self.is_unavailable() {
            http::StatusCode::SERVICE_UNAVAILABLE
        } else {
            http::StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}
