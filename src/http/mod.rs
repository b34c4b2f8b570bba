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

#[cfg(feature = "actix")]
mod actix;
#[cfg(feature = "axum")]
mod axum;
mod layer;
mod rejection;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub use self::actix::{SessionMiddleware, SessionMiddlewareService};
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use rejection::{MissingSessionLayer, SessionRejection};

use crate::session;

/// True when one of a response's `Vary` values already covers `Cookie`.
fn varies_on_cookie<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> bool {
    values.any(|value| {
        std::str::from_utf8(value).is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("cookie"))
        })
    })
}

/// Saving failed after the handler answered: the response becomes the
/// error's, without a cookie. Said once per interval.
fn log_save_failed(e: &session::Error) {
    if let Some(n) = crate::throttle::SHARED.count("save_failed") {
        tracing::error!(target: "redis_sessions::http", error = %e, occurrences = n, "saving the session failed: answering {} without a cookie", e.status());
    }
}

/// A handler answers with a session error: the detail goes to the log, never
/// to the client.
#[cfg(any(feature = "axum", feature = "actix"))]
fn log_error_response(e: &session::Error) {
    if e.is_unavailable() {
        // An outage fails every request: one line per interval.
        if let Some(n) = crate::throttle::SHARED.count("store_unavailable") {
            tracing::warn!(target: "redis_sessions::http", error = %e, occurrences = n, "session store unavailable");
        }
    } else if e.status().is_server_error() {
        if let Some(n) = crate::throttle::SHARED.count("session_error") {
            tracing::error!(target: "redis_sessions::http", error = %e, occurrences = n, "session error");
        }
    } else {
        tracing::info!(target: "redis_sessions::http", error = %e, "session request refused");
    }
}

/// A set-up mistake: said where the operator looks, once per interval (a
/// busy route would repeat it for every request).
#[cfg(any(feature = "axum", feature = "actix"))]
fn log_rejection(rejection: &SessionRejection, path: Option<&str>) {
    if let Some(n) = crate::throttle::SHARED.count("missing_layer") {
        let path = path.unwrap_or("");
        tracing::error!(target: "redis_sessions::http", status = %rejection.status(), occurrences = n, path, "{rejection}");
    }
}
