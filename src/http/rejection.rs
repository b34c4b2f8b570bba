use http::StatusCode;

/// Why the [`Session`](crate::Session) extractor rejected a request.
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

/// The session layer is missing: add `.layer(factory.layer())` to the axum
/// or tower router, or `.wrap(factory.middleware())` to the actix-web `App`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "no session for this request: add `.layer(factory.layer())` (redis_sessions::SessionLayer) to the router, or `.wrap(factory.middleware())` (redis_sessions::SessionMiddleware) to the actix-web App, in front of this handler"
)]
pub struct MissingSessionLayer;
