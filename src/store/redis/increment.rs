//! In-place changes: increments
//! ([`SessionStore::increment`](crate::store::SessionStore::increment),
//! `lua/incr.lua`) and appends
//! ([`SessionStore::append`](crate::store::SessionStore::append),
//! `lua/append.lua`): one cached script each, that checks the session and
//! changes the stored value, in one round trip.

use redis::Value;

use super::protocol::RedisStore;
use super::scripts::{Lua, lua};
use crate::store::{Append, Appended, Error, Increment, Incremented, MAX_TIMEOUT, REFRESH_DIVISOR};

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
        let (by, now, timeout, lifetime, divisor, max) = (
            op.by.to_string(),
            op.now.to_string(),
            op.default_timeout.to_string(),
            op.max_lifetime.unwrap_or(0).to_string(),
            REFRESH_DIVISOR.to_string(),
            MAX_TIMEOUT.to_string(),
        );
        let args: [&[u8]; 8] = [
            &op.field,
            by.as_bytes(),
            op.format.letter().as_bytes(),
            now.as_bytes(),
            timeout.as_bytes(),
            divisor.as_bytes(),
            lifetime.as_bytes(),
            max.as_bytes(),
        ];
        let unexpected = Error::UnexpectedReply {
            to: "an in-place increment",
            expected: "a decimal sum (then \" due\") or 0",
        };
        match self.script(&INCR, &op.key, &args).await? {
            Value::Int(0) => Ok(None),
            Value::BulkString(reply) => {
                let text = std::str::from_utf8(&reply).map_err(|_| unexpected.clone())?;
                let (sum, refresh_due) = match text.strip_suffix(" due") {
                    Some(sum) => (sum, true),
                    None => (text, false),
                };
                let sum = sum.parse().map_err(|_| unexpected)?;
                Ok(Some(Incremented::new(sum, refresh_due)))
            }
            _ => Err(unexpected),
        }
    }

    /// Runs `op` as the append script; `Ok(None)` when the script declined it.
    pub(super) async fn append_field(&self, op: &Append) -> Result<Option<Appended>, Error> {
        let (now, timeout, lifetime, divisor, max, bytes) = (
            op.now.to_string(),
            op.default_timeout.to_string(),
            op.max_lifetime.unwrap_or(0).to_string(),
            REFRESH_DIVISOR.to_string(),
            MAX_TIMEOUT.to_string(),
            op.max_bytes.to_string(),
        );
        let args: [&[u8]; 9] = [
            &op.field,
            &op.element,
            op.format.letter().as_bytes(),
            now.as_bytes(),
            timeout.as_bytes(),
            divisor.as_bytes(),
            lifetime.as_bytes(),
            max.as_bytes(),
            bytes.as_bytes(),
        ];
        let unexpected = Error::UnexpectedReply {
            to: "an in-place append",
            expected: "the new value and 0 or 1, or 0, or -1",
        };
        match self.script(&APPEND, &op.key, &args).await? {
            Value::Int(0) => Ok(None),
            Value::Int(-1) => Ok(Some(Appended::TooLarge)),
            Value::Array(reply) => match <[Value; 2]>::try_from(reply) {
                Ok([Value::BulkString(value), Value::Int(due)]) => Ok(Some(Appended::Stored {
                    value,
                    refresh_due: due == 1,
                })),
                _ => Err(unexpected),
            },
            _ => Err(unexpected),
        }
    }
}
