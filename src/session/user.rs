//! Sessions of a user: bind a session to the application's user id, list
//! that user's live sessions, revoke one, all, or all but the current one
//! (the [`Session`] methods), and the same for any user from admin code
//! ([`Users`]). The index behind them is in `index.rs`.

use super::Error;
use super::context::Context;
use super::index::{self, UserSession};
use super::lifecycle::Session;
use super::state::now;
use crate::store::SessionStore;

impl Session {
    /// Binds this session to `user` (the application's principal id) and
    /// moves it to a new id, keeping its data: call it at login, where
    /// session fixation is stopped. The session then appears in
    /// [`Session::user_sessions`] of every session of that user.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the OS random source failed (500).
    ///
    /// ```
    /// # async fn f(session: redis_sessions::Session) -> Result<(), redis_sessions::session::Error> {
    /// session.set_user("alice").await?;
    /// assert_eq!(session.user().await?.as_deref(), Some("alice"));
    /// # Ok(()) }
    /// ```
    pub async fn set_user(&self, user: impl Into<String>) -> Result<(), Error> {
        let user = user.into();
        self.regenerate().await?;
        self.loaded().await?.bind_user(user, now());
        Ok(())
    }

    /// The user this session is bound to, if any.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn user(&self) -> Result<Option<String>, Error> {
        Ok(self.loaded().await?.user.clone())
    }

    /// Records the user agent (or any short device description) shown in
    /// [`Session::user_sessions`]. Written only when it changes.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn set_agent(&self, agent: impl Into<String>) -> Result<(), Error> {
        let agent: String = agent.into().chars().take(256).collect();
        self.loaded().await?.record_agent(agent);
        Ok(())
    }

    /// The live sessions of this session's user (empty when it has none),
    /// newest activity first, the current one marked.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn user_sessions(&self) -> Result<Vec<UserSession>, Error> {
        let (user, current) = self.user_and_key().await?;
        let Some(user) = user else {
            return Ok(Vec::new());
        };
        let store = self.store()?;
        let list = index::list(self.context(), store, &user, current.as_deref()).await?;
        Ok(list.into_iter().map(|(_, session)| session).collect())
    }

    /// Revokes the session of this session's user whose tag is `tag`; returns
    /// whether one was found. Revoking the current session invalidates it.
    /// Another session is deleted at once: its next request finds no session.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn revoke(&self, tag: &str) -> Result<bool, Error> {
        let (user, current) = self.user_and_key().await?;
        let Some(user) = user else {
            return Ok(false);
        };
        let store = self.store()?;
        let sessions = index::list(self.context(), store, &user, current.as_deref()).await?;
        let Some((key, session)) = sessions.into_iter().find(|(_, s)| s.tag == tag) else {
            return Ok(false);
        };
        if session.current {
            self.invalidate();
        } else {
            index::revoke_keys(self.context(), store, &user, vec![key]).await?;
        }
        Ok(true)
    }

    /// Revokes every other session of this session's user (after a password
    /// change, say); returns how many.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn revoke_others(&self) -> Result<usize, Error> {
        let (user, current) = self.user_and_key().await?;
        let Some(user) = user else {
            return Ok(0);
        };
        index::revoke_until_gone(self.context(), self.store()?, &user, current.as_deref()).await
    }

    async fn user_and_key(&self) -> Result<(Option<String>, Option<String>), Error> {
        let state = self.loaded().await?;
        Ok((state.user.clone(), state.key().map(str::to_owned)))
    }
}

/// The sessions of any user, for admin tasks and background jobs: made by
/// [`RedisSessionFactory::users`](crate::RedisSessionFactory::users).
///
/// ```
/// # async fn f(factory: redis_sessions::RedisSessionFactory) -> Result<(), redis_sessions::session::Error> {
/// let users = factory.users()?;
/// for session in users.list("alice").await? {
///     println!("{} last seen {:?}", session.tag, session.last_seen);
/// }
/// users.revoke_all("alice").await?; // after a password reset
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Users {
    context: std::sync::Arc<Context>,
    store: std::sync::Arc<dyn SessionStore>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Users {
    pub(crate) fn new(
        context: std::sync::Arc<Context>,
        store: std::sync::Arc<dyn SessionStore>,
    ) -> Self {
        Self { context, store }
    }

    /// The live sessions of `user`, newest activity first (none is current).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn list(&self, user: &str) -> Result<Vec<UserSession>, Error> {
        let list = index::list(&self.context, &*self.store, user, None).await?;
        Ok(list.into_iter().map(|(_, session)| session).collect())
    }

    /// Revokes the session of `user` tagged `tag`; returns whether one was found.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn revoke(&self, user: &str, tag: &str) -> Result<bool, Error> {
        let list = index::list(&self.context, &*self.store, user, None).await?;
        let keys: Vec<String> = list
            .into_iter()
            .filter(|(_, s)| s.tag == tag)
            .map(|(key, _)| key)
            .collect();
        Ok(index::revoke_keys(&self.context, &*self.store, user, keys).await? > 0)
    }

    /// Revokes every session of `user`; returns how many.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn revoke_all(&self, user: &str) -> Result<usize, Error> {
        index::revoke_until_gone(&self.context, &*self.store, user, None).await
    }
}
