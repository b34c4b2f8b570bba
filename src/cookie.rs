//! Signed session cookies: the value is `id.mac`, where `mac` is
//! HMAC-SHA256 over the cookie name and the id, in base64url.
//!
//! The MAC key is derived from `secret` and a purpose label (HMAC-SHA256 of
//! `redis-sessions {purpose} signing key v1`), so the secret itself never
//! signs anything directly, and a token signed for one purpose (or one
//! cookie name) never verifies for another. Verification is constant time.
//! A value that is malformed, too long or wrongly signed is treated as no
//! cookie at all: the request gets a fresh session and Redis is not asked.
//!
//! Invariant: for every valid id, `verify(name, sign(name, id)) == Some(id)`,
//! and a value signed for one cookie name never verifies under another.
//!
//! # Rotation
//!
//! A signer holds the current secret and any number of old ones
//! (`redis.sessions.old_secrets`). New values are always signed with the
//! current secret; [`CookieSigner::verify_rotated`] tries the current secret,
//! then each old one, and says which one matched, so that the caller can
//! re-sign the cookie with the current secret. A secret removed from the list
//! no longer verifies anything. Each old secret costs one more HMAC, only for
//! cookies that the current secret rejects.
//!
//! # Which cookie wins
//!
//! Browsers send every cookie whose domain and path match, so a request may
//! carry several cookies with our name (one set by a parent domain or for
//! another path: "cookie tossing"). The first one, in header order, whose
//! signature verifies is used; at most [`MAX_SAME_NAME`] cookies with our
//! name are looked at, the rest are ignored. Browsers list cookies with
//! longer paths first, so an attacker who controls a sibling subdomain can
//! still put theirs first: use a `__Host-` cookie name (Secure, `Path=/`, no
//! `Domain`), which no other host can set.
//!
//! Only our own cookie's value must be visible ASCII; other cookies in the
//! same header may hold anything.
//!
//! # Timing
//!
//! MACs are compared with `hmac`'s `verify_slice`, which is constant time:
//! how long a rejection takes does not depend on how many leading bytes of a
//! forged MAC were right. Everything checked before the MAC (length, the
//! separator, base64) is public shape, not secret. There is no statistical
//! timing test here: tests never assert on wall-clock time. Stores look
//! sessions up by a digest of the id, never by the id itself.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original signs with Pyramid's `signed_serialize` (HMAC-SHA1 over a
//! pickled payload). Here the MAC is SHA-256, binds the purpose and the
//! cookie name, and the cookie carries nothing but the id.
//!
//! ```
//! use redis_sessions::cookie::{CookieSigner, SignedWith};
//!
//! let old = CookieSigner::new("the secret we used until last month!!")?;
//! let value = old.sign("session", "0123456789abcdefghijkl");
//!
//! let signer = CookieSigner::new("a secret of at least thirty-two bytes!")?
//!     .with_old_secrets(["the secret we used until last month!!"])?;
//! let verified = signer.verify_rotated("session", &value).unwrap();
//! assert_eq!(verified.id, "0123456789abcdefghijkl");
//! assert_eq!(verified.signed_with, SignedWith::Old(0));
//! assert_eq!(signer.verify("other", &value), None);
//! # Ok::<(), redis_sessions::cookie::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The shortest `secret` (and old secret) accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The purpose label of session cookies.
pub const SESSION_PURPOSE: &str = "cookie";

/// How many cookies carrying our name are looked at, at most; later ones
/// are ignored (see the module docs).
pub const MAX_SAME_NAME: usize = 8;

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
    /// An old secret is too short to have been a secret.
    #[error(
        "old secret number {} is {len} bytes long: expected at least 32 bytes (a former redis.sessions.secret)",
        .index + 1
    )]
    ShortOldSecret {
        /// Position of the rejected secret in the list, from 0.
        index: usize,
        /// Its length (the secret itself is never shown).
        len: usize,
    },
}

/// Which secret signed a verified value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedWith {
    /// The current secret.
    Current,
    /// The old secret at this position of `old_secrets` (from 0): the value
    /// should be signed again with the current secret.
    Old(usize),
}

/// A cookie value whose signature verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'v> {
    /// The id the value carries.
    pub id: &'v str,
    /// The secret that signed it.
    pub signed_with: SignedWith,
}

/// Signs and verifies session cookie values, with secret rotation.
///
/// `Debug` never shows a key.
#[derive(Clone)]
pub struct CookieSigner {
    /// HMACs already keyed with the derived keys (current first, then the
    /// old ones): cloning one skips the key schedule on every request.
    keys: Vec<HmacSha256>,
    purpose: String,
}

impl CookieSigner {
    /// A signer of session cookies keyed by `secret`.
    ///
    /// # Errors
    ///
    /// [`Error::ShortSecret`] when `secret` is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &str) -> Result<Self, Error> {
        Self::for_purpose(secret, SESSION_PURPOSE)
    }

    /// A signer for tokens of another `purpose` (for example `remember-me`)
    /// keyed by the same `secret`: nothing it signs verifies as a session
    /// cookie, and the other way round.
    ///
    /// # Errors
    ///
    /// [`Error::ShortSecret`] when `secret` is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn for_purpose(secret: &str, purpose: &str) -> Result<Self, Error> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(Error::ShortSecret { len: secret.len() });
        }
        Ok(Self {
            keys: vec![derive(secret, purpose)],
            purpose: purpose.to_owned(),
        })
    }

    /// Also accepts values signed with `old_secrets` (former secrets, most
    /// recent first); new values are still signed with the current secret.
    ///
    /// # Errors
    ///
    /// [`Error::ShortOldSecret`] for the first old secret shorter than
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn with_old_secrets(
        mut self,
        old_secrets: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, Error> {
        for (index, secret) in old_secrets.into_iter().enumerate() {
            let secret = secret.as_ref();
            if secret.len() < MIN_SECRET_LEN {
                return Err(Error::ShortOldSecret {
                    index,
                    len: secret.len(),
                });
            }
            self.keys.push(derive(secret, &self.purpose));
        }
        Ok(self)
    }

    /// The number of old secrets accepted.
    pub fn old_secrets(&self) -> usize {
        self.keys.len() - 1
    }

    /// Returns the cookie value for `id` under the cookie `name`, signed with
    /// the current secret.
    pub fn sign(&self, name: &str, id: &str) -> String {
        let tag = tag(&self.keys[0], name, id).finalize().into_bytes();
        let mut value = String::with_capacity(id.len() + 1 + MAC_LEN);
        value.push_str(id);
        value.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut value);
        value
    }

    /// Returns the id in `value` when its MAC is right for cookie `name`
    /// under the current or an old secret.
    ///
    /// The comparison is constant time.
    pub fn verify<'v>(&self, name: &str, value: &'v str) -> Option<&'v str> {
        self.verify_rotated(name, value).map(|v| v.id)
    }

    /// Like [`CookieSigner::verify`], and says which secret matched: the
    /// current one is tried first, then each old one in order.
    ///
    /// Each comparison is constant time; only which secret matched can be
    /// told from the time taken, never how much of a MAC was right.
    pub fn verify_rotated<'v>(&self, name: &str, value: &'v str) -> Option<Verified<'v>> {
        if value.len() > MAX_COOKIE_VALUE_LEN {
            return None;
        }
        let (id, tag_text) = value.rsplit_once('.')?;
        if tag_text.len() != MAC_LEN || id.is_empty() {
            return None;
        }
        let mut expected = [0u8; 32];
        let n = URL_SAFE_NO_PAD.decode_slice(tag_text, &mut expected).ok()?;
        if n != expected.len() {
            return None;
        }
        let index = self
            .keys
            .iter()
            .position(|key| tag(key, name, id).verify_slice(&expected).is_ok())?;
        Some(Verified {
            id,
            signed_with: match index {
                0 => SignedWith::Current,
                old => SignedWith::Old(old - 1),
            },
        })
    }
}

/// The MAC over one value: purpose is in the key, then name, NUL, id.
fn tag(key: &HmacSha256, name: &str, id: &str) -> HmacSha256 {
    let mut mac = key.clone();
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(id.as_bytes());
    mac
}

/// The keyed HMAC for `purpose` under `secret`.
fn derive(secret: &str, purpose: &str) -> HmacSha256 {
    let mut derive = new_mac(secret.as_bytes());
    derive.update(b"redis-sessions ");
    derive.update(purpose.as_bytes());
    derive.update(b" signing key v1");
    new_mac(&derive.finalize().into_bytes())
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

impl fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSigner")
            .field("key", &"<redacted>")
            .field("old_secrets", &self.old_secrets())
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

/// The `;`-separated pairs of one `Cookie` header. A UTF-8 header (the
/// usual case) is split by `str::split`, which skips ahead to each `;`
/// instead of testing byte by byte; other headers (other cookies may hold
/// any byte) byte by byte. Both give the same pairs: `;` is never part of a
/// multi-byte UTF-8 character.
enum Pairs<'h> {
    Text(std::str::Split<'h, char>),
    Bytes(std::slice::Split<'h, u8, fn(&u8) -> bool>),
}

impl<'h> Pairs<'h> {
    fn of(header: &'h [u8]) -> Self {
        match std::str::from_utf8(header) {
            Ok(text) => Self::Text(text.split(';')),
            Err(_) => Self::Bytes(header.split(|&b| b == b';')),
        }
    }
}

impl<'h> Iterator for Pairs<'h> {
    type Item = &'h [u8];

    fn next(&mut self) -> Option<&'h [u8]> {
        match self {
            Self::Text(pairs) => pairs.next().map(str::as_bytes),
            Self::Bytes(pairs) => pairs.next(),
        }
    }
}

/// Yields the values of the first [`MAX_SAME_NAME`] cookies called `name`
/// in `Cookie` headers, in header order, skipping values that are not
/// visible ASCII. Other cookies may hold any bytes; each header is scanned
/// once, lazily.
pub(crate) fn find<'h>(
    headers: impl IntoIterator<Item = &'h HeaderValue> + 'h,
    name: &'h str,
) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .into_iter()
        .flat_map(|value| Pairs::of(value.as_bytes()))
        .filter_map(move |pair| {
            let (key, value) = pair.split_at(pair.iter().position(|&b| b == b'=')?);
            (key.trim_ascii() == name.as_bytes()).then(|| value[1..].trim_ascii())
        })
        .take(MAX_SAME_NAME)
        .filter_map(|value| {
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            if value.iter().all(|b| (0x21..=0x7e).contains(b)) {
                std::str::from_utf8(value).ok()
            } else {
                None
            }
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
            "CookieSigner { key: \"<redacted>\", old_secrets: 0 }"
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

    const OLD: &str = "the secret we used until last month!!";

    fn headers(values: &[&[u8]]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append(
                http::header::COOKIE,
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        headers
    }

    fn found(headers: &http::HeaderMap) -> Vec<&str> {
        find(headers.get_all(http::header::COOKIE), "session").collect()
    }

    #[test]
    fn a_non_ascii_cookie_elsewhere_does_not_hide_ours() {
        let value = signer().sign("session", ID);
        let header = format!("pref=caf\u{e9}; session={value}; theme=\u{1F600}");
        let headers = headers(&[header.as_bytes()]);
        assert_eq!(found(&headers), [value.as_str()]);
        assert_eq!(signer().verify("session", found(&headers)[0]), Some(ID));
        // Raw Latin-1 bytes (not UTF-8 at all) elsewhere do not hide it either.
        let mut raw = b"pref=caf\xe9; ".to_vec();
        raw.extend_from_slice(format!("session={value}").as_bytes());
        assert_eq!(found(&headers_from(&raw)), [value.as_str()]);
    }

    fn headers_from(raw: &[u8]) -> http::HeaderMap {
        headers(&[raw])
    }

    #[test]
    fn our_own_value_must_be_visible_ascii() {
        let headers = headers(&["session=caf\u{e9}; session=ok".as_bytes()]);
        assert_eq!(found(&headers), ["ok"]);
    }

    #[test]
    fn the_first_validly_signed_cookie_in_header_order_wins() {
        let ours = signer().sign("session", ID);
        let other_id = "ZZZZBBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKK";
        let also_valid = signer().sign("session", other_id);
        let header = format!("session=forged.value; session={ours}; session={also_valid}");
        let headers = headers(&[header.as_bytes()]);
        let first_valid = found(&headers)
            .into_iter()
            .find_map(|v| signer().verify("session", v));
        assert_eq!(first_valid, Some(ID));
    }

    #[test]
    fn checklist_03_a_flipped_bit_anywhere_is_rejected() {
        let value = signer().sign("session", ID);
        for byte in 0..value.len() {
            for bit in 0..8 {
                let mut bytes = value.clone().into_bytes();
                bytes[byte] ^= 1 << bit;
                if let Ok(text) = String::from_utf8(bytes) {
                    assert_eq!(signer().verify("session", &text), None, "{byte}/{bit}");
                }
            }
        }
    }

    #[test]
    fn checklist_04_malformed_values_are_rejected_without_panic() {
        let value = signer().sign("session", ID);
        let (id, mac) = value.rsplit_once('.').unwrap();
        let cases = [
            String::new(),
            ".".into(),
            format!("{id}."),
            format!(".{mac}"),
            format!("{id}.{}", &mac[..mac.len() - 1]),
            format!("{id}.{mac}A"),
            format!("{id}{mac}"),
            format!("{id}.{}", "*".repeat(MAC_LEN)),
            format!("{id}.{}=", &mac[..MAC_LEN - 1]),
            format!("{id}.{mac}.{mac}"),
            format!("{}.{mac}", "A".repeat(MAX_COOKIE_VALUE_LEN)),
        ];
        for case in cases {
            assert_eq!(signer().verify("session", &case), None, "{case}");
        }
    }

    #[test]
    fn checklist_05_old_secrets_verify_and_say_so_removed_ones_do_not() {
        let old = CookieSigner::new(OLD).unwrap();
        let value = old.sign("session", ID);
        let rotated = signer().with_old_secrets([OLD]).unwrap();
        assert_eq!(
            rotated.verify_rotated("session", &value),
            Some(Verified {
                id: ID,
                signed_with: SignedWith::Old(0)
            })
        );
        // New values are signed with the current secret.
        let fresh = rotated.sign("session", ID);
        assert_eq!(fresh, signer().sign("session", ID));
        assert_eq!(
            rotated
                .verify_rotated("session", &fresh)
                .unwrap()
                .signed_with,
            SignedWith::Current
        );
        // The position among several old secrets is reported.
        let two = signer()
            .with_old_secrets(["yet another secret, older than the last!", OLD])
            .unwrap();
        assert_eq!(
            two.verify_rotated("session", &value).unwrap().signed_with,
            SignedWith::Old(1)
        );
        // Removed from the list: rejected.
        assert_eq!(signer().verify("session", &value), None);
        assert!(matches!(
            signer().with_old_secrets([OLD, "short"]),
            Err(Error::ShortOldSecret { index: 1, len: 5 })
        ));
    }

    #[test]
    fn checklist_06_tokens_of_another_purpose_or_cookie_name_are_rejected() {
        let csrf = CookieSigner::for_purpose(SECRET, "csrf").unwrap();
        let token = csrf.sign("session", ID);
        assert_eq!(csrf.verify("session", &token), Some(ID));
        assert_eq!(signer().verify("session", &token), None);
        let value = signer().sign("session", ID);
        assert_eq!(csrf.verify("session", &value), None);
        assert_eq!(signer().verify("__Host-session", &value), None);
        // The session purpose is the one `new` uses.
        let same = CookieSigner::for_purpose(SECRET, SESSION_PURPOSE).unwrap();
        assert_eq!(same.verify("session", &value), Some(ID));
    }

    #[test]
    fn checklist_07_huge_headers_and_duplicates_are_parsed_in_bounds() {
        let value = signer().sign("session", ID);
        // 100 duplicates before ours: only the first MAX_SAME_NAME are seen.
        let mut header = "session=x; ".repeat(100);
        header.push_str(&format!("session={value}"));
        let headers = headers(&[header.as_bytes()]);
        assert_eq!(found(&headers).len(), MAX_SAME_NAME);
        assert!(!found(&headers).contains(&value.as_str()));
        // A 1 MB header of other cookies is scanned once, and ours is found.
        let mut big = "a=b; ".repeat(200_000);
        big.push_str(&format!("session={value}"));
        let headers = headers_from(big.as_bytes());
        assert_eq!(found(&headers), [value.as_str()]);
        // An 8 KB value is rejected before any MAC is computed.
        let long = format!("{}.{}", "A".repeat(8192), &value[value.len() - MAC_LEN..]);
        assert_eq!(signer().verify("session", &long), None);
    }

    #[test]
    fn checklist_09_same_name_cookies_are_looked_at_in_header_order() {
        let tossed = signer().sign("session", "ZZZZBBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKK");
        let ours = signer().sign("session", ID);
        let header = format!("session={tossed}; session={ours}");
        assert_eq!(
            found(&headers(&[header.as_bytes()])),
            [tossed.as_str(), ours.as_str()]
        );
        // Across several Cookie headers too: the first header first.
        let headers = headers(&[
            format!("session={ours}").as_bytes(),
            format!("session={tossed}").as_bytes(),
        ]);
        assert_eq!(found(&headers), [ours.as_str(), tossed.as_str()]);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn any_header_parses_in_bounds(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
                // Only bytes a header value may hold.
                let bytes: Vec<u8> = raw.into_iter().filter(|b| *b == b'\t' || (0x20..0x7f).contains(b) || *b >= 0x80).collect();
                let headers = headers(&[&bytes]);
                let values = found(&headers);
                prop_assert!(values.len() <= MAX_SAME_NAME);
                for value in values {
                    prop_assert!(value.bytes().all(|b| (0x21..=0x7e).contains(&b)));
                    prop_assert_eq!(signer().verify("session", value), None);
                }
            }

            #[test]
            fn any_value_verifies_without_panic(value in ".{0,600}") {
                prop_assert_eq!(signer().verify("session", &value), None);
            }

            #[test]
            fn sign_then_verify_round_trips_and_edits_are_caught(
                id in "[A-Za-z0-9_-]{16,256}",
                at in any::<prop::sample::Index>(),
                with in "[A-Za-z0-9._-]",
            ) {
                let value = signer().sign("session", &id);
                prop_assert_eq!(signer().verify("session", &value), Some(id.as_str()));
                let at = at.index(value.len());
                let mut edited = value.clone();
                edited.replace_range(at..=at, &with);
                if edited != value {
                    prop_assert_eq!(signer().verify("session", &edited), None);
                }
            }
        }
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
