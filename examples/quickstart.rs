//! The quick-start demo: a visit counter and a flash-message form, with a CSRF
//! token, on http://127.0.0.1:6543.
//!
//! ```text
//! cargo run --example quickstart                                   # embedded store
//! REDIS_URL=redis://127.0.0.1:6379/0 cargo run --example quickstart # Redis
//! SETTINGS=my.ini cargo run --example quickstart                    # another INI
//! ```
//!
//! Settings come from `settings.ini` at the repository root (or `SETTINGS`);
//! `REDIS_URL` and `SESSION_SECRET`, when set, override them. Naming a plugin
//! there (an encrypting codec, say) needs no code change.

use std::process::ExitCode;

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use redis_sessions::{Configurator, RedisSessionFactory, Session, session};

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

/// Reads the INI at `path`, lets `REDIS_URL` and `SESSION_SECRET` override
/// it, and builds the factory through the Configurator.
fn load(path: &str) -> Result<RedisSessionFactory, redis_sessions::config::Error> {
    let mut config = Configurator::from_ini(path)?;
    for (var, key) in [
        ("REDIS_URL", "redis.sessions.url"),
        ("SESSION_SECRET", "redis.sessions.secret"),
    ] {
        if let Ok(value) = std::env::var(var) {
            config.settings_mut().insert(key, value);
        }
    }
    config.include("redis_sessions")?;
    let registry = config.commit()?;
    Ok(registry
        .session_factory()
        .cloned()
        .expect("include(\"redis_sessions\") stores the factory"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> ExitCode {
    let path = std::env::var("SETTINGS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/settings.ini").to_owned());
    let factory = match load(&path) {
        Ok(factory) => factory,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = factory.ping().await {
        eprintln!("quickstart: {}: {e}", factory.store_description());
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
    println!(
        "quick start on http://127.0.0.1:6543 (settings {path}; sessions in {})",
        factory.store_description()
    );
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("quickstart: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
