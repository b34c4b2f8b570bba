//! The bounds of the builder's numeric settings, checked in one place.

use std::ops::RangeInclusive;

use super::super::checks::Findings;
use super::{
    Builder, MAX_CLIENT_CACHE_BYTES, MAX_CLIENT_CACHE_SIZE, MAX_MEMORY_SESSIONS, MAX_SESSION_BYTES,
};
use crate::problem::ErrorKind;
use crate::store;

impl Builder {
    /// Every numeric setting within its bounds; each one outside them is a
    /// problem naming the setting, its value and what is expected.
    pub(super) fn check_limits(&self, found: &mut Findings) {
        let max = store::MAX_TIMEOUT;
        let limits: [(&str, Option<u64>, RangeInclusive<u64>, String); 6] = [
            (
                "timeout",
                Some(self.timeout),
                0..=max,
                format!("expected whole seconds up to {max} (10 years), e.g. 1200"),
            ),
            (
                "max_lifetime",
                self.max_lifetime,
                1..=max,
                format!("expected whole seconds from 1 to {max} (10 years), or None, e.g. 86400"),
            ),
            (
                "memory_max_sessions",
                Some(self.memory_max_sessions),
                1..=MAX_MEMORY_SESSIONS,
                format!(
                    "expected a number of sessions from 1 to {MAX_MEMORY_SESSIONS}, e.g. 100000"
                ),
            ),
            (
                "client_cache_size",
                Some(self.client_cache_size),
                0..=MAX_CLIENT_CACHE_SIZE,
                format!(
                    "expected a number of sessions from 0 (off) to {MAX_CLIENT_CACHE_SIZE}, e.g. 10000"
                ),
            ),
            (
                "client_cache_bytes",
                Some(self.client_cache_bytes),
                1024..=MAX_CLIENT_CACHE_BYTES,
                format!(
                    "expected a number of bytes from 1024 to {MAX_CLIENT_CACHE_BYTES} (64 GiB), e.g. 67108864"
                ),
            ),
            (
                "max_session_bytes",
                Some(self.max_session_bytes),
                1..=MAX_SESSION_BYTES,
                format!("expected a number of bytes from 1 to {MAX_SESSION_BYTES}, e.g. 1048576"),
            ),
        ];
        for (name, value, bounds, expected) in limits {
            if let Some(value) = value.filter(|v| !bounds.contains(v)) {
                found
                    .problem(ErrorKind::Invalid, name, expected)
                    .seen(value.to_string());
            }
        }
    }
}
