//! The floor: the least Redis work each route can do. An unsigned random
//! cookie names a hash; /read is one pipelined HGET + EXPIRE, /incr one
//! pipelined HINCRBY + EXPIRE. No signing, no codec, no session layer.

#[path = "../common.rs"]
mod common;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use redis::aio::ConnectionManager;

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("sid=").map(str::to_owned))
}

async fn read(axum::extract::State(mut redis): axum::extract::State<ConnectionManager>, headers: HeaderMap) -> Response {
    let Some(id) = session_id(&headers) else { return "0".into_response() };
    let key = format!("floor:{id}");
    let result: Result<(Option<i64>, i64), _> = redis::pipe()
        .cmd("HGET").arg(&key).arg("counter")
        .cmd("EXPIRE").arg(&key).arg(common::TIMEOUT)
        .query_async(&mut redis)
        .await;
    match result {
        Ok((n, _)) => n.unwrap_or(0).to_string().into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn incr(axum::extract::State(mut redis): axum::extract::State<ConnectionManager>, headers: HeaderMap) -> Response {
    let (id, new) = match session_id(&headers) {
        Some(id) => (id, false),
        None => {
            let mut bytes = [0u8; 32];
            if getrandom::fill(&mut bytes).is_err() {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            (base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes), true)
        }
    };
    let key = format!("floor:{id}");
    let result: Result<(i64, i64), _> = redis::pipe()
        .cmd("HINCRBY").arg(&key).arg("counter").arg(1)
        .cmd("EXPIRE").arg(&key).arg(common::TIMEOUT)
        .query_async(&mut redis)
        .await;
    match result {
        Ok((n, _)) => {
            let mut response = n.to_string().into_response();
            if new && let Ok(cookie) = HeaderValue::from_str(&format!("sid={id}; Path=/; HttpOnly")) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis = ConnectionManager::new(redis::Client::open(common::redis_url())?).await?;
    let app = Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route("/read", get(read))
        .route("/incr", get(incr))
        .with_state(redis);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", common::port())).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
