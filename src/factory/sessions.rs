//! What a factory hands out besides the layer: sessions outside a request
//! (for tests of handlers and background jobs), the sessions of any user
//! (for admin tasks), and the hooks called with session events.

use std::sync::Arc;

use http::HeaderValue;

use super::RedisSessionFactory;
use crate::session::context::StoreSelector;
use crate::session::{self, Session, StoreSlot, Users};

impl RedisSessionFactory {
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

    /// The sessions of any user, for admin tasks: list and revoke them.
    ///
    /// # Errors
    ///
    /// [`session::Error::Store`] when the factory has no single store (it uses a
    /// `client_callable`, which picks one per request).
    pub fn users(&self) -> Result<Users, session::Error> {
        match &self.context.store {
            StoreSelector::Fixed(store) => {
                Ok(Users::new(Arc::clone(&self.context), Arc::clone(store)))
            }
            StoreSelector::PerRequest(_) => Err(session::Error::Store(crate::store::Error::Config(
                "this factory picks a store per request (client_callable): there is no single store to list users in".into(),
            ))),
        }
    }

    /// Adds a hook called with every session [`Event`](crate::session::Event) of this factory (and
    /// its clones); hooks added earlier are kept and called first.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use redis_sessions::{RedisSessionFactory, session::Reason};
    ///
    /// static BAD: AtomicU64 = AtomicU64::new(0);
    /// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
    ///     .url(Some("memory://".into()))
    ///     .build()?;
    /// factory.on_event(|event| {
    ///     if event.reason == Reason::BadSignature {
    ///         BAD.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// });
    /// # Ok::<(), redis_sessions::config::Error>(())
    /// ```
    pub fn on_event(&self, hook: impl Fn(&session::Event) + Send + Sync + 'static) -> &Self {
        self.context.events.add(Arc::new(hook));
        self
    }
}
