//! [`PickleCodec`]: session values as pickles, one value at a time, so that
//! [`PyramidStore`](super::PyramidStore) can put them into the original's
//! blob as they are.
//!
//! Plain values map to serde and back: None, bool, int (64 bits), float,
//! str, bytes, list, tuple, set and dict. A value that holds anything else
//! (a `datetime`, a class instance) is kept as it was read, byte for byte
//! in meaning, and written back untouched; reading it as a Rust type fails
//! with [`crate::codec::Error::Decode`] naming its Python type.

use serde_value::{DeserializerError, Value as Serde, ValueDeserializer};

use super::pickle::{self, Value};
use crate::codec::{Codec, Error, Visitor, decode_error};

const NAME: &str = "pickle";

/// The original's pickled values, one per session key.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PickleCodec;

impl Codec for PickleCodec {
    fn name(&self) -> &str {
        NAME
    }

    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, Error> {
        let serde = serde_value::to_value(value).map_err(|e| Error::Encode {
            codec: NAME.into(),
            message: e.to_string(),
        })?;
        Ok(pickle::to_bytes(&from_serde(serde)?))
    }

    fn decode(&self, bytes: &[u8], visitor: Visitor<'_>) -> Result<(), Error> {
        let value = pickle::parse(bytes).map_err(|e| decode_error(NAME, e))?;
        let serde = to_serde(value)?;
        let de = ValueDeserializer::<DeserializerError>::new(serde);
        visitor(&mut <dyn erased_serde::Deserializer>::erase(de)).map_err(|e| decode_error(NAME, e))
    }

    /// Any well-formed pickle is a value here, including Python objects that
    /// have no serde form: they are kept, not refused.
    fn validate(&self, bytes: &[u8]) -> Result<(), Error> {
        pickle::parse(bytes)
            .map(|_| ())
            .map_err(|e| decode_error(NAME, e))
    }
}

/// A serde value as a pickle value (what Python will see).
pub(crate) fn from_serde(value: Serde) -> Result<Value, Error> {
    Ok(match value {
        Serde::Bool(b) => Value::Bool(b),
        Serde::U8(n) => Value::Int(n.into()),
        Serde::U16(n) => Value::Int(n.into()),
        Serde::U32(n) => Value::Int(n.into()),
        Serde::U64(n) => match i64::try_from(n) {
            Ok(n) => Value::Int(n),
            // Nine bytes: the top one keeps the sign bit clear.
            Err(_) => Value::Long(n.to_le_bytes().iter().copied().chain([0]).collect()),
        },
        Serde::I8(n) => Value::Int(n.into()),
        Serde::I16(n) => Value::Int(n.into()),
        Serde::I32(n) => Value::Int(n.into()),
        Serde::I64(n) => Value::Int(n),
        Serde::F32(f) => Value::Float(f.into()),
        Serde::F64(f) => Value::Float(f),
        Serde::Char(c) => Value::Str(c.to_string()),
        Serde::String(s) => Value::Str(s),
        Serde::Unit | Serde::Option(None) => Value::None,
        Serde::Option(Some(v)) | Serde::Newtype(v) => from_serde(*v)?,
        Serde::Seq(items) => Value::List(
            items
                .into_iter()
                .map(from_serde)
                .collect::<Result<_, _>>()?,
        ),
        Serde::Map(map) => Value::Dict(
            map.into_iter()
                .map(|(k, v)| Ok((from_serde(k)?, from_serde(v)?)))
                .collect::<Result<_, Error>>()?,
        ),
        Serde::Bytes(b) => Value::Bytes(b),
    })
}

/// A pickle value as a serde value, if it is plain.
pub(crate) fn to_serde(value: Value) -> Result<Serde, Error> {
    let seq = |items: Vec<Value>| {
        items
            .into_iter()
            .map(to_serde)
            .collect::<Result<Vec<_>, _>>()
            .map(Serde::Seq)
    };
    Ok(match value {
        Value::None => Serde::Option(None),
        Value::Bool(b) => Serde::Bool(b),
        Value::Int(n) => Serde::I64(n),
        Value::Long(bytes) => {
            // Non-negative and at most 64 significant bits: a u64.
            let fits = bytes.last().is_some_and(|b| b & 0x80 == 0)
                && bytes.iter().skip(8).all(|&b| b == 0);
            if !fits {
                return Err(decode_error(NAME, "an int beyond 64 bits"));
            }
            let mut full = [0u8; 8];
            full.copy_from_slice(&bytes[..8]);
            Serde::U64(u64::from_le_bytes(full))
        }
        Value::Float(f) => Serde::F64(f),
        Value::Str(s) => Serde::String(s),
        Value::Str8(b) => match String::from_utf8(b) {
            Ok(s) => Serde::String(s),
            Err(e) => Serde::Bytes(e.into_bytes()),
        },
        Value::Bytes(b) | Value::ByteArray(b) => Serde::Bytes(b),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            seq(items)?
        }
        Value::Dict(pairs) => Serde::Map(
            pairs
                .into_iter()
                .map(|(k, v)| Ok((to_serde(k)?, to_serde(v)?)))
                .collect::<Result<_, Error>>()?,
        ),
        other => {
            return Err(decode_error(
                NAME,
                format!(
                    "a Python object of type {} has no serde form (it is kept as it is)",
                    other.type_name()
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::codec::{decode, encode};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Cart {
        user: String,
        items: Vec<(u32, f64)>,
        coupon: Option<String>,
        tags: BTreeMap<String, bool>,
    }

    #[test]
    fn plain_values_round_trip_through_pickles() {
        let cart = Cart {
            user: "héllo ✓".into(),
            items: vec![(1, 2.5), (u32::MAX, -0.0)],
            coupon: None,
            tags: [("a".to_string(), true), ("b".to_string(), false)].into(),
        };
        let bytes = encode(&PickleCodec, &cart).unwrap();
        assert_eq!(decode::<Cart>(&PickleCodec, &bytes).unwrap(), cart);
        for n in [
            0i64,
            1,
            255,
            256,
            65535,
            65536,
            -1,
            i32::MIN.into(),
            i64::MIN,
            i64::MAX,
        ] {
            let bytes = encode(&PickleCodec, &n).unwrap();
            assert_eq!(decode::<i64>(&PickleCodec, &bytes).unwrap(), n);
        }
        let bytes = encode(&PickleCodec, &u64::MAX).unwrap();
        assert_eq!(decode::<u64>(&PickleCodec, &bytes).unwrap(), u64::MAX);
        let bytes = encode(&PickleCodec, &serde_bytes::ByteBuf::from(vec![0u8, 255])).unwrap();
        assert_eq!(
            decode::<serde_bytes::ByteBuf>(&PickleCodec, &bytes).unwrap(),
            vec![0u8, 255]
        );
    }

    #[test]
    fn a_python_object_is_valid_but_has_no_serde_form() {
        // datetime.datetime(2024, 1, 2, 3, 4, 5, 6) as Python 3 pickles it.
        let dt = b"\x80\x04\x95*\x00\x00\x00\x00\x00\x00\x00\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x06\x94\x85\x94R\x94.";
        PickleCodec.validate(dt).unwrap();
        let e = decode::<serde_json::Value>(&PickleCodec, dt).unwrap_err();
        assert!(e.to_string().contains("datetime.datetime"), "{e}");
        assert!(PickleCodec.validate(b"\x80\x04K").is_err());
    }
}
