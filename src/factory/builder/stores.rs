//! The builder's choices that need a cargo feature or another format: the
//! embedded store, and the original's formats (compat and upgrade modes).

#[cfg(feature = "memory-store")]
use std::sync::Arc;

#[cfg(not(feature = "memory-store"))]
use super::super::MEMORY_URL;
use super::super::checks::{self, Findings};
use super::super::context::{Legacy, StoreSelector};
use super::super::values::Compat;
use super::Builder;
use crate::config::ErrorKind;
#[cfg(feature = "memory-store")]
use crate::store;

impl Builder {
    /// The original's formats (`compat`, or upgrade mode with
    /// `legacy_secret`), with unset `legacy_*` resolved to ours.
    pub(super) fn legacy(&self, found: &mut Findings) -> Option<Legacy> {
        if let Some(name) = &self.legacy_cookie_name {
            checks::cookie_name(found, "legacy_cookie_name", name);
        }
        if self.legacy_secret.as_deref() == Some("") {
            found.problem(
                ErrorKind::Invalid,
                "legacy_secret",
                "expected the secret of the Python app, or None for the same as redis.sessions.secret",
            );
        }
        if self.compat == Compat::None && self.legacy_secret.is_none() {
            // Upgrade mode starts with legacy_secret; the others only refine it.
            let set = [
                ("legacy_prefix", self.legacy_prefix.is_some()),
                ("legacy_cookie_name", self.legacy_cookie_name.is_some()),
            ];
            for (name, _) in set.into_iter().filter(|(_, set)| *set) {
                found.warning(
                    name,
                    "has no effect without redis.sessions.legacy_secret (upgrade mode) or redis.sessions.compat = pyramid_redis_sessions",
                );
            }
            return None;
        }
        Some(Legacy {
            secret: self
                .legacy_secret
                .clone()
                .unwrap_or_else(|| self.secret.clone()),
            prefix: self
                .legacy_prefix
                .clone()
                .unwrap_or_else(|| self.prefix.clone()),
            cookie_name: self
                .legacy_cookie_name
                .clone()
                .unwrap_or_else(|| self.cookie_name.clone()),
            budget: self.max_session_bytes,
        })
    }
}

#[cfg(feature = "memory-store")]
pub(super) fn memory_store(_found: &mut Findings, max: u64) -> Option<StoreSelector> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    Some(StoreSelector::Fixed(Arc::new(
        store::MemoryStore::with_max_sessions(max),
    )))
}

#[cfg(not(feature = "memory-store"))]
pub(super) fn memory_store(found: &mut Findings, _max: u64) -> Option<StoreSelector> {
    found
        .problem(
            ErrorKind::Invalid,
            "url",
            "the embedded store is not compiled in: enable the memory-store cargo feature",
        )
        .seen(MEMORY_URL);
    None
}
