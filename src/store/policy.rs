//! The time and size policy of sessions, computed here and nowhere else in
//! Rust: the idle timeout (a session's own, or the default), the absolute
//! lifetime, when the idle TTL is due for its refresh, the TTL a write sets,
//! and the byte limit. The session layer plans with it; stores (the embedded
//! one and the Lua scripts alike) get its results as arguments (a TTL, a
//! byte limit, the [`Guard`] of an in-place change), compare, and derive
//! nothing: an in-place change returns the session's stored [`Times`](super::Times),
//! and the policy judges whether its refresh is due.

use super::in_place::Guard;
use super::layout::REFRESH_DIVISOR;

/// The settings a session's times and size are judged by, at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The idle timeout of sessions without their own, seconds (0: none).
    pub(crate) default_timeout: u64,
    /// The absolute lifetime of sessions, seconds (`None`: unlimited).
    pub(crate) max_lifetime: Option<u64>,
    /// The current time, unix seconds.
    pub(crate) now: u64,
    /// `max_session_bytes`: weighed by the store at each update (0: none).
    pub(crate) max_bytes: u64,
}

/// Why a session has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Past its absolute lifetime.
    Lifetime,
    /// Idle for longer than its timeout.
    Idle,
}

impl Policy {
    /// The idle timeout of a session with `own` timeout (0: none).
    pub(crate) fn timeout(&self, own: Option<u64>) -> u64 {
        own.unwrap_or(self.default_timeout)
    }

    /// Whether a session created at `created` is past its absolute lifetime.
    fn past_lifetime(&self, created: u64) -> bool {
        self.max_lifetime
            .is_some_and(|lifetime| self.now >= created.saturating_add(lifetime))
    }

    /// Why a session with these times must not be used now, if it must not.
    /// The idle check allows a one-second margin: the TTL was set from the
    /// same clock.
    pub(crate) fn ended(&self, created: u64, refreshed: u64, own: Option<u64>) -> Option<Ended> {
        if self.past_lifetime(created) {
            return Some(Ended::Lifetime);
        }
        let timeout = self.timeout(own);
        (timeout > 0 && refreshed > 0 && self.now > refreshed.saturating_add(timeout))
            .then_some(Ended::Idle)
    }

    /// Whether the idle TTL of a session last refreshed at `refreshed` (0:
    /// never) is due for its refresh: at most once per `timeout / 20`.
    pub(crate) fn refresh_due(&self, refreshed: u64, own: Option<u64>) -> bool {
        let timeout = self.timeout(own);
        timeout > 0
            && (refreshed == 0 || self.now >= refreshed.saturating_add(timeout / REFRESH_DIVISOR))
    }

    /// `ttl` cut at the absolute lifetime of a session created at `created`
    /// (at least 1 s; 0, no expiry, becomes what the lifetime leaves).
    pub(crate) fn cap(&self, created: u64, ttl: u64) -> u64 {
        match self.max_lifetime {
            Some(lifetime) => {
                let left = created
                    .saturating_add(lifetime)
                    .saturating_sub(self.now)
                    .max(1);
                if ttl == 0 { left } else { ttl.min(left) }
            }
            None => ttl,
        }
    }

    /// The TTL a session refreshed now gets: its timeout, cut at its
    /// absolute lifetime (0: no expiry).
    pub(crate) fn full_ttl(&self, created: u64, own: Option<u64>) -> u64 {
        self.cap(created, self.timeout(own))
    }

    /// The guard of an in-place change (an increment, an append) made now:
    /// a store compares the session's stored times with it.
    pub(crate) fn guard(&self) -> Guard {
        // Past its lifetime: now >= created + lifetime, that is created <=
        // now - lifetime (none can be while now < lifetime).
        Guard::new(
            self.max_lifetime
                .and_then(|lifetime| self.now.checked_sub(lifetime)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(now: u64) -> Policy {
        Policy {
            default_timeout: 1200,
            max_lifetime: Some(10_000),
            now,
            max_bytes: 0,
        }
    }

    #[test]
    fn a_session_ends_at_its_lifetime_or_after_its_idle_timeout() {
        assert_eq!(policy(10_000).ended(0, 9_990, None), Some(Ended::Lifetime));
        assert_eq!(policy(2_000).ended(0, 700, None), Some(Ended::Idle));
        assert_eq!(policy(1_900).ended(0, 700, None), None, "at the margin");
        assert_eq!(policy(2_000).ended(0, 700, Some(0)), None, "no timeout");
        assert_eq!(policy(2_000).ended(0, 0, None), None, "never refreshed");
    }

    #[test]
    fn refreshes_are_due_once_per_twentieth_of_the_timeout() {
        assert!(policy(100).refresh_due(0, None));
        assert!(!policy(159).refresh_due(100, None));
        assert!(policy(160).refresh_due(100, None));
        assert!(!policy(160).refresh_due(100, Some(0)), "no timeout, no TTL");
        assert!(!policy(199).refresh_due(100, Some(2_000)), "its own");
        assert!(policy(200).refresh_due(100, Some(2_000)));
    }

    #[test]
    fn ttls_stop_at_the_lifetime() {
        assert_eq!(policy(9_500).full_ttl(0, None), 500);
        assert_eq!(policy(100).full_ttl(0, None), 1200);
        assert_eq!(policy(100).full_ttl(0, Some(0)), 9_900, "no timeout");
        assert_eq!(policy(20_000).cap(0, 1200), 1, "at least a second");
        let unlimited = Policy {
            max_lifetime: None,
            ..policy(100)
        };
        assert_eq!(unlimited.full_ttl(0, Some(0)), 0);
    }

    #[test]
    fn in_place_changes_need_a_live_session_with_a_sane_timeout() {
        use crate::store::MAX_TIMEOUT;
        // The guard agrees with `ended` on the lifetime, to the second.
        for created in [0, 1, 99, 100, 101] {
            for now in [10_000, 10_099, 10_100, 10_101] {
                let lifetime_over = policy(now).ended(created, now, None) == Some(Ended::Lifetime);
                assert_eq!(
                    !policy(now).guard().admits(created, None),
                    lifetime_over,
                    "created {created}, now {now}"
                );
            }
        }
        assert!(policy(100).guard().admits(0, Some(MAX_TIMEOUT)));
        assert!(!policy(100).guard().admits(0, Some(MAX_TIMEOUT + 1)));
        let unlimited = Policy {
            max_lifetime: None,
            ..policy(u64::MAX)
        };
        assert!(unlimited.guard().admits(0, None));
        assert!(
            policy(5).guard().admits(0, None),
            "before any lifetime can end"
        );
    }
}
