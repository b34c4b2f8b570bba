//! Log lines that a client or an outage can cause, aggregated: at most one
//! line per reason per [`INTERVAL`], carrying how many occurrences it
//! stands for. Events and hooks still see every occurrence; only the log is
//! thinned, so a flood of forged cookies or a store outage costs a counter,
//! not a line each.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shortest time between two lines of one reason.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// Per reason: when its last line was written, and how many occurrences
/// were counted since. Each factory has its own (for its events); store
/// failures reported as responses share [`SHARED`].
#[derive(Debug, Default)]
pub(crate) struct Throttle(Mutex<Option<HashMap<&'static str, (Instant, u64)>>>);

/// The throttle of log lines made where no factory is at hand.
pub(crate) static SHARED: Throttle = Throttle::new();

impl Throttle {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Counts one occurrence of `reason`. Returns `Some(n)` when a line may
    /// be written now, `n` being the occurrences it stands for (this one and
    /// those left unlogged since the last line); `None` when this one is
    /// only counted.
    pub(crate) fn count(&self, reason: &'static str) -> Option<u64> {
        self.count_at(reason, Instant::now())
    }

    fn count_at(&self, reason: &'static str, now: Instant) -> Option<u64> {
        // Nothing panics while the lock is held.
        let mut windows = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let windows = windows.get_or_insert_with(HashMap::new);
        match windows.get_mut(reason) {
            Some((last, pending)) if now.duration_since(*last) < INTERVAL => {
                *pending += 1;
                None
            }
            Some((last, pending)) => {
                let n = *pending + 1;
                *last = now;
                *pending = 0;
                Some(n)
            }
            None => {
                windows.insert(reason, (now, 0));
                Some(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_carries_the_count_since_the_last() {
        let throttle = Throttle::new();
        let start = Instant::now();
        assert_eq!(throttle.count_at("a", start), Some(1));
        for _ in 0..999 {
            assert_eq!(throttle.count_at("a", start + Duration::from_secs(1)), None);
        }
        assert_eq!(throttle.count_at("a", start + INTERVAL), Some(1000));
        assert_eq!(throttle.count_at("a", start + INTERVAL), None);
        assert_eq!(throttle.count_at("b", start), Some(1), "reasons are apart");
    }
}
