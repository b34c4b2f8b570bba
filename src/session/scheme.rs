//! The cookie and key scheme of a factory: how a cookie value becomes a
//! session id, an id a store key, and a new id a cookie value. The native
//! scheme signs `id.mac` (see [`crate::cookie`]) and keys sessions by a
//! digest of the id.

use crate::cookie::SignedWith;
use crate::factory::Context;
use crate::id::Id;
use crate::store::session_key;

/// A cookie value whose signature verified.
pub(crate) struct Verified<'v> {
    pub(crate) id: &'v str,
    /// Signed with one of `old_secrets`: send it again, signed with the
    /// current secret.
    pub(crate) old_secret: bool,
}

impl Context {
    /// The id in `value`, when its signature verifies and the id is well
    /// formed (checked before any key is built from it).
    pub(crate) fn verify_cookie<'v>(&self, value: &'v str) -> Option<Verified<'v>> {
        let verified = self.signer.verify_rotated(&self.cookie.name, value)?;
        Id::from_cookie(verified.id)?;
        Some(Verified {
            id: verified.id,
            old_secret: verified.signed_with != SignedWith::Current,
        })
    }

    /// The store key of session `id`.
    pub(crate) fn key_of(&self, id: &str) -> String {
        session_key(&self.prefix, id)
    }

    /// A new session id.
    pub(crate) fn new_id(&self) -> Result<Id, crate::id::Error> {
        Id::generate(&*self.id_generator)
    }

    /// The cookie value that carries `id`.
    pub(crate) fn sign_cookie(&self, id: &str) -> String {
        self.signer.sign(&self.cookie.name, id)
    }
}
