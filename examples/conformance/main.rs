//! The conformance app: every session feature behind a fixed set of GET
//! routes, for tests, benchmarks and other tools to drive.
//!
//! ```text
//! PORT=8080 REDIS_URL=redis://127.0.0.1:6379/0 cargo run --example conformance
//! REDIS_URL=memory:// cargo run --example conformance
//! ```
//!
//! Environment: `PORT` (default 8080, bound on 127.0.0.1), `REDIS_URL`
//! (default `redis://127.0.0.1:6379/0`; `memory://` is the embedded store),
//! `SESSION_SECRET` (a built-in development default), `SESSION_TIMEOUT`
//! (default 1200), `COOKIE_ON_EXCEPTION` (default true).

mod app;

use std::process::ExitCode;

use redis_sessions::RedisSessionFactory;

/// Used when `SESSION_SECRET` is not set. Never use it in production.
const DEV_SECRET: &str = "conformance-development-secret-do-not-use-in-production";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn parse_env<T: std::str::FromStr>(name: &str, default: &str, expected: &str) -> Result<T, String> {
    let value = env_or(name, default);
    value
        .parse()
        .map_err(|_| format!("{name} = {value:?}: expected {expected}"))
}

fn factory() -> Result<RedisSessionFactory, String> {
    let timeout = parse_env("SESSION_TIMEOUT", "1200", "whole seconds, e.g. 1200")?;
    let on_exception = parse_env("COOKIE_ON_EXCEPTION", "true", "true or false")?;
    RedisSessionFactory::builder(env_or("SESSION_SECRET", DEV_SECRET))
        .url(Some(env_or("REDIS_URL", "redis://127.0.0.1:6379/0")))
        .timeout(timeout)
        .cookie_on_exception(on_exception)
        .build()
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let port: u16 = match parse_env("PORT", "8080", "a port number, e.g. 8080") {
        Ok(port) => port,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::FAILURE;
        }
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
