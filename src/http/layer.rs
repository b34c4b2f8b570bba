use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::{CACHE_CONTROL, VARY};
use http::{HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::factory::RedisSessionFactory;
use crate::session::context::Context as FactoryContext;
use crate::session::{self, Outcome, ResponseHeaders, Session, StoreSlot};

/// Adds a lazy [`Session`] to every request and saves it when the response
/// goes out. Made by [`RedisSessionFactory::layer`].
///
/// Cloning the layer clones the factory (a few reference counts).
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
            context: Arc::clone(&self.factory.context),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    context: Arc<FactoryContext>,
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
    ResBody: From<&'static str>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let context = &self.context;
        // Header values share the request's buffer: cloning them copies no
        // bytes. They are parsed and verified only if the session is used.
        let mut values = req.headers().get_all(http::header::COOKIE).iter();
        let cookies = (values.next().cloned(), values.cloned().collect());
        let store = StoreSlot::for_request(context, || {
            let (mut head, ()) = http::Request::builder()
                .method(req.method().clone())
                .uri(req.uri().clone())
                .version(req.version())
                .body(())
                .unwrap_or_default()
                .into_parts();
            head.headers = req.headers().clone();
            head
        });
        let session = Session::new(Arc::clone(context), store, cookies);
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

type CommitFuture = Pin<Box<dyn Future<Output = Result<ResponseHeaders, session::Error>> + Send>>;

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
        Committing {
            future: CommitFuture,
            response: Option<Response<B>>,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<&'static str>,
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
                        Outcome::Ready(headers) => {
                            let mut response = response;
                            apply(&mut response, headers);
                            return Poll::Ready(Ok(response));
                        }
                        Outcome::Commit(plan) => plan,
                    };
                    let future: CommitFuture =
                        Box::pin(async move { session.commit(*plan, server_error).await });
                    this.state.set(State::Committing {
                        future,
                        response: Some(response),
                    });
                }
                StateProj::Committing { future, response } => {
                    let result = ready!(future.as_mut().poll(cx));
                    #[allow(clippy::expect_used)]
                    let mut response = response
                        .take()
                        .expect("the response is kept until the commit future completes once");
                    match result {
                        Ok(headers) => apply(&mut response, headers),
                        Err(e) => {
                            super::log_save_failed(&e);
                            response = Response::new(B::from(e.body_text()));
                            *response.status_mut() = e.status();
                            response.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                HeaderValue::from_static("text/plain; charset=utf-8"),
                            );
                        }
                    }
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

fn apply<B>(response: &mut Response<B>, changes: ResponseHeaders) {
    let headers = response.headers_mut();
    let additions = changes.additions(
        || headers.contains_key(CACHE_CONTROL),
        || super::varies_on_cookie(headers.get_all(VARY).iter().map(HeaderValue::as_bytes)),
    );
    for (name, value) in additions.into_iter().flatten() {
        headers.append(HeaderName::from_static(name), value);
    }
}
