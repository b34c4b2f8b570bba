//! tower-sessions 0.15 serving /plain, /read, /incr, with a Redis store.
//!
//! The newest tower-sessions-redis-store (0.16) implements tower-sessions-core
//! 0.14, not the 0.15 that tower-sessions 0.15 needs, so this file carries a
//! store with the same protocol and client: fred, one MessagePack `Record` per
//! session under the session id, `SET … EXAT <expiry> NX` to create, `… XX` to
//! save, `GET` to load, `DEL` to delete.

#[path = "../common.rs"]
mod common;

use async_trait::async_trait;
use axum::{Router, routing::get};
use fred::prelude::*;
use fred::types::{Expiration, SetOptions};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

#[derive(Debug, Clone)]
struct RedisStore {
    pool: Pool,
}

impl RedisStore {
    async fn set(&self, record: &Record, options: SetOptions) -> session_store::Result<bool> {
        let bytes = rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expire = Expiration::EXAT(record.expiry_date.unix_timestamp());
        self.pool
            .set(record.id.to_string(), bytes.as_slice(), Some(expire), Some(options), false)
            .await
            .map_err(|e| session_store::Error::Backend(e.to_string()))
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.set(record, SetOptions::NX).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.set(record, SetOptions::XX).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> = self
            .pool
            .get(id.to_string())
            .await
            .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        data.map(|d| rmp_serde::from_slice(&d).map_err(|e| session_store::Error::Decode(e.to_string())))
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _: i64 = self
            .pool
            .del(id.to_string())
            .await
            .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        Ok(())
    }
}

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
    let layer = SessionManagerLayer::new(RedisStore { pool })
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
