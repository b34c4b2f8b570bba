//! Metrics through the `metrics` facade (cargo feature `metrics`): what an
//! operator graphs. Without the feature every function here is empty. No
//! label ever holds an id, a user id or a secret: labels are fixed words.
//!
//! | metric | type | labels | counts |
//! |---|---|---|---|
//! | `redis_sessions_loads_total` | counter | | sessions read from the store |
//! | `redis_sessions_created_total` | counter | | sessions created in the store |
//! | `redis_sessions_revoked_total` | counter | | sessions revoked (by a user's revocation, or past `max_sessions_per_user`) |
//! | `redis_sessions_store_duration_seconds` | histogram | `op` | time of each store call: `load`, `write`, `increment`, `append`, `index` |
//! | `redis_sessions_store_errors_total` | counter | `kind` | failed store calls: `unreachable`, `timeout`, `out_of_memory`, `not_redis`, `wrong_type`, `reply`, `backend`, `config` |
//! | `redis_sessions_cache_hits_total`, `redis_sessions_cache_misses_total` | counter | | reads served by the process cache, and not |
//! | `redis_sessions_invalid_total` | counter | `reason` | presented sessions not adopted: `bad_signature`, `unknown_id`, `lifetime_expired`, `idle_expired`, `corrupt` |

#[cfg(feature = "metrics")]
use std::time::Duration;

/// The names, for describing them once.
#[cfg(feature = "metrics")]
const DESCRIPTIONS: [(&str, &str); 8] = [
    (
        "redis_sessions_loads_total",
        "Sessions read from the store.",
    ),
    (
        "redis_sessions_created_total",
        "Sessions created in the store.",
    ),
    (
        "redis_sessions_revoked_total",
        "Sessions revoked, by a revocation or past max_sessions_per_user.",
    ),
    (
        "redis_sessions_store_duration_seconds",
        "Time of each store call, by operation.",
    ),
    (
        "redis_sessions_store_errors_total",
        "Failed store calls, by kind.",
    ),
    (
        "redis_sessions_cache_hits_total",
        "Session reads served by the process cache (client_cache_size), without a store command.",
    ),
    (
        "redis_sessions_cache_misses_total",
        "Session reads the process cache (when on) could not serve: sent to the store.",
    ),
    (
        "redis_sessions_invalid_total",
        "Presented sessions not adopted, by reason.",
    ),
];

/// Describes every metric to the installed recorder, and makes the
/// counters appear (at 0) before their first event. Called when a factory
/// is built; cheap to call again.
pub(crate) fn describe() {
    #[cfg(feature = "metrics")]
    for (name, help) in DESCRIPTIONS {
        if name.ends_with("_seconds") {
            ::metrics::describe_histogram!(name, ::metrics::Unit::Seconds, help);
        } else {
            ::metrics::describe_counter!(name, help);
            if !matches!(
                name,
                "redis_sessions_store_errors_total" | "redis_sessions_invalid_total"
            ) {
                ::metrics::counter!(name).increment(0);
            }
        }
    }
}

/// A session was read from the store.
pub(crate) fn loaded() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_loads_total").increment(1);
}

/// A session was served from the process cache, without a store command.
pub(crate) fn cache_hit() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_cache_hits_total").increment(1);
}

/// The process cache is on but could not serve a session read.
pub(crate) fn cache_miss() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_cache_misses_total").increment(1);
}

/// A session was created in the store.
pub(crate) fn created() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_created_total").increment(1);
}

/// `n` sessions were revoked.
pub(crate) fn revoked(n: usize) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_revoked_total").increment(n as u64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// `$metric!($name, $label => value)` where `value` is one of the listed
/// words: each gets a static key, so recording allocates nothing (a label
/// taken from a variable would build its key on every call).
#[cfg(feature = "metrics")]
macro_rules! labelled {
    ($metric:ident, $name:literal, $label:literal, $value:expr, [$($word:literal),* $(,)?]) => {
        match $value {
            $($word => ::metrics::$metric!($name, $label => $word),)*
            other => ::metrics::$metric!($name, $label => other),
        }
    };
}

/// A presented session was not adopted, for `reason` (a fixed word).
pub(crate) fn invalid(reason: &'static str) {
    #[cfg(feature = "metrics")]
    labelled!(
        counter,
        "redis_sessions_invalid_total",
        "reason",
        reason,
        [
            "bad_signature",
            "unknown_id",
            "lifetime_expired",
            "idle_expired",
            "corrupt"
        ]
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// A store call `op` took `took`, and failed with an error of `kind` (a
/// fixed word, e.g. `timeout`) if it failed. Only with the feature: without
/// it, store calls are not timed at all.
#[cfg(feature = "metrics")]
pub(crate) fn store_call(op: &'static str, took: Duration, kind: Option<&'static str>) {
    labelled!(
        histogram,
        "redis_sessions_store_duration_seconds",
        "op",
        op,
        ["load", "write", "increment", "append", "index"]
    )
    .record(took);
    if let Some(kind) = kind {
        labelled!(
            counter,
            "redis_sessions_store_errors_total",
            "kind",
            kind,
            [
                "unreachable",
                "timeout",
                "out_of_memory",
                "not_redis",
                "wrong_type",
                "reply",
                "backend",
                "config",
            ]
        )
        .increment(1);
    }
}
