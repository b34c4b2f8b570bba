//! Flash messages: per-queue lists kept in the session until popped.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, Session};

/// The session key of a flash queue, as in Pyramid: `_f_` + the queue name.
pub(crate) fn queue_key(queue: &str) -> String {
    format!("_f_{queue}")
}

impl Session {
    /// Appends `msg` to the flash queue `queue` (`""` is the default queue).
    /// With `allow_duplicate` false, a message already in the queue is not
    /// added again.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the queue holds messages of another
    /// type (500).
    ///
    /// ```
    /// # async fn f(session: redis_sessions::Session) -> Result<(), redis_sessions::session::Error> {
    /// session.flash("Saved.".to_string(), "", true).await?;
    /// let messages: Vec<String> = session.pop_flash("").await?;
    /// assert_eq!(messages, ["Saved."]);
    /// # Ok(()) }
    /// ```
    pub async fn flash<T>(&self, msg: T, queue: &str, allow_duplicate: bool) -> Result<(), Error>
    where
        T: Serialize + DeserializeOwned + PartialEq,
    {
        let key = queue_key(queue);
        self.with_state(|state, this| {
            let mut messages: Vec<T> = match state.entries.get(&key) {
                Some(bytes) => this.decode(bytes)?,
                None => Vec::new(),
            };
            if !allow_duplicate && messages.contains(&msg) {
                return Ok(());
            }
            messages.push(msg);
            let bytes = this.encode(&messages)?;
            state.set(key, bytes);
            Ok(())
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
