//! tower-sessions + tower-sessions-redis-store serving /plain, /read, /incr.

#[path = "../common.rs"]
mod common;

use axum::{Router, routing::get};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::{RedisStore, fred::prelude::*};

async fn read(session: Session) -> String {
    let n: i64 = session.get("counter").await.unwrap_or(None).unwrap_or(0);
    n.to_string()
}

async fn incr(session: Session) -> Result<String, axum::http::StatusCode> {
    let n: i64 = session.get("counter").await.unwrap_or(None).unwrap_or(0) + 1;
    session
        .insert("counter", n)
        .await
        .map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(n.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_url(&common::redis_url())?;
    let pool = Pool::new(config, None, None, None, 2)?;
    pool.init().await?;
    let layer = SessionManagerLayer::new(RedisStore::new(pool))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(common::TIMEOUT)));
    let app = Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route("/read", get(read))
        .route("/incr", get(incr))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", common::port())).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
