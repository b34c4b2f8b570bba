//! The Redis store: [`RedisClient`] (settings and connections) and
//! [`RedisStore`] (the write protocol over it).

mod client;
mod increment;
mod protocol;
mod replies;
mod scripts;

pub(crate) use client::redact_url;
pub use client::{DEFAULT_SOCKET_TIMEOUT, MAX_CONNECTION_POOL, RedisClient, RedisOptions};
pub use protocol::RedisStore;
