//! Pyramid 1.x `signed_serialize` / `signed_deserialize` of a session id:
//! the cookie value is the hex HMAC-SHA1 (40 characters) of the pickled id,
//! followed by the base64 of that pickle.
//!
//! The MAC is checked, in constant time, before a byte of the pickle is
//! parsed, and the pickle is read by [`super::pickle`], which executes
//! nothing. Invariant: `signed_deserialize(&signed_serialize(id, s), s) ==
//! Some(id)` for every id, and Python's `signed_deserialize` accepts what
//! [`signed_serialize`] makes (it is byte for byte what Python 3.8+ makes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::pickle::{self, Value};

type HmacSha1 = Hmac<Sha1>;

/// Length of the hex HMAC-SHA1 at the start of a value.
const SIG_LEN: usize = 40;
/// Longest cookie value looked at: a signature and a pickled id of up to
/// 256 characters fit well within it.
const MAX_VALUE_LEN: usize = 1024;
/// Longest id accepted from a cookie.
const MAX_ID_LEN: usize = 256;

/// The bytes Pyramid keys the HMAC with: the secret in Latin-1 when it can
/// be, else in UTF-8 (`pyramid.compat.bytes_` with its fallback).
pub(crate) fn secret_bytes(secret: &str) -> Vec<u8> {
    match secret
        .chars()
        .map(|c| u8::try_from(u32::from(c)))
        .collect::<Result<Vec<u8>, _>>()
    {
        Ok(latin1) => latin1,
        Err(_) => secret.as_bytes().to_vec(),
    }
}

fn mac(secret: &[u8]) -> HmacSha1 {
    #[allow(clippy::expect_used)]
    <HmacSha1 as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// `pickle.dumps(id, HIGHEST_PROTOCOL)` as Python 3.8+ writes a str: one
/// frame holding the string and a memo entry.
fn pickle_id(id: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(id.len() + 8);
    match u8::try_from(id.len()) {
        Ok(len) => body.extend_from_slice(&[0x8c, len]),
        Err(_) => {
            body.push(b'X');
            body.extend_from_slice(&(id.len() as u32).to_le_bytes());
        }
    }
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(b"\x94.");
    let mut out = Vec::with_capacity(body.len() + 11);
    out.extend_from_slice(&[0x80, 5, 0x95]);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The cookie value for `id`, as Pyramid's `signed_serialize(id, secret)`.
pub(crate) fn signed_serialize(id: &str, secret: &[u8]) -> String {
    let pickled = pickle_id(id);
    let mut mac = mac(secret);
    mac.update(&pickled);
    let sig = mac.finalize().into_bytes();
    let mut out = String::with_capacity(SIG_LEN + pickled.len() * 4 / 3 + 4);
    for b in sig {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    STANDARD.encode_string(&pickled, &mut out);
    out
}

/// The session id in a cookie value made by `signed_serialize`, or `None`
/// when the value is malformed, too long, wrongly signed, or signs something
/// other than a printable ASCII str of at most 256 characters.
///
/// A value in double quotes (as some frameworks send base64) is unquoted
/// first. The signature is compared in constant time before anything else
/// of the value is looked at beyond its base64.
pub(crate) fn signed_deserialize(value: &str, secret: &[u8]) -> Option<String> {
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if value.len() > MAX_VALUE_LEN || !value.is_ascii() || value.len() <= SIG_LEN {
        return None;
    }
    let (sig, data) = value.split_at(SIG_LEN);
    let pickled = STANDARD.decode(data).ok()?;
    let mut mac = mac(secret);
    mac.update(&pickled);
    let expected = mac.finalize().into_bytes();
    let mut hex = [0u8; SIG_LEN];
    for (i, b) in expected.iter().enumerate() {
        hex[2 * i] = b"0123456789abcdef"[usize::from(b >> 4)];
        hex[2 * i + 1] = b"0123456789abcdef"[usize::from(b & 15)];
    }
    if !bool::from(hex.ct_eq(sig.as_bytes())) {
        return None;
    }
    let id = match pickle::parse(&pickled).ok()? {
        Value::Str(s) => s,
        other => other.as_str()?.to_owned(),
    };
    let printable = id.bytes().all(|b| b.is_ascii_graphic());
    (printable && !id.is_empty() && id.len() <= MAX_ID_LEN).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Python 3.11: `signed_serialize('ab' * 32, 's3cret')`.
    const PYTHON_COOKIE: &str = "fc6caa3e6b40ec6e16dbb62582955ec28efdbcdagAWVRAAAAAAAAACMQGFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWKULg==";

    #[test]
    fn signing_matches_python_byte_for_byte() {
        assert_eq!(signed_serialize(&"ab".repeat(32), b"s3cret"), PYTHON_COOKIE);
    }

    #[test]
    fn a_python_cookie_verifies_and_round_trips() {
        assert_eq!(
            signed_deserialize(PYTHON_COOKIE, b"s3cret").as_deref(),
            Some("ab".repeat(32).as_str())
        );
        let quoted = format!("\"{PYTHON_COOKIE}\"");
        assert!(signed_deserialize(&quoted, b"s3cret").is_some());
        let long = "x".repeat(300);
        assert_eq!(
            signed_deserialize(&signed_serialize(&long, b"k"), b"k"),
            None
        );
        let id = "session:".to_string() + &"0f".repeat(32);
        assert_eq!(
            signed_deserialize(&signed_serialize(&id, b"k"), b"k"),
            Some(id)
        );
    }

    #[test]
    fn tampered_or_foreign_cookies_are_refused() {
        assert_eq!(signed_deserialize(PYTHON_COOKIE, b"other"), None);
        let mut flipped = PYTHON_COOKIE.to_string();
        flipped.replace_range(0..1, "0");
        assert_eq!(signed_deserialize(&flipped, b"s3cret"), None);
        let upper = PYTHON_COOKIE[..SIG_LEN].to_uppercase() + &PYTHON_COOKIE[SIG_LEN..];
        assert_eq!(signed_deserialize(&upper, b"s3cret"), None);
        for junk in ["", "abc", &"a".repeat(2000), "é".repeat(30).as_str()] {
            assert_eq!(signed_deserialize(junk, b"s3cret"), None);
        }
        // A correctly signed pickle of something other than a str.
        let pickled = b"\x80\x02K\x01.";
        let mut mac = mac(b"k");
        mac.update(pickled);
        let sig: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            signed_deserialize(&(sig + &STANDARD.encode(pickled)), b"k"),
            None
        );
    }

    #[test]
    fn secrets_are_latin1_when_they_can_be() {
        assert_eq!(secret_bytes("é"), vec![0xe9]);
        assert_eq!(secret_bytes("✓"), "✓".as_bytes());
        assert_eq!(secret_bytes("abc"), b"abc");
    }
}
