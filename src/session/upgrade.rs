//! Upgrade mode (`legacy_secret` without `compat`): a request that carries
//! only a valid cookie of the original app has its original session taken
//! out of Redis once and adopted as a new native session.

use std::collections::BTreeMap;

use super::Error;
use super::lifecycle::Session;
use super::scheme::Scheme;
use crate::store::log_tag;

impl Session {
    /// Upgrade mode: when the request carries a valid cookie of the
    /// original app, takes its session out of Redis (once: the original key
    /// is deleted) and adopts its data as a new native session, created under
    /// a fresh id when the response goes out. Returns whether it did.
    pub(super) async fn upgrade(&self) -> Result<bool, Error> {
        let context = self.context();
        let Scheme::Upgrade { legacy, client } = &context.scheme else {
            return Ok(false);
        };
        let id = self
            .cookies_named(legacy.cookie_name())
            .find_map(|value| legacy.verify_cookie(value));
        let Some(id) = id else {
            return Ok(false);
        };
        let key = legacy.store_key(&id);
        let taken = match crate::compat::take_legacy(client, &key, legacy.budget()).await {
            Ok(Some(taken)) => taken,
            Ok(None) => return Ok(false),
            Err(crate::compat::Error::Store(e)) => return Err(Error::Store(e)),
            Err(e) => {
                // The original session was put back, untouched.
                if let Some(n) = crate::throttle::SHARED.count("not_upgraded") {
                    tracing::warn!(target: "redis_sessions::session", session = log_tag(&key), error = %e, occurrences = n, "original session not upgraded");
                }
                return Ok(false);
            }
        };
        let entries: BTreeMap<String, Vec<u8>> =
            taken.encoded(&*context.serialize)?.into_iter().collect();
        let mut state = self.state();
        if state.is_loaded() {
            return Ok(true);
        }
        state.take_over(
            entries,
            taken.created,
            taken.timeout.filter(|t| *t != context.timeout),
        );
        tracing::debug!(target: "redis_sessions::session", "original session upgraded to a native one");
        Ok(true)
    }
}
