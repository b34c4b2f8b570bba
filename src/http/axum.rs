use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::{MissingSessionLayer, SessionRejection};
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
                super::log_rejection(&rejection, Some(parts.uri.path()));
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

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

/// [`session::Error::status`] (503 when the store is unavailable, 413 for a
/// session too large, ...) with the generic [`session::Error::body_text`],
/// e.g. `503 session store unavailable`; the detail goes to the log (target
/// `redis_sessions::http`), never to the client.
impl IntoResponse for session::Error {
    fn into_response(self) -> Response {
        let status = self.status();
        super::log_error_response(&self);
        (status, self.body_text()).into_response()
    }
}
