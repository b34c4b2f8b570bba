//! What every contestant shares: the port and Redis URL from the
//! environment, as in the conformance app.

pub fn port() -> u16 {
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080)
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// The idle timeout every contestant uses, in seconds.
pub const TIMEOUT: i64 = 1200;
