//! The quick-start demo: a visit counter and a flash-message form, with a CSRF
//! token, on http://127.0.0.1:6543.
//!
//! ```text
//! cargo run --example quickstart                                   # embedded store
//! REDIS_URL=redis://127.0.0.1:6379/0 cargo run --example quickstart # Redis
//! ```

use std::process::ExitCode;

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use redis_sessions::{RedisSessionFactory, Session, session};

const DEV_SECRET: &str = "quickstart-development-secret-do-not-use-in-production";

async fn home(session: Session) -> Result<Html<String>, session::Error> {
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    let messages: Vec<String> = session.pop_flash("").await?;
    let token = session.get_csrf_token().await?;
    let flashes: String = messages
        .iter()
        .map(|m| format!("<li>{}</li>", escape(m)))
        .collect();
    Ok(Html(format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>redis-sessions quick start</title></head>
<body>
<h1>redis-sessions quick start</h1>
<p>You have visited this page <strong>{visits}</strong> time{plural} in this session.</p>
<ul>{flashes}</ul>
<form method="post" action="/flash">
  <input type="hidden" name="csrf_token" value="{token}">
  <input name="message" placeholder="a flash message" required>
  <button>Flash it</button>
</form>
<form method="post" action="/logout">
  <input type="hidden" name="csrf_token" value="{token}">
  <button>End the session</button>
</form>
</body></html>"#,
        plural = if visits == 1 { "" } else { "s" },
    )))
}

#[derive(serde::Deserialize)]
struct FlashForm {
    csrf_token: String,
    #[serde(default)]
    message: String,
}

async fn flash(session: Session, Form(form): Form<FlashForm>) -> Result<Response, session::Error> {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return Ok((StatusCode::FORBIDDEN, "bad CSRF token").into_response());
    }
    session.flash(form.message, "", true).await?;
    Ok(Redirect::to("/").into_response())
}

async fn logout(session: Session, Form(form): Form<FlashForm>) -> Result<Response, session::Error> {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return Ok((StatusCode::FORBIDDEN, "bad CSRF token").into_response());
    }
    session.invalidate();
    Ok(Redirect::to("/").into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "memory://".into());
    let secret = std::env::var("SESSION_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let factory = match RedisSessionFactory::builder(secret)
        .url(Some(url.clone()))
        .build()
    {
        Ok(factory) => factory,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = factory.ping().await {
        eprintln!("quickstart: {e} (is Redis running? unset REDIS_URL to use the embedded store)");
        return ExitCode::FAILURE;
    }
    let app = Router::new()
        .route("/", get(home))
        .route("/flash", post(flash))
        .route("/logout", post(logout))
        .layer(factory.layer());
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:6543").await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("quickstart: cannot listen on 127.0.0.1:6543: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = if url == redis_sessions::MEMORY_URL {
        "the embedded store"
    } else {
        "Redis"
    };
    println!("quick start on http://127.0.0.1:6543 (sessions in {store})");
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("quickstart: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
