//! The request lifecycle: [`SessionLayer`] gives each request a lazy
//! [`Session`](crate::Session) and, once the handler has answered, saves it
//! and sets, refreshes or deletes the cookie; the axum extractor hands the
//! session to handlers.
//!
//! # What happens to the response
//!
//! | the handler… | store work | headers added |
//! |---|---|---|
//! | never used the session | none | none |
//! | read an existing session | the load (1 round trip) | `Vary: Cookie` (+ `Set-Cookie` with `cookie_max_age`) |
//! | changed it | load + 1 round trip | `Vary: Cookie` (+ `Set-Cookie` for a new id) |
//! | emptied or invalidated it | load + `DEL` | `Vary: Cookie`, a deletion cookie |
//! | answered 5xx, `cookie_on_exception = false` | the load only | none |
//!
//! If saving fails, the response is replaced by an empty 503 (store
//! unavailable) or 500, without `Set-Cookie`.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original writes to Redis on every mutation and sets the cookie from a
//! response callback; here all writes of a request go out together, once.
//!
//! ```
//! use axum::{Router, routing::get};
//! use redis_sessions::{RedisSessionFactory, Session};
//!
//! let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
//!     .url(Some("memory://".into()))
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/", get(|session: Session| async move {
//!         session.insert("seen", true).await.map(|_| "hello")
//!     }))
//!     .layer(factory.layer());
//! # Ok::<(), redis_sessions::config::Error>(())
//! ```

#[cfg(feature = "axum")]
mod axum;
mod layer;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum::{MissingSessionLayer, SessionRejection};
pub use layer::{ResponseFuture, SessionLayer, SessionService};
