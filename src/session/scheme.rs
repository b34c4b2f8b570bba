//! The cookie and key scheme of a factory: how a cookie value becomes a
//! session id, an id a store key, and a new id a cookie value.
//!
//! - **Native** (the default): cookies are `id.mac` (see [`crate::cookie`]),
//!   sessions are keyed by a digest of the id.
//! - **Pyramid** (`compat = pyramid_redis_sessions`): the original's cookies
//!   (`signed_serialize`), ids (64 hex characters) and keys (the id), so a
//!   Python app and this one share sessions.
//! - **Upgrade** (native, with `legacy_secret`): native, and a request that
//!   carries only a valid original cookie has its original session moved
//!   into a native one once (see `lifecycle.rs`).

use std::borrow::Cow;
use std::sync::Arc;

#[cfg(feature = "compat")]
use crate::compat;
use crate::config::ErrorKind;
use crate::cookie::SignedWith;
use crate::factory::{Compat, Context, Findings, Legacy, StoreSelector};
use crate::id::Id;
use crate::store::{RedisClient, session_key};

/// Which formats a factory speaks.
pub(crate) enum Scheme {
    Native,
    #[cfg(feature = "compat")]
    Pyramid(compat::LegacyFormat),
    #[cfg(feature = "compat")]
    Upgrade {
        legacy: compat::LegacyFormat,
        client: RedisClient,
    },
}

impl Scheme {
    /// The scheme the settings ask for, and the store to use with it (the
    /// original's blobs in compat mode). Both need Redis: the original's
    /// sessions live there.
    pub(crate) fn choose(
        compat: Compat,
        legacy: Option<&Legacy>,
        store: Option<StoreSelector>,
        client: Option<&RedisClient>,
        found: &mut Findings,
    ) -> (Self, Option<StoreSelector>) {
        let Some(legacy) = legacy else {
            return (Self::Native, store);
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
            (Self::Native, store)
        }
        #[cfg(feature = "compat")]
        Self::choose_compat(compat, legacy, store, client, found)
    }

    #[cfg(feature = "compat")]
    fn choose_compat(
        compat: Compat,
        legacy: &Legacy,
        store: Option<StoreSelector>,
        client: Option<&RedisClient>,
        found: &mut Findings,
    ) -> (Self, Option<StoreSelector>) {
        let scheme = compat::LegacyFormat::new(&legacy.secret, &legacy.prefix, &legacy.cookie_name)
            .with_budget(legacy.budget);
        match (compat, client, store) {
            (Compat::None, Some(client), store) => (
                Self::Upgrade {
                    legacy: scheme,
                    client: client.clone(),
                },
                store,
            ),
            (Compat::PyramidRedisSessions, Some(client), Some(_)) => {
                let store = compat::PyramidStore::new(client.clone()).with_budget(scheme.budget());
                (
                    Self::Pyramid(scheme),
                    Some(StoreSelector::Fixed(Arc::new(store))),
                )
            }
            (Compat::PyramidRedisSessions, None, Some(StoreSelector::PerRequest(callable))) => (
                Self::Pyramid(scheme),
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
                (Self::Native, None)
            }
        }
    }
}

/// A cookie value whose signature verified.
pub(crate) struct Verified<'v> {
    pub(crate) id: Cow<'v, str>,
    /// Signed with one of `old_secrets`: send it again, signed with the
    /// current secret.
    pub(crate) old_secret: bool,
}

impl Context {
    /// The id in `value`, when its signature verifies and the id is well
    /// formed (checked before any key is built from it).
    pub(crate) fn verify_cookie<'v>(&self, value: &'v str) -> Option<Verified<'v>> {
        #[cfg(feature = "compat")]
        if let Scheme::Pyramid(compat) = &self.scheme {
            return compat.verify_cookie(value).map(|id| Verified {
                id: Cow::Owned(id),
                old_secret: false,
            });
        }
        let verified = self.signer.verify_rotated(&self.cookie.name, value)?;
        Id::from_cookie(verified.id)?;
        Some(Verified {
            id: Cow::Borrowed(verified.id),
            old_secret: verified.signed_with != SignedWith::Current,
        })
    }

    /// The store key of session `id`.
    pub(crate) fn key_of(&self, id: &str) -> String {
        match &self.scheme {
            #[cfg(feature = "compat")]
            Scheme::Pyramid(compat) => compat.store_key(id),
            _ => session_key(&self.prefix, id),
        }
    }

    /// A new session id.
    pub(crate) fn new_id(&self) -> Result<String, crate::id::Error> {
        match &self.scheme {
            #[cfg(feature = "compat")]
            Scheme::Pyramid(compat) => compat.new_id(),
            _ => Ok(Id::generate(&*self.id_generator)?.as_str().to_owned()),
        }
    }

    /// The cookie value that carries `id`.
    pub(crate) fn sign_cookie(&self, id: &str) -> String {
        match &self.scheme {
            #[cfg(feature = "compat")]
            Scheme::Pyramid(compat) => compat.sign_cookie(id),
            _ => self.signer.sign(&self.cookie.name, id),
        }
    }

    /// A store over `client`, for a `client_callable`'s choice.
    pub(crate) fn store_over(&self, client: RedisClient) -> Arc<dyn crate::store::SessionStore> {
        match &self.scheme {
            #[cfg(feature = "compat")]
            Scheme::Pyramid(compat) => {
                Arc::new(compat::PyramidStore::new(client).with_budget(compat.budget()))
            }
            _ => Arc::new(crate::store::RedisStore::new(client)),
        }
    }
}
