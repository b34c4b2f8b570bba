//! Session ids: 256 bits from the operating system's CSPRNG, base64url encoded.
//!
//! The default generator, [`generate_session_id`], reads 32 bytes with
//! [`getrandom`] and encodes them as 43 base64url characters. A custom
//! generator (the manual's `id_generator`) is anything that implements
//! [`IdGenerator`], including a plain `Fn() -> String`.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original hashes the time and `random` output with SHA-1 into 40 hex
//! characters. Here every id carries 256 bits straight from the OS, and ids
//! from custom generators are checked: 16 to 256 characters of `A-Z a-z 0-9 - _`.
//!
//! ```
//! use redis_sessions::id::generate_session_id;
//!
//! let id = generate_session_id().unwrap();
//! assert_eq!(id.len(), 43);
//! assert_ne!(id, generate_session_id().unwrap());
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The shortest id a generator may return, in characters.
pub const MIN_ID_LEN: usize = 16;
/// The longest id a generator may return, in characters.
pub const MAX_ID_LEN: usize = 256;

/// Errors from generating a session id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system's random source failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    /// A generator in a plugin library failed.
    #[error("id_generator failed: {0}")]
    Plugin(String),
    /// A custom generator returned an id that cannot go into a cookie.
    #[error(
        "id_generator returned an invalid id ({len} characters): expected 16 to 256 characters of A-Z a-z 0-9 - _"
    )]
    Invalid {
        /// The length of the rejected id (the id itself is never shown).
        len: usize,
    },
}

/// Makes new session ids (the manual's `id_generator`).
///
/// Implemented for every `Fn() -> String + Send + Sync`, so a function can be
/// registered directly:
///
/// ```
/// use redis_sessions::id::IdGenerator;
///
/// fn sequential_looking() -> String {
///     format!("app-{}", redis_sessions::id::generate_session_id().unwrap())
/// }
/// let generator: &dyn IdGenerator = &sequential_looking;
/// assert!(generator.generate().unwrap().starts_with("app-"));
/// ```
pub trait IdGenerator: Send + Sync + 'static {
    /// Returns a fresh id. It must be unpredictable: whoever guesses an id
    /// owns that session.
    ///
    /// # Errors
    ///
    /// When no id can be made (for example the random source failed).
    fn generate(&self) -> Result<String, Error>;
}

impl<F> IdGenerator for F
where
    F: Fn() -> String + Send + Sync + 'static,
{
    fn generate(&self) -> Result<String, Error> {
        Ok(self())
    }
}

/// The default [`IdGenerator`]: 32 bytes from the OS CSPRNG, base64url.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultIdGenerator;

impl IdGenerator for DefaultIdGenerator {
    fn generate(&self) -> Result<String, Error> {
        generate_session_id()
    }
}

/// Returns 32 bytes from the operating system's CSPRNG as 43 base64url characters.
///
/// # Errors
///
/// When the operating system's random source fails.
///
/// ```
/// let id = redis_sessions::id::generate_session_id().unwrap();
/// assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// ```
pub fn generate_session_id() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(Error::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A checked session id. Its `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Id(String);

impl Id {
    /// Checks an id made by a generator.
    pub(crate) fn new(id: String) -> Result<Self, Error> {
        if is_valid(&id) {
            Ok(Self(id))
        } else {
            Err(Error::Invalid { len: id.len() })
        }
    }

    /// Makes a new id with `generator`.
    pub(crate) fn generate(generator: &dyn IdGenerator) -> Result<Self, Error> {
        Self::new(generator.generate()?)
    }

    /// Whether an id that came out of a verified cookie is well formed
    /// (checked before any key is built from it; nothing is copied).
    pub(crate) fn cookie_id_is_valid(id: &str) -> bool {
        is_valid(id)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Id(<redacted>)")
    }
}

fn is_valid(id: &str) -> bool {
    (MIN_ID_LEN..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ids_are_43_base64url_characters_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| generate_session_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 43 && is_valid(id)));
    }

    #[test]
    fn custom_ids_outside_the_alphabet_are_rejected() {
        for bad in ["short", "has.dot.in.it.aaaaaaaa", "spaces are bad here", ""] {
            assert!(
                matches!(Id::new(bad.into()), Err(Error::Invalid { .. })),
                "{bad}"
            );
        }
        assert!(Id::new("a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(Id::new("0123456789abcdef".into()).is_ok());
    }

    #[test]
    fn checklist_08_ids_with_key_or_header_characters_are_refused_before_use() {
        let base = "0123456789abcdefghij";
        for bad in [
            "*", "?", "[", "]", "{", "}", ":", "/", "..", " ", "\t", "\0", "\r", "\n", "\u{e9}",
            ".", "=", ";", "\"", "\\",
        ] {
            let id = format!("{base}{bad}{base}");
            assert!(!Id::cookie_id_is_valid(&id), "{bad:?}");
            assert!(Id::new(id).is_err(), "{bad:?}");
        }
        assert!(!Id::cookie_id_is_valid(&"a".repeat(MIN_ID_LEN - 1)));
        assert!(!Id::cookie_id_is_valid(&"a".repeat(MAX_ID_LEN + 1)));
        assert!(Id::cookie_id_is_valid(base));
    }

    #[test]
    fn debug_never_shows_the_id() {
        let id = Id::new("0123456789abcdefXYZ".into()).unwrap();
        assert_eq!(format!("{id:?}"), "Id(<redacted>)");
    }
}
