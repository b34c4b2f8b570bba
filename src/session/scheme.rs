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

use super::context::Context;
#[cfg(feature = "compat")]
use crate::compat;
use crate::cookie::SignedWith;
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
        if !Id::cookie_id_is_valid(verified.id) {
            return None;
        }
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
