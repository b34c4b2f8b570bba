//! CSRF tokens: one random token per session, compared in constant time.

use subtle::ConstantTimeEq;

use super::{Error, Session};
use crate::id::generate_session_id;

/// The session key of the CSRF token, as in Pyramid.
pub(crate) const CSRF_KEY: &str = "_csrft_";

impl Session {
    /// Makes a new CSRF token (256 random bits), stores it and returns it.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the OS random source failed (500).
    pub async fn new_csrf_token(&self) -> Result<String, Error> {
        let token = generate_session_id()?;
        self.insert(CSRF_KEY, &token).await?;
        Ok(token)
    }

    /// Returns the session's CSRF token, making one if it has none.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the OS random source failed (500).
    pub async fn get_csrf_token(&self) -> Result<String, Error> {
        match self.get::<String>(CSRF_KEY).await? {
            Some(token) => Ok(token),
            None => self.new_csrf_token().await,
        }
    }

    /// Returns whether `supplied` is the session's CSRF token. The comparison
    /// takes the same time wherever the strings differ. A session without a
    /// token matches nothing.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    ///
    /// ```
    /// # async fn f(session: redis_sessions::Session, form_token: &str) -> Result<(), redis_sessions::session::Error> {
    /// if !session.check_csrf_token(form_token).await? {
    ///     // reject the request with 403
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check_csrf_token(&self, supplied: &str) -> Result<bool, Error> {
        Ok(match self.get::<String>(CSRF_KEY).await? {
            Some(token) => bool::from(token.as_bytes().ct_eq(supplied.as_bytes())),
            None => false,
        })
    }
}
