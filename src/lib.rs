//! Fast, safe server-side sessions in Redis for axum, tower and actix-web apps.
//!
//! Add [`RedisSessionFactory::layer`] to an axum or tower app (or
//! `RedisSessionFactory::middleware` to an actix-web one) and take a
//! [`Session`] in handlers. A session is one Redis hash keyed by a digest of its id. In short:
//!
//! - a request that never touches its session sends no Redis command and
//!   gets no cookie;
//! - the first read is one command; changes are written when the response
//!   goes out, in one round trip, and only the keys that changed, so
//!   concurrent requests that change different keys all keep their changes;
//! - a session can be bound to a user ([`Session::set_user`]), whose sessions
//!   can then be listed and revoked;
//! - one `url` reaches Redis over TCP, a Unix socket or TLS, through
//!   Sentinel or on a Cluster, and the embedded [`MemoryStore`]
//!   (`memory://`) serves development and tests;
//! - in compat mode, sessions are shared with an app that still runs
//!   Python's `pyramid_redis_sessions` (see [`Compat`]).
//!
//! When the store is unavailable a session method fails with a
//! [`session::Error`], which as an axum response is a `503` with a generic
//! body (`503 session store unavailable`); the detail goes to the log
//! through `tracing`.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use redis_sessions::{RedisSessionFactory, Session, session};
//!
//! async fn counter(session: Session) -> Result<String, session::Error> {
//!     let n: u64 = session.get_or("counter", 0).await? + 1;
//!     session.insert("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let factory = RedisSessionFactory::builder(std::env::var("SESSION_SECRET")?)
//!         .url("redis://127.0.0.1:6379/0")
//!         .build()?;
//!     factory.ping().await?;
//!     let app = Router::new().route("/", get(counter)).layer(factory.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Settings can also come from an INI file, read with [`Settings::from_ini`]
//! or [`Configurator::from_ini`]; every `redis.sessions.*` key is described
//! in [`config::settings`]. The [README](https://crates.io/crates/redis-sessions)
//! walks from `cargo new` to a running app, and the [`cookbook`] shows
//! login, flash messages, CSRF, testing handlers, encrypting codecs and more.
//!
//! # Cargo features
//!
//! - `axum` (default): the [`Session`] extractor and `IntoResponse` for errors.
//! - `actix`: actix-web apps: `SessionMiddleware`
//!   (`.wrap(factory.middleware())`), the [`Session`] extractor
//!   (`FromRequest`) and `ResponseError` for errors.
//! - `memory-store` (default): [`MemoryStore`], selected by `url = memory://`.
//! - `plugins` (default): dotted names and includes resolved by loading plugin
//!   libraries (see [`plugin`]).
//! - `tls` (default): `rediss://` URLs, TLS with rustls (and mutual TLS).
//! - `sentinel` (default): `redis+sentinel://` URLs.
//! - `cluster` (default): `redis+cluster://` URLs.
//! - `bincode`: the `codec::Bincode` codec (the bincode crate is
//!   unmaintained, RUSTSEC-2025-0141).
//! - `metrics`: counters and timings through the `metrics` facade (the
//!   README's section for operators lists them).
//! - `compat`: compat and upgrade modes, for sessions shared with Python's
//!   `pyramid_redis_sessions` (see [`Compat`]).
//! - `full`: all of the above.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, unreachable_pub, unsafe_code)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod codec;
#[cfg(feature = "compat")]
mod compat;
pub mod config;
pub mod cookie;
mod factory;
pub mod http;
pub mod id;
mod metrics;
#[cfg(feature = "plugins")]
#[cfg_attr(docsrs, doc(cfg(feature = "plugins")))]
pub mod plugin;
mod problem;
pub mod session;
pub mod store;
mod throttle;

pub use config::{Configurator, Settings, session_factory_from_settings};
pub use cookie::SameSite;
pub use factory::{
    Builder, CacheControl, ClientCallable, Compat, DEFAULT_MAX_SESSION_BYTES, MAX_SESSION_BYTES,
    MEMORY_URL, RedisSessionFactory, UrlValue,
};
pub use http::{MissingSessionLayer, SessionLayer, SessionRejection, SessionService};
#[cfg(feature = "actix")]
pub use http::{SessionMiddleware, SessionMiddlewareService};
pub use session::Session;
#[cfg(feature = "memory-store")]
pub use store::MemoryStore;
pub use store::{RedisClient, RedisOptions, RedisStore, SessionStore};

/// The README's Rust examples, compiled as doc tests so they stay true (in
/// a build with the features they use, as the test command's is).
#[cfg(all(doctest, feature = "actix", feature = "memory-store"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The cookbook (`docs/cookbook.md`): recipes for login, flash messages,
/// CSRF, testing handlers, encrypting codecs and more. Its examples run as
/// doc tests.
#[doc = include_str!("../docs/cookbook.md")]
pub mod cookbook {}
