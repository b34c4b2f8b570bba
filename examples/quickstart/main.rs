//! The demo app on http://127.0.0.1:6543: sign in with a name, a visit
//! counter, flash messages, CSRF-checked forms, and “Your sessions”, where
//! each device of the signed-in user is listed and can be signed out. Sign in
//! with the same name from two browsers to see it at work.
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

mod app;

use std::process::ExitCode;

use redis_sessions::{Configurator, RedisSessionFactory};

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

#[tokio::main]
async fn main() -> ExitCode {
    // Failures (a store that stops answering, a tampered cookie) are logged
    // through `tracing`; show them on stderr.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
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
    let app = app::router(&factory);
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:6543").await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("quickstart: cannot listen on 127.0.0.1:6543: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "demo on http://127.0.0.1:6543 (settings {path}; sessions in {})",
        factory.store_description()
    );
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("quickstart: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
