//! A redis-sessions plugin: the codec `aead.encrypted` (also registered as
//! `aead.encrypt` and `aead.decrypt`) encodes each value with MessagePack,
//! then encrypts it with XChaCha20-Poly1305 under `redis.sessions.aead.key`.
//!
//! The associated data is the session's Redis key and the field name, so a
//! value copied to another session or field does not decrypt.
//!
//! ```ini
//! redis.sessions.plugin_path = %(here)s/target/debug
//! redis.sessions.serialize = aead.encrypt
//! redis.sessions.deserialize = aead.decrypt
//! redis.sessions.aead.key = <64 hex digits: 32 random bytes>
//! ```

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use redis_sessions_plugin::{PluginCodec, PluginSettings, Registrar};

/// The setting holding the key.
pub const KEY_SETTING: &str = "redis.sessions.aead.key";
/// The first byte of every sealed value: the format version.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The encrypting codec stage.
pub struct Encrypted {
    cipher: XChaCha20Poly1305,
}

fn associated_data(key: &str, field: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(key.len() + 1 + field.len() + 8);
    aad.extend_from_slice(&(key.len() as u64).to_be_bytes());
    aad.extend_from_slice(key.as_bytes());
    aad.extend_from_slice(field);
    aad
}

fn parse_key(hex: &str) -> Result<[u8; 32], String> {
    let hex = hex.trim();
    let expected =
        "expected 64 hex digits (32 random bytes), e.g. the output of `openssl rand -hex 32`";
    if hex.len() != 64 {
        return Err(format!("the key has {} characters: {expected}", hex.len()));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("the key is not hexadecimal: {expected}"))?;
    }
    Ok(key)
}

impl PluginCodec for Encrypted {
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String> {
        let hex = settings
            .get(KEY_SETTING)
            .ok_or_else(|| format!("{KEY_SETTING} is not set: expected 64 hex digits, e.g. the output of `openssl rand -hex 32`"))?;
        let key = parse_key(&hex).map_err(|e| format!("{KEY_SETTING}: {e}"))?;
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    fn seal(&self, key: &str, field: &[u8], encoded: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| format!("no random nonce: {e}"))?;
        let aad = associated_data(key, field);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: encoded,
                    aad: &aad,
                },
            )
            .map_err(|_| "encryption failed".to_owned())?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, key: &str, field: &[u8], stored: &[u8]) -> Result<Vec<u8>, String> {
        let Some((&VERSION, rest)) = stored.split_first() else {
            return Err("not a sealed value (unknown format version)".into());
        };
        if rest.len() < NONCE_LEN + 16 {
            return Err("sealed value too short".into());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let aad = associated_data(key, field);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| "the value does not decrypt for this session and field".into())
    }
}

fn includeme(registrar: &mut Registrar<'_>) -> Result<(), String> {
    registrar.declare_validated_setting(KEY_SETTING, true, |v| parse_key(v).map(drop))?;
    for name in ["aead.encrypted", "aead.encrypt", "aead.decrypt"] {
        registrar.codec::<Encrypted>(name)?;
    }
    Ok(())
}

redis_sessions_plugin::export_plugin!(includeme);

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> Encrypted {
        Encrypted {
            cipher: XChaCha20Poly1305::new(&[7u8; 32].into()),
        }
    }

    #[test]
    fn sealed_values_open_only_in_their_place() {
        let c = codec();
        let sealed = c.seal("s:abc", b"user", b"payload").unwrap();
        assert_eq!(c.open("s:abc", b"user", &sealed).unwrap(), b"payload");
        assert!(
            c.open("s:abd", b"user", &sealed).is_err(),
            "another session"
        );
        assert!(c.open("s:abc", b"role", &sealed).is_err(), "another field");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(c.open("s:abc", b"user", &tampered).is_err());
        assert_ne!(
            c.seal("s:abc", b"user", b"payload").unwrap(),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn keys_must_be_64_hex_digits() {
        assert!(parse_key(&"ab".repeat(32)).is_ok());
        assert!(parse_key("abc").unwrap_err().contains("has 3 characters"));
        assert!(
            parse_key(&"zz".repeat(32))
                .unwrap_err()
                .contains("not hexadecimal")
        );
    }
}
