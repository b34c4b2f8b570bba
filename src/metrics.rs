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
    hot::count(hot::LOADS, || {
        ::metrics::counter!("redis_sessions_loads_total")
    });
}

/// A session was served from the process cache, without a store command.
pub(crate) fn cache_hit() {
    #[cfg(feature = "metrics")]
    hot::count(hot::HITS, || {
        ::metrics::counter!("redis_sessions_cache_hits_total")
    });
}

/// The process cache is on but could not serve a session read.
pub(crate) fn cache_miss() {
    #[cfg(feature = "metrics")]
    hot::count(hot::MISSES, || {
        ::metrics::counter!("redis_sessions_cache_misses_total")
    });
}

/// A session was created in the store.
pub(crate) fn created() {
    #[cfg(feature = "metrics")]
    hot::count(hot::CREATED, || {
        ::metrics::counter!("redis_sessions_created_total")
    });
}

/// `n` sessions were revoked.
pub(crate) fn revoked(n: usize) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_revoked_total").increment(n as u64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// A presented session was not adopted, for `reason` (a fixed word).
pub(crate) fn invalid(reason: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("redis_sessions_invalid_total", "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// A store call `op` took `took`, and failed with an error of `kind` (a
/// fixed word, e.g. `timeout`) if it failed. Only with the feature: without
/// it, store calls are not timed at all.
#[cfg(feature = "metrics")]
pub(crate) fn store_call(op: &'static str, took: Duration, kind: Option<&'static str>) {
    hot::time(
        op,
        took,
        || ::metrics::histogram!("redis_sessions_store_duration_seconds", "op" => op),
    );
    if let Some(kind) = kind {
        ::metrics::counter!("redis_sessions_store_errors_total", "kind" => kind).increment(1);
    }
}

/// The handles of the metrics recorded on every request, kept per thread:
/// fetching one from the recorder is a registry lookup and a copy of its
/// key, so each thread fetches each once and then only counts. Handles
/// are kept for one recorder: when the current one is another (the global
/// recorder installed after the first request, or a test's local one),
/// they are fetched again from it.
#[cfg(feature = "metrics")]
mod hot {
    use std::cell::RefCell;
    use std::time::Duration;

    use metrics::{Counter, Histogram};

    pub(super) const LOADS: usize = 0;
    pub(super) const HITS: usize = 1;
    pub(super) const MISSES: usize = 2;
    pub(super) const CREATED: usize = 3;
    /// The store calls timed, in the order of their handles.
    const OPS: [&str; 5] = ["load", "write", "increment", "append", "index"];

    #[derive(Default)]
    struct Handles {
        /// The address of the recorder these came from.
        recorder: usize,
        counters: [Option<Counter>; 4],
        durations: [Option<Histogram>; OPS.len()],
    }

    thread_local! {
        static HANDLES: RefCell<Handles> = RefCell::default();
    }

    /// Runs `f` on this thread's handles for the current recorder; `None`
    /// while the thread is being torn down.
    fn with<T>(f: impl FnOnce(&mut Handles) -> T) -> Option<T> {
        let recorder = metrics::with_recorder(|r| std::ptr::from_ref(r).cast::<()>() as usize);
        HANDLES
            .try_with(|handles| {
                let mut handles = handles.try_borrow_mut().ok()?;
                if handles.recorder != recorder {
                    *handles = Handles {
                        recorder,
                        ..Handles::default()
                    };
                }
                Some(f(&mut handles))
            })
            .ok()
            .flatten()
    }

    /// Adds 1 to the counter in `slot`, made by `make` on first use.
    pub(super) fn count(slot: usize, make: fn() -> Counter) {
        if with(|h| h.counters[slot].get_or_insert_with(make).increment(1)).is_none() {
            make().increment(1);
        }
    }

    /// Records `took` in the histogram of store call `op`, made by `make`.
    pub(super) fn time(op: &str, took: Duration, make: impl Fn() -> Histogram) {
        let recorded = OPS
            .iter()
            .position(|o| *o == op)
            .and_then(|i| with(|h| h.durations[i].get_or_insert_with(&make).record(took)));
        if recorded.is_none() {
            make().record(took);
        }
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    /// Counts what it registers, and what its counters count.
    #[derive(Default)]
    struct Tally {
        registered: AtomicUsize,
        counters: Mutex<Vec<(String, Arc<AtomicU64>)>>,
    }

    impl Tally {
        fn total(&self, name: &str) -> u64 {
            let counters = self.counters.lock().unwrap();
            counters
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, c)| c.load(Ordering::Relaxed))
                .sum()
        }
    }

    impl Recorder for Tally {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.registered.fetch_add(1, Ordering::Relaxed);
            let counter = Arc::new(AtomicU64::new(0));
            let handle = Arc::clone(&counter);
            self.counters
                .lock()
                .unwrap()
                .push((key.name().to_owned(), counter));
            Counter::from_arc(handle)
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn hot_counters_are_fetched_once_per_recorder_and_count_every_event() {
        let first = Tally::default();
        metrics::with_local_recorder(&first, || {
            for _ in 0..5 {
                super::loaded();
            }
        });
        assert_eq!(first.total("redis_sessions_loads_total"), 5);
        assert_eq!(first.registered.load(Ordering::Relaxed), 1);
        // Another recorder gets the events from then on, not the first.
        let second = Tally::default();
        metrics::with_local_recorder(&second, || {
            super::loaded();
            super::cache_hit();
        });
        assert_eq!(second.total("redis_sessions_loads_total"), 1);
        assert_eq!(second.total("redis_sessions_cache_hits_total"), 1);
        assert_eq!(first.total("redis_sessions_loads_total"), 5);
    }
}
