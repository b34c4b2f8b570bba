//! Upgrade mode: an original session, taken out of Redis once and converted
//! so that the native codec can store it under a fresh id.

use std::sync::OnceLock;

use redis::Script;
use serde_value::Value as Serde;

use super::Error;
use super::codec::to_serde;
use super::store::Blob;
use crate::store::{RedisClient, log_tag};

/// Returns the blob and its remaining TTL (ms, as `PTTL`), and deletes it:
/// one round trip, and two requests racing on one cookie cannot both get it.
const TAKE_LUA: &str = r"
local blob = redis.call('GET', KEYS[1])
if not blob then
  return false
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
return {blob, ttl}
";

fn take_script() -> &'static Script {
    static TAKE: OnceLock<Script> = OnceLock::new();
    TAKE.get_or_init(|| Script::new(TAKE_LUA))
}

/// An original session, converted.
#[derive(Clone, PartialEq)]
pub(crate) struct LegacySession {
    /// Its `managed_dict`, in order, as serde values for the native codec.
    pub(crate) entries: Vec<(String, Serde)>,
    /// When it was created (unix seconds).
    pub(crate) created: u64,
    /// Its `timeout` (seconds), as the original kept it per session.
    pub(crate) timeout: Option<u64>,
}

impl LegacySession {
    /// The entries encoded by `codec` (the native session's values).
    ///
    /// # Errors
    ///
    /// [`crate::codec::Error::Encode`] when the codec cannot hold a value
    /// (for example JSON and a map with int keys).
    pub(crate) fn encoded(
        &self,
        codec: &dyn crate::codec::Codec,
    ) -> Result<Vec<(String, Vec<u8>)>, crate::codec::Error> {
        self.entries
            .iter()
            .map(|(key, value)| Ok((key.clone(), crate::codec::encode(codec, value)?)))
            .collect()
    }
}

impl std::fmt::Debug for LegacySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacySession")
            .field("entries", &self.entries.len())
            .field("created", &self.created)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn convert(blob: &Blob) -> Result<LegacySession, Error> {
    let mut entries = Vec::with_capacity(blob.entries().len());
    for (key, value) in blob.entries() {
        let Some(name) = key.as_str() else {
            return Err(Error::Unconvertible {
                key: "<a key that is not a str>".into(),
                python_type: key.type_name(),
            });
        };
        let value = to_serde(value.clone()).map_err(|_| Error::Unconvertible {
            key: name.to_owned(),
            python_type: first_object(value),
        })?;
        // A later duplicate replaces an earlier one, in its place.
        match entries
            .iter_mut()
            .find(|(k, _): &&mut (String, Serde)| k == name)
        {
            Some((_, slot)) => *slot = value,
            None => entries.push((name.to_owned(), value)),
        }
    }
    Ok(LegacySession {
        entries,
        created: blob.created().max(0.0) as u64,
        timeout: blob.timeout(),
    })
}

/// The type of the first value inside `value` that has no serde form.
fn first_object(value: &super::pickle::Value) -> String {
    use super::pickle::Value;
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items
                .iter()
                .find(|v| to_serde((*v).clone()).is_err())
                .map_or_else(|| "int beyond 64 bits".into(), first_object)
        }
        Value::Dict(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [k, v])
            .find(|v| to_serde((*v).clone()).is_err())
            .map_or_else(|| "int beyond 64 bits".into(), first_object),
        Value::Long(_) => "int beyond 64 bits".into(),
        other => other.type_name(),
    }
}

/// Takes the original session stored under `key` (the original's session
/// id, its prefix included) out of Redis: returns it converted, and deletes
/// it, in one round trip. `None` when there is no such session.
///
/// When a value cannot be converted (a `datetime`, a class instance, an int
/// beyond 64 bits, a key that is not a str) or the blob cannot be read, the
/// original session is put back as it was, with its TTL (a second round
/// trip), and the error says which key and which Python type.
///
/// # Errors
///
/// [`Error::Store`] when Redis fails, [`Error::Unconvertible`] and
/// [`Error::Unreadable`] as above.
///
/// # Cancel safety
///
/// Dropped after the first round trip and before the put-back, an
/// unconvertible session is lost; a convertible one is lost unless the
/// caller stores the result.
pub(crate) async fn take_legacy(
    client: &RedisClient,
    key: &str,
    budget: u64,
) -> Result<Option<LegacySession>, Error> {
    let mut conn = client.connection()?;
    let taken: Option<(Vec<u8>, i64)> = client
        .bounded(take_script().key(key).invoke_async(&mut conn))
        .await?;
    let Some((bytes, ttl_ms)) = taken else {
        return Ok(None);
    };
    let converted = Blob::parse_within(&bytes, budget)
        .map_err(|e| Error::Unreadable(e.to_string()))
        .and_then(|blob| convert(&blob));
    match converted {
        Ok(session) => {
            tracing::debug!(target: "redis_sessions::compat", session = log_tag(key), "original session taken for upgrade");
            Ok(Some(session))
        }
        Err(e) => {
            let mut put_back = redis::cmd("SET");
            put_back.arg(key).arg(bytes).arg("NX");
            if ttl_ms > 0 {
                put_back.arg("PX").arg(ttl_ms);
            }
            let _: Option<String> = client.bounded(put_back.query_async(&mut conn)).await?;
            if let Some(n) = crate::throttle::SHARED.count("compat_not_upgraded") {
                tracing::warn!(target: "redis_sessions::compat", session = log_tag(key), problem = %e, occurrences = n, "original session not upgraded");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pickle::{self, Value};
    use super::*;

    fn blob_with(entries: Vec<(Value, Value)>) -> Blob {
        let top = Value::Dict(vec![
            (Value::Str("managed_dict".into()), Value::Dict(entries)),
            (Value::Str("created".into()), Value::Float(12.75)),
            (Value::Str("timeout".into()), Value::Int(300)),
        ]);
        Blob::parse(&pickle::to_bytes(&top)).unwrap()
    }

    #[test]
    fn plain_sessions_convert_in_order() {
        let blob = blob_with(vec![
            (Value::Str("b".into()), Value::Int(1)),
            (
                Value::Str("a".into()),
                Value::List(vec![Value::Str("m".into())]),
            ),
            (Value::Str("b".into()), Value::Int(2)),
        ]);
        let session = convert(&blob).unwrap();
        assert_eq!(
            session.entries,
            [
                ("b".to_string(), Serde::I64(2)),
                ("a".to_string(), Serde::Seq(vec![Serde::String("m".into())]))
            ]
        );
        assert_eq!((session.created, session.timeout), (12, Some(300)));
        let encoded = session.encoded(&crate::codec::MsgPack).unwrap();
        let back: Vec<serde_json::Value> = encoded
            .iter()
            .map(|(_, bytes)| crate::codec::decode(&crate::codec::MsgPack, bytes).unwrap())
            .collect();
        assert_eq!(back, [serde_json::json!(2), serde_json::json!(["m"])]);
    }

    #[test]
    fn objects_name_their_key_and_type() {
        let dt = Value::Reduce(
            Box::new(Value::Global("datetime".into(), "date".into())),
            Box::new(Value::Tuple(vec![Value::Bytes(vec![7, 232, 1, 2])])),
        );
        let blob = blob_with(vec![(
            Value::Str("when".into()),
            Value::List(vec![Value::Int(1), dt]),
        )]);
        match convert(&blob) {
            Err(Error::Unconvertible { key, python_type }) => {
                assert_eq!(
                    (key.as_str(), python_type.as_str()),
                    ("when", "datetime.date")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
