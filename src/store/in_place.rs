//! In-place changes of one entry ([`Increment`], [`Append`]), made by a
//! store in one atomic step without a load, under the [`Guard`] the
//! session's policy computed; they answer the session's stored [`Times`].

use std::fmt;

use super::layout::MAX_TIMEOUT;
use crate::codec::Integers;

/// An in-place append, for [`SessionStore::append`](super::SessionStore::append).
///
/// It is applied only if the session at `key` exists and passes the
/// `guard` (as for an [`Increment`]), and its `entry` is absent or holds a
/// list in the `format`. The session's entries are weighed in the store: an
/// append that would make them larger than `max_bytes` writes nothing and
/// answers [`Appended::TooLarge`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Append {
    /// The session key.
    pub key: String,
    /// The entry's key (as in an [`Entry`](super::Entry)).
    pub entry: Vec<u8>,
    /// The element, encoded in the `format`.
    pub element: Vec<u8>,
    /// How the list and the element are encoded.
    pub format: Integers,
    /// What the session's stored times must pass.
    pub guard: Guard,
    /// `max_session_bytes`: the most bytes the session's keys and values
    /// may take.
    pub max_bytes: u64,
}

impl fmt::Debug for Append {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys, fields and elements are session data: never shown.
        f.debug_struct("Append")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// What [`SessionStore::append`](super::SessionStore::append) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Appended {
    /// Appended: the entry now holds `value`.
    Stored {
        /// The list now stored.
        value: Vec<u8>,
        /// The session's times, as stored (for the caller to judge whether
        /// its refresh is due).
        times: Times,
    },
    /// The session would exceed `max_bytes`: nothing was written.
    TooLarge,
}

/// The guard of an in-place change ([`Increment`], [`Append`]): what the
/// session's stored times must pass for the change to be made. The
/// session's policy computes it; a store compares, and derives nothing.
///
/// A session passes if it was created after `created_after` (when set:
/// older ones are past their absolute lifetime) and its own timeout, if it
/// has one, is at most [`MAX_TIMEOUT`](super::MAX_TIMEOUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Guard {
    /// Sessions created at or before this time (unix seconds) are past
    /// their absolute lifetime; `None`: none is.
    pub created_after: Option<u64>,
}

impl Guard {
    /// A guard that admits sessions created after `created_after`.
    pub fn new(created_after: Option<u64>) -> Self {
        Self { created_after }
    }

    /// Whether a session created at `created` with `own` timeout passes.
    pub fn admits(&self, created: u64, own: Option<u64>) -> bool {
        self.created_after.is_none_or(|after| created > after)
            && own.is_none_or(|timeout| timeout <= MAX_TIMEOUT)
    }
}

/// The times of a session as a store found them during an in-place
/// change: what the session's policy needs to judge whether its idle TTL is
/// due for its refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Times {
    /// The last idle-TTL refresh, unix seconds (0: none recorded).
    pub refreshed: u64,
    /// The session's own idle timeout, seconds, if it has one.
    pub timeout: Option<u64>,
}

impl Times {
    /// The times of a session last refreshed at `refreshed` with `timeout`
    /// of its own.
    pub fn new(refreshed: u64, timeout: Option<u64>) -> Self {
        Self { refreshed, timeout }
    }
}

/// An in-place increment, for [`SessionStore::increment`](super::SessionStore::increment).
///
/// It is applied only if the session at `key` exists, its metadata hold
/// what they should, it passes the `guard`, and its `entry` already holds an
/// integer in the `format` (a new entry would grow the session unweighed
/// against `max_session_bytes`); and only if the sum fits (on Redis: below
/// 2^53 in magnitude, where its scripts count exactly). Other entries are
/// not checked. The TTL is left as it is: it is what the last refresh
/// promised; the result carries the session's [`Times`], and the caller
/// refreshes when they say a refresh is due.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Increment {
    /// The session key.
    pub key: String,
    /// The entry's key (as in an [`Entry`](super::Entry)).
    pub entry: Vec<u8>,
    /// What to add (may be negative).
    pub by: i64,
    /// How the entry's integer is encoded.
    pub format: Integers,
    /// What the session's stored times must pass.
    pub guard: Guard,
}

/// What [`SessionStore::increment`](super::SessionStore::increment) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incremented {
    /// The sum now stored.
    pub sum: i64,
    /// The session's times, as stored.
    pub times: Times,
}

impl Incremented {
    /// The result of an increment.
    pub fn new(sum: i64, times: Times) -> Self {
        Self { sum, times }
    }
}

impl fmt::Debug for Increment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys, fields and amounts are session data: never shown.
        f.debug_struct("Increment")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}
