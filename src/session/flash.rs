//! Flash messages: per-queue lists kept in the session until popped.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A message of any type, as a self-describing value tree (so a format that
/// is not self-describing, such as bincode, cannot hold mixed queues).
type Raw = serde_json::Value;

use super::{Error, Session};
use crate::store::{self, Append, Appended};

/// The session key of a flash queue, as in Pyramid: `_f_` + the queue name.
pub(crate) fn queue_key(queue: &str) -> String {
    format!("_f_{queue}")
}

impl Session {
    /// Appends `msg` (any serde value: `&str`, a struct, ...) to the flash
    /// queue `queue` (`""` is the default queue). With `allow_duplicate`
    /// false, a message already in the queue (compared by its encoding) is
    /// not added again.
    ///
    /// With `allow_duplicate` true, on Redis and the memory store with the
    /// built-in codecs, the message is appended in the store itself, in one
    /// atomic step and one round trip, weighed there against
    /// `max_session_bytes`: concurrent flashes to one queue all land. Like
    /// [`incr`](Self::incr), such an append is applied at once (a handler
    /// that fails afterwards keeps it), and falls back to a change saved
    /// with the response where `incr` does (a new session, a queue changed
    /// in this request, another codec, compat mode).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), the queue is not a list (500), or the
    /// session would grow beyond `max_session_bytes` (413).
    ///
    /// ```
    /// # async fn f(session: redis_sessions::Session) -> Result<(), redis_sessions::session::Error> {
    /// session.flash("Saved.", "", true).await?;
    /// let messages: Vec<String> = session.pop_flash("").await?;
    /// assert_eq!(messages, ["Saved."]);
    /// # Ok(()) }
    /// ```
    pub async fn flash<T>(&self, msg: T, queue: &str, allow_duplicate: bool) -> Result<(), Error>
    where
        T: Serialize,
    {
        let key = queue_key(queue);
        let encoded = self.encode(&msg)?;
        if allow_duplicate && self.flash_in_store(&key, &encoded).await? {
            return Ok(());
        }
        self.with_state(|state, this| {
            // Messages are kept as values of any type: compare encodings.
            let mut messages: Vec<Raw> = this.value(state, &key)?.unwrap_or_default();
            let mut encoded_messages = Vec::with_capacity(messages.len());
            for message in &messages {
                encoded_messages.push(this.encode(message)?);
            }
            if !allow_duplicate && encoded_messages.contains(&encoded) {
                return Ok(());
            }
            messages.push(this.decode(&encoded)?);
            let bytes = this.encode(&messages)?;
            this.set_checked(state, key, bytes)
        })
        .await
    }

    /// Appends the message in the store itself, in one atomic step, when the
    /// session and its store allow (see [`Session::incr`] for when): then
    /// concurrent flashes to one queue all land. Returns whether it did.
    async fn flash_in_store(&self, key: &str, encoded: &[u8]) -> Result<bool, Error> {
        let Some((store_key, format)) = self.in_place_target(key, false) else {
            return Ok(false);
        };
        // As the queue's own encoding writes the message.
        let element = self.encode(&self.decode::<Raw>(encoded)?)?;
        let policy = self.policy();
        let op = Append {
            key: store_key,
            entry: key.as_bytes().to_vec(),
            element,
            format,
            guard: policy.guard(),
            max_bytes: self.context().max_session_bytes,
        };
        match self.store()?.append(&op).await {
            Ok(Some(Appended::Stored { value, times })) => {
                let due = policy.refresh_due(times.refreshed, times.timeout);
                self.applied_in_place(&op.key, key, value, due).await;
                Ok(true)
            }
            Ok(Some(Appended::TooLarge)) => Err(Error::TooLarge {
                limit: self.context().max_session_bytes,
            }),
            // Not a session hash: the load deletes it as corrupt.
            Ok(None) | Err(store::Error::WrongType) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Returns the messages in queue `queue` without removing them.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the messages are not `T`s (500).
    pub async fn peek_flash<T: DeserializeOwned>(&self, queue: &str) -> Result<Vec<T>, Error> {
        Ok(self.get(&queue_key(queue)).await?.unwrap_or_default())
    }

    /// Removes and returns the messages in queue `queue`.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the messages are not `T`s (500).
    pub async fn pop_flash<T: DeserializeOwned>(&self, queue: &str) -> Result<Vec<T>, Error> {
        Ok(self.pop(&queue_key(queue)).await?.unwrap_or_default())
    }
}
