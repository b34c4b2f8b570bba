//! A session's values: encoded when set, decoded when a handler reads them
//! (never when the session loads), and what a stored value that is no value
//! of the codec at all does to its session.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;
use super::events::corrupt;
use super::lifecycle::Session;
use super::state::State;
use crate::codec;

impl Session {
    pub(super) fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        Ok(codec::encode(&*self.context().serialize, value)?)
    }

    pub(super) fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        Ok(codec::decode(&*self.context().deserialize, bytes)?)
    }

    /// The value of `key` as a `T`, decoded now. Stored values are checked
    /// when a handler first reads them, not when the session is loaded: one
    /// that is no value of the codec at all (not merely not a `T`) makes the
    /// session corrupt, and it is discarded as a load discards one (see
    /// [`Session::discarded_as_corrupt`]); `key` then reads as absent.
    pub(super) fn value<T: DeserializeOwned>(
        &self,
        state: &mut State,
        key: &str,
    ) -> Result<Option<T>, Error> {
        let Some(bytes) = state.entries.get(key) else {
            return Ok(None);
        };
        match codec::decode(&*self.context().deserialize, bytes) {
            Ok(value) => Ok(Some(value)),
            Err(_) if self.discarded_as_corrupt(state, key) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every value as a `T`, with its key, in key order; empty when one of
    /// them turns out corrupt (see [`Session::value`]).
    pub(super) fn all_values<T: DeserializeOwned>(
        &self,
        state: &mut State,
    ) -> Result<Vec<(String, T)>, Error> {
        let codec = &*self.context().deserialize;
        let mut values = Vec::with_capacity(state.entries.len());
        let mut failed = None;
        for (key, bytes) in state.entries.iter() {
            match codec::decode(codec, bytes) {
                Ok(value) => values.push((key.clone(), value)),
                Err(e) => {
                    failed = Some((key.clone(), e));
                    break;
                }
            }
        }
        match failed {
            None => Ok(values),
            Some((key, _)) if self.discarded_as_corrupt(state, &key) => Ok(Vec::new()),
            Some((_, e)) => Err(e.into()),
        }
    }

    /// When the value of `key`, as read from the store and not changed
    /// since, is not a value of the codec at all: logs it, raises
    /// [`Reason::Corrupt`](super::Reason::Corrupt), and discards the session (deleted and unbound at
    /// commit; the request goes on with a fresh, empty one). A value this
    /// request wrote, or one another codec could not read as a `T`, is not
    /// corrupt.
    pub(super) fn discarded_as_corrupt(&self, state: &mut State, key: &str) -> bool {
        let context = self.context();
        let (Some(store_key), Some(bytes)) = (state.stored_as_read(key), state.entries.get(key))
        else {
            return false;
        };
        if context.deserialize.validate(bytes).is_ok() {
            return false;
        }
        corrupt(
            &context.events,
            store_key,
            "a value does not decode with the configured codec",
        );
        state.discard_corrupt();
        true
    }

    /// Sets `key` in `state`, unless that makes the session larger than
    /// `max_session_bytes`.
    pub(super) fn set_checked(
        &self,
        state: &mut State,
        key: String,
        bytes: Vec<u8>,
    ) -> Result<(), Error> {
        let limit = self.context().max_session_bytes;
        if state.size_with(&key, &bytes) > limit {
            return Err(Error::TooLarge { limit });
        }
        state.set(key, bytes);
        Ok(())
    }
}
