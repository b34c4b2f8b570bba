//! Value codecs: how each session value becomes bytes in Redis.
//!
//! Every session key is one Redis hash field, and its value is encoded on its
//! own by the factory's codec. Built in: [`MsgPack`] (the default), [`Json`],
//! and, behind the `bincode` cargo feature, `Bincode` (the bincode crate is
//! unmaintained, RUSTSEC-2025-0141, so it is opt-in).
//!
//! Invariant: for every codec and every value `v` of a serde type `T`,
//! decoding `encode(v)` as `T` gives back `v`: the manual's
//! `decode(encode(data)) == data`, per value.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original pickles the whole session dict (`serialize`/`deserialize`,
//! default `cPickle`). Pickle runs code on load, so a writable Redis means
//! remote code execution; none of the codecs here can do that. Values are
//! encoded one by one so that a request writes only what it changed.
//!
//! ```
//! use redis_sessions::codec::{Codec, Json, MsgPack};
//!
//! for codec in [&MsgPack as &dyn Codec, &Json] {
//!     let bytes = redis_sessions::codec::encode(codec, &(1u64, "two", [3.5f64])).unwrap();
//!     let back: (u64, String, Vec<f64>) = redis_sessions::codec::decode(codec, &bytes).unwrap();
//!     assert_eq!(back, (1, "two".to_string(), vec![3.5]));
//! }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Re-exported: [`Codec::encode`] takes an `&dyn erased_serde::Serialize`.
pub use erased_serde;

/// The sink a codec hands its deserializer to, see [`Codec::decode`].
pub type Visitor<'a> =
    &'a mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error>;

/// Errors from encoding or decoding a session value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The value could not be encoded.
    #[error("{codec}: cannot encode the value: {message}")]
    Encode {
        /// The codec's name.
        codec: String,
        /// What the codec said (never the value itself).
        message: String,
    },
    /// The stored bytes are not a value of the requested type.
    #[error("{codec}: cannot decode the stored value: {message}")]
    Decode {
        /// The codec's name.
        codec: String,
        /// What the codec said (never the payload itself).
        message: String,
    },
}

/// Encodes and decodes single session values.
///
/// A codec works through [`erased_serde`] so that it can be chosen at run
/// time (by dotted name) while values keep their static types. Most code
/// calls the typed helpers [`encode`] and [`decode`] instead.
pub trait Codec: Send + Sync + 'static {
    /// A short name for messages and the registry, such as `msgpack`.
    fn name(&self) -> &str;

    /// Encodes one value.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] when the value has no representation in this format.
    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, Error>;

    /// Builds a deserializer over `bytes` and hands it to `visitor`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the bytes are malformed, hold trailing data, or
    /// the visitor rejects them.
    fn decode(&self, bytes: &[u8], visitor: Visitor<'_>) -> Result<(), Error>;

    /// Checks that `bytes` hold one well-formed value, of any type. A stored
    /// value that a handler cannot read as the type it asks for is checked
    /// this way: if it is no value at all, the session is corrupt and a fresh
    /// one starts; otherwise the read fails as one of the wrong type.
    ///
    /// The default decodes into [`serde::de::IgnoredAny`]; a format that is not
    /// self-describing overrides it.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the bytes are not a value.
    fn validate(&self, bytes: &[u8]) -> Result<(), Error> {
        decode::<serde::de::IgnoredAny>(self, bytes).map(|_| ())
    }

    /// Turns an encoded value into what is stored, for example by encrypting
    /// it. `ctx` names the session key and field the value is stored under,
    /// so a sealed value can be bound to its place. The default stores the
    /// encoding as it is.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] when the value cannot be sealed.
    fn seal(&self, ctx: &FieldContext<'_>, encoded: Vec<u8>) -> Result<Vec<u8>, Error> {
        let _ = ctx;
        Ok(encoded)
    }

    /// Reverses [`Codec::seal`]: turns stored bytes back into an encoding.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the bytes were not sealed by this codec for
    /// this place (tampered, copied from elsewhere, or another key).
    fn open(&self, ctx: &FieldContext<'_>, stored: Vec<u8>) -> Result<Vec<u8>, Error> {
        let _ = ctx;
        Ok(stored)
    }

    /// How this codec stores an integer, when a store may read and rewrite
    /// it in place: [`Session::incr`](crate::Session::incr) then adds to a
    /// counter inside the store, atomically and in one round trip, without
    /// loading the session. `None` (the default) makes `incr` load, add and
    /// save instead. Return `Some` only if [`Codec::seal`] and
    /// [`Codec::open`] keep the encoding as it is, and the codec writes
    /// integers exactly as the [`Integers`] format says.
    fn integers(&self) -> Option<Integers> {
        None
    }
}

/// How a codec stores integers, for in-place increments (see
/// [`Codec::integers`]).
///
/// ```
/// use redis_sessions::codec::{Codec, Integers, Json, MsgPack};
///
/// assert_eq!(MsgPack.integers(), Some(Integers::MsgPack));
/// assert_eq!(Json.integers(), Some(Integers::Json));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Integers {
    /// A MessagePack integer (any of its int and uint encodings).
    MsgPack,
    /// A JSON number without fraction or exponent, in decimal.
    Json,
}

impl Integers {
    /// The integer `bytes` hold, read as `Session::get::<i64>` would.
    #[cfg_attr(not(feature = "memory-store"), allow(dead_code))] // the memory store's
    pub(crate) fn read(self, bytes: &[u8]) -> Option<i64> {
        match self {
            Self::MsgPack => decode(&MsgPack, bytes).ok(),
            Self::Json => decode(&Json, bytes).ok(),
        }
    }

    /// `n` in this format, as `Session::insert` would write it.
    pub(crate) fn write(self, n: i64) -> Vec<u8> {
        let encoded = match self {
            Self::MsgPack => encode(&MsgPack, &n),
            Self::Json => encode(&Json, &n),
        };
        // Both formats represent every i64.
        encoded.unwrap_or_default()
    }

    /// `array` (an encoded list; `None`: no list yet) with `element` (an
    /// encoded value) appended, exactly as encoding the longer list would
    /// write it; `None` when `array` is not a list in this format's form.
    #[cfg_attr(not(feature = "memory-store"), allow(dead_code))] // the memory store's
    pub(crate) fn append(self, array: Option<&[u8]>, element: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::MsgPack => {
                let (n, body): (usize, &[u8]) = match array {
                    None => (0, &[]),
                    Some([b @ 0x90..=0x9f, body @ ..]) => (usize::from(b - 0x90), body),
                    Some([0xdc, a, b, body @ ..]) => {
                        (usize::from(u16::from_be_bytes([*a, *b])), body)
                    }
                    Some([0xdd, a, b, c, d, body @ ..]) => {
                        (u32::from_be_bytes([*a, *b, *c, *d]) as usize, body)
                    }
                    Some(_) => return None,
                };
                let n = n + 1;
                let mut out = Vec::with_capacity(5 + body.len() + element.len());
                if n <= 15 {
                    out.push(0x90 + n as u8);
                } else if let Ok(n) = u16::try_from(n) {
                    out.push(0xdc);
                    out.extend_from_slice(&n.to_be_bytes());
                } else {
                    out.push(0xdd);
                    out.extend_from_slice(&u32::try_from(n).ok()?.to_be_bytes());
                }
                out.extend_from_slice(body);
                out.extend_from_slice(element);
                Some(out)
            }
            Self::Json => {
                let mut out = match array {
                    None | Some(b"[]") => b"[".to_vec(),
                    Some([b'[', inner @ .., b']']) => {
                        let mut out = Vec::with_capacity(inner.len() + element.len() + 3);
                        out.push(b'[');
                        out.extend_from_slice(inner);
                        out.push(b',');
                        out
                    }
                    Some(_) => return None,
                };
                out.extend_from_slice(element);
                out.push(b']');
                Some(out)
            }
        }
    }

    /// The letter the Redis script knows this format by.
    pub(crate) fn letter(self) -> &'static str {
        match self {
            Self::MsgPack => "m",
            Self::Json => "j",
        }
    }
}

/// Where a value is stored: given to [`Codec::seal`] and [`Codec::open`].
#[derive(Clone, Copy)]
pub struct FieldContext<'a> {
    /// The session's Redis key (`prefix` + digest of the id; never the id).
    pub key: &'a str,
    /// The hash field (the session key, escaped as described in [`crate::store`]).
    pub field: &'a [u8],
}

impl std::fmt::Debug for FieldContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldContext").finish_non_exhaustive()
    }
}

/// Encodes `value` with `codec`.
///
/// # Errors
///
/// [`Error::Encode`] when the codec cannot represent the value.
pub fn encode<T: Serialize + ?Sized>(
    codec: &(impl Codec + ?Sized),
    value: &T,
) -> Result<Vec<u8>, Error> {
    codec.encode(&value)
}

/// Decodes `bytes` as a `T` with `codec`.
///
/// # Errors
///
/// [`Error::Decode`] when the bytes are not a `T` in this codec's format.
pub fn decode<T: DeserializeOwned>(
    codec: &(impl Codec + ?Sized),
    bytes: &[u8],
) -> Result<T, Error> {
    let mut out = None;
    codec.decode(bytes, &mut |de| {
        out = Some(erased_serde::deserialize::<T>(de)?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::Decode {
        codec: codec.name().to_owned(),
        message: "the codec produced no value".into(),
    })
}

fn encode_error(codec: &str, e: impl std::fmt::Display) -> Error {
    Error::Encode {
        codec: codec.to_owned(),
        message: redact(&e.to_string()),
    }
}

/// Replaces what a format's message quotes (`"…"` or `` `…` ``: serde puts
/// the offending value there) with `<redacted>`, keeping the rest, such as
/// "invalid type: string <redacted>, expected u64".
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..start]);
        match rest[start + 1..].find(quote) {
            Some(len) => {
                out.push_str("<redacted>");
                rest = &rest[start + 1 + len + 1..];
            }
            None => {
                out.push_str("<redacted>");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Builds an [`Error::Decode`] for `codec` from any message.
/// Values quoted in the message are redacted: payloads never reach errors.
pub fn decode_error(codec: &str, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        codec: codec.to_owned(),
        message: redact(&e.to_string()),
    }
}

/// How deeply nested a decoded MessagePack value may be (serde_json has the
/// same limit of its own).
const MAX_DEPTH: usize = 128;

/// MessagePack (the default codec): compact, binary-safe, fast.
///
/// Structs are encoded as maps with field names, so adding an optional field
/// to a stored struct does not break sessions written before the change.
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgPack;

impl Codec for MsgPack {
    fn name(&self) -> &str {
        "msgpack"
    }

    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::with_capacity(32);
        let mut ser = rmp_serde::Serializer::new(&mut buf).with_struct_map();
        value
            .serialize(&mut ser)
            .map_err(|e| encode_error(self.name(), e))?;
        Ok(buf)
    }

    fn decode(&self, bytes: &[u8], visitor: Visitor<'_>) -> Result<(), Error> {
        let mut rest = bytes;
        let mut de = rmp_serde::Deserializer::new(&mut rest);
        // Session values are shallow; a stored value nested deeper is
        // refused before it can exhaust the stack.
        de.set_max_depth(MAX_DEPTH);
        visitor(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| decode_error(self.name(), e))?;
        drop(de);
        if rest.is_empty() {
            Ok(())
        } else {
            Err(decode_error(self.name(), "trailing bytes after the value"))
        }
    }

    fn integers(&self) -> Option<Integers> {
        Some(Integers::MsgPack)
    }
}

/// JSON: readable in `redis-cli`, interoperable with other languages.
///
/// JSON has no NaN or infinity: serde_json writes them as `null`, which then
/// does not decode as a float. Use [`MsgPack`] for such values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    fn name(&self) -> &str {
        "json"
    }

    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(value).map_err(|e| encode_error(self.name(), e))
    }

    fn decode(&self, bytes: &[u8], visitor: Visitor<'_>) -> Result<(), Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        visitor(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| decode_error(self.name(), e))?;
        de.end().map_err(|e| decode_error(self.name(), e))
    }

    fn integers(&self) -> Option<Integers> {
        Some(Integers::Json)
    }
}

/// bincode 1 (cargo feature `bincode`): compact but not self-describing.
///
/// The bincode crate is unmaintained (RUSTSEC-2025-0141). Because the format
/// carries no types, a value must be read back as exactly the type it was
/// written as, and [`serde::de::IgnoredAny`] cannot check it: corrupt values
/// are only found when they are read.
#[cfg(feature = "bincode")]
#[cfg_attr(docsrs, doc(cfg(feature = "bincode")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode;

#[cfg(feature = "bincode")]
impl Codec for Bincode {
    fn name(&self) -> &str {
        "bincode"
    }

    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, Error> {
        bincode::serialize(value).map_err(|e| encode_error(self.name(), e))
    }

    fn decode(&self, bytes: &[u8], visitor: Visitor<'_>) -> Result<(), Error> {
        use bincode::Options as _;
        // Same options as `bincode::serialize`; trailing bytes are checked
        // below because the deserializer itself does not.
        let options = bincode::DefaultOptions::new().with_fixint_encoding();
        let mut rest = bytes;
        let mut de = bincode::Deserializer::with_reader(&mut rest, options);
        visitor(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| decode_error(self.name(), e))?;
        drop(de);
        if rest.is_empty() {
            Ok(())
        } else {
            Err(decode_error(self.name(), "trailing bytes after the value"))
        }
    }

    fn validate(&self, _bytes: &[u8]) -> Result<(), Error> {
        // Not self-describing: a value can only be checked against its type.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[test]
    fn appending_in_place_writes_what_encoding_the_longer_list_writes() {
        type Raw = serde_json::Value;
        for (format, codec) in [
            (Integers::MsgPack, &MsgPack as &dyn Codec),
            (Integers::Json, &Json as &dyn Codec),
        ] {
            let mut list: Vec<Raw> = Vec::new();
            let mut stored: Option<Vec<u8>> = None;
            for i in 0..70_000u32 {
                let message: Raw = if i % 3 == 0 {
                    serde_json::json!({"n": i, "text": "é"})
                } else {
                    serde_json::json!(format!("m{i}"))
                };
                let element = encode(codec, &message).unwrap();
                stored = format.append(stored.as_deref(), &element);
                list.push(message);
                // At the header's size boundaries, and now and then.
                if [1, 15, 16, 17, 65_535, 65_536, 65_537].contains(&(i + 1)) || i % 9_999 == 0 {
                    assert_eq!(
                        stored.as_deref(),
                        Some(&encode(codec, &list).unwrap()[..]),
                        "{format:?} at {}",
                        i + 1
                    );
                }
            }
            let empty = encode(codec, &Vec::<Raw>::new()).unwrap();
            let one = encode(codec, &vec![Raw::from(1)]).unwrap();
            assert_eq!(
                format.append(Some(&empty), &encode(codec, &1).unwrap()),
                Some(one)
            );
            assert_eq!(
                format.append(Some(&encode(codec, &"x").unwrap()), b"1"),
                None
            );
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Cart {
        user: String,
        items: Vec<(u32, f64)>,
        coupon: Option<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Role {
        Guest,
        Member(u64),
        Admin { since: i64 },
    }

    fn codecs() -> Vec<Box<dyn Codec>> {
        vec![
            Box::new(MsgPack),
            Box::new(Json),
            #[cfg(feature = "bincode")]
            Box::new(Bincode),
        ]
    }

    fn round_trip<T>(codec: &dyn Codec, value: T)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let bytes = encode(codec, &value).unwrap();
        let back: T = decode(codec, &bytes).unwrap();
        assert_eq!(back, value, "{}", codec.name());
    }

    #[test]
    fn every_codec_round_trips_every_kind_of_value() {
        for codec in codecs() {
            let c = &*codec;
            round_trip(c, String::from("héllo ✓"));
            round_trip(c, i64::MIN);
            round_trip(c, i64::MAX);
            round_trip(c, u64::MAX);
            round_trip(c, 0u64);
            round_trip(c, -1.5e300f64);
            round_trip(c, f64::MIN_POSITIVE);
            round_trip(c, true);
            round_trip(c, serde_bytes::ByteBuf::from(vec![0u8, 255, 1, 2]));
            round_trip(c, vec![0u8, 255, 7]);
            round_trip(c, Some(3u8));
            round_trip(c, None::<String>);
            round_trip(c, vec![vec![1i32], vec![], vec![-2, 3]]);
            round_trip(
                c,
                BTreeMap::from([("a".to_string(), 1u16), ("b".into(), 2)]),
            );
            round_trip(
                c,
                Cart {
                    user: "ann".into(),
                    items: vec![(1, 9.99), (2, 0.5)],
                    coupon: None,
                },
            );
            round_trip(c, Role::Guest);
            round_trip(c, Role::Member(u64::MAX));
            round_trip(c, Role::Admin { since: -5 });
        }
    }

    #[test]
    fn non_finite_floats_round_trip_where_the_format_has_them() {
        for value in [f64::INFINITY, f64::NEG_INFINITY] {
            round_trip(&MsgPack, value);
        }
        let nan: f64 = decode(&MsgPack, &encode(&MsgPack, &f64::NAN).unwrap()).unwrap();
        assert!(nan.is_nan());
        // JSON has no NaN: serde_json writes `null`, which is not an f64.
        let json = encode(&Json, &f64::NAN).unwrap();
        assert_eq!(json, b"null");
        assert!(decode::<f64>(&Json, &json).is_err());
    }

    #[test]
    fn garbage_and_trailing_bytes_are_decode_errors() {
        for codec in [&MsgPack as &dyn Codec, &Json] {
            let mut bytes = encode(codec, &42u32).unwrap();
            bytes.extend_from_slice(b"\x01");
            assert!(matches!(codec.validate(&bytes), Err(Error::Decode { .. })));
            assert!(codec.validate(b"\xc1\xff{").is_err());
            assert!(codec.validate(b"").is_err());
        }
    }

    #[test]
    fn errors_never_quote_the_payload() {
        for codec in codecs() {
            let bytes = encode(&*codec, &"the-secret-value").unwrap();
            let err = decode::<u64>(&*codec, &bytes).unwrap_err().to_string();
            assert!(!err.contains("the-secret-value"), "{}: {err}", codec.name());
            let bytes = encode(&*codec, &123_456_789u64).unwrap();
            let err = decode::<String>(&*codec, &bytes).unwrap_err().to_string();
            assert!(!err.contains("123456789"), "{}: {err}", codec.name());
        }
        assert_eq!(
            redact("invalid type: string \"abc\", expected `u64` or `x"),
            "invalid type: string <redacted>, expected <redacted> or <redacted>"
        );
    }

    #[test]
    fn decoding_as_the_wrong_type_is_an_error() {
        for codec in codecs() {
            let bytes = encode(&*codec, &"text").unwrap();
            assert!(matches!(
                decode::<u64>(&*codec, &bytes),
                Err(Error::Decode { .. })
            ));
        }
    }
}
