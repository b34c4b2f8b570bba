//! The storage layout: key names (digests, never ids) and field names.
//!
//! A session is one hash under `{prefix}{digest}`, where `digest` is the
//! base64url SHA-256 of the session id (43 characters): a key listing or a
//! dump yields no usable cookie. Each session key is one field. Metadata
//! lives in fields starting with one NUL byte:
//!
//! | field | holds |
//! |---|---|
//! | [`CREATED_FIELD`] `"\0c"` | `created refreshed`: the creation time and the last idle-TTL refresh, unix seconds, decimal, one space apart |
//! | [`TIMEOUT_FIELD`] `"\0t"` | the per-session idle timeout, seconds, decimal |
//! | [`REFRESHED_FIELD`] `"\0r"` | the last idle-TTL refresh, unix seconds, decimal: written by the first layout and by stores of earlier versions (read, never written now) |
//! | [`USER_FIELD`] `"\0u"`, [`AGENT_FIELD`] `"\0a"`, [`BOUND_FIELD`] `"\0b"` | the bound user, the agent recorded with it, and when it was bound (unix seconds, decimal) |
//! | [`MOVED_FIELD`] `"\0m"` | alone in a hash: the marker a moved session leaves at its old key for [`MOVED_GRACE`] seconds |
//! | `"\0s"` | on Redis, the bytes of the user fields (names and values, as stored), once an update weighed them against `max_session_bytes`; every script that changes a user field keeps it exact |
//!
//! Both times share one field so that a load (`HGETALL`) returns as few
//! fields as possible: every field is two more elements for the client to
//! parse on every request. Sessions stored in the first layout (before the
//! two times shared a field) hold only the creation time in
//! [`CREATED_FIELD`] and the refresh time in [`REFRESHED_FIELD`]; they are
//! read as they are, and the later of the two refresh times counts. Builds
//! of the first layout cannot read sessions written since: upgrade every
//! process that shares a Redis together.
//!
//! This layout is private to the Redis and the embedded store: the
//! [`SessionStore`](super::SessionStore) trait speaks in
//! [`Record`](super::Record)s and [`Change`](super::Change)s, which
//! `store::hash` translates.
//!
//! A user key that itself starts with NUL is stored with one more NUL in
//! front, so user keys and metadata never collide. A session exists only
//! while its hash has [`CREATED_FIELD`]. The key's TTL is the idle timeout.
//!
//! The sessions of a user are indexed under `{prefix}u:{digest}`, where
//! `digest` is the base64url SHA-256 of the user id: no key names a user.
//! Its shape is described in [`SessionStore::index_put`](super::SessionStore::index_put).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// One hash field: its name and its value, as stored.
pub(crate) type Field = (Vec<u8>, Vec<u8>);

/// The metadata field holding the creation time and the last idle-TTL
/// refresh (unix seconds, `created refreshed`; see the module docs).
pub(crate) const CREATED_FIELD: &[u8] = b"\0c";
/// The metadata field holding the per-session timeout (seconds).
pub(crate) const TIMEOUT_FIELD: &[u8] = b"\0t";
/// A metadata field holding the time of a later idle-TTL refresh (unix
/// seconds) than [`CREATED_FIELD`] records: written by the first layout
/// and by earlier versions; read, never written now.
pub(crate) const REFRESHED_FIELD: &[u8] = b"\0r";
/// The metadata field holding the bound user.
pub(crate) const USER_FIELD: &[u8] = b"\0u";
/// The metadata field holding the agent recorded with the binding.
pub(crate) const AGENT_FIELD: &[u8] = b"\0a";
/// The metadata field holding when the user was bound (unix seconds).
pub(crate) const BOUND_FIELD: &[u8] = b"\0b";

/// The field of a moved session's marker: a session moved to a new id
/// (login, regenerate) leaves its old key holding only this field for
/// [`MOVED_GRACE`] seconds, so that a request that loaded it before the
/// move and changes it after learns that it moved ([`Written::Moved`](super::Written::Moved))
/// instead of losing its change unseen. Never a session: a load finds
/// nothing there.
#[cfg_attr(not(feature = "memory-store"), allow(dead_code))] // the embedded store's
pub(crate) const MOVED_FIELD: &[u8] = b"\0m";
/// How long a moved session's marker stays, in seconds (also written in
/// `lua/move.lua` and `lua/retire.lua`).
pub const MOVED_GRACE: u64 = 300;

/// The idle TTL is refreshed once `1 / REFRESH_DIVISOR` of the timeout has
/// passed since the last refresh.
pub(crate) const REFRESH_DIVISOR: u64 = 20;

/// The largest idle timeout accepted, by the `timeout` setting, by
/// `adjust_timeout_for_session` and by every store write: 10 years, in
/// seconds.
pub const MAX_TIMEOUT: u64 = 10 * 365 * 24 * 60 * 60;

/// Returns the Redis key of a session id: `prefix` + base64url(SHA-256(id)).
pub(crate) fn session_key(prefix: &str, id: &str) -> String {
    digest_key(prefix, "", id)
}

/// Returns the key of a user's session index: `prefix` + `u:` +
/// base64url(SHA-256(user id)). It never equals a session key: those have
/// no `:` after the prefix.
#[allow(dead_code)] // for the session's user binding
pub(crate) fn user_index_key(prefix: &str, user: &str) -> String {
    digest_key(prefix, "u:", user)
}

fn digest_key(prefix: &str, kind: &str, secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut key = String::with_capacity(prefix.len() + kind.len() + 43);
    key.push_str(prefix);
    key.push_str(kind);
    URL_SAFE_NO_PAD.encode_string(digest, &mut key);
    key
}

/// The log-safe tag of a store key: 16 base64url characters of a digest.
pub(crate) fn tag_of(key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"redis-sessions tag\0")
        .chain_update(key.as_bytes())
        .finalize();
    let mut tag = URL_SAFE_NO_PAD.encode(digest);
    tag.truncate(16);
    tag
}

/// A short, non-reversible tag of a session key for log lines.
pub(crate) fn log_tag(key: &str) -> &str {
    let start = key.len().saturating_sub(43);
    let digest = key.get(start..).unwrap_or(key);
    digest.get(..8).unwrap_or(digest)
}

/// The hash field name of a user key (see the module docs): the key's own
/// buffer unless it starts with NUL.
pub(crate) fn user_field(mut key: Vec<u8>) -> Vec<u8> {
    if key.first() == Some(&0) {
        key.insert(0, 0);
    }
    key
}

/// The hash field name of a user key, borrowed unless it starts with NUL:
/// what a sealed value is bound to (see `codec::FieldContext`).
pub(crate) fn stored_name(key: &[u8]) -> Cow<'_, [u8]> {
    if key.first() == Some(&0) {
        Cow::Owned(user_field(key.to_vec()))
    } else {
        Cow::Borrowed(key)
    }
}

/// A stored field name, read as a user key or a metadata name.
pub(crate) enum FieldName<'a> {
    /// A user key (raw bytes; the caller decides how to read non-UTF-8).
    User(&'a [u8]),
    /// A metadata field such as [`CREATED_FIELD`].
    Meta(&'a [u8]),
}

/// Splits a stored field name into a user key or a metadata name.
pub(crate) fn classify(field: &[u8]) -> FieldName<'_> {
    match field {
        [0, 0, ..] => FieldName::User(&field[1..]),
        [0, ..] => FieldName::Meta(field),
        _ => FieldName::User(field),
    }
}

/// True if a stored field name is a user key rather than metadata.
#[cfg_attr(not(feature = "memory-store"), allow(dead_code))] // the embedded store's
pub(crate) fn is_user_field(field: &[u8]) -> bool {
    matches!(classify(field), FieldName::User(_))
}

/// The value of [`CREATED_FIELD`]: `created refreshed`.
pub(crate) fn created_value(created: u64, refreshed: u64) -> Vec<u8> {
    format!("{created} {refreshed}").into_bytes()
}

/// Reads a [`CREATED_FIELD`] value: the creation time, and the refresh time
/// if the value has one (the first layout wrote the creation time alone).
pub(crate) fn read_created(value: &[u8]) -> Option<(u64, Option<u64>)> {
    match value.iter().position(|&b| b == b' ') {
        None => Some((read_number(value)?, None)),
        Some(space) => Some((
            read_number(&value[..space])?,
            Some(read_number(&value[space + 1..])?),
        )),
    }
}

/// Reads a metadata number: decimal digits only, as our writers write them.
pub(crate) fn read_number(digits: &[u8]) -> Option<u64> {
    // Read on every load: digits are summed directly, without a UTF-8 pass.
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
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
    fn user_index_keys_name_no_user_and_never_equal_a_session_key() {
        let index = user_index_key("s:", "alice@example.com");
        assert!(index.starts_with("s:u:"));
        assert!(!index.contains("alice"));
        assert_ne!(index, session_key("s:", "alice@example.com"));
        assert_ne!(index, user_index_key("s:", "bob@example.com"));
        assert!(!session_key("s:", "x")["s:".len()..].contains(':'));
    }

    #[test]
    fn log_tags_of_short_or_odd_keys_do_not_panic() {
        assert_eq!(log_tag(""), "");
        assert_eq!(log_tag("abc"), "abc");
        let odd = "é".repeat(30);
        assert!(odd.ends_with(log_tag(&odd)));
    }

    #[test]
    fn creation_values_read_back_and_refuse_anything_else() {
        assert_eq!(read_created(&created_value(17, 42)), Some((17, Some(42))));
        assert_eq!(read_created(b"1700000000"), Some((1_700_000_000, None)));
        for bad in [
            &b""[..],
            b" ",
            b"1 ",
            b" 1",
            b"1  2",
            b"1 2 3",
            b"-1",
            b"+1 2",
            b"x",
            b"1 y",
        ] {
            assert_eq!(read_created(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn user_keys_never_collide_with_metadata() {
        for key in ["\0c", "\0t", "\0r", "\0", "c", "", "\0\0x"] {
            let field = user_field(key.as_bytes().to_vec());
            match classify(&field) {
                FieldName::User(raw) => assert_eq!(raw, key.as_bytes()),
                FieldName::Meta(_) => panic!("{key:?} was taken for metadata"),
            }
        }
        for meta in [CREATED_FIELD, TIMEOUT_FIELD, REFRESHED_FIELD] {
            assert!(matches!(classify(meta), FieldName::Meta(_)));
            assert!(!is_user_field(meta));
        }
    }
}
