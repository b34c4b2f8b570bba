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
mod common;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Store failures, refused sessions and weak settings are logged here.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    let (port, factory) = match common::port().and_then(|port| Ok((port, common::factory()?))) {
        Ok(ready) => ready,
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
