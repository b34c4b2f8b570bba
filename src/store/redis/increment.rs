//! In-place changes: increments
//! ([`SessionStore::increment`](crate::store::SessionStore::increment),
//! `lua/incr.lua`) and appends
//! ([`SessionStore::append`](crate::store::SessionStore::append),
//! `lua/append.lua`): one cached script each, that checks the session and
//! changes the stored value, in one round trip.

use redis::Value;

use super::protocol::RedisStore;
use super::scripts::{Lua, lua};
use crate::store::layout::stored_name;
use crate::store::{Append, Appended, Error, Guard, Increment, Incremented, MAX_TIMEOUT, Times};

static INCR: Lua = lua!("lua/in_place.lua", "lua/incr.lua");
static APPEND: Lua = lua!("lua/in_place.lua", "lua/append.lua");

impl RedisStore {
    /// Runs `op` as the script; `Ok(None)` when the script declined it.
    pub(super) async fn increment_field(
        &self,
        op: &Increment,
    ) -> Result<Option<Incremented>, Error> {
        // Lua's numbers count exactly below 2^53 only.
        if op.by.unsigned_abs() >= 1 << 53 {
            return Ok(None);
        }
        let by = op.by.to_string();
        let (after, max) = guard_args(&op.guard);
        let field = stored_name(&op.entry);
        let args: [&[u8]; 5] = [
            &field,
            by.as_bytes(),
            op.format.letter().as_bytes(),
            after.as_bytes(),
            max.as_bytes(),
        ];
        let unexpected = Error::UnexpectedReply {
            to: "an in-place increment",
            expected: "\"sum refreshed timeout\" or 0",
        };
        match self.script(&INCR, &op.key, &args).await? {
            Value::Int(0) => Ok(None),
            Value::BulkString(reply) => read_sum(&reply).map(Some).ok_or(unexpected),
            _ => Err(unexpected),
        }
    }

    /// Runs `op` as the append script; `Ok(None)` when the script declined it.
    pub(super) async fn append_field(&self, op: &Append) -> Result<Option<Appended>, Error> {
        let (after, max) = guard_args(&op.guard);
        let bytes = op.max_bytes.to_string();
        let field = stored_name(&op.entry);
        let args: [&[u8]; 6] = [
            &field,
            &op.element,
            op.format.letter().as_bytes(),
            after.as_bytes(),
            max.as_bytes(),
            bytes.as_bytes(),
        ];
        let unexpected = Error::UnexpectedReply {
            to: "an in-place append",
            expected: "the new value and the session's times, or 0, or -1",
        };
        match self.script(&APPEND, &op.key, &args).await? {
            Value::Int(0) => Ok(None),
            Value::Int(-1) => Ok(Some(Appended::TooLarge)),
            Value::Array(reply) => match <[Value; 3]>::try_from(reply) {
                Ok([Value::BulkString(value), refreshed, timeout]) => {
                    let times = times(&refreshed, &timeout).ok_or(unexpected)?;
                    Ok(Some(Appended::Stored { value, times }))
                }
                _ => Err(unexpected),
            },
            _ => Err(unexpected),
        }
    }
}

/// The guard as the scripts take it (see `lua/in_place.lua`): the creation
/// time at or before which a session is past its lifetime (-1: none is),
/// and the largest own timeout accepted.
fn guard_args(guard: &Guard) -> (String, String) {
    let after = guard
        .created_after
        .map_or_else(|| "-1".to_owned(), |after| after.to_string());
    (after, MAX_TIMEOUT.to_string())
}

/// The reply of `incr.lua`: `sum refreshed timeout`, decimal (timeout -1:
/// none).
fn read_sum(reply: &[u8]) -> Option<Incremented> {
    let mut parts = std::str::from_utf8(reply).ok()?.split(' ');
    let sum = parts.next()?.parse().ok()?;
    let refreshed = Value::Int(parts.next()?.parse().ok()?);
    let timeout = Value::Int(parts.next()?.parse().ok()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Incremented::new(sum, times(&refreshed, &timeout)?))
}

/// The session's times as the scripts return them: the last refresh, and
/// the own timeout (-1: none).
fn times(refreshed: &Value, timeout: &Value) -> Option<Times> {
    let (Value::Int(refreshed), Value::Int(timeout)) = (refreshed, timeout) else {
        return None;
    };
    let refreshed = u64::try_from(*refreshed).ok()?;
    let timeout = match *timeout {
        -1 => None,
        own => Some(u64::try_from(own).ok()?),
    };
    Some(Times::new(refreshed, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_replies_read_back_and_refuse_anything_else() {
        assert_eq!(
            read_sum(b"-5 1700000000 -1"),
            Some(Incremented::new(-5, Times::new(1_700_000_000, None)))
        );
        assert_eq!(
            read_sum(b"7 0 60"),
            Some(Incremented::new(7, Times::new(0, Some(60))))
        );
        for bad in [
            &b""[..],
            b"7",
            b"7 0",
            b"7 0 60 1",
            b"x 0 60",
            b"7 -1 60",
            b"7 0 -2",
            b"7  0 60",
            b"\xff 0 0",
        ] {
            assert_eq!(read_sum(bad), None, "{bad:?}");
        }
    }
}
