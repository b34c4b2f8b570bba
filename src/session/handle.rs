//! The [`Session`] handle's public API: a dict over serde values, plus the
//! session's own controls. How a session is loaded and saved is in
//! `lifecycle.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;
use super::lifecycle::Session;
use super::state::Phase;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Session")
            .field("loaded", &state.is_loaded())
            .field("keys", &state.entries.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Returns the value of `key` as a `T`, or `None` if the session has no
    /// such key.
    ///
    /// Only this value is decoded, now. A stored value that is no value of
    /// the codec at all (corrupt, not merely another type) makes the whole
    /// session corrupt: it is discarded as a load discards one, the request
    /// goes on with a fresh, empty session, and this returns `None`.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the stored value is not a `T` (500).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        // Decoding is synchronous: it runs under the lock, without copying
        // the stored bytes first.
        let mut state = self.loaded().await?;
        self.value(&mut state, key)
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), the codec cannot encode the value
    /// (500), or the session would grow beyond `max_session_bytes` (413;
    /// nothing is changed then).
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let bytes = self.encode(&value)?;
        let mut state = self.loaded().await?;
        self.set_checked(&mut state, key.to_owned(), bytes)
    }

    /// Removes `key`; returns whether it was there.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn remove(&self, key: &str) -> Result<bool, Error> {
        Ok(self.loaded().await?.remove(key).is_some())
    }

    /// Removes `key` and returns its value as a `T`.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the value is not a `T` (500; the key
    /// is then left in place).
    pub async fn pop<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let mut state = self.loaded().await?;
        let Some(value) = self.value(&mut state, key)? else {
            return Ok(None);
        };
        state.remove(key);
        Ok(Some(value))
    }

    /// Returns whether the session has `key`.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn contains_key(&self, key: &str) -> Result<bool, Error> {
        Ok(self.loaded().await?.entries.contains_key(key))
    }

    /// Returns every key, sorted.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        Ok(self.loaded().await?.entries.keys().cloned().collect())
    }

    /// Returns every key with its value as a `T` (for example
    /// `serde_json::Value`), sorted by key.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or a value is not a `T` (500).
    pub async fn entries<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, Error> {
        let mut state = self.loaded().await?;
        self.all_values(&mut state)
    }

    /// Returns the number of keys.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn len(&self) -> Result<usize, Error> {
        Ok(self.loaded().await?.entries.len())
    }

    /// Returns whether the session has no keys.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.loaded().await?.entries.is_empty())
    }

    /// Removes every key. A session left empty is deleted from the store
    /// when the response goes out.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn clear(&self) -> Result<(), Error> {
        let mut state = self.loaded().await?;
        let keys: Vec<String> = state.entries.keys().cloned().collect();
        for key in keys {
            state.remove(&key);
        }
        Ok(())
    }

    /// Sets every `(key, value)` pair.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), a value cannot be encoded (500), or
    /// the session would grow beyond `max_session_bytes` (413); nothing is
    /// changed then.
    pub async fn update<K, V, I>(&self, pairs: I) -> Result<(), Error>
    where
        K: Into<String>,
        V: Serialize,
        I: IntoIterator<Item = (K, V)>,
    {
        let encoded = pairs
            .into_iter()
            .map(|(k, v)| Ok((k.into(), self.encode(&v)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut state = self.loaded().await?;
        let limit = self.context().max_session_bytes;
        if state.size_after(&encoded) > limit {
            return Err(Error::TooLarge { limit });
        }
        for (key, bytes) in encoded {
            state.set(key, bytes);
        }
        Ok(())
    }

    /// Returns the value of `key`, first setting it to `default` if absent.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the stored value is not a `T` (500).
    pub async fn setdefault<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, Error> {
        let encoded = self.encode(&default)?;
        let mut state = self.loaded().await?;
        match self.value(&mut state, key)? {
            Some(value) => Ok(value),
            None => {
                self.set_checked(&mut state, key.to_owned(), encoded)?;
                Ok(default)
            }
        }
    }

    /// True when this request started the session: there was no valid
    /// cookie, its session had expired or been deleted, or it was invalidated
    /// or regenerated during this request.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn is_new(&self) -> Result<bool, Error> {
        Ok(self.loaded().await?.is_fresh())
    }

    /// When the session was created (whole seconds).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn created(&self) -> Result<SystemTime, Error> {
        let created = self.loaded().await?.created;
        Ok(UNIX_EPOCH + Duration::from_secs(created))
    }

    /// The idle timeout of this session in seconds: the per-session one if
    /// adjusted, else the factory's (0: never expires).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn timeout(&self) -> Result<u64, Error> {
        let timeout = self.context().timeout;
        Ok(self.loaded().await?.effective_timeout(timeout))
    }

    /// Marks every value as changed, so all are written back (Pyramid's
    /// `changed()`). Values are copies, so in-place mutation cannot be missed
    /// here; use this to rewrite a session whole.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn changed(&self) -> Result<(), Error> {
        self.loaded().await?.touch_all();
        Ok(())
    }

    /// Ends the session: its data is deleted from the store and the cookie
    /// removed when the response goes out. Writes after this call go to a new
    /// session with a new id. Needs no store access.
    pub fn invalidate(&self) {
        // Verified before the lock is taken (at most once per request).
        let key = self.verified().map(|(_, key)| key);
        self.state().invalidate(key);
    }

    /// Moves the session's data to a new id (call it at login, against session
    /// fixation): the old key is deleted and a cookie with the new id is sent.
    /// A CSRF token the session holds is replaced by a new one, since login
    /// is where fixation and CSRF meet.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the OS random source failed (500).
    pub async fn regenerate(&self) -> Result<(), Error> {
        let token = self.encode(&crate::id::generate_session_id()?)?;
        let mut state = self.loaded().await?;
        state.regenerate();
        if state.entries.contains_key(super::csrf::CSRF_KEY) {
            state.set(super::csrf::CSRF_KEY.to_owned(), token);
        }
        Ok(())
    }

    /// Sets the idle timeout of this session, in seconds (0: never expires),
    /// for the rest of its life (the manual's `adjust_timeout_for_session`).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or `timeout_seconds` is beyond
    /// [`MAX_TIMEOUT`](crate::store::MAX_TIMEOUT) (400; the session is left as
    /// it was).
    pub async fn adjust_timeout_for_session(&self, timeout_seconds: u64) -> Result<(), Error> {
        if timeout_seconds > crate::store::MAX_TIMEOUT {
            return Err(Error::TimeoutTooLarge {
                requested: timeout_seconds,
                max: crate::store::MAX_TIMEOUT,
            });
        }
        self.loaded().await?.adjust_timeout(timeout_seconds);
        Ok(())
    }

    /// Returns the value of `key` as a `T`, or `default` if the session has
    /// no such key.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the stored value is not a `T` (500).
    ///
    /// ```
    /// # async fn f(session: redis_sessions::Session) -> Result<(), redis_sessions::session::Error> {
    /// let theme: String = session.get_or("theme", "light".to_string()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, Error> {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// Returns every value as a `T`, in key order.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or a value is not a `T` (500).
    pub async fn values<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        let mut state = self.loaded().await?;
        Ok(self
            .all_values(&mut state)?
            .into_iter()
            .map(|(_, value)| value)
            .collect())
    }

    /// Removes and returns the entry with the greatest key (Python's
    /// `popitem`), or `None` when the session is empty.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the value is not a `T` (500; the
    /// entry is then left in place).
    pub async fn popitem<T: DeserializeOwned>(&self) -> Result<Option<(String, T)>, Error> {
        let mut state = self.loaded().await?;
        let Some(key) = state.entries.keys().next_back().cloned() else {
            return Ok(None);
        };
        let Some(value) = self.value(&mut state, &key)? else {
            // Corrupt: the session was discarded, and is empty now.
            return Ok(None);
        };
        state.remove(&key);
        Ok(Some((key, value)))
    }

    /// A short, log-safe tag of this session: a digest of its store key,
    /// never the id or anything a cookie can be made from. `None` for a
    /// session that has no id yet. Needs no store access.
    ///
    /// ```
    /// # fn f(session: redis_sessions::Session) {
    /// tracing::info!(session = session.tag().as_deref(), "checkout started");
    /// # }
    /// ```
    pub fn tag(&self) -> Option<String> {
        let state = self.state();
        match state.phase() {
            Phase::Loaded { key, .. } => Some(crate::store::tag_of(key)),
            Phase::Fresh { .. } => None,
            Phase::Unloaded { .. } => {
                drop(state);
                let (_, key) = self.verified()?;
                Some(crate::store::tag_of(key))
            }
        }
    }
}
