//! A session's life within one request: made lazily by the layer, loaded on
//! first use (one command), committed when the response goes out (one round
//! trip, only if something changed).
//!
//! Read this file top to bottom to follow a request: [`Session::new`] →
//! [`Session::loaded`] (verify the cookie, load, [`parse`]) → the handler's
//! calls (in `handle.rs`) → [`Session::begin_finish`] (plan) →
//! [`Session::commit`] (one batch of writes, then the user index) → the
//! headers the layer adds.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use http::HeaderValue;
use tokio::sync::OnceCell;

use super::Error;
use super::context::{CacheControl, Context, StoreSelector};
use super::events::{Reason, corrupt, emit};
use super::index;
use super::parse::parse;
use super::state::{Loaded, Plan, Policy, State, now};
use crate::codec::FieldContext;
use crate::store::{self, Corrupt, Entry, Record, SessionStore, Write, Written};

/// How often a fresh id is tried when the store reports a collision.
const CREATE_ATTEMPTS: usize = 3;

/// Where a request's store comes from: resolved when the layer sees the
/// request, or (with a `client_callable`) on the first access, so requests
/// that never use their session never call it.
pub(crate) enum StoreSlot {
    Ready(Arc<dyn SessionStore>),
    Callable {
        head: Box<http::request::Parts>,
        store: OnceLock<Result<Arc<dyn SessionStore>, store::Error>>,
    },
}

impl StoreSlot {
    /// The slot for a request whose head `head` makes; it is called only
    /// when the store depends on the request (a `client_callable`).
    pub(crate) fn for_request(
        context: &Context,
        head: impl FnOnce() -> http::request::Parts,
    ) -> Self {
        match &context.store {
            StoreSelector::Fixed(store) => Self::Ready(Arc::clone(store)),
            StoreSelector::PerRequest(_) => Self::Callable {
                head: Box::new(head()),
                store: OnceLock::new(),
            },
        }
    }
}

pub(crate) struct Inner {
    pub(super) context: Arc<Context>,
    store: StoreSlot,
    /// The request's `Cookie` headers (almost always one, kept without a
    /// `Vec`); ours is found and verified on first access.
    cookies: (Option<HeaderValue>, Vec<HeaderValue>),
    /// Ours among `cookies`, verified: see [`Session::presented`].
    presented: OnceLock<Presented>,
    load: OnceCell<()>,
    state: Mutex<State>,
}

/// One request's session, handed out by [`SessionLayer`](crate::SessionLayer).
///
/// Cheap to clone (an `Arc`); clones share the same state. Nothing is read
/// from the store until a method needs the data (one command), and nothing
/// is written until the response goes out (one round trip, only if something
/// changed). Values are any serde types, encoded by the factory's codec.
///
/// In axum, take it as an extractor: `Session` rejects with 500 when the
/// layer is missing; `Option<Session>` never rejects. Every data method may
/// fail with [`Error`], which as a response is a 503 when the store is
/// unavailable (see [`Error::status`] for the others).
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
    pub(super) inner: Arc<Inner>,
}

/// What finishing a request needs once the handler is done.
pub(crate) enum Outcome {
    /// Nothing to write: the headers are known.
    Ready(ResponseHeaders),
    /// Writes to apply with [`Session::commit`] first (boxed: a plan
    /// carries the session to create).
    Commit(Box<Plan>),
}

/// The headers the layer adds to the response.
#[derive(Debug, Default)]
pub(crate) struct ResponseHeaders {
    pub(crate) set_cookie: Option<HeaderValue>,
    /// The response depends on the cookie (the session was used).
    pub(crate) vary: bool,
    /// Add `Cache-Control: no-store` unless the app set its own.
    pub(crate) no_store: bool,
}

impl ResponseHeaders {
    /// The headers to append, in order, to a response, given whether it
    /// has a `Cache-Control` header and whether it varies on `Cookie`
    /// already (each asked only when it matters): the same answer on every
    /// framework.
    pub(crate) fn additions(
        self,
        has_cache_control: impl FnOnce() -> bool,
        varies_on_cookie: impl FnOnce() -> bool,
    ) -> [Option<(&'static str, HeaderValue)>; 3] {
        let no_store = self.set_cookie.is_some() && self.no_store && !has_cache_control();
        let cookie = self.set_cookie.map(|cookie| ("set-cookie", cookie));
        let no_store = no_store.then(|| ("cache-control", HeaderValue::from_static("no-store")));
        let vary = (self.vary && !varies_on_cookie())
            .then(|| ("vary", HeaderValue::from_static("Cookie")));
        [cookie, no_store, vary]
    }
}

/// What the cookie in the response must do.
enum CookieAction {
    Set(String),
    Refresh,
    Delete,
    Keep,
}

/// The request's cookie of ours, verified once per request (on first need)
/// and kept: its id and the id's store key.
pub(super) enum Presented {
    Nothing,
    BadSignature,
    Valid {
        id: String,
        key: String,
        old_secret: bool,
    },
}

impl Session {
    pub(crate) fn new(
        context: Arc<Context>,
        store: StoreSlot,
        cookies: (Option<HeaderValue>, Vec<HeaderValue>),
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                context,
                store,
                cookies,
                presented: OnceLock::new(),
                load: OnceCell::new(),
                state: Mutex::new(State::unloaded()),
            }),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, so a poisoned lock still
        // guards consistent data.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn context(&self) -> &Context {
        &self.inner.context
    }

    pub(super) fn store(&self) -> Result<&dyn SessionStore, Error> {
        let result = match &self.inner.store {
            StoreSlot::Ready(store) => return Ok(&**store),
            StoreSlot::Callable { head, store } => {
                store.get_or_init(|| match &self.context().store {
                    StoreSelector::PerRequest(callable) => callable
                        .client(head, &self.context().redis)
                        .map(|client| self.context().store_over(client)),
                    StoreSelector::Fixed(store) => Ok(Arc::clone(store)),
                })
            }
        };
        match result {
            Ok(store) => Ok(&**store),
            Err(e) => Err(Error::Store(e.clone())),
        }
    }

    /// The values of every cookie with our name.
    fn cookie_values(&self) -> impl Iterator<Item = &str> {
        self.cookies_named(&self.context().cookie.name)
    }

    /// The values of every cookie named `name`.
    pub(super) fn cookies_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        let (first, rest) = &self.inner.cookies;
        crate::cookie::find(first.iter().chain(rest), name)
    }

    /// The first cookie with our name and a valid signature (the first
    /// match wins: see `crate::cookie`), with its store key: verified and
    /// digested once per request, whoever asks first.
    pub(super) fn presented(&self) -> &Presented {
        self.inner.presented.get_or_init(|| {
            let context = self.context();
            let mut seen = false;
            for value in self.cookie_values() {
                seen = true;
                if let Some(verified) = context.verify_cookie(value) {
                    return Presented::Valid {
                        key: context.key_of(&verified.id),
                        id: verified.id.into_owned(),
                        old_secret: verified.old_secret,
                    };
                }
            }
            if seen {
                Presented::BadSignature
            } else {
                Presented::Nothing
            }
        })
    }

    /// The verified id of the request's cookie and its store key, if any.
    pub(super) fn verified(&self) -> Option<(&str, &str)> {
        match self.presented() {
            Presented::Valid { id, key, .. } => Some((id, key)),
            _ => None,
        }
    }

    /// Loads the session once; later calls return at once.
    pub(super) async fn loaded(&self) -> Result<MutexGuard<'_, State>, Error> {
        if !self.state().is_loaded() {
            self.inner.load.get_or_try_init(|| self.load()).await?;
        }
        Ok(self.state())
    }

    async fn load(&self) -> Result<(), Error> {
        let context = self.context();
        let policy = self.policy();
        let now = policy.now;
        let (key, old_secret) = match self.presented() {
            Presented::Valid {
                key, old_secret, ..
            } => (Some(key.clone()), *old_secret),
            other => {
                // No cookie of ours: maybe one of the original app's.
                #[cfg(feature = "compat")]
                if self.upgrade().await? {
                    return Ok(());
                }
                if matches!(other, Presented::BadSignature) {
                    emit(&context.events, Reason::BadSignature, None);
                }
                (None, false)
            }
        };
        let mut doomed = None;
        let mut adopted = None;
        if let Some(key) = key {
            // The events' tag is a digest of its own: made only for an event.
            let tag = |key: &str| Some(store::tag_of(key));
            match self.read(&key).await? {
                None => emit(&context.events, Reason::UnknownId, tag(&key)),
                Some(Err(problem)) => {
                    corrupt(&context.events, &key, problem.0);
                    doomed = Some(key);
                }
                Some(Ok(loaded)) => match loaded.expired(&policy) {
                    Some(reason) => {
                        emit(&context.events, reason, tag(&key));
                        doomed = Some(key);
                    }
                    None => {
                        if old_secret {
                            emit(&context.events, Reason::OldSecret, tag(&key));
                        }
                        adopted = Some((key, loaded));
                    }
                },
            }
        }
        let mut state = self.state();
        if state.is_loaded() {
            // invalidate() ran while the load was in flight: it wins.
            return Ok(());
        }
        match adopted {
            Some((key, loaded)) => {
                state.load_existing(key, Arc::unwrap_or_clone(loaded), old_secret);
            }
            None => state.start_fresh(now, doomed),
        }
        Ok(())
    }

    /// The session stored at `key`: from the process cache when it holds
    /// it (no store command), else read from the store, and then cached.
    /// `Some(Err)` names what is corrupt.
    async fn read(&self, key: &str) -> Result<Option<Result<Arc<Loaded>, Corrupt>>, Error> {
        let context = self.context();
        let cache = context.cache.as_ref();
        if let Some(hit) = cache.and_then(|cache| cache.get(key)) {
            crate::metrics::cache_hit();
            return Ok(Some(Ok(hit)));
        }
        // Taken before the command is sent: a change that lands while it
        // is in flight keeps its result out of the cache.
        let ticket = cache.and_then(|cache| {
            crate::metrics::cache_miss();
            cache.ticket(key)
        });
        let record = match self.store()?.load(key).await {
            Ok(None) => return Ok(None),
            Ok(Some(record)) => record,
            // Not a session: handled as a corrupt one (deleted).
            Err(store::Error::WrongType) => Err(Corrupt("the key holds no session hash")),
            Err(e) => return Err(e.into()),
        };
        crate::metrics::loaded();
        Ok(Some(
            record
                .and_then(|record| parse(context, key, record))
                .map(|loaded| {
                    let loaded = Arc::new(loaded);
                    if let (Some(cache), Some(ticket)) = (cache, ticket) {
                        cache.fill(key, Arc::clone(&loaded), ticket);
                    }
                    loaded
                }),
        ))
    }

    /// True once a method has needed the data (or the session was invalidated).
    pub(crate) fn was_used(&self) -> bool {
        self.state().was_used()
    }

    pub(super) fn policy(&self) -> Policy {
        Policy {
            default_timeout: self.context().timeout,
            max_lifetime: self.context().max_lifetime,
            now: now(),
            max_bytes: self.context().max_session_bytes,
        }
    }

    /// Decides what the response needs; only a plan with writes needs the
    /// store (and an allocation for its future). On a 5xx response with
    /// `cookie_on_exception = false`, only deletes run (a logout that then
    /// fails still logs out) and no cookie is sent.
    pub(crate) fn begin_finish(&self, server_error: bool) -> Outcome {
        let (plan, used) = {
            let state = self.state();
            (state.plan(&self.policy()), state.was_used())
        };
        if !used {
            return Outcome::Ready(ResponseHeaders::default());
        }
        if server_error && !self.context().cookie_on_exception {
            let plan = plan.deletes_only();
            return if plan.is_empty() {
                Outcome::Ready(ResponseHeaders::default())
            } else {
                Outcome::Commit(Box::new(plan))
            };
        }
        if plan.is_empty() {
            return Outcome::Ready(self.headers(self.refreshed_cookie()));
        }
        Outcome::Commit(Box::new(plan))
    }

    /// Applies a plan's writes in one round trip (two on the practically
    /// impossible id collision), then the user index (another key, maybe on
    /// another node: only at login, logout and due refreshes of bound
    /// sessions).
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, any prefix of the writes may have been
    /// applied; no key is left without a TTL either way (a store guarantee).
    pub(crate) async fn commit(
        &self,
        plan: Plan,
        server_error: bool,
    ) -> Result<ResponseHeaders, Error> {
        let context = self.context();
        let store = self.store()?;
        let mut plan = plan;
        // A regenerated session moves to its new key in one atomic step, so
        // that a revocation or logout racing it is never undone; where the
        // store cannot (Cluster, the original's format), it is deleted and
        // created in two.
        let (moved_from, retired) = match plan.moved_from.take() {
            Some(from) if store.moves_atomically() => (Some(from), None),
            Some(from) => (None, Some(from)),
            None => (None, None),
        };
        let mut batch = Batch::default();
        for key in &plan.deletes {
            batch.push(Write::Delete { key: key.clone() });
        }
        if let Some(key) = retired {
            // Deleted, leaving the move's marker for slower writers.
            plan.deletes.push(key.clone());
            batch.push(Write::Retire { key });
        }
        let change = plan
            .change
            .map(|write| Ok::<_, Error>(batch.push(seal_write(context, write)?)))
            .transpose()?;
        let mut create = None;
        if let Some((fields, ttl)) = &plan.create {
            let id = context.new_id()?;
            let key = context.key_of(&id);
            if moved_from.is_some() {
                // Listed before it exists: a revocation that lists the
                // user's sessions after this point sees the new key too.
                index::list_created(context, store, &plan.index, &key, true).await?;
            }
            let write = create_write(context, &key, fields.clone(), *ttl, moved_from.as_deref())?;
            create = Some((id, key, batch.push(write)));
        }
        let results = batch.send(store).await?;
        let mut cookie = match change.map(|slot| results[slot]) {
            Some(Written::Stored) => CookieAction::Refresh,
            Some(Written::Emptied) => CookieAction::Delete,
            Some(Written::TooLarge) => {
                // Concurrent writers grew the stored session meanwhile:
                // this change would take it past the limit.
                return Err(Error::TooLarge {
                    limit: context.max_session_bytes,
                });
            }
            Some(Written::Moved) => {
                // A concurrent login or regenerate moved the session after
                // this request loaded it: say so, never a 200 and a loss.
                return Err(Error::Moved);
            }
            Some(_) => {
                // Deleted by a concurrent request (invalidate, regenerate):
                // never resurrect it, and leave the cookie that request sent.
                tracing::debug!(target: "redis_sessions::session", "session vanished before its changes were saved: changes dropped");
                CookieAction::Keep
            }
            None if !plan.deletes.is_empty() => CookieAction::Delete,
            None => CookieAction::Refresh,
        };
        let mut created_key = None;
        if let (Some((mut id, mut key, slot)), Some((fields, ttl))) = (create, plan.create) {
            let mut written = results[slot];
            let mut attempts = 1;
            while written == Written::Collision && attempts < CREATE_ATTEMPTS {
                tracing::warn!(target: "redis_sessions::session", "new session id already in use: trying another");
                id = context.new_id()?;
                key = context.key_of(&id);
                if moved_from.is_some() {
                    index::list_created(context, store, &plan.index, &key, true).await?;
                }
                let mut retry = Batch::default();
                let write =
                    create_write(context, &key, fields.clone(), ttl, moved_from.as_deref())?;
                let slot = retry.push(write);
                written = retry.send(store).await?[slot];
                attempts += 1;
            }
            if written == Written::Missing {
                // Revoked or logged out while this request ran: it stays so.
                tracing::debug!(target: "redis_sessions::session", "session ended before it could move to a new id: not recreated");
                index::list_created(context, store, &plan.index, &key, false).await?;
                return Ok(self.headers(match self.cookie_values().next() {
                    Some(_) if !server_error || context.cookie_on_exception => {
                        context.cookie.deletion()
                    }
                    _ => None,
                }));
            }
            if written != Written::Stored {
                return Err(Error::Store(store::Error::Backend(
                    "could not create a session under a fresh id".into(),
                )));
            }
            created_key = Some(key);
            crate::metrics::created();
            cookie = CookieAction::Set(id);
        }
        index::apply_index(context, store, plan.index, created_key.as_deref()).await?;
        if server_error && !context.cookie_on_exception {
            return Ok(ResponseHeaders::default());
        }
        let set_cookie = match cookie {
            CookieAction::Set(id) => context.cookie.set_cookie(context.sign_cookie(&id)),
            CookieAction::Refresh => self.refreshed_cookie(),
            CookieAction::Delete if self.cookie_values().next().is_some() => {
                context.cookie.deletion()
            }
            CookieAction::Delete | CookieAction::Keep => None,
        };
        Ok(self.headers(set_cookie))
    }

    fn headers(&self, set_cookie: Option<HeaderValue>) -> ResponseHeaders {
        ResponseHeaders {
            no_store: set_cookie.is_some() && self.context().cache_control == CacheControl::NoStore,
            set_cookie,
            vary: true,
        }
    }

    /// An existing session's cookie is sent again when it was signed with an
    /// old secret (re-signed with the current one), or with `cookie_max_age`
    /// so that its browser-side expiry slides along with the idle timeout.
    fn refreshed_cookie(&self) -> Option<HeaderValue> {
        let context = self.context();
        let resign = {
            let state = self.state();
            // An increment applied without a load found the session too.
            if !state.found_stored() {
                return None;
            }
            state.resign()
        };
        if !resign && context.cookie.max_age.is_none() {
            return None;
        }
        let (id, _) = self.verified()?;
        context.cookie.set_cookie(context.sign_cookie(id))
    }

    /// Runs `f` on the loaded state (for the flash, CSRF and user helpers).
    pub(super) async fn with_state<R>(
        &self,
        f: impl FnOnce(&mut State, &Self) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut state = self.loaded().await?;
        f(&mut state, self)
    }
}

/// A batch of writes sent in one round trip, each with its own result slot.
#[derive(Default)]
struct Batch {
    writes: Vec<Write>,
}

/// The place of one write's result in [`Batch::send`]'s answer.
#[derive(Clone, Copy)]
struct Slot(usize);

impl std::ops::Index<Slot> for Vec<Written> {
    type Output = Written;

    fn index(&self, slot: Slot) -> &Written {
        &self[slot.0]
    }
}

impl Batch {
    fn push(&mut self, write: Write) -> Slot {
        self.writes.push(write);
        Slot(self.writes.len() - 1)
    }

    /// Sends the batch; the answer has one result per write, in order (the
    /// [`SessionStore::write`] contract, checked here).
    async fn send(self, store: &dyn SessionStore) -> Result<Vec<Written>, Error> {
        let n = self.writes.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let results = store.write(self.writes).await?;
        if results.len() != n {
            return Err(Error::Store(store::Error::Backend(format!(
                "the store answered {} results to {n} writes",
                results.len()
            ))));
        }
        Ok(results)
    }
}

/// The write that creates the session stored at `key`: a plain
/// create-if-absent, or a move from the session it was regenerated from.
fn create_write(
    context: &Context,
    key: &str,
    mut session: Record,
    ttl: u64,
    moved_from: Option<&str>,
) -> Result<Write, Error> {
    session.entries = seal(context, key, session.entries)?;
    let key = key.to_owned();
    Ok(match moved_from {
        Some(from) => Write::Move {
            from: from.to_owned(),
            key,
            session,
            ttl,
        },
        None => Write::Create { key, session, ttl },
    })
}

fn seal_write(context: &Context, mut write: Write) -> Result<Write, Error> {
    if let Write::Update { key, change, .. } = &mut write {
        change.set = seal(context, key, std::mem::take(&mut change.set))?;
    }
    Ok(write)
}

/// Seals entries for their place: each value is bound to the session's
/// key and the entry's stored name.
fn seal(context: &Context, key: &str, entries: Vec<Entry>) -> Result<Vec<Entry>, Error> {
    entries
        .into_iter()
        .map(|(name, value)| {
            let field = store::stored_name(&name);
            let ctx = FieldContext { key, field: &field };
            let sealed = context.serialize.seal(&ctx, value)?;
            Ok((name, sealed))
        })
        .collect()
}
