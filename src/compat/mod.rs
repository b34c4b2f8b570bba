//! Sessions shared with Python's `pyramid_redis_sessions`, and the way out:
//! its cookie and storage formats, read and written exactly, so that a
//! Pyramid app and a Rust app can serve one user's session side by side
//! during a migration, and its sessions upgraded to ours once it is gone.
//!
//! # The original's formats (pyramid_redis_sessions 1.0.1, Pyramid 1.10)
//!
//! - Cookie: `signed_serialize(session_id, secret)`: the hex HMAC-SHA1 of
//!   the pickled id (40 characters) followed by the base64 of the pickle
//!   ([`cookie`]).
//! - Session id: 64 lowercase hex characters; with a `prefix` setting the
//!   prefix is part of the id itself (the original's `prefixed_id`), so it is
//!   in the cookie too, and the Redis key is the id.
//! - Redis: a plain string under the id holding
//!   `pickle.dumps({'managed_dict': {...}, 'created': float, 'timeout': int})`
//!   with a TTL of `timeout` ([`store`]). Flash queues are the keys
//!   `'_f_' + queue` (lists), the CSRF token is `'_csrft_'` (a str): the same
//!   names and shapes the native session uses, so they carry over as they are.
//!
//! # Safety
//!
//! Pickles are read by [`pickle`], which never imports or calls anything: an
//! object that Python would build by calling code is kept as a description
//! of that call and written back unchanged. A cookie's MAC is checked, in
//! constant time, before any of its pickle is read.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original rewrites the whole blob on every change, so two concurrent
//! requests lose one another's changes. Here a write reads the blob, applies
//! only this request's changes and stores it only if nobody changed it
//! meanwhile (compare-and-set in a script), retrying a bounded number of
//! times: ours never undo a Python write. (Python's own writes still
//! overwrite blindly, as they always did.)

mod codec;
mod cookie;
pub(crate) mod pickle;
mod store;
mod upgrade;

use std::fmt;

pub(crate) use codec::PickleCodec;
pub(crate) use store::PyramidStore;
pub(crate) use upgrade::take_legacy;

/// Errors of the compatibility layer that are not plain store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// An original session holds a value that has no native form.
    #[error(
        "legacy session key {key:?} holds a Python {python_type}, which has no native form: the original session was kept; expected plain values (None, bool, int, float, str, bytes, list, tuple, set, dict), e.g. store a datetime as an ISO 8601 str in the Python app first"
    )]
    Unconvertible {
        /// The session key (a name chosen by the app, never its value).
        key: String,
        /// The Python type of the value, such as `datetime.datetime`.
        python_type: String,
    },
    /// An original session's blob is not a pickle this crate reads.
    #[error("legacy session blob cannot be read ({0}): the original session was kept")]
    Unreadable(String),
}

/// The original's cookie and key scheme for one app: its secret, key prefix
/// and cookie name.
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub(crate) struct LegacyFormat {
    secret: Vec<u8>,
    prefix: String,
    cookie_name: String,
    /// The most bytes a stored session may expand to (`max_session_bytes`).
    budget: u64,
}

impl fmt::Debug for LegacyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyFormat")
            .field("secret", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("cookie_name", &self.cookie_name)
            .finish()
    }
}

impl LegacyFormat {
    /// The scheme of an original app with `redis.sessions.secret = secret`,
    /// `redis.sessions.prefix = prefix` (empty when unset) and
    /// `redis.sessions.cookie_name = cookie_name`.
    pub(crate) fn new(secret: &str, prefix: &str, cookie_name: &str) -> Self {
        Self {
            secret: cookie::secret_bytes(secret),
            prefix: prefix.to_owned(),
            cookie_name: cookie_name.to_owned(),
            budget: pickle::MAX_EXPANDED_BYTES,
        }
    }

    /// The same scheme, reading stored sessions only while they expand to
    /// at most `bytes` (`max_session_bytes`; default
    /// [`pickle::MAX_EXPANDED_BYTES`]).
    pub(crate) fn with_budget(mut self, bytes: u64) -> Self {
        self.budget = bytes;
        self
    }

    /// The most bytes a stored session may expand to.
    pub(crate) fn budget(&self) -> u64 {
        self.budget
    }

    /// The cookie name the original app uses.
    pub(crate) fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The session id in a cookie value, if its HMAC is right (checked
    /// first, in constant time) and the id starts with the prefix.
    pub(crate) fn verify_cookie(&self, value: &str) -> Option<String> {
        cookie::signed_deserialize(value, &self.secret).filter(|id| id.starts_with(&self.prefix))
    }

    /// The cookie value for `id` (which includes the prefix).
    pub(crate) fn sign_cookie(&self, id: &str) -> String {
        cookie::signed_serialize(id, &self.secret)
    }

    /// A fresh id: the prefix and 64 lowercase hex characters (256 bits from
    /// the OS CSPRNG; the original hashes 160 random bits into the same form).
    ///
    /// # Errors
    ///
    /// [`crate::id::Error::Random`] when the OS random source fails.
    pub(crate) fn new_id(&self) -> Result<String, crate::id::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(crate::id::Error::Random)?;
        let mut id = String::with_capacity(self.prefix.len() + 64);
        id.push_str(&self.prefix);
        for b in bytes {
            id.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            id.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Ok(id)
    }

    /// The Redis key of `id`: the id itself, since the original's prefix is
    /// already part of it.
    pub(crate) fn store_key(&self, id: &str) -> String {
        id.to_owned()
    }
}

#[cfg(test)]
mod tests;
