//! Signed session cookies: the value is `id.mac`, where `mac` is
//! HMAC-SHA256 over the cookie name and the id, in base64url.
//!
//! The MAC key is derived from `secret` (HMAC-SHA256 of a fixed label), so
//! the secret itself never signs anything directly. Verification is constant
//! time. A value that is malformed, too long or wrongly signed is treated as
//! no cookie at all: the request gets a fresh session and Redis is not asked.
//!
//! Invariant: for every valid id, `verify(name, sign(name, id)) == Some(id)`,
//! and a value signed for one cookie name never verifies under another.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original signs with Pyramid's `signed_serialize` (HMAC-SHA1 over a
//! pickled payload). Here the MAC is SHA-256, binds the cookie name, and the
//! cookie carries nothing but the id.
//!
//! ```
//! use redis_sessions::cookie::CookieSigner;
//!
//! let signer = CookieSigner::new("a secret of at least thirty-two bytes!").unwrap();
//! let value = signer.sign("session", "0123456789abcdefghijkl");
//! assert_eq!(signer.verify("session", &value).as_deref(), Some("0123456789abcdefghijkl"));
//! assert_eq!(signer.verify("other", &value), None);
//! ```

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The shortest `secret` accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Longest cookie value looked at; anything longer is not ours.
const MAX_COOKIE_VALUE_LEN: usize = 512;
/// Length of a base64url HMAC-SHA256 tag.
const MAC_LEN: usize = 43;

/// Errors from building a [`CookieSigner`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The secret is too short to sign with.
    #[error(
        "the secret is {len} bytes long: expected at least 32 random bytes, e.g. the output of `openssl rand -base64 48`"
    )]
    ShortSecret {
        /// Length of the rejected secret (the secret itself is never shown).
        len: usize,
    },
}

/// Signs and verifies session cookie values.
///
/// `Debug` never shows the key.
#[derive(Clone)]
pub struct CookieSigner {
    /// HMAC already keyed with the derived key: cloning it skips the key
    /// schedule on every request.
    mac: HmacSha256,
}

impl CookieSigner {
    /// Derives the signing key from `secret`.
    ///
    /// # Errors
    ///
    /// [`Error::ShortSecret`] when `secret` is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &str) -> Result<Self, Error> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(Error::ShortSecret { len: secret.len() });
        }
        let mut derive = new_mac(secret.as_bytes());
        derive.update(b"redis-sessions cookie signing key v1");
        Ok(Self {
            mac: new_mac(&derive.finalize().into_bytes()),
        })
    }

    /// Returns the cookie value for `id` under the cookie `name`.
    pub fn sign(&self, name: &str, id: &str) -> String {
        let tag = self.tag(name, id).finalize().into_bytes();
        let mut value = String::with_capacity(id.len() + 1 + MAC_LEN);
        value.push_str(id);
        value.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut value);
        value
    }

    /// Returns the id in `value` when its MAC is right for cookie `name`.
    ///
    /// The comparison is constant time.
    pub fn verify<'v>(&self, name: &str, value: &'v str) -> Option<&'v str> {
        if value.len() > MAX_COOKIE_VALUE_LEN {
            return None;
        }
        let (id, tag) = value.rsplit_once('.')?;
        if tag.len() != MAC_LEN || id.is_empty() {
            return None;
        }
        let mut expected = [0u8; 32];
        let n = URL_SAFE_NO_PAD.decode_slice(tag, &mut expected).ok()?;
        if n != expected.len() {
            return None;
        }
        self.tag(name, id).verify_slice(&expected).ok()?;
        Some(id)
    }

    fn tag(&self, name: &str, id: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        mac
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

impl fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSigner")
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=Strict`: never sent on cross-site requests.
    Strict,
    /// `SameSite=Lax` (the default): sent on top-level cross-site navigations.
    #[default]
    Lax,
    /// `SameSite=None`: always sent. Browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// Parses `strict`, `lax` or `none` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "strict" => Some(Self::Strict),
            "lax" => Some(Self::Lax),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn to_cookie(self) -> cookie::SameSite {
        match self {
            Self::Strict => cookie::SameSite::Strict,
            Self::Lax => cookie::SameSite::Lax,
            Self::None => cookie::SameSite::None,
        }
    }
}

/// The attributes of the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieAttributes {
    pub(crate) name: String,
    pub(crate) max_age: Option<Duration>,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) httponly: bool,
    pub(crate) samesite: SameSite,
}

impl CookieAttributes {
    /// The `Set-Cookie` value that stores `value`.
    pub(crate) fn set_cookie(&self, value: String) -> Option<HeaderValue> {
        let mut cookie = self.base(value);
        if let Some(max_age) = self.max_age {
            cookie.set_max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ));
        }
        HeaderValue::try_from(cookie.to_string()).ok()
    }

    /// The `Set-Cookie` value that deletes the cookie (same path and domain).
    pub(crate) fn deletion(&self) -> Option<HeaderValue> {
        let mut cookie = self.base(String::new());
        cookie.make_removal();
        HeaderValue::try_from(cookie.to_string()).ok()
    }

    fn base(&self, value: String) -> cookie::Cookie<'static> {
        let mut cookie = cookie::Cookie::new(self.name.clone(), value);
        cookie.set_path(self.path.clone());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_secure(self.secure);
        cookie.set_http_only(self.httponly);
        cookie.set_same_site(self.samesite.to_cookie());
        cookie
    }
}

/// Yields the values of every cookie called `name` in `Cookie` headers.
pub(crate) fn find<'h>(
    headers: impl IntoIterator<Item = &'h HeaderValue> + 'h,
    name: &'h str,
) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const ID: &str = "AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKK";

    fn signer() -> CookieSigner {
        CookieSigner::new(SECRET).unwrap()
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let value = signer().sign("session", ID);
        assert_eq!(signer().verify("session", &value), Some(ID));
    }

    #[test]
    fn tampered_values_are_rejected() {
        let value = signer().sign("session", ID);
        let mut flipped_id = value.clone().into_bytes();
        flipped_id[0] = b'B';
        let mut flipped_mac = value.clone().into_bytes();
        let last = flipped_mac.len() - 1;
        flipped_mac[last] = if flipped_mac[last] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let cases = [
            String::from_utf8(flipped_id).unwrap(),
            String::from_utf8(flipped_mac).unwrap(),
            value.replace('.', ""),
            format!("{value}x"),
            format!("x{value}"),
            ID.to_string(),
            String::new(),
            ".".into(),
            format!("{ID}.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"),
            "a".repeat(2000),
        ];
        for case in cases {
            assert_eq!(signer().verify("session", &case), None, "{case}");
        }
    }

    #[test]
    fn a_value_signed_for_one_name_or_secret_fails_under_another() {
        let value = signer().sign("session", ID);
        assert_eq!(signer().verify("other", &value), None);
        let other = CookieSigner::new("another secret of thirty-two bytes!!").unwrap();
        assert_eq!(other.verify("session", &value), None);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            CookieSigner::new("short"),
            Err(Error::ShortSecret { len: 5 })
        ));
    }

    #[test]
    fn debug_redacts_the_key() {
        assert_eq!(
            format!("{:?}", signer()),
            "CookieSigner { key: \"<redacted>\" }"
        );
    }

    #[test]
    fn finds_cookies_across_headers() {
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::COOKIE, "a=1; session=first".parse().unwrap());
        headers.append(http::header::COOKIE, "session=\"second\"".parse().unwrap());
        let found: Vec<_> = find(headers.get_all(http::header::COOKIE), "session").collect();
        assert_eq!(found, ["first", "second"]);
    }

    #[test]
    fn deletion_cookie_keeps_path_and_domain() {
        let attrs = CookieAttributes {
            name: "session".into(),
            max_age: None,
            path: "/app".into(),
            domain: Some("example.com".into()),
            secure: true,
            httponly: true,
            samesite: SameSite::Lax,
        };
        let header = attrs.deletion().unwrap();
        let text = header.to_str().unwrap();
        assert!(text.starts_with("session=;"), "{text}");
        for part in [
            "Path=/app",
            "Domain=example.com",
            "Max-Age=0",
            "Secure",
            "HttpOnly",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
    }
}
