//! The [`Session`] handle: a lazy, cheap-to-clone view of one request's session.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::Error;
use super::state::{Mode, Plan, State, now};
use crate::codec::{self, FieldContext};
use crate::factory::{Context as Shared, KeyErrors};
use crate::id::Id;
use crate::store::{
    self, CREATED_FIELD, Field, FieldName, SessionStore, TIMEOUT_FIELD, Write, Written, classify,
    log_tag, session_key,
};

/// How often a fresh id is tried when the store reports a collision.
const CREATE_ATTEMPTS: usize = 3;

/// One request's session, handed out by [`SessionLayer`](crate::SessionLayer).
///
/// Cheap to clone (an `Arc`); clones share the same state. Nothing is read
/// from the store until a method needs the data (one round trip), and nothing
/// is written until the response goes out (one round trip, only if something
/// changed). Values are any serde types, encoded by the factory's codec.
///
/// In axum, take it as an extractor: `Session` rejects with 500 when the
/// layer is missing; `Option<Session>` never rejects. Every data method may
/// fail with [`Error`], which as a response is a 503 when the store is
/// unavailable and a 500 otherwise.
///
/// # Cancel safety
///
/// Every method is cancel safe: a dropped load is simply retried by the next
/// access, and changes are only recorded once a method completes.
///
/// ```
/// use axum::{Router, routing::get};
/// use redis_sessions::{RedisSessionFactory, Session};
///
/// async fn visits(session: Session) -> Result<String, redis_sessions::session::Error> {
///     let n: u64 = session.get("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", n).await?;
///     Ok(format!("visit number {n}"))
/// }
///
/// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes!")
///     .url(Some("memory://".into()))
///     .build()?;
/// let app: Router = Router::new().route("/", get(visits)).layer(factory.layer());
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    store: Result<Arc<dyn SessionStore>, store::Error>,
    /// The request's `Cookie` headers (almost always one, kept without a
    /// `Vec`); ours is found and verified on first access.
    cookies: (Option<HeaderValue>, Vec<HeaderValue>),
    load: OnceCell<()>,
    state: Mutex<State>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Session")
            .field("loaded", &state.is_loaded())
            .field("keys", &state.entries.len())
            .finish_non_exhaustive()
    }
}

/// The first step of finishing a request.
pub(crate) enum Finishing {
    /// Nothing to write: the headers are known.
    Done(Finish),
    /// Writes to apply with [`Session::commit`].
    Commit(Plan),
}

/// What the layer must do to the response once the handler is done.
#[derive(Debug, Default)]
pub(crate) struct Finish {
    pub(crate) set_cookie: Option<HeaderValue>,
    /// The response depends on the cookie (the session was used).
    pub(crate) vary: bool,
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        store: Result<Arc<dyn SessionStore>, store::Error>,
        cookies: (Option<HeaderValue>, Vec<HeaderValue>),
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                store,
                cookies,
                load: OnceCell::new(),
                state: Mutex::new(State::unloaded()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, so a poisoned lock still
        // guards consistent data.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The values of every cookie with our name.
    fn cookie_values(&self) -> impl Iterator<Item = &str> {
        let (first, rest) = &self.inner.cookies;
        crate::cookie::find(first.iter().chain(rest), &self.inner.shared.cookie.name)
    }

    /// The id in the first cookie with our name and a valid signature.
    fn verified_id(&self) -> Option<&str> {
        let shared = self.shared();
        self.cookie_values()
            .find_map(|value| shared.signer.verify(&shared.cookie.name, value))
    }

    fn store(&self) -> Result<&dyn SessionStore, Error> {
        match &self.inner.store {
            Ok(store) => Ok(&**store),
            Err(e) => Err(Error::Store(e.clone())),
        }
    }

    /// Loads the session once; later calls return at once.
    async fn loaded(&self) -> Result<MutexGuard<'_, State>, Error> {
        if !self.state().is_loaded() {
            self.inner.load.get_or_try_init(|| self.load()).await?;
        }
        Ok(self.state())
    }

    async fn load(&self) -> Result<(), Error> {
        let shared = self.shared();
        let verified = self.verified_id().and_then(Id::from_cookie);
        let loaded = match verified {
            None => None,
            Some(id) => {
                let key = session_key(&shared.prefix, id.as_str());
                let fields = self.store()?.load(&key, shared.timeout).await?;
                match fields {
                    None => {
                        tracing::debug!(target: "redis_sessions::session", session = log_tag(&key), "unknown or expired session id: starting a new session");
                        None
                    }
                    Some(fields) => match parse(shared, &key, fields) {
                        Ok(parsed) => Some((key, parsed)),
                        Err(problem) => {
                            tracing::warn!(target: "redis_sessions::session", session = log_tag(&key), problem, "stored session cannot be read: starting a new session");
                            None
                        }
                    },
                }
            }
        };
        let mut state = self.state();
        if state.is_loaded() {
            // invalidate() ran while the load was in flight: it wins.
            return Ok(());
        }
        match loaded {
            Some((key, parsed)) => {
                state.mode = Mode::Existing { key };
                state.entries = parsed.entries;
                state.created = parsed.created.unwrap_or_else(now);
                state.session_timeout = parsed.timeout;
                state.restore_timeout = parsed.timeout.is_some_and(|t| t != shared.timeout);
            }
            None => state.mode = Mode::Fresh,
        }
        Ok(())
    }

    pub(super) fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        Ok(codec::encode(&*self.shared().serialize, value)?)
    }

    pub(super) fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        Ok(codec::decode(&*self.shared().deserialize, bytes)?)
    }

    /// Returns the value of `key` as a `T`, or `None` if the session has no
    /// such key.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the stored value is not a `T` (500).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        // Decoding is synchronous: it runs under the lock, without copying
        // the stored bytes first.
        let state = self.loaded().await?;
        state.entries.get(key).map(|b| self.decode(b)).transpose()
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503), or the codec cannot encode the value (500).
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let bytes = self.encode(&value)?;
        self.loaded().await?.set(key.to_owned(), bytes);
        Ok(())
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
        let Some(bytes) = state.entries.get(key) else {
            return Ok(None);
        };
        let value = self.decode(bytes)?;
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
        let state = self.loaded().await?;
        state
            .entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.decode(v)?)))
            .collect()
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
    /// The store is unavailable (503), or a value cannot be encoded (500;
    /// nothing is changed then).
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
        match state.entries.get(key) {
            Some(bytes) => self.decode(bytes),
            None => {
                state.set(key.to_owned(), encoded);
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
        Ok(self.loaded().await?.mode == Mode::Fresh)
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
        let timeout = self.shared().timeout;
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
        let mut state = self.state();
        if !state.is_loaded() {
            // Delete whatever the cookie points at without reading it first.
            if let Some(id) = self.verified_id() {
                state.doomed.insert(session_key(&self.shared().prefix, id));
            }
        }
        state.reset();
    }

    /// Moves the session's data to a new id (call it at login, against session
    /// fixation): the old key is deleted and a cookie with the new id is sent.
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn regenerate(&self) -> Result<(), Error> {
        self.loaded().await?.regenerate();
        Ok(())
    }

    /// Sets the idle timeout of this session, in seconds (0: never expires),
    /// for the rest of its life (the manual's `adjust_timeout_for_session`).
    ///
    /// # Errors
    ///
    /// The store is unavailable (503).
    pub async fn adjust_timeout_for_session(&self, timeout_seconds: u64) -> Result<(), Error> {
        let mut state = self.loaded().await?;
        state.session_timeout = Some(timeout_seconds);
        state.timeout_changed = true;
        state.dirty = true;
        Ok(())
    }

    /// True once a method has needed the data (or the session was invalidated).
    pub(crate) fn was_used(&self) -> bool {
        self.state().is_loaded()
    }

    /// Applies the request's changes; called by the layer with the response
    /// status.
    /// Decides what the response needs; only a plan with writes needs the
    /// store (and an allocation for its future).
    pub(crate) fn begin_finish(&self, server_error: bool) -> Finishing {
        let shared = self.shared();
        let (plan, used) = {
            let state = self.state();
            (state.plan(shared.timeout), state.is_loaded())
        };
        if !used || (server_error && !shared.cookie_on_exception) {
            return Finishing::Done(Finish::default());
        }
        if plan.is_empty() {
            return Finishing::Done(Finish {
                set_cookie: self.refreshed_cookie(),
                vary: true,
            });
        }
        Finishing::Commit(plan)
    }

    /// Applies a plan's writes in one round trip (two on the practically
    /// impossible id collision, or to remove what an update left behind).
    pub(crate) async fn commit(&self, plan: Plan) -> Result<Finish, Error> {
        let shared = self.shared();
        let mut finish = Finish {
            set_cookie: None,
            vary: true,
        };
        let store = self.store()?;
        let mut writes = plan
            .writes
            .into_iter()
            .map(|write| match write {
                Write::Update {
                    key,
                    set,
                    delete,
                    timeout,
                } => {
                    let set = seal(shared, &key, set)?;
                    Ok(Write::update(key, set, delete, timeout))
                }
                other => Ok(other),
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let deletes = writes
            .iter()
            .filter(|w| matches!(w, Write::Delete { .. }))
            .count();
        let mut new_id = None;
        if let Some(fields) = &plan.create {
            let id = Id::generate(&*shared.id_generator)?;
            writes.push(create(shared, &id, fields.clone(), plan.timeout)?);
            new_id = Some(id);
        }
        let results = store.write(writes).await?;
        let mut cookie = if plan.update {
            match results.get(deletes) {
                Some(Written::Stored) => CookieAction::Refresh,
                Some(Written::Missing) => {
                    // Deleted by a concurrent request (invalidate, regenerate):
                    // never resurrect it, and leave the cookie that request sent.
                    tracing::debug!(target: "redis_sessions::session", "session vanished before its changes were saved: changes dropped");
                    CookieAction::Keep
                }
                _ => CookieAction::Delete,
            }
        } else if deletes > 0 {
            CookieAction::Delete
        } else {
            CookieAction::Refresh
        };
        if let (Some(mut id), Some(fields)) = (new_id, plan.create) {
            let mut written = results.last().copied();
            let mut attempts = 1;
            while written == Some(Written::Collision) && attempts < CREATE_ATTEMPTS {
                tracing::warn!(target: "redis_sessions::session", "new session id already in use: trying another");
                id = Id::generate(&*shared.id_generator)?;
                written = store
                    .write(vec![create(shared, &id, fields.clone(), plan.timeout)?])
                    .await?
                    .first()
                    .copied();
                attempts += 1;
            }
            if written != Some(Written::Stored) {
                return Err(Error::Store(store::Error::Backend(
                    "could not create a session under a fresh id".into(),
                )));
            }
            cookie = CookieAction::Set(id);
        }
        finish.set_cookie = match cookie {
            CookieAction::Set(id) => shared
                .cookie
                .set_cookie(shared.signer.sign(&shared.cookie.name, id.as_str())),
            CookieAction::Refresh => self.refreshed_cookie(),
            CookieAction::Delete if self.cookie_values().next().is_some() => {
                shared.cookie.deletion()
            }
            CookieAction::Delete | CookieAction::Keep => None,
        };
        Ok(finish)
    }

    /// With `cookie_max_age`, an existing session's cookie is sent again so
    /// that its browser-side expiry slides along with the idle timeout.
    fn refreshed_cookie(&self) -> Option<HeaderValue> {
        let shared = self.shared();
        shared.cookie.max_age?;
        if !matches!(self.state().mode, Mode::Existing { .. }) {
            return None;
        }
        let value = self
            .cookie_values()
            .find(|value| shared.signer.verify(&shared.cookie.name, value).is_some())?;
        shared.cookie.set_cookie(value.to_owned())
    }

    /// Runs `f` on the loaded state (for the flash and CSRF helpers).
    pub(super) async fn with_state<R>(
        &self,
        f: impl FnOnce(&mut State, &Self) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut state = self.loaded().await?;
        f(&mut state, self)
    }
}

enum CookieAction {
    Set(Id),
    Refresh,
    Delete,
    Keep,
}

fn create(shared: &Shared, id: &Id, fields: Vec<Field>, timeout: u64) -> Result<Write, Error> {
    let key = session_key(&shared.prefix, id.as_str());
    let fields = seal(shared, &key, fields)?;
    Ok(Write::create(key, fields, timeout))
}

/// Seals the user fields of a write for their place; metadata stays plain.
fn seal(shared: &Shared, key: &str, fields: Vec<Field>) -> Result<Vec<Field>, Error> {
    fields
        .into_iter()
        .map(|(name, value)| {
            if matches!(classify(&name), FieldName::Meta(_)) {
                return Ok((name, value));
            }
            let ctx = FieldContext { key, field: &name };
            let sealed = shared.serialize.seal(&ctx, value)?;
            Ok((name, sealed))
        })
        .collect()
}

struct Parsed {
    entries: std::collections::BTreeMap<String, Vec<u8>>,
    created: Option<u64>,
    timeout: Option<u64>,
}

/// Reads stored fields; `Err` names what is corrupt (never a value).
fn parse(shared: &Shared, store_key: &str, fields: Vec<Field>) -> Result<Parsed, &'static str> {
    let mut parsed = Parsed {
        entries: std::collections::BTreeMap::new(),
        created: None,
        timeout: None,
    };
    for (name, value) in fields {
        match classify(&name) {
            FieldName::Meta(meta) => {
                let number = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse().ok());
                if meta == CREATED_FIELD {
                    parsed.created = Some(number.ok_or("the creation time is not a number")?);
                } else if meta == TIMEOUT_FIELD {
                    parsed.timeout = Some(number.ok_or("the session timeout is not a number")?);
                }
            }
            FieldName::User(raw) => {
                let escape = name.len() - raw.len();
                let user_key = match (std::str::from_utf8(raw), shared.key_errors) {
                    (Ok(_), _) => None,
                    (Err(_), KeyErrors::Replace) => Some(String::from_utf8_lossy(raw).into_owned()),
                    (Err(_), KeyErrors::Ignore) => continue,
                    (Err(_), KeyErrors::Strict) => return Err("a key name is not UTF-8"),
                };
                let ctx = FieldContext {
                    key: store_key,
                    field: &name,
                };
                let value = shared
                    .deserialize
                    .open(&ctx, value)
                    .map_err(|_| "a value cannot be opened by the configured codec")?;
                if shared.deserialize.validate(&value).is_err() {
                    return Err("a value does not decode with the configured codec");
                }
                let user_key = match user_key {
                    Some(key) => key,
                    None => {
                        // Checked as UTF-8 above: reuse Redis's buffer.
                        let mut bytes = name;
                        bytes.drain(..escape);
                        String::from_utf8(bytes).map_err(|_| "a key name is not UTF-8")?
                    }
                };
                parsed.entries.insert(user_key, value);
            }
        }
    }
    Ok(parsed)
}
