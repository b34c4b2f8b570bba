//! Sessions outside the layer: made by
//! [`RedisSessionFactory::new_session`](crate::RedisSessionFactory::new_session)
//! and saved by [`Session::save`], for unit tests of handlers and for
//! background jobs.

use super::Error;
use super::lifecycle::{Outcome, Session};

impl Session {
    /// Saves a session made with
    /// [`RedisSessionFactory::new_session`](crate::RedisSessionFactory::new_session)
    /// as the layer would at the end of a request, and returns the
    /// `Set-Cookie` header value the response would carry, if any. A session
    /// handed out by the layer is saved by the layer: do not call this on it.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503) or refuses the writes.
    pub async fn save(&self) -> Result<Option<String>, Error> {
        let headers = match self.begin_finish(false) {
            Outcome::Ready(headers) => headers,
            Outcome::Commit(plan) => self.commit(*plan, false).await?,
        };
        Ok(headers
            .set_cookie
            .and_then(|value| value.to_str().ok().map(str::to_owned)))
    }
}
