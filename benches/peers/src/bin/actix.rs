//! actix-web + actix-session's RedisSessionStore serving /plain, /read, /incr.

#[path = "../common.rs"]
mod common;

use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware, config::PersistentSession};
use actix_web::cookie::Key;
use actix_web::{App, HttpResponse, HttpServer, web};

async fn plain() -> &'static str {
    "ok"
}

async fn read(session: Session) -> HttpResponse {
    let n: i64 = session.get("counter").ok().flatten().unwrap_or(0);
    HttpResponse::Ok().body(n.to_string())
}

async fn incr(session: Session) -> HttpResponse {
    let n: i64 = session.get("counter").ok().flatten().unwrap_or(0) + 1;
    match session.insert("counter", n) {
        Ok(()) => HttpResponse::Ok().body(n.to_string()),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let store = RedisSessionStore::new(common::redis_url())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let key = Key::from(&[7u8; 64]);
    HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), key.clone())
            .cookie_secure(false)
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(actix_web::cookie::time::Duration::seconds(common::TIMEOUT)),
            )
            .build();
        App::new()
            .wrap(sessions)
            .route("/plain", web::get().to(plain))
            .route("/read", web::get().to(read))
            .route("/incr", web::get().to(incr))
    })
    .bind(("127.0.0.1", common::port()))?
    .run()
    .await
}
