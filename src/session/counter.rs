//! Counters: [`Session::incr`], which adds in the store itself when it can.

use super::Error;
use super::lifecycle::{Presented, Session};
use super::state::Phase;
use crate::codec::Integers;
use crate::store::{self, Increment};

impl Session {
    /// Adds `by` to the integer under `key` (a missing key counts as 0) and
    /// returns the sum.
    ///
    /// On Redis and the memory store, with the built-in codecs, an existing
    /// session's existing integer is counted in the store, in one atomic
    /// step: increments from many concurrent requests of one session all
    /// count (a `get` then `insert` keeps only the last writer's), and a
    /// request that only increments costs one round trip (`EVALSHA` of a
    /// small script), without loading the session. Unlike the other
    /// changes, which are saved when the response goes out, such an
    /// increment is applied at once: a handler that fails afterwards keeps
    /// it, even with `cookie_on_exception = false`, as with Redis's own
    /// `HINCRBY`. When the idle TTL is due for its refresh (at most once per
    /// `timeout / 20`), the session is then loaded too, and refreshed with
    /// the response.
    ///
    /// Otherwise it is a `get` and an `insert`, saved with the response: for
    /// a new session, a key not stored yet (so that its size is weighed
    /// against `max_session_bytes`), a key already changed in this request,
    /// a stored value the store cannot count with, a cookie signed with an
    /// old secret, another codec, or the original's format (`compat`). When
    /// only the store can tell (a key not stored yet in a session this
    /// request has not loaded), that costs one round trip more.
    ///
    /// A request that rewrites the whole session from what it read earlier
    /// still replaces a count made meanwhile by another request:
    /// [`regenerate`](Self::regenerate) (and so
    /// [`set_user`](Self::set_user)), [`changed`](Self::changed), and of
    /// course [`invalidate`](Self::invalidate).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503); the value is not an integer (500, it
    /// is left as it was); the sum does not fit an `i64` ([`Error::Overflow`],
    /// 500); a new key would make the session larger than
    /// `max_session_bytes` (413).
    ///
    /// ```
    /// use redis_sessions::RedisSessionFactory;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
    ///     .url(Some("memory://".into()))
    ///     .build()?;
    /// // A new session: counted in the request, created with the response.
    /// let first = factory.new_session(None);
    /// assert_eq!(first.incr("visits", 1).await?, 1);
    /// let set_cookie = first.save().await?.expect("a new session sets its cookie");
    /// let cookie = set_cookie.split(';').next().unwrap();
    ///
    /// // An existing one: counted in the store at once.
    /// let second = factory.new_session(Some(cookie));
    /// assert_eq!(second.incr("visits", 41).await?, 42);
    /// assert_eq!(factory.new_session(Some(cookie)).get::<i64>("visits").await?, Some(42));
    /// # Ok(()) }
    /// ```
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, Error> {
        if let Some(sum) = self.incr_in_store(key, by).await? {
            return Ok(sum);
        }
        let current: i64 = self.get(key).await?.unwrap_or(0);
        let sum = current.checked_add(by).ok_or(Error::Overflow)?;
        self.insert(key, sum).await?;
        Ok(sum)
    }

    /// Where an in-place change of `key` goes, and the format the built-in
    /// codecs share: `None` when this session cannot be changed in place (a
    /// new session, a key changed in this request, or, with `must_exist`,
    /// a key it does not hold; a cookie to re-sign; another codec).
    pub(super) fn in_place_target(
        &self,
        key: &str,
        must_exist: bool,
    ) -> Option<(String, Integers)> {
        let context = self.context();
        let format = match (context.serialize.integers(), context.deserialize.integers()) {
            (Some(a), Some(b)) if a == b => a,
            _ => return None,
        };
        let loaded = self.state().is_loaded();
        let store_key = if loaded {
            let state = self.state();
            match state.key() {
                Some(store_key)
                    if (!must_exist || state.entries.contains_key(key))
                        && !state.changes.contains_key(key) =>
                {
                    store_key.to_owned()
                }
                _ => return None,
            }
        } else {
            match self.presented() {
                Presented::Valid {
                    key,
                    old_secret: false,
                    ..
                } => key.clone(),
                // A new session, a cookie to re-sign, or one of the
                // original app's: the load handles those.
                _ => return None,
            }
        };
        Some((store_key, format))
    }

    /// Records a change the store made in place: `value` is what `key` of
    /// the session at `store_key` now holds. Loads the session when its
    /// refresh is due (the response refreshes it).
    pub(super) async fn applied_in_place(
        &self,
        store_key: &str,
        key: &str,
        value: Vec<u8>,
        refresh_due: bool,
    ) {
        {
            let mut state = self.state();
            let still = match state.phase() {
                Phase::Loaded { key, .. } => key == store_key,
                Phase::Unloaded { .. } => true,
                Phase::Fresh { .. } => false,
            };
            if still && state.is_loaded() {
                state.set_stored(key, value);
            }
            // Applied with or without a load (or before a concurrent
            // invalidate left the key): the stored session was used either
            // way.
            state.mark_applied();
        }
        if refresh_due {
            // The refresh needs the session's metadata: load it (if this
            // request has not), and the response refreshes it. The change
            // stands either way; if the load fails now, a later request
            // refreshes.
            let loaded = self.loaded().await.map(drop);
            if let Err(e) = loaded {
                tracing::debug!(target: "redis_sessions::session", error = %e, "loading for a due refresh failed: left to a later request");
            }
        }
    }

    /// The in-place increment, if this session and its store allow it.
    async fn incr_in_store(&self, key: &str, by: i64) -> Result<Option<i64>, Error> {
        let Some((store_key, format)) = self.in_place_target(key, true) else {
            return Ok(None);
        };
        let policy = self.policy();
        let op = Increment {
            key: store_key,
            entry: key.as_bytes().to_vec(),
            by,
            format,
            guard: policy.guard(),
        };
        let done = match self.store()?.increment(&op).await {
            Ok(Some(done)) => done,
            // Not a session hash: the load deletes it as corrupt.
            Ok(None) | Err(store::Error::WrongType) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let sum = done.sum;
        let due = policy.refresh_due(done.times.refreshed, done.times.timeout);
        self.applied_in_place(&op.key, key, format.write(sum), due)
            .await;
        Ok(Some(sum))
    }
}
