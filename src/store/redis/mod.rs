//! The Redis store: [`RedisClient`] (settings and connections) and
//! [`RedisStore`] (the write protocol over it).

mod client;
mod increment;
mod protocol;
mod replies;
mod scripts;
mod tracking;

pub(crate) use client::redact_url;
pub use client::{DEFAULT_SOCKET_TIMEOUT, MAX_CONNECTION_POOL, RedisClient, RedisOptions};
pub use protocol::RedisStore;
pub(crate) use tracking::starter as tracker;
