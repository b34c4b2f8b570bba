//! Fast, safe server-side sessions in Redis for tower and axum apps: a Rust
//! successor to Python's `pyramid_redis_sessions`.
//!
//! Add [`RedisSessionFactory::layer`] to an app and take [`Session`] in
//! handlers. A session is one Redis hash keyed by a digest of its id; a
//! request that never touches its session costs no Redis command, reading one
//! costs one round trip, and saving changes one more, written per key so that
//! concurrent requests do not undo each other.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use redis_sessions::{RedisSessionFactory, Session};
//!
//! async fn counter(session: Session) -> Result<String, redis_sessions::session::Error> {
//!     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
//!     session.insert("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = RedisSessionFactory::builder(std::env::var("SESSION_SECRET")?)
//!     .url(Some("redis://127.0.0.1:6379/0".into()))
//!     .build()?;
//! let app = Router::new().route("/", get(counter)).layer(factory.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! - `axum` (default): the [`Session`] extractor and `IntoResponse` for errors.
//! - `memory-store` (default): [`MemoryStore`], selected by `url = memory://`.
//! - `plugins` (default): dotted names and includes resolved by loading plugin
//!   libraries (see [`plugin`]).
//! - `bincode`: the [`codec::Bincode`] codec (bincode is unmaintained).
//! - `full`: all of the above.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, unreachable_pub, unsafe_code)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod codec;
// Used by the factory once `compat` / `legacy_secret` are wired in.
#[allow(dead_code, unused_imports)]
mod compat;
pub mod config;
pub mod cookie;
mod factory;
pub mod http;
pub mod id;
#[cfg(feature = "plugins")]
#[cfg_attr(docsrs, doc(cfg(feature = "plugins")))]
pub mod plugin;
pub mod session;
pub mod store;

pub use config::{Configurator, Settings, session_factory_from_settings};
pub use cookie::SameSite;
pub use factory::{
    Builder, CacheControl, ClientCallable, Compat, DEFAULT_MAX_SESSION_BYTES, MAX_SESSION_BYTES,
    MEMORY_URL, RedisSessionFactory, UrlValue,
};
#[cfg(feature = "axum")]
pub use http::{MissingSessionLayer, SessionRejection};
pub use http::{SessionLayer, SessionService};
pub use session::Session;
#[cfg(feature = "memory-store")]
pub use store::MemoryStore;
pub use store::{RedisClient, RedisOptions, RedisStore, SessionStore};

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
