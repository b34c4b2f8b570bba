//! Flash messages: per-queue lists kept in the session until popped.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A message of any type, as a self-describing value tree (so a format that
/// is not self-describing, such as bincode, cannot hold mixed queues).
type Raw = serde_json::Value;

use super::{Error, Session};

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
        self.with_state(|state, this| {
            // Messages are kept as values of any type: compare encodings.
            let mut messages: Vec<Raw> = match state.entries.get(&key) {
                Some(bytes) => this.decode(bytes)?,
                None => Vec::new(),
            };
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
