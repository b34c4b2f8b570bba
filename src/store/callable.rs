//! [`ClientCallable`]: a Redis client picked per request (the manual's
//! `client_callable`). It lives with the store, below everything that
//! resolves one by name (the plugin host, the settings) or uses one (the
//! factory, the session).

use super::{Error, RedisClient, RedisOptions};

/// Returns the Redis client to use for one request (the manual's
/// `client_callable`).
///
/// It receives the request's head and the configured [`RedisOptions`], so it
/// can pick a server per request (by `Host`, tenant, …). It is called once
/// for every request that passes the layer, so it should hand out clients it
/// keeps (a [`RedisClient`] is a cheap clone) rather than open new ones.
///
/// ```
/// use std::sync::OnceLock;
/// use redis_sessions::{RedisClient, RedisOptions, RedisSessionFactory};
///
/// static SHARED: OnceLock<RedisClient> = OnceLock::new();
///
/// fn get_redis_client(
///     _request: &http::request::Parts,
///     options: &RedisOptions,
/// ) -> Result<RedisClient, redis_sessions::store::Error> {
///     if let Some(client) = SHARED.get() {
///         return Ok(client.clone());
///     }
///     let client = RedisClient::open(options)?;
///     Ok(SHARED.get_or_init(|| client).clone())
/// }
///
/// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
///     .client_callable(get_redis_client)
///     .build()?;
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
pub trait ClientCallable: Send + Sync + 'static {
    /// Returns the client for this request.
    ///
    /// # Errors
    ///
    /// A [`Error`](super::Error); the session access then fails with it (a 503 when
    /// [`super::Error::is_unavailable`]).
    fn client(
        &self,
        request: &http::request::Parts,
        options: &RedisOptions,
    ) -> Result<RedisClient, Error>;
}

impl<F> ClientCallable for F
where
    F: Fn(&http::request::Parts, &RedisOptions) -> Result<RedisClient, Error>
        + Send
        + Sync
        + 'static,
{
    fn client(
        &self,
        request: &http::request::Parts,
        options: &RedisOptions,
    ) -> Result<RedisClient, Error> {
        self(request, options)
    }
}
