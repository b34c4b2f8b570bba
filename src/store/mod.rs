//! Where sessions live: the [`SessionStore`] trait, the Redis store and the
//! embedded in-memory store.
//!
//! # Storage layout
//!
//! A session is one hash under `{prefix}{digest}`, where `digest` is the
//! base64url SHA-256 of the session id: a key listing or a dump yields no
//! usable cookie. Each session key is one field; metadata lives in fields
//! starting with a NUL byte (`"\0c"`: created, unix seconds; `"\0t"`: the
//! per-session timeout), and a user key that itself starts with NUL is stored
//! with one more NUL in front, so the two never collide. The key's TTL is the
//! idle timeout.
//!
//! # Round trips
//!
//! [`SessionStore::load`] fetches every field and refreshes the TTL in one
//! round trip; [`SessionStore::write`] applies a batch of writes in one round
//! trip (one pipeline). Writes are per field, so concurrent requests that change
//! different keys of one session both keep their changes, and an update never
//! brings back a session that another request deleted: a session exists only
//! while it has its creation field, which only a create writes.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original stores one pickled blob under the raw id, rewrites all of it
//! on every change, and loses concurrent updates to other keys.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

#[cfg(feature = "memory-store")]
mod memory;
mod redis;

#[cfg(feature = "memory-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
pub use memory::MemoryStore;
pub(crate) use redis::redact_url;
pub use redis::{
    DEFAULT_SOCKET_TIMEOUT, MAX_CONNECTION_POOL, RedisClient, RedisOptions, RedisStore,
};

/// The future returned by [`SessionStore`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// One hash field: its name and its encoded value.
pub type Field = (Vec<u8>, Vec<u8>);

/// The metadata field holding the creation time (unix seconds).
pub const CREATED_FIELD: &[u8] = b"\0c";
/// The metadata field holding the per-session timeout (seconds).
pub const TIMEOUT_FIELD: &[u8] = b"\0t";
/// The metadata field holding the time of the last idle-TTL refresh (unix
/// seconds).
pub const REFRESHED_FIELD: &[u8] = b"\0r";

/// The largest idle timeout accepted, by the `timeout` setting and by
/// `adjust_timeout_for_session`: 10 years, in seconds.
pub const MAX_TIMEOUT: u64 = 10 * 365 * 24 * 60 * 60;

/// One write of a batch given to [`SessionStore::write`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Write {
    /// Creates the session only if its key does not exist yet.
    Create {
        /// The session key.
        key: String,
        /// Every field of the new session ([`CREATED_FIELD`] among them).
        fields: Vec<Field>,
        /// The session's idle timeout in seconds (0: none).
        timeout: u64,
    },
    /// Changes fields of a session only if it still exists.
    Update {
        /// The session key.
        key: String,
        /// Fields to set.
        set: Vec<Field>,
        /// Fields to delete.
        delete: Vec<Vec<u8>>,
        /// The session's idle timeout in seconds (0: none) if it must be set;
        /// `None` leaves the TTL as the load of this request refreshed it.
        timeout: Option<u64>,
    },
    /// Deletes the session.
    Delete {
        /// The session key.
        key: String,
    },
    /// Sets the idle timeout of the session, if it exists.
    Touch {
        /// The session key.
        key: String,
        /// The session's idle timeout in seconds (0: none).
        timeout: u64,
    },
}

impl Write {
    /// A [`Write::Create`].
    pub fn create(key: impl Into<String>, fields: Vec<Field>, timeout: u64) -> Self {
        Self::Create {
            key: key.into(),
            fields,
            timeout,
        }
    }

    /// A [`Write::Update`].
    pub fn update(
        key: impl Into<String>,
        set: Vec<Field>,
        delete: Vec<Vec<u8>>,
        timeout: Option<u64>,
    ) -> Self {
        Self::Update {
            key: key.into(),
            set,
            delete,
            timeout,
        }
    }

    /// A [`Write::Delete`].
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete { key: key.into() }
    }

    /// A [`Write::Touch`].
    pub fn touch(key: impl Into<String>, timeout: u64) -> Self {
        Self::Touch {
            key: key.into(),
            timeout,
        }
    }
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and values are secrets of a kind: show only their shape.
        match self {
            Self::Create { fields, .. } => write!(f, "Create({} fields)", fields.len()),
            Self::Update { set, delete, .. } => {
                write!(f, "Update({} set, {} deleted)", set.len(), delete.len())
            }
            Self::Delete { .. } => f.write_str("Delete"),
            Self::Touch { timeout, .. } => write!(f, "Touch({timeout} s)"),
        }
    }
}

/// What happened to one [`Write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// The session was created or updated.
    Stored,
    /// `Create`: the key already existed; nothing was written.
    Collision,
    /// `Update`: the key no longer existed; nothing was written.
    Missing,
    /// `Update`: no user field was left, so the key was deleted.
    Emptied,
    /// `Delete` done (whether or not the key existed).
    Deleted,
}

/// A place to keep sessions.
///
/// Both built-in stores, [`RedisStore`] and [`MemoryStore`], pass the same
/// behavioural suite. A custom store must keep the same contract: a session
/// exists only while it has its [`CREATED_FIELD`]; `load` refreshes the idle
/// TTL; `Update` never brings back a session that is gone; `Create` never
/// overwrites one; and an update that leaves no user field deletes the session.
pub trait SessionStore: Send + Sync + 'static {
    /// Returns every field of the session at `key` (`None` if there is no
    /// such session, or it lacks its [`CREATED_FIELD`]) and refreshes its idle
    /// TTL to `default_timeout` seconds (0: no expiry), or to the session's own
    /// timeout where the store can read it first. A session with its own
    /// timeout gets it back from a [`Write::Touch`] when the response goes out.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be reached or answers with an error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future at any point changes nothing but the TTL.
    fn load<'a>(
        &'a self,
        key: &'a str,
        default_timeout: u64,
    ) -> StoreFuture<'a, Option<Vec<Field>>>;

    /// Applies `writes`, in order, in one round trip, and says what happened
    /// to each.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be reached or answers with an error.
    ///
    /// # Cancel safety
    ///
    /// Each write is atomic on its own; if the future is dropped, any prefix
    /// of the batch may have been applied.
    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>>;
}

impl<T: SessionStore + ?Sized> SessionStore for std::sync::Arc<T> {
    fn load<'a>(
        &'a self,
        key: &'a str,
        default_timeout: u64,
    ) -> StoreFuture<'a, Option<Vec<Field>>> {
        (**self).load(key, default_timeout)
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        (**self).write(writes)
    }
}

/// Errors from a session store.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be reached (refused, dropped, DNS, I/O).
    #[error("the session store is unreachable: {0}")]
    Unreachable(String),
    /// The store did not answer within `socket_timeout`.
    #[error("the session store did not answer within {0:?} (socket_timeout)")]
    Timeout(Duration),
    /// The store answered with an error (for example a script error or a key
    /// of the wrong type).
    #[error("the session store answered with an error: {0}")]
    Backend(String),
    /// The store's settings are wrong (for example a malformed URL).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// True when the store is unreachable or too slow: the request gets a 503
    /// and no cookie, and a later request may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Timeout(_))
    }
}

/// Returns the Redis key of a session id: `prefix` + base64url(SHA-256(id)).
pub(crate) fn session_key(prefix: &str, id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut key = String::with_capacity(prefix.len() + 43);
    key.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(digest, &mut key);
    key
}

/// A short, non-reversible tag of a session key for log lines.
pub(crate) fn log_tag(key: &str) -> &str {
    let digest = &key[key.len().saturating_sub(43)..];
    digest.get(..8).unwrap_or(digest)
}

/// The hash field name of a user key (see the module docs).
pub(crate) fn user_field(key: &str) -> Vec<u8> {
    let mut field = Vec::with_capacity(key.len() + 1);
    if key.as_bytes().first() == Some(&0) {
        field.push(0);
    }
    field.extend_from_slice(key.as_bytes());
    field
}

/// Splits a stored field name into a user key or a metadata name.
pub(crate) enum FieldName<'a> {
    /// A user key (raw bytes; the caller decides how to read non-UTF-8).
    User(&'a [u8]),
    /// A metadata field such as [`CREATED_FIELD`].
    Meta(&'a [u8]),
}

pub(crate) fn classify(field: &[u8]) -> FieldName<'_> {
    match field {
        [0, 0, ..] => FieldName::User(&field[1..]),
        [0, ..] => FieldName::Meta(field),
        _ => FieldName::User(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefix_plus_digest_never_the_id() {
        let key = session_key("s:", "the-session-id-0123");
        assert!(key.starts_with("s:"));
        assert_eq!(key.len(), 2 + 43);
        assert!(!key.contains("the-session-id"));
        assert_eq!(key, session_key("s:", "the-session-id-0123"));
        assert_ne!(key, session_key("s:", "the-session-id-0124"));
        assert_eq!(log_tag(&key).len(), 8);
    }

    #[test]
    fn user_keys_never_collide_with_metadata() {
        for key in ["\0c", "\0t", "\0", "c", "", "\0\0x"] {
            let field = user_field(key);
            match classify(&field) {
                FieldName::User(raw) => assert_eq!(raw, key.as_bytes()),
                FieldName::Meta(_) => panic!("{key:?} was taken for metadata"),
            }
        }
        assert!(matches!(classify(CREATED_FIELD), FieldName::Meta(_)));
        assert!(matches!(classify(TIMEOUT_FIELD), FieldName::Meta(_)));
    }
}
