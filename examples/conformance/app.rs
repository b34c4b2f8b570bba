//! The conformance app's routes: a fixed contract that tests, benchmarks and
//! other tools drive. Every route is GET and answers `text/plain` (JSON text
//! where noted).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header::USER_AGENT};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use redis_sessions::{RedisSessionFactory, Session, session};

type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, AppError>;

/// Session events counted by reason since start (`/events`).
type Events = Arc<Mutex<BTreeMap<&'static str, u64>>>;

/// This process's Prometheus recorder, installed by the first router (the
/// library's metrics go to it from then on).
fn metrics() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// The app's routes behind `factory`'s session layer.
pub fn router(factory: &RedisSessionFactory) -> Router {
    metrics();
    let events = Events::default();
    let counts = Arc::clone(&events);
    factory.on_event(move |event| {
        let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(event.reason.as_str()).or_default() += 1;
    });
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

/// A session error (503 or 500) or a bad query (400).
pub enum AppError {
    Session(session::Error),
    BadRequest(String),
}

impl From<session::Error> for AppError {
    fn from(e: session::Error) -> Self {
        Self::Session(e)
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

fn param<'a>(params: &'a Params, name: &str) -> Result<&'a str, AppError> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| AppError::BadRequest(format!("missing query parameter `{name}`")))
}

fn text(body: impl Into<String>) -> Answer {
    Ok(body.into().into_response())
}

fn json(value: &impl serde::Serialize) -> Answer {
    match serde_json::to_string(value) {
        Ok(body) => text(body),
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}

async fn incr(session: Session) -> Answer {
    text(session.incr("counter", 1).await?.to_string())
}

async fn read(session: Session) -> Answer {
    let n = session.get::<i64>("counter").await?.unwrap_or(0);
    text(n.to_string())
}

async fn get_key(session: Session, params: Params) -> Answer {
    let value: Option<serde_json::Value> = session.get(param(&params, "key")?).await?;
    json(&value)
}

async fn set(session: Session, params: Params) -> Answer {
    session
        .insert(param(&params, "key")?, param(&params, "value")?)
        .await?;
    text("ok")
}

async fn delete(session: Session, params: Params) -> Answer {
    session.remove(param(&params, "key")?).await?;
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

async fn invalidate_then_set(session: Session, params: Params) -> Answer {
    session.invalidate();
    session
        .insert(param(&params, "key")?, param(&params, "value")?)
        .await?;
    text("ok")
}

fn queue(params: &Params) -> &str {
    params.get("queue").map_or("", String::as_str)
}

async fn flash(session: Session, params: Params) -> Answer {
    let allow_duplicate = match params.get("allow_duplicate").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "allow_duplicate = {other:?}: expected true or false"
            )));
        }
    };
    let msg = param(&params, "msg")?.to_owned();
    session.flash(msg, queue(&params), allow_duplicate).await?;
    text("ok")
}

async fn peek_flash(session: Session, params: Params) -> Answer {
    json(&session.peek_flash::<String>(queue(&params)).await?)
}

async fn pop_flash(session: Session, params: Params) -> Answer {
    json(&session.pop_flash::<String>(queue(&params)).await?)
}

async fn csrf(session: Session) -> Answer {
    text(session.get_csrf_token().await?)
}

async fn new_csrf(session: Session) -> Answer {
    text(session.new_csrf_token().await?)
}

async fn timeout(session: Session, params: Params) -> Answer {
    let seconds = param(&params, "seconds")?;
    let seconds: u64 = seconds.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "seconds = {seconds:?}: expected whole seconds, e.g. 60"
        ))
    })?;
    session.adjust_timeout_for_session(seconds).await?;
    text("ok")
}

async fn regenerate(session: Session) -> Answer {
    session.regenerate().await?;
    text("ok")
}

async fn info(session: Session) -> Answer {
    let created = session
        .created()
        .await?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json(&serde_json::json!({
        "new": session.is_new().await?,
        "created": created,
        "timeout": session.timeout().await?,
    }))
}

async fn fail(session: Session, params: Params) -> Answer {
    session
        .insert(param(&params, "key")?, param(&params, "value")?)
        .await?;
    Ok((StatusCode::INTERNAL_SERVER_ERROR, "failed on purpose").into_response())
}

async fn slow_set(session: Session, params: Params) -> Answer {
    let ms = param(&params, "ms")?;
    let ms: u64 = ms.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "ms = {ms:?}: expected whole milliseconds, e.g. 200"
        ))
    })?;
    session.keys().await?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    session
        .insert(param(&params, "key")?, param(&params, "value")?)
        .await?;
    text("ok")
}

async fn invalidate_then_fail(session: Session) -> Answer {
    session.invalidate();
    Ok((StatusCode::INTERNAL_SERVER_ERROR, "failed on purpose").into_response())
}

async fn login(session: Session, params: Params, headers: HeaderMap) -> Answer {
    session.set_user(param(&params, "user")?).await?;
    if let Some(agent) = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
        session.set_agent(agent).await?;
    }
    text("ok")
}

async fn whoami(session: Session) -> Answer {
    text(session.user().await?.unwrap_or_default())
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn my_sessions(session: Session) -> Answer {
    let sessions: Vec<serde_json::Value> = session
        .user_sessions()
        .await?
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "tag": s.tag,
                "created": unix(s.created),
                "last_seen": unix(s.last_seen),
                "agent": s.agent,
                "current": s.current,
            })
        })
        .collect();
    json(&sessions)
}

async fn revoke(session: Session, params: Params) -> Answer {
    let found = session.revoke(param(&params, "tag")?).await?;
    if found {
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
    match metrics() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "another metrics recorder is installed",
        )
            .into_response(),
    }
}

async fn events_route(State(events): State<Events>) -> Answer {
    let counts = events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    json(&counts)
}
