use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::Session;
use crate::session;

/// Takes the request's [`Session`]; rejects with 500 and
/// [`SessionRejection::MissingLayer`] when no [`SessionLayer`](crate::SessionLayer)
/// is in front of the handler. The extractor itself never touches the store:
/// a store outage shows up as a [`session::Error`] (503) from the first method
/// that needs data.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Session>() {
            Some(session) => Ok(session.clone()),
            None => {
                let rejection = SessionRejection::MissingLayer(MissingSessionLayer);
                // A setup mistake: said where the operator looks, once per
                // interval (a busy route would repeat it for every request).
                if let Some(n) = crate::throttle::SHARED.count("missing_layer") {
                    tracing::error!(target: "redis_sessions::http", status = %rejection.status(), occurrences = n, path = %parts.uri.path(), "{rejection}");
                }
                Err(rejection)
            }
        }
    }
}

/// `Option<Session>`: `None` when no layer is installed; never rejects.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}

/// Why the [`Session`] extractor rejected a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No session layer runs in front of the handler.
    #[error(transparent)]
    MissingLayer(#[from] MissingSessionLayer),
}

impl SessionRejection {
    /// The response status: 500 (a set-up mistake).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingLayer(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body.
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

/// The session layer is missing: add `.layer(factory.layer())` to the router.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "no session for this request: add `.layer(factory.layer())` (redis_sessions::SessionLayer) to the router in front of this handler"
)]
pub struct MissingSessionLayer;

/// [`session::Error::status`] (503 when the store is unavailable, 413 for a
/// session too large, ...) with the generic [`session::Error::body_text`],
/// e.g. `503 session store unavailable`; the detail goes to the log (target
/// `redis_sessions::http`), never to the client.
impl IntoResponse for session::Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if self.is_unavailable() {
            // An outage fails every request: one line per interval.
            if let Some(n) = crate::throttle::SHARED.count("store_unavailable") {
                tracing::warn!(target: "redis_sessions::http", error = %self, occurrences = n, "session store unavailable");
            }
        } else if status.is_server_error() {
            if let Some(n) = crate::throttle::SHARED.count("session_error") {
                tracing::error!(target: "redis_sessions::http", error = %self, occurrences = n, "session error");
            }
        } else {
            tracing::info!(target: "redis_sessions::http", error = %self, "session request refused");
        }
        (status, self.body_text()).into_response()
    }
}
