//! Sessions outside the layer: made by
//! [`RedisSessionFactory::new_session`](crate::RedisSessionFactory::new_session)
//! and saved by [`Session::save`], for unit tests of handlers and for
//! background jobs.

use std::sync::Arc;

use http::HeaderValue;

use super::Error;
use super::lifecycle::{Outcome, Session, StoreSlot};

impl crate::factory::RedisSessionFactory {
    /// A session outside the layer, as a request carrying `cookie` (the
    /// value of a `Cookie` header, e.g. `session=…`) would see it: for unit
    /// tests of handlers and for background jobs. Save it with
    /// [`Session::save`].
    ///
    /// ```
    /// use redis_sessions::{RedisSessionFactory, Session};
    ///
    /// async fn visit(session: Session) -> Result<u64, redis_sessions::session::Error> {
    ///     let n = session.get_or("visits", 0u64).await? + 1;
    ///     session.insert("visits", n).await?;
    ///     Ok(n)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
    ///     .url(Some("memory://".into()))
    ///     .build()?;
    /// let first = factory.new_session(None);
    /// assert_eq!(visit(first.clone()).await?, 1);
    /// let set_cookie = first.save().await?.expect("a new session sets its cookie");
    /// let cookie = set_cookie.split(';').next().unwrap();
    ///
    /// let second = factory.new_session(Some(cookie));
    /// assert_eq!(visit(second).await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn new_session(&self, cookie: Option<&str>) -> Session {
        let cookies = (
            cookie.and_then(|c| HeaderValue::from_str(c).ok()),
            Vec::new(),
        );
        let store = StoreSlot::for_request(&self.context, || http::Request::new(()).into_parts().0);
        Session::new(Arc::clone(&self.context), store, cookies)
    }
}

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
            Outcome::Commit(plan) => self.commit(plan, false).await?,
        };
        Ok(headers
            .set_cookie
            .and_then(|value| value.to_str().ok().map(str::to_owned)))
    }
}
