//! The builder's choices that need a cargo feature or another format: the
//! embedded store, and the original's formats (compat and upgrade modes).

use std::sync::Arc;

#[cfg(not(feature = "memory-store"))]
use super::super::MEMORY_URL;
use super::super::checks::{self, Findings};
use super::Builder;
#[cfg(feature = "compat")]
use crate::compat;
use crate::problem::ErrorKind;
use crate::session::context::{Compat, Legacy, StoreSelector};
use crate::session::{Scheme, SessionCache};
use crate::store::{self, RedisClient};

impl Builder {
    /// The process cache, when `client_cache_size` asks for one and it can
    /// be kept true: Redis from the settings, in our own format. The store
    /// then evicts what this process writes as soon as it is written.
    pub(super) fn client_cache(
        &self,
        store: StoreSelector,
        scheme: &Scheme,
        client: Option<&RedisClient>,
        found: &mut Findings,
    ) -> (StoreSelector, Option<Arc<SessionCache>>) {
        if self.client_cache_size == 0 {
            return (store, None);
        }
        let why_not = if self.redis.url.as_deref() == Some(crate::MEMORY_URL) {
            "has no effect with the embedded store (url = memory://): its sessions are in the process already"
        } else if self.client_callable.is_some() {
            "has no effect with a client_callable: the cache is kept true by the Redis of the settings"
        } else if self.store.is_some() {
            "has no effect with a custom store: the cache is kept true by the Redis of the settings"
        } else if !matches!(scheme, Scheme::Native) {
            "has no effect with compat or upgrade mode: only sessions in this library's format are cached"
        } else {
            ""
        };
        let (StoreSelector::Fixed(inner), Some(client), "") = (&store, client, why_not) else {
            // Said only when set by hand: the default is on for everyone.
            if !why_not.is_empty() && self.client_cache_size != super::DEFAULT_CLIENT_CACHE_SIZE {
                found.warning("client_cache_size", why_not);
            }
            return (store, None);
        };
        let cache = SessionCache::new(
            self.client_cache_size,
            self.client_cache_bytes,
            store::tracker(client.clone(), self.prefix.clone()),
        );
        let evicting = store::cache::Evicting::new(Arc::clone(inner), Arc::clone(&cache) as _);
        (StoreSelector::Fixed(Arc::new(evicting)), Some(cache))
    }

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

/// The scheme the settings ask for, and the store to use with it (the
/// original's blobs in compat mode). Both need Redis: the original's
/// sessions live there.
pub(super) fn scheme(
    compat: Compat,
    legacy: Option<&Legacy>,
    store: Option<StoreSelector>,
    client: Option<&RedisClient>,
    found: &mut Findings,
) -> (Scheme, Option<StoreSelector>) {
    let Some(legacy) = legacy else {
        return (Scheme::Native, store);
    };
    #[cfg(not(feature = "compat"))]
    {
        let _ = (legacy, client);
        let key = if compat == Compat::None {
            "legacy_secret"
        } else {
            "compat"
        };
        found.problem(
            ErrorKind::Invalid,
            key,
            "the original's formats need the `compat` Cargo feature of redis-sessions, which this build leaves out: expected a build with features = [\"compat\"] (or \"full\")",
        );
        (Scheme::Native, store)
    }
    #[cfg(feature = "compat")]
    scheme_compat(compat, legacy, store, client, found)
}

#[cfg(feature = "compat")]
fn scheme_compat(
    compat: Compat,
    legacy: &Legacy,
    store: Option<StoreSelector>,
    client: Option<&RedisClient>,
    found: &mut Findings,
) -> (Scheme, Option<StoreSelector>) {
    let scheme = compat::LegacyFormat::new(&legacy.secret, &legacy.prefix, &legacy.cookie_name)
        .with_budget(legacy.budget);
    match (compat, client, store) {
        (Compat::None, Some(client), store) => (
            Scheme::Upgrade {
                legacy: scheme,
                client: client.clone(),
            },
            store,
        ),
        (Compat::PyramidRedisSessions, Some(client), Some(_)) => {
            let store = compat::PyramidStore::new(client.clone()).with_budget(scheme.budget());
            (
                Scheme::Pyramid(scheme),
                Some(StoreSelector::Fixed(Arc::new(store))),
            )
        }
        (Compat::PyramidRedisSessions, None, Some(StoreSelector::PerRequest(callable))) => (
            Scheme::Pyramid(scheme),
            Some(StoreSelector::PerRequest(callable)),
        ),
        (compat, _, store) => {
            if store.is_some() {
                let (key, what) = match compat {
                    Compat::None => ("legacy_secret", "upgrading the original's sessions"),
                    _ => ("compat", "sharing sessions with the original"),
                };
                found.problem(
                    ErrorKind::Conflict,
                    key,
                    format!(
                        "{what} needs Redis, where the original keeps its sessions: set redis.sessions.url (not memory://) or host/port, not a custom store"
                    ),
                );
            }
            (Scheme::Native, None)
        }
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
