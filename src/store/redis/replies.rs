//! Redis's replies, read into typed answers: a write's outcome, a loaded
//! session's fields, an index listing. A reply of the wrong shape is an
//! [`Error::UnexpectedReply`], never a panic, and never quoted.

use redis::Value;

use crate::store::api::IndexEntry;
use crate::store::hash::{Decoder, RawWrite as Write};
use crate::store::{Error, Loaded, Written};

/// The typed outcome of one write from its reply.
pub(super) fn written(write: &Write, reply: Value) -> Result<Written, Error> {
    match (write, reply) {
        (Write::Delete { .. } | Write::Retire { .. }, Value::Int(_)) => Ok(Written::Deleted),
        (Write::Retire { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session retire",
            expected: "an integer",
        }),
        (Write::Delete { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session delete",
            expected: "an integer",
        }),
        (Write::Create { .. }, Value::Int(1)) => Ok(Written::Stored),
        (Write::Create { .. }, Value::Int(0)) => Ok(Written::Collision),
        (Write::Create { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session create",
            expected: "0 or 1",
        }),
        (Write::Move { .. }, Value::Int(1)) => Ok(Written::Stored),
        (Write::Move { .. }, Value::Int(0)) => Ok(Written::Missing),
        (Write::Move { .. }, Value::Int(-1)) => Ok(Written::Collision),
        (Write::Move { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session move",
            expected: "-1, 0 or 1",
        }),
        (Write::Update { .. }, Value::Int(1)) => Ok(Written::Stored),
        (Write::Update { .. }, Value::Int(0)) => Ok(Written::Missing),
        (Write::Update { .. }, Value::Int(2)) => Ok(Written::Emptied),
        (Write::Update { .. }, Value::Int(3)) => Ok(Written::Moved),
        (Write::Update { .. }, Value::Int(4)) => Ok(Written::TooLarge),
        (Write::Update { .. }, _) => Err(Error::UnexpectedReply {
            to: "a session update",
            expected: "0, 1, 2, 3 or 4",
        }),
    }
}

/// Folds the field/value pairs of an `HGETALL` reply (RESP2 array or RESP3
/// map) into what `start` makes of their number, with `each`.
fn fold_pairs<S>(
    reply: Value,
    to: &'static str,
    start: impl FnOnce(usize) -> S,
    mut each: impl FnMut(&mut S, Vec<u8>, Vec<u8>) -> Result<(), Error>,
) -> Result<S, Error> {
    let bad = || Error::UnexpectedReply {
        to,
        expected: "field/value pairs of strings",
    };
    let bytes = |value: Value| match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(text) => Ok(text.into_bytes()),
        _ => Err(bad()),
    };
    match reply {
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(bad());
            }
            let mut state = start(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(name), Some(value)) = (items.next(), items.next()) {
                each(&mut state, bytes(name)?, bytes(value)?)?;
            }
            Ok(state)
        }
        Value::Map(items) => {
            let mut state = start(items.len());
            for (name, value) in items {
                each(&mut state, bytes(name)?, bytes(value)?)?;
            }
            Ok(state)
        }
        _ => Err(bad()),
    }
}

/// A loaded session, read straight from the reply: `None` if it is absent
/// or lacks its creation field (a moved session's marker, or no session of
/// ours).
pub(super) fn session_fields(reply: Value) -> Result<Loaded, Error> {
    let decoder = fold_pairs(
        reply,
        "a session load",
        Decoder::with_capacity,
        |decoder, name, value| {
            decoder.push(name, value);
            Ok(())
        },
    )?;
    Ok(decoder.finish())
}

/// The live entries of an index listing.
pub(super) fn index_entries(reply: Value) -> Result<Vec<IndexEntry>, Error> {
    fold_pairs(
        reply,
        "an index listing",
        Vec::with_capacity,
        |entries, member, value| {
            entries.push(index_entry(member, &value)?);
            Ok(())
        },
    )
}

/// Reads one live index entry: `expires created last_seen[ agent]`.
pub(super) fn index_entry(member: Vec<u8>, value: &[u8]) -> Result<IndexEntry, Error> {
    let bad = Error::UnexpectedReply {
        to: "an index listing",
        expected: "entries of the form \"expires created last_seen[ agent]\"",
    };
    let member = String::from_utf8(member).map_err(|_| bad.clone())?;
    let text = std::str::from_utf8(value).map_err(|_| bad.clone())?;
    let mut parts = text.splitn(4, ' ');
    let mut time = || -> Result<u64, Error> {
        let part = parts.next().ok_or_else(|| bad.clone())?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad.clone());
        }
        part.parse().map_err(|_| bad.clone())
    };
    let (expires, created, last_seen) = (time()?, time()?, time()?);
    let agent = parts.next().filter(|a| !a.is_empty()).map(str::to_owned);
    Ok(IndexEntry {
        member,
        expires,
        created,
        last_seen,
        agent,
    })
}
