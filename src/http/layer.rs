use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::{SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::RedisSessionFactory;
use crate::factory::{Context as Shared, StoreSelector};
use crate::session::{self, Finish, Finishing, Session};

/// Adds a lazy [`Session`] to every request and saves it when the response
/// goes out. Made by [`RedisSessionFactory::layer`].
///
/// Cloning the layer copies one pointer.
#[derive(Clone, Debug)]
pub struct SessionLayer {
    factory: RedisSessionFactory,
}

impl SessionLayer {
    /// A layer for `factory`.
    pub fn new(factory: RedisSessionFactory) -> Self {
        Self { factory }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: Arc::clone(&self.factory.context),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> SessionService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        // Header values share the request's buffer: cloning them copies no
        // bytes. They are parsed and verified only if the session is used.
        let mut values = req.headers().get_all(http::header::COOKIE).iter();
        let cookies = (values.next().cloned(), values.cloned().collect());
        let store = match &shared.store {
            StoreSelector::Fixed(store) => Ok(Arc::clone(store)),
            StoreSelector::PerRequest(_) => {
                let (parts, body) = req.into_parts();
                let store = shared.store_for(&parts);
                req = Request::from_parts(parts, body);
                store
            }
        };
        let session = Session::new(Arc::clone(shared), store, cookies);
        req.extensions_mut().insert(session.clone());
        // The service that was driven to readiness must be the one called;
        // leave a fresh clone in its place. See
        // https://github.com/tower-rs/tower/issues/547.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // One span per request; it costs nothing unless a subscriber enables
        // debug for this target. It never records ids or values.
        let span = tracing::debug_span!(target: "redis_sessions::http", "session");
        ResponseFuture {
            span,
            state: State::Inner {
                future: inner.call(req),
                session: Some(session),
            },
        }
    }
}

type FinishFuture = Pin<Box<dyn Future<Output = Result<Finish, session::Error>> + Send>>;

pin_project! {
    /// The response future of [`SessionService`].
    pub struct ResponseFuture<F, B> {
        span: tracing::Span,
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner {
            #[pin]
            future: F,
            session: Option<Session>,
        },
        Finishing {
            future: FinishFuture,
            response: Option<Response<B>>,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            match this.state.as_mut().project() {
                StateProj::Inner { future, session } => {
                    let response = ready!(future.poll(cx))?;
                    let Some(session) = session.take().filter(Session::was_used) else {
                        // The handler never touched the session: no store
                        // access, no cookie, no header.
                        return Poll::Ready(Ok(response));
                    };
                    let server_error = response.status().is_server_error();
                    let plan = match session.begin_finish(server_error) {
                        Finishing::Done(finish) => {
                            let mut response = response;
                            apply(&mut response, finish);
                            return Poll::Ready(Ok(response));
                        }
                        Finishing::Commit(plan) => plan,
                    };
                    let future: FinishFuture = Box::pin(async move { session.commit(plan).await });
                    this.state.set(State::Finishing {
                        future,
                        response: Some(response),
                    });
                }
                StateProj::Finishing { future, response } => {
                    let result = ready!(future.as_mut().poll(cx));
                    #[allow(clippy::expect_used)]
                    let mut response = response
                        .take()
                        .expect("the response is kept until the finishing future completes once");
                    match result {
                        Ok(finish) => apply(&mut response, finish),
                        Err(e) => {
                            tracing::error!(target: "redis_sessions::http", error = %e, "saving the session failed: answering {} without a cookie", e.status());
                            response = Response::new(B::default());
                            *response.status_mut() = e.status();
                        }
                    }
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

fn apply<B>(response: &mut Response<B>, finish: Finish) {
    let headers = response.headers_mut();
    if let Some(cookie) = finish.set_cookie {
        headers.append(SET_COOKIE, cookie);
    }
    let varies = headers.get_all(VARY).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("cookie"))
        })
    });
    if finish.vary && !varies {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}
