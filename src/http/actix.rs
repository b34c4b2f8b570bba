//! actix-web: the middleware that gives each request a [`Session`] and saves
//! it when the response goes out, the `Session` extractor, and
//! `ResponseError` for the session's errors. The same sessions, cookies and
//! answers as the tower layer: an axum app and an actix-web app on one store
//! share their sessions.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::{MissingSessionLayer, SessionRejection};
use crate::factory::RedisSessionFactory;
use crate::session::context::Context;
use crate::session::{self, Outcome, ResponseHeaders, Session, StoreSlot};

/// The actix-web middleware that adds a lazy [`Session`] to every request
/// and saves it when the response goes out. Made by
/// [`RedisSessionFactory::middleware`]; what it does to a response is what
/// [`SessionLayer`](crate::SessionLayer) does.
///
/// Cloning it clones the factory (a few reference counts).
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use redis_sessions::{RedisSessionFactory, Session, SessionMiddleware, session};
///
/// async fn login(session: Session) -> Result<HttpResponse, session::Error> {
///     session.set_user("alice").await?;
///     session.flash("Welcome back.", "", true).await?;
///     Ok(HttpResponse::SeeOther()
///         .insert_header(("location", "/"))
///         .finish())
/// }
///
/// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
///     .url(Some("memory://".into()))
///     .build()?;
/// let app = App::new()
///     .route("/login", web::post().to(login))
///     .wrap(SessionMiddleware::new(factory)); // or factory.middleware()
/// # drop(app);
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    factory: RedisSessionFactory,
}

impl SessionMiddleware {
    /// The middleware for `factory`.
    pub fn new(factory: RedisSessionFactory) -> Self {
        Self { factory }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service: Rc::new(service),
            context: Arc::clone(&self.factory.context),
        }))
    }
}

/// The service made by [`SessionMiddleware`].
pub struct SessionMiddlewareService<S> {
    service: Rc<S>,
    context: Arc<Context>,
}

impl<S> std::fmt::Debug for SessionMiddlewareService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // The cookie headers are found and verified only if the session is
        // used; a request that never touches it costs these few copies.
        let mut values = req
            .headers()
            .get_all(header::COOKIE)
            .filter_map(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok());
        let cookies = (values.next(), values.collect());
        let store = StoreSlot::for_request(&self.context, || head(&req));
        let session = Session::new(Arc::clone(&self.context), store, cookies);
        req.extensions_mut().insert(session.clone());
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut response = service.call(req).await?;
            if !session.was_used() {
                // The handler never touched the session: no store access,
                // no cookie, no header.
                return Ok(response.map_into_left_body());
            }
            let server_error = response.status().is_server_error();
            let headers = match session.begin_finish(server_error) {
                Outcome::Ready(headers) => headers,
                Outcome::Commit(plan) => match session.commit(*plan, server_error).await {
                    Ok(headers) => headers,
                    Err(e) => {
                        super::log_save_failed(&e);
                        let (request, _) = response.into_parts();
                        let answer = text(status(&e), e.body_text());
                        return Ok(ServiceResponse::new(request, answer).map_into_right_body());
                    }
                },
            };
            apply(response.headers_mut(), headers);
            Ok(response.map_into_left_body())
        })
    }
}

/// The request's head in `http` 1 types, for a `client_callable`.
fn head(req: &ServiceRequest) -> http::request::Parts {
    let version = match req.version() {
        actix_web::http::Version::HTTP_09 => http::Version::HTTP_09,
        actix_web::http::Version::HTTP_10 => http::Version::HTTP_10,
        actix_web::http::Version::HTTP_2 => http::Version::HTTP_2,
        actix_web::http::Version::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    };
    let (mut head, ()) = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string())
        .version(version)
        .body(())
        .unwrap_or_default()
        .into_parts();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            head.headers.append(name, value);
        }
    }
    head
}

fn apply(headers: &mut header::HeaderMap, changes: ResponseHeaders) {
    let additions = changes.additions(
        || headers.contains_key(header::CACHE_CONTROL),
        || {
            super::varies_on_cookie(
                headers
                    .get_all(header::VARY)
                    .map(header::HeaderValue::as_bytes),
            )
        },
    );
    for (name, value) in additions.into_iter().flatten() {
        if let Ok(value) = header::HeaderValue::from_bytes(value.as_bytes()) {
            headers.append(header::HeaderName::from_static(name), value);
        }
    }
}

/// A `text/plain` answer with `status`.
fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}

fn status(e: &session::Error) -> StatusCode {
    StatusCode::from_u16(e.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Takes the request's [`Session`]; fails with [`SessionRejection`] (a 500)
/// when no [`SessionMiddleware`] wraps the handler. Like the axum
/// extractor, it never touches the store.
impl FromRequest for Session {
    type Error = SessionRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Session>()
                .cloned()
                .ok_or(SessionRejection::MissingLayer(MissingSessionLayer)),
        )
    }
}

/// A 500 that names the missing middleware; logged (once per interval) when
/// it becomes the response, so an `Option<Session>` stays silent.
impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        super::log_rejection(self, None);
        text(self.status_code(), self.body_text())
    }
}

/// [`session::Error::status`] (503 when the store is unavailable, 413 for a
/// session too large, ...) with the generic [`session::Error::body_text`];
/// the detail goes to the log (target `redis_sessions::http`), never to the
/// client. The middleware sends no cookie with it.
impl ResponseError for session::Error {
    fn status_code(&self) -> StatusCode {
        status(self)
    }

    fn error_response(&self) -> HttpResponse {
        super::log_error_response(self);
        text(self.status_code(), self.body_text())
    }
}
