//! The conformance app: every session feature behind a fixed set of GET
//! routes, for tests, benchmarks and other tools to drive.
//!
//! ```text
//! PORT=8080 REDIS_URL=redis://127.0.0.1:6379/0 cargo run --example conformance
//! REDIS_URL=memory:// cargo run --example conformance
//! ```
//!
//! Environment: `PORT` (default 8080, bound on 127.0.0.1), `REDIS_URL`
//! (default `redis://127.0.0.1:6379/0`; `memory://` is the embedded store;
//! `rediss://`, `redis+sentinel://` and `redis+cluster://` work too),
//! `SESSION_SECRET` (a built-in development default, announced on stderr),
//! `SESSION_TIMEOUT` (default 1200), `COOKIE_ON_EXCEPTION` (default true).
//!
//! `SETTINGS=path.ini` reads the `[app:main]` section of an INI file first
//! (see `settings.ini`); the variables above, when set, override it.

mod app;

use std::process::ExitCode;

use redis_sessions::{Configurator, RedisSessionFactory, Settings};

/// Used when `SESSION_SECRET` is not set. Never use it in production.
const DEV_SECRET: &str = "conformance-development-secret-do-not-use-in-production";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The settings: `SETTINGS` or the contract's defaults, then the contract's
/// environment variables.
fn factory() -> Result<RedisSessionFactory, String> {
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

#[tokio::main]
async fn main() -> ExitCode {
    // Store failures, refused sessions and weak settings are logged here.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    let port = env_or("PORT", "8080");
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("conformance: PORT = {port:?}: expected a port number, e.g. 8080");
        return ExitCode::FAILURE;
    };
    let factory = match factory() {
        Ok(factory) => factory,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("conformance: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("conformance app listening on http://127.0.0.1:{port}");
    if let Err(e) = axum::serve(listener, app::router(&factory)).await {
        eprintln!("conformance: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
