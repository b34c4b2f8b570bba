//! The conformance app's routes on axum: a fixed contract that tests,
//! benchmarks and other tools drive. Every route is GET and answers
//! `text/plain` (JSON text where noted). `examples/conformance-actix` serves
//! the same routes on actix-web.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header::USER_AGENT};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redis_sessions::{RedisSessionFactory, Session, session};

use crate::common::{self, Events, param};

type Params = Query<common::Query>;
type Answer = Result<Response, AppError>;

/// The app's routes behind `factory`'s session layer.
pub fn router(factory: &RedisSessionFactory) -> Router {
    let events = common::count_events(factory);
    Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route("/incr", get(incr))
        .route("/read", get(read))
        .route("/get", get(get_key))
        .route("/set", get(set))
        .route("/delete", get(delete))
        .route("/keys", get(keys))
        .route("/clear", get(clear))
        .route("/invalidate", get(invalidate))
        .route("/invalidate_then_set", get(invalidate_then_set))
        .route("/flash", get(flash))
        .route("/peek_flash", get(peek_flash))
        .route("/pop_flash", get(pop_flash))
        .route("/csrf", get(csrf))
        .route("/new_csrf", get(new_csrf))
        .route("/timeout", get(timeout))
        .route("/regenerate", get(regenerate))
        .route("/info", get(info))
        .route("/fail", get(fail))
        .route("/slow_set", get(slow_set))
        .route("/invalidate_then_fail", get(invalidate_then_fail))
        .route("/login", get(login))
        .route("/whoami", get(whoami))
        .route("/my_sessions", get(my_sessions))
        .route("/revoke", get(revoke))
        .route("/revoke_others", get(revoke_others))
        .route("/logout", get(invalidate))
        .route("/events", get(events_route))
        .route("/metrics", get(metrics_route))
        .with_state(events)
        .layer(factory.layer())
}

/// A session error (503, 413 or 500) or a bad query (400).
pub enum AppError {
    Session(session::Error),
    BadRequest(String),
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

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::Session(e) => e.into_response(),
            Self::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg).into_response(),
        }
    }
}

fn text(body: impl Into<String>) -> Answer {
    Ok(body.into().into_response())
}

fn json(value: &impl serde::Serialize) -> Answer {
    text(common::json(value)?)
}

fn failed_on_purpose() -> Answer {
    Ok((StatusCode::INTERNAL_SERVER_ERROR, "failed on purpose").into_response())
}

async fn incr(session: Session) -> Answer {
    text(session.incr("counter", 1).await?.to_string())
}

async fn read(session: Session) -> Answer {
    let n = session.get::<i64>("counter").await?.unwrap_or(0);
    text(n.to_string())
}

async fn get_key(session: Session, Query(q): Params) -> Answer {
    let value: Option<serde_json::Value> = session.get(param(&q, "key")?).await?;
    json(&value)
}

async fn set(session: Session, Query(q): Params) -> Answer {
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    text("ok")
}

async fn delete(session: Session, Query(q): Params) -> Answer {
    session.remove(param(&q, "key")?).await?;
    text("ok")
}

async fn keys(session: Session) -> Answer {
    json(&session.keys().await?)
}

async fn clear(session: Session) -> Answer {
    session.clear().await?;
    text("ok")
}

async fn invalidate(session: Session) -> Answer {
    session.invalidate();
    text("ok")
}

async fn invalidate_then_set(session: Session, Query(q): Params) -> Answer {
    session.invalidate();
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    text("ok")
}

async fn flash(session: Session, Query(q): Params) -> Answer {
    let allow_duplicate = common::allow_duplicate(&q)?;
    let msg = param(&q, "msg")?.to_owned();
    session
        .flash(msg, common::queue(&q), allow_duplicate)
        .await?;
    text("ok")
}

async fn peek_flash(session: Session, Query(q): Params) -> Answer {
    json(&session.peek_flash::<String>(common::queue(&q)).await?)
}

async fn pop_flash(session: Session, Query(q): Params) -> Answer {
    json(&session.pop_flash::<String>(common::queue(&q)).await?)
}

async fn csrf(session: Session) -> Answer {
    text(session.get_csrf_token().await?)
}

async fn new_csrf(session: Session) -> Answer {
    text(session.new_csrf_token().await?)
}

async fn timeout(session: Session, Query(q): Params) -> Answer {
    let seconds = common::number(&q, "seconds", "whole seconds, e.g. 60")?;
    session.adjust_timeout_for_session(seconds).await?;
    text("ok")
}

async fn regenerate(session: Session) -> Answer {
    session.regenerate().await?;
    text("ok")
}

async fn info(session: Session) -> Answer {
    json(&common::info_json(
        session.is_new().await?,
        session.created().await?,
        session.timeout().await?,
    ))
}

async fn fail(session: Session, Query(q): Params) -> Answer {
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    failed_on_purpose()
}

async fn slow_set(session: Session, Query(q): Params) -> Answer {
    let ms = common::number(&q, "ms", "whole milliseconds, e.g. 200")?;
    session.keys().await?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    session
        .insert(param(&q, "key")?, param(&q, "value")?)
        .await?;
    text("ok")
}

async fn invalidate_then_fail(session: Session) -> Answer {
    session.invalidate();
    failed_on_purpose()
}

async fn login(session: Session, Query(q): Params, headers: HeaderMap) -> Answer {
    session.set_user(param(&q, "user")?).await?;
    if let Some(agent) = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
        session.set_agent(agent).await?;
    }
    text("ok")
}

async fn whoami(session: Session) -> Answer {
    text(session.user().await?.unwrap_or_default())
}

async fn my_sessions(session: Session) -> Answer {
    json(&common::sessions_json(session.user_sessions().await?))
}

async fn revoke(session: Session, Query(q): Params) -> Answer {
    if session.revoke(param(&q, "tag")?).await? {
        text("ok")
    } else {
        Ok((StatusCode::NOT_FOUND, "no such session of yours").into_response())
    }
}

async fn revoke_others(session: Session) -> Answer {
    text(session.revoke_others().await?.to_string())
}

/// The library's metrics, in Prometheus text.
async fn metrics_route() -> Response {
    match common::metrics() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                common::METRICS_CONTENT_TYPE,
            )],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, common::METRICS_ELSEWHERE).into_response(),
    }
}

async fn events_route(State(events): State<Events>) -> Answer {
    text(common::events_json(&events)?)
}
