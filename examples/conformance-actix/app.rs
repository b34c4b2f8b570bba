//! The conformance app's routes on actix-web: exactly the routes, answers
//! and settings of `examples/conformance` (`docs/conformance.md` is the
//! contract for both).

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use redis_sessions::{RedisSessionFactory, Session, session};

use crate::common::{self, Events, param};

type Params = web::Query<common::Query>;
type Answer = Result<HttpResponse, AppError>;

/// The app: every route behind `factory`'s session middleware, with the
/// event counts of `events` (made once per process by
/// [`common::count_events`], shared by the workers: each calls this with
/// clones).
pub fn app(
    factory: RedisSessionFactory,
    events: Events,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(events))
        .route("/plain", web::get().to(|| async { text("ok") }))
        .route("/incr", web::get().to(incr))
        .route("/read", web::get().to(read))
        .route("/get", web::get().to(get_key))
        .route("/set", web::get().to(set))
        .route("/delete", web::get().to(delete))
        .route("/keys", web::get().to(keys))
        .route("/clear", web::get().to(clear))
        .route("/invalidate", web::get().to(invalidate))
        .route("/invalidate_then_set", web::get().to(invalidate_then_set))
        .route("/flash", web::get().to(flash))
        .route("/peek_flash", web::get().to(peek_flash))
        .route("/pop_flash", web::get().to(pop_flash))
        .route("/csrf", web::get().to(csrf))
        .route("/new_csrf", web::get().to(new_csrf))
        .route("/timeout", web::get().to(timeout))
        .route("/regenerate", web::get().to(regenerate))
        .route("/info", web::get().to(info))
        .route("/fail", web::get().to(fail))
        .route("/slow_set", web::get().to(slow_set))
        .route("/invalidate_then_fail", web::get().to(invalidate_then_fail))
        .route("/login", web::get().to(login))
        .route("/whoami", web::get().to(whoami))
        .route("/my_sessions", web::get().to(my_sessions))
        .route("/revoke", web::get().to(revoke))
        .route("/revoke_others", web::get().to(revoke_others))
        .route("/logout", web::get().to(invalidate))
        .route("/events", web::get().to(events_route))
        .route("/metrics", web::get().to(metrics_route))
        .wrap(factory.middleware())
}

/// A session error (503, 413 or 500) or a bad query (400).
#[derive(Debug)]
pub enum AppError {
    Session(session::Error),
    BadRequest(String),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Session(e) => e.fmt(f),
            Self::BadRequest(msg) => f.write_str(msg),
        }
    }
}

impl From<session::Error> for AppError {
    fn from(e: session::Error) -> Self {
        Self::Session(e)
    }
}

impl From<String> for AppError {
    fn from(message: String) -> Self {
        Self::BadRequest(message)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Session(e) => e.status_code(),
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Session(e) => e.error_response(),
            Self::BadRequest(msg) => status_text(StatusCode::BAD_REQUEST, msg.clone()),
        }
    }
}

fn status_text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}

fn text(body: impl Into<String>) -> HttpResponse {
    status_text(StatusCode::OK, body)
}

fn ok(body: impl Into<String>) -> Answer {
    Ok(text(body))
}

fn json(value: &impl serde::Serialize) -> Answer {
    ok(common::json(value)?)
}

fn failed_on_purpose() -> Answer {
    Ok(status_text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "failed on purpose",
    ))
}

async fn incr(session: Session) -> Answer {
    ok(session.incr("counter", 1).await?.to_string())
}

async fn read(session: Session) -> Answer {
    let n = session.get::<i64>("counter").await?.unwrap_or(0);
    ok(n.to_string())
}

async fn get_key(session: Session, q: Params) -> Answer {
    let value: Option<serde_json::Value> = session.get(param(&q, "key")?).await?;
    json(&value)
}

async fn set(session: Session, q: Params) -> Answer {
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    ok("ok")
}

async fn delete(session: Session, q: Params) -> Answer {
    session.remove(param(&q, "key")?).await?;
    ok("ok")
}

async fn keys(session: Session) -> Answer {
    json(&session.keys().await?)
}

async fn clear(session: Session) -> Answer {
    session.clear().await?;
    ok("ok")
}

async fn invalidate(session: Session) -> Answer {
    session.invalidate();
    ok("ok")
}

async fn invalidate_then_set(session: Session, q: Params) -> Answer {
    session.invalidate();
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    ok("ok")
}

async fn flash(session: Session, q: Params) -> Answer {
    let allow_duplicate = common::allow_duplicate(&q)?;
    let msg = param(&q, "msg")?.to_owned();
    session
        .flash(msg, common::queue(&q), allow_duplicate)
        .await?;
    ok("ok")
}

async fn peek_flash(session: Session, q: Params) -> Answer {
    json(&session.peek_flash::<String>(common::queue(&q)).await?)
}

async fn pop_flash(session: Session, q: Params) -> Answer {
    json(&session.pop_flash::<String>(common::queue(&q)).await?)
}

async fn csrf(session: Session) -> Answer {
    ok(session.get_csrf_token().await?)
}

async fn new_csrf(session: Session) -> Answer {
    ok(session.new_csrf_token().await?)
}

async fn timeout(session: Session, q: Params) -> Answer {
    let seconds = common::number(&q, "seconds", "whole seconds, e.g. 60")?;
    session.adjust_timeout_for_session(seconds).await?;
    ok("ok")
}

async fn regenerate(session: Session) -> Answer {
    session.regenerate().await?;
    ok("ok")
}

async fn info(session: Session) -> Answer {
    json(&common::info_json(
        session.is_new().await?,
        session.created().await?,
        session.timeout().await?,
    ))
}

async fn fail(session: Session, q: Params) -> Answer {
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    failed_on_purpose()
}

async fn slow_set(session: Session, q: Params) -> Answer {
    let ms = common::number(&q, "ms", "whole milliseconds, e.g. 200")?;
    session.keys().await?;
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    ok("ok")
}

async fn invalidate_then_fail(session: Session) -> Answer {
    session.invalidate();
    failed_on_purpose()
}

async fn login(session: Session, q: Params, request: HttpRequest) -> Answer {
    session.set_user(param(&q, "user")?).await?;
    let agent = request.headers().get(header::USER_AGENT);
    if let Some(agent) = agent.and_then(|v| v.to_str().ok()) {
        session.set_agent(agent).await?;
    }
    ok("ok")
}

async fn whoami(session: Session) -> Answer {
    ok(session.user().await?.unwrap_or_default())
}

async fn my_sessions(session: Session) -> Answer {
    json(&common::sessions_json(session.user_sessions().await?))
}

async fn revoke(session: Session, q: Params) -> Answer {
    if session.revoke(param(&q, "tag")?).await? {
        ok("ok")
    } else {
        Ok(status_text(
            StatusCode::NOT_FOUND,
            "no such session of yours",
        ))
    }
}

async fn revoke_others(session: Session) -> Answer {
    ok(session.revoke_others().await?.to_string())
}

/// The library's metrics, in Prometheus text.
async fn metrics_route() -> HttpResponse {
    match common::metrics() {
        Some(handle) => HttpResponse::Ok()
            .content_type(common::METRICS_CONTENT_TYPE)
            .body(handle.render()),
        None => status_text(StatusCode::NOT_FOUND, common::METRICS_ELSEWHERE),
    }
}

async fn events_route(events: web::Data<Events>) -> Answer {
    ok(common::events_json(&events)?)
}
