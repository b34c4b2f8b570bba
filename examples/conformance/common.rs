//! What both conformance apps (axum and actix-web) share: the settings, the
//! metrics recorder, the event counts, and the checks and answers of the
//! routes that do not depend on the framework. `docs/conformance.md` is the
//! contract for both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use redis_sessions::session::UserSession;
use redis_sessions::{Configurator, RedisSessionFactory, Settings};

/// Used when `SESSION_SECRET` is not set. Never use it in production.
const DEV_SECRET: &str = "conformance-development-secret-do-not-use-in-production";

/// The `Content-Type` of `/metrics`.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The answer of `/metrics` when another recorder was installed first.
pub const METRICS_ELSEWHERE: &str = "another metrics recorder is installed";

/// The query of a request: every parameter by name.
pub type Query = HashMap<String, String>;

/// Session events counted by reason since start (`/events`).
pub type Events = Arc<Mutex<BTreeMap<&'static str, u64>>>;

/// The value of environment variable `name`, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The port from `PORT`, or what is wrong with it.
pub fn port() -> Result<u16, String> {
    let port = env_or("PORT", "8080");
    port.parse()
        .map_err(|_| format!("PORT = {port:?}: expected a port number, e.g. 8080"))
}

/// The settings: `SETTINGS` or the contract's defaults, then the contract's
/// environment variables; the factory built from them through the
/// Configurator.
pub fn factory() -> Result<RedisSessionFactory, String> {
    let mut settings = match std::env::var("SETTINGS") {
        Ok(path) => Settings::from_ini(&path).map_err(|e| e.to_string())?,
        Err(_) => {
            if std::env::var_os("SESSION_SECRET").is_none() {
                eprintln!(
                    "conformance: WARNING: SESSION_SECRET is not set: signing cookies with a \
                     public development secret. Anyone can forge sessions. Never use this in \
                     production; set SESSION_SECRET (e.g. `openssl rand -base64 48`)."
                );
            }
            Settings::new()
                .with("redis.sessions.secret", DEV_SECRET)
                .with("redis.sessions.url", "redis://127.0.0.1:6379/0")
        }
    };
    for (var, key) in [
        ("REDIS_URL", "redis.sessions.url"),
        ("SESSION_SECRET", "redis.sessions.secret"),
        ("SESSION_TIMEOUT", "redis.sessions.timeout"),
        ("COOKIE_ON_EXCEPTION", "redis.sessions.cookie_on_exception"),
    ] {
        if let Ok(value) = std::env::var(var) {
            settings.insert(key, value);
        }
    }
    let mut config = Configurator::new(settings);
    config
        .include("redis_sessions")
        .map_err(|e| e.to_string())?;
    let registry = config.commit().map_err(|e| e.to_string())?;
    registry
        .session_factory()
        .cloned()
        .ok_or_else(|| "the session factory was not built".into())
}

/// This process's Prometheus recorder, installed by the first app (the
/// library's metrics go to it from then on).
pub fn metrics() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// Counts `factory`'s session events by reason, for `/events`.
pub fn count_events(factory: &RedisSessionFactory) -> Events {
    metrics();
    let events = Events::default();
    let counts = Arc::clone(&events);
    factory.on_event(move |event| {
        let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(event.reason.as_str()).or_default() += 1;
    });
    events
}

/// The answer of `/events`.
pub fn events_json(events: &Events) -> Result<String, String> {
    let counts = events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    json(&counts)
}

/// JSON text of `value`.
pub fn json(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

/// The query parameter `name`, or the 400's message.
pub fn param<'a>(query: &'a Query, name: &str) -> Result<&'a str, String> {
    query
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| format!("missing query parameter `{name}`"))
}

/// The whole number in parameter `name`, or the 400's message.
pub fn number(query: &Query, name: &str, example: &str) -> Result<u64, String> {
    let value = param(query, name)?;
    value
        .parse()
        .map_err(|_| format!("{name} = {value:?}: expected {example}"))
}

/// `/flash`'s `allow_duplicate` (default true), or the 400's message.
pub fn allow_duplicate(query: &Query) -> Result<bool, String> {
    match query.get("allow_duplicate").map(String::as_str) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "allow_duplicate = {other:?}: expected true or false"
        )),
    }
}

/// `/flash`'s queue: `queue`, or the default queue.
pub fn queue(query: &Query) -> &str {
    query.get("queue").map_or("", String::as_str)
}

/// Seconds since the Unix epoch.
pub fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The answer of `/info`.
pub fn info_json(new: bool, created: SystemTime, timeout: u64) -> serde_json::Value {
    serde_json::json!({ "new": new, "created": unix(created), "timeout": timeout })
}

/// The answer of `/my_sessions`.
pub fn sessions_json(sessions: Vec<UserSession>) -> Vec<serde_json::Value> {
    sessions
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
        .collect()
}
