//! The conformance app on actix-web: the routes, environment variables,
//! `SETTINGS` keys and answers of `examples/conformance`, served by
//! actix-web through [`redis_sessions::SessionMiddleware`].
//!
//! ```text
//! PORT=8080 REDIS_URL=redis://127.0.0.1:6379/0 cargo run --example conformance-actix
//! REDIS_URL=memory:// cargo run --example conformance-actix
//! ```
//!
//! See `docs/conformance.md` for the contract.

mod app;
#[path = "../conformance/common.rs"]
mod common;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Store failures, refused sessions and weak settings are logged here.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    let (port, factory) = match common::port().and_then(|port| Ok((port, common::factory()?))) {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("conformance-actix: {e}");
            return ExitCode::FAILURE;
        }
    };
    let events = common::count_events(&factory);
    let served = actix_web::rt::System::new().block_on(async move {
        let server = actix_web::HttpServer::new(move || app::app(factory.clone(), events.clone()))
            .bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        println!("conformance app (actix-web) listening on http://127.0.0.1:{port}");
        server.run().await.map_err(|e| e.to_string())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance-actix: {e}");
            ExitCode::FAILURE
        }
    }
}
