//! The [`SessionStore`] trait and the writes it applies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::error::{Error, check_timeout};
use super::layout::MAX_TIMEOUT;
use crate::codec::Integers;

/// The future returned by [`SessionStore`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// One entry of a session: its key, as the application named it (raw
/// bytes), and its value as the value codec encoded it.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A session's metadata: its times, and the user it is bound to.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// When the session was created, unix seconds.
    pub created: u64,
    /// The last idle-TTL refresh, unix seconds (0: none recorded).
    pub refreshed: u64,
    /// The session's own idle timeout, seconds (0: none), if it has one.
    pub timeout: Option<u64>,
    /// The user the session is bound to.
    pub user: Option<String>,
    /// The user agent recorded with the binding.
    pub agent: Option<String>,
    /// When the user was bound, unix seconds (0: not recorded).
    pub bound: u64,
}

impl Meta {
    /// The metadata of a session created at `created` and last refreshed
    /// at `refreshed`, with no timeout of its own and no user.
    ///
    /// ```
    /// use redis_sessions::store::Meta;
    ///
    /// let meta = Meta::new(1_700_000_000, 1_700_000_060).with_timeout(300);
    /// assert_eq!(meta.timeout, Some(300));
    /// ```
    pub fn new(created: u64, refreshed: u64) -> Self {
        Self {
            created,
            refreshed,
            ..Self::default()
        }
    }

    /// The same, with `timeout` of its own.
    #[must_use]
    pub fn with_timeout(mut self, timeout: u64) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same, bound to `user` at `bound`, with `agent` recorded.
    #[must_use]
    pub fn with_user(mut self, user: &str, agent: Option<&str>, bound: u64) -> Self {
        self.user = Some(user.to_owned());
        self.agent = agent.map(str::to_owned);
        self.bound = bound;
        self
    }
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The user and the agent identify a person: never shown.
        f.debug_struct("Meta")
            .field("created", &self.created)
            .field("refreshed", &self.refreshed)
            .field("timeout", &self.timeout)
            .field("user", &self.user.as_ref().map(|_| "<bound>"))
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

/// A session as a store holds it: its metadata and its entries. How a
/// store lays them out is its own affair.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The session's metadata.
    pub meta: Meta,
    /// The session's entries, in no particular order.
    pub entries: Vec<Entry>,
}

impl Record {
    /// A session with `meta` and `entries`.
    ///
    /// ```
    /// use redis_sessions::store::{Meta, Record};
    ///
    /// let record = Record::new(Meta::new(1_700_000_000, 1_700_000_000), vec![
    ///     (b"cart".to_vec(), b"\x93\x01\x02\x03".to_vec()),
    /// ]);
    /// assert_eq!(record.entries.len(), 1);
    /// ```
    pub fn new(meta: Meta, entries: Vec<Entry>) -> Self {
        Self { meta, entries }
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and values are session data: only their number is shown.
        f.debug_struct("Record")
            .field("meta", &self.meta)
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// What a store found at a key that holds no session it can read: its
/// metadata are missing or not what they should be. The session layer
/// deletes such a session and starts a new one. The text names what is
/// wrong, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("corrupt session: {0}")]
pub struct Corrupt(pub &'static str);

/// What [`SessionStore::load`] found at a key.
pub type Loaded = Option<Result<Record, Corrupt>>;

/// A change to a stored session, for [`Write::Update`]: entries to set and
/// to delete, and the metadata to record. Metadata left `None` keep what is
/// stored, so that concurrent changes of different metadata both land.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// Entries to set.
    pub set: Vec<Entry>,
    /// Keys of entries to delete.
    pub delete: Vec<Vec<u8>>,
    /// The creation time and the new refresh time, unix seconds: a refresh
    /// of the idle TTL to record.
    pub times: Option<(u64, u64)>,
    /// A new idle timeout of the session's own, seconds (0: none).
    pub timeout: Option<u64>,
    /// The user to bind the session to.
    pub user: Option<String>,
    /// The user agent to record.
    pub agent: Option<String>,
    /// When the user was bound, unix seconds.
    pub bound: Option<u64>,
}

impl Change {
    /// A change that sets `set` and deletes `delete`, and records no
    /// metadata.
    ///
    /// ```
    /// use redis_sessions::store::Change;
    ///
    /// let change = Change::entries(vec![(b"n".to_vec(), b"\x01".to_vec())], vec![])
    ///     .with_refresh(1_700_000_000, 1_700_000_600);
    /// assert_eq!(change.times, Some((1_700_000_000, 1_700_000_600)));
    /// ```
    pub fn entries(set: Vec<Entry>, delete: Vec<Vec<u8>>) -> Self {
        Self {
            set,
            delete,
            ..Self::default()
        }
    }

    /// The same, recording a refresh at `refreshed` of the session created
    /// at `created`.
    #[must_use]
    pub fn with_refresh(mut self, created: u64, refreshed: u64) -> Self {
        self.times = Some((created, refreshed));
        self
    }

    /// The same, setting the session's own idle timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: u64) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// True if the change may leave the session without an entry: it
    /// deletes some, and sets none. Only then do stores check.
    pub(crate) fn may_empty(&self) -> bool {
        !self.delete.is_empty() && self.set.is_empty()
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and values are session data: only their number is shown.
        f.debug_struct("Change")
            .field("set", &self.set.len())
            .field("delete", &self.delete.len())
            .field("times", &self.times)
            .field("timeout", &self.timeout)
            .field("user", &self.user.as_ref().map(|_| "<bound>"))
            .field("agent", &self.agent.as_ref().map(|_| "<recorded>"))
            .field("bound", &self.bound)
            .finish()
    }
}

/// One write of a batch given to [`SessionStore::write`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Write {
    /// Creates the session only if its key does not exist yet.
    Create {
        /// The session key.
        key: String,
        /// The new session.
        session: Record,
        /// The TTL to set, seconds (0: none).
        ttl: u64,
    },
    /// Changes a session only if it still exists, and sets its TTL, all in
    /// one atomic step. If no entry is left, the session is deleted.
    Update {
        /// The session key.
        key: String,
        /// What to change.
        change: Change,
        /// The TTL to set, seconds (0: none). Always applied.
        ttl: u64,
        /// The most bytes the session's entries (keys and values, as
        /// stored) may take after the update (0: not weighed). An update
        /// that would grow the session past it writes nothing and answers
        /// [`Written::TooLarge`]; one that shrinks it or keeps its size
        /// always applies.
        max_bytes: u64,
    },
    /// Moves a session to a new key (regenerate, login), atomically: only
    /// if `from` still exists and `key` is free, deletes `from` and creates
    /// `key` holding `session`. Only for stores whose
    /// [`SessionStore::moves_atomically`] is true (both keys must be on one
    /// server).
    Move {
        /// The session's current key.
        from: String,
        /// The new key.
        key: String,
        /// The moved session.
        session: Record,
        /// The TTL to set, seconds (0: none).
        ttl: u64,
    },
    /// Deletes the session.
    Delete {
        /// The session key.
        key: String,
    },
    /// Deletes a session that moved to a new id, and if it existed, leaves
    /// the move's marker at its key for [`MOVED_GRACE`](super::MOVED_GRACE)
    /// seconds, so that a write that loaded it before the move answers
    /// [`Written::Moved`]: the delete half of a move that cannot be one step
    /// (see [`SessionStore::moves_atomically`]).
    Retire {
        /// The session key.
        key: String,
    },
}

impl Write {
    /// A [`Write::Create`].
    pub fn create(key: impl Into<String>, session: Record, ttl: u64) -> Self {
        Self::Create {
            key: key.into(),
            session,
            ttl,
        }
    }

    /// A [`Write::Update`], not weighed.
    pub fn update(key: impl Into<String>, change: Change, ttl: u64) -> Self {
        Self::Update {
            key: key.into(),
            change,
            ttl,
            max_bytes: 0,
        }
    }

    /// A [`Write::Delete`].
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete { key: key.into() }
    }

    /// The session key this write touches (every write touches one key,
    /// but a [`Write::Move`], which also deletes `from`).
    pub fn key(&self) -> &str {
        match self {
            Self::Create { key, .. }
            | Self::Move { key, .. }
            | Self::Update { key, .. }
            | Self::Delete { key }
            | Self::Retire { key } => key,
        }
    }

    /// The TTL this write sets, if it sets one.
    fn ttl(&self) -> Option<u64> {
        match self {
            Self::Create { ttl, .. } | Self::Move { ttl, .. } | Self::Update { ttl, .. } => {
                Some(*ttl)
            }
            Self::Delete { .. } | Self::Retire { .. } => None,
        }
    }
}

/// Refuses a batch with a TTL above [`MAX_TIMEOUT`](super::MAX_TIMEOUT)
/// before anything of it is written.
pub(crate) fn check_batch(writes: &[Write]) -> Result<(), Error> {
    for ttl in writes.iter().filter_map(Write::ttl) {
        check_timeout(ttl)?;
    }
    Ok(())
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and values are secrets of a kind: show only their shape.
        match self {
            Self::Create { session, ttl, .. } => {
                write!(f, "Create({} entries, {ttl} s)", session.entries.len())
            }
            Self::Update { change, ttl, .. } => write!(
                f,
                "Update({} set, {} deleted, {ttl} s)",
                change.set.len(),
                change.delete.len()
            ),
            Self::Move { session, ttl, .. } => {
                write!(f, "Move({} entries, {ttl} s)", session.entries.len())
            }
            Self::Delete { .. } => f.write_str("Delete"),
            Self::Retire { .. } => f.write_str("Retire"),
        }
    }
}

/// What happened to one [`Write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// `Create`, `Move` or `Update` done.
    Stored,
    /// `Create` or `Move`: the key already existed; nothing was written.
    Collision,
    /// `Update` or `Move`: the session no longer existed;
    /// nothing was written.
    Missing,
    /// `Update`: no entry was left, so the session was deleted.
    Emptied,
    /// `Delete` or `Retire` done (whether or not the key existed).
    Deleted,
    /// `Update` or `Move`: the session moved to a new id (a concurrent login
    /// or regenerate) since it was loaded; nothing was written.
    Moved,
    /// `Update`: the session would have grown past its `max_bytes`;
    /// nothing was written.
    TooLarge,
}

/// One session in a user's index (see [`SessionStore::index_put`]).
///
/// `Debug` shows the times only: the member is a session key.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The session's store key (a digest of its id, never the id).
    pub member: String,
    /// When the session expires, unix seconds (0: never).
    pub expires: u64,
    /// When the session was created, unix seconds.
    pub created: u64,
    /// When the session was last seen, unix seconds.
    pub last_seen: u64,
    /// The user agent the application recorded, if any (at most
    /// [`MAX_AGENT_BYTES`] are kept; an empty one counts as none).
    pub agent: Option<String>,
}

/// The longest user agent an index keeps, in bytes; longer ones are cut at
/// a character boundary.
pub const MAX_AGENT_BYTES: usize = 512;

/// The most entries [`SessionStore::index_list`] returns: those that end
/// last.
pub const MAX_LISTED: usize = 1000;

/// The largest time an index entry may carry (2^53 − 1): index scripts
/// compare times as Lua numbers, which are exact up to there.
pub(crate) const MAX_INDEX_TIME: u64 = (1 << 53) - 1;

impl IndexEntry {
    /// Checks the entry and cuts an over-long agent.
    pub(crate) fn checked(mut self) -> Result<Self, Error> {
        if self.member.is_empty() {
            return Err(Error::BadIndexEntry("the member (session key) is empty"));
        }
        if [self.expires, self.created, self.last_seen]
            .iter()
            .any(|t| *t > MAX_INDEX_TIME)
        {
            return Err(Error::BadIndexEntry(
                "a time is above 2^53 - 1 unix seconds",
            ));
        }
        if self.agent.as_deref() == Some("") {
            self.agent = None;
        }
        if let Some(agent) = &mut self.agent
            && agent.len() > MAX_AGENT_BYTES
        {
            let mut end = MAX_AGENT_BYTES;
            while !agent.is_char_boundary(end) {
                end -= 1;
            }
            agent.truncate(end);
        }
        Ok(self)
    }

    /// True if this entry replaces `old` for the same member: the newer
    /// observation wins (later `last_seen`, then later `expires`).
    #[cfg(feature = "memory-store")]
    pub(crate) fn supersedes(&self, old: &Self) -> bool {
        (self.last_seen, self.expires) > (old.last_seen, old.expires)
    }

    /// Merges a put into the stored entry (see [`SessionStore::index_put`]).
    #[cfg(feature = "memory-store")]
    pub(crate) fn merged_into(self, old: &Self) -> Self {
        let created = match (old.created, self.created) {
            (0, new) => new,
            (old, 0) => old,
            (old, new) => old.min(new),
        };
        let (mut winner, loser) = if self.supersedes(old) {
            (self, old.clone())
        } else {
            (old.clone(), self)
        };
        if winner.agent.is_none() {
            winner.agent = loser.agent;
        }
        winner.created = created;
        winner
    }
}

impl fmt::Debug for IndexEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexEntry")
            .field("expires", &self.expires)
            .field("created", &self.created)
            .field("last_seen", &self.last_seen)
            .field("agent", &self.agent.as_ref().map(|_| "<recorded>"))
            .finish_non_exhaustive()
    }
}

/// A place to keep sessions.
///
/// The trait speaks in sessions ([`Record`], [`Change`]); how a store lays
/// them out is private to it. Both built-in stores,
/// [`RedisStore`](super::RedisStore) and `MemoryStore`, pass the same
/// behavioural suite. A custom store must keep the same contract: a session
/// exists until it is deleted, emptied or expired; `Update` never brings
/// back a session that is gone; `Create` never overwrites one; an update
/// that leaves no entry deletes the session; no key is ever left without
/// its TTL; a TTL above [`MAX_TIMEOUT`](super::MAX_TIMEOUT) is refused with
/// [`Error::TimeoutTooLong`].
///
/// A store over another one, that counts the entries of the sessions it
/// creates (`increment`, `append` and `moves_atomically` keep their
/// defaults: no in-place changes, moves in two steps):
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// use redis_sessions::store::{IndexEntry, Loaded, StoreFuture, Write, Written};
/// use redis_sessions::{MemoryStore, RedisSessionFactory, SessionStore};
///
/// struct Counted {
///     inner: MemoryStore,
///     entries: AtomicUsize,
/// }
///
/// impl SessionStore for Counted {
///     fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded> {
///         self.inner.load(key)
///     }
///
///     fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
///         for write in &writes {
///             if let Write::Create { session, .. } = write {
///                 self.entries.fetch_add(session.entries.len(), Ordering::Relaxed);
///             }
///         }
///         self.inner.write(writes)
///     }
///
///     fn index_put(&self, index: &str, entry: IndexEntry, cap: usize) -> StoreFuture<'_, Vec<String>> {
///         self.inner.index_put(index, entry, cap)
///     }
///
///     fn index_list<'a>(&'a self, index: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
///         self.inner.index_list(index, now)
///     }
///
///     fn index_remove<'a>(&'a self, index: &'a str, members: &'a [String], until: u64) -> StoreFuture<'a, ()> {
///         self.inner.index_remove(index, members, until)
///     }
/// }
///
/// let store = Counted { inner: MemoryStore::new(), entries: AtomicUsize::new(0) };
/// let factory = RedisSessionFactory::builder("a secret of at least thirty-two bytes")
///     .store(store)
///     .build()
///     .unwrap();
/// ```
pub trait SessionStore: Send + Sync + 'static {
    /// Returns the session at `key`: `None` if there is none (a moved
    /// session's marker is none), `Some(Err)` if what is there is no
    /// session the store can read. Its TTL is left alone (the session
    /// lifecycle refreshes it with a [`Write::Update`] when due).
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be reached or answers with an error;
    /// [`Error::WrongType`] when the key holds another type of value.
    ///
    /// # Cancel safety
    ///
    /// Reads only: dropping the future changes nothing.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded>;

    /// Applies `writes` in one round trip and says what happened to each:
    /// (an `Update` of a session whose key holds the move's marker answers
    /// [`Written::Moved`]; a `Move` leaves that marker at its `from` key)
    /// the result has one [`Written`] per write, in the same order. Writes
    /// to one key are applied in their order (on Redis, a batch that names
    /// a key more than once takes one more round trip per repeat).
    ///
    /// # Errors
    ///
    /// [`Error::TimeoutTooLong`] (before anything is written) when a timeout
    /// is above [`MAX_TIMEOUT`](super::MAX_TIMEOUT); otherwise [`Error`]
    /// when the store cannot be reached or answers with an error.
    ///
    /// # Cancel safety
    ///
    /// Each write is atomic on its own; if the future is dropped, any subset
    /// of the batch may have been applied.
    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>>;

    /// Records or updates one session in the user index at `index_key`.
    ///
    /// The newer observation wins: a stored entry is replaced only by one
    /// with a later `last_seen` (on a tie, a later `expires`), so puts that
    /// arrive out of order are harmless; `created` keeps the earliest
    /// non-zero value and `agent` the last one recorded. A member removed by
    /// [`index_remove`](Self::index_remove) is not brought back. Entries
    /// expired as of `entry.last_seen` are pruned, and the index's TTL is set
    /// to its latest `expires` (no TTL if one is 0).
    ///
    /// With `cap` above 0, at most `cap` live entries are kept: past it, the
    /// entries that end first (never the one put) are removed (as by
    /// [`index_remove`](Self::index_remove), until their own expiry) and
    /// returned, so that the caller deletes their sessions. One round trip,
    /// one index; each step costs O(log n) in the index's size, plus what it
    /// prunes.
    ///
    /// # Errors
    ///
    /// [`Error::BadIndexEntry`] for an empty member or a time above 2^53 − 1;
    /// otherwise as [`write`](Self::write).
    ///
    /// # Cancel safety
    ///
    /// Atomic: applied whole or not at all.
    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>>;

    /// Lists the live sessions of the index at `index_key` (at most
    /// [`MAX_LISTED`], those that end last), in no particular order,
    /// pruning (in the same round trip) every entry expired as of
    /// `now` (unix seconds) and setting the index's TTL to its latest
    /// `expires`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write), plus [`Error::UnexpectedReply`] for an
    /// entry the store cannot read.
    ///
    /// # Cancel safety
    ///
    /// Atomic: the pruning is applied whole or not at all.
    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>>;

    /// Removes `members` from the index at `index_key`, and remembers them
    /// until `until` (unix seconds; the latest time these sessions could
    /// have expired) so that a put arriving late does not bring them back.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    ///
    /// # Cancel safety
    ///
    /// Atomic: applied whole or not at all.
    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()>;

    /// Whether this store applies [`Write::Move`] (both keys on one
    /// server). Without it, a regenerated session is deleted and created in
    /// two steps, and a revocation racing it may miss the new key. Default:
    /// false.
    fn moves_atomically(&self) -> bool {
        false
    }

    /// Adds to an integer entry of a live session in place, in one atomic
    /// step, without changing its TTL, and returns the sum; `Ok(None)` when
    /// nothing was written and the session must be loaded and changed the
    /// ordinary way. See [`Increment`] for when that is. The default
    /// (stores that cannot) always answers `Ok(None)`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    ///
    /// # Cancel safety
    ///
    /// Atomic: applied whole or not at all.
    fn increment<'a>(&'a self, op: &'a Increment) -> StoreFuture<'a, Option<Incremented>> {
        let _ = op;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Appends an encoded element to the list in an entry of a live session
    /// (a flash queue), in place and in one atomic step, without changing
    /// its TTL; `Ok(None)` when nothing was written and the session must be
    /// loaded and changed the ordinary way. See [`Append`] for when that is.
    /// The default (stores that cannot) always answers `Ok(None)`.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    ///
    /// # Cancel safety
    ///
    /// Atomic: applied whole or not at all.
    fn append<'a>(&'a self, op: &'a Append) -> StoreFuture<'a, Option<Appended>> {
        let _ = op;
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// An in-place append, for [`SessionStore::append`].
///
/// It is applied only if the session at `key` exists and passes the
/// `guard` (as for an [`Increment`]), and its `entry` is absent or holds a
/// list in the `format`. The session's entries are weighed in the store: an
/// append that would make them larger than `max_bytes` writes nothing and
/// answers [`Appended::TooLarge`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Append {
    /// The session key.
    pub key: String,
    /// The entry's key (as in an [`Entry`]).
    pub entry: Vec<u8>,
    /// The element, encoded in the `format`.
    pub element: Vec<u8>,
    /// How the list and the element are encoded.
    pub format: Integers,
    /// What the session's stored times must pass.
    pub guard: Guard,
    /// `max_session_bytes`: the most bytes the session's keys and values
    /// may take.
    pub max_bytes: u64,
}

impl fmt::Debug for Append {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys, fields and elements are session data: never shown.
        f.debug_struct("Append")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// What [`SessionStore::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Appended {
    /// Appended: the entry now holds `value`.
    Stored {
        /// The list now stored.
        value: Vec<u8>,
        /// The session's times, as stored (for the caller to judge whether
        /// its refresh is due).
        times: Times,
    },
    /// The session would exceed `max_bytes`: nothing was written.
    TooLarge,
}

/// The guard of an in-place change ([`Increment`], [`Append`]): what the
/// session's stored times must pass for the change to be made. The
/// session's policy computes it; a store compares, and derives nothing.
///
/// A session passes if it was created after `created_after` (when set:
/// older ones are past their absolute lifetime) and its own timeout, if it
/// has one, is at most [`MAX_TIMEOUT`](super::MAX_TIMEOUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Guard {
    /// Sessions created at or before this time (unix seconds) are past
    /// their absolute lifetime; `None`: none is.
    pub created_after: Option<u64>,
}

impl Guard {
    /// A guard that admits sessions created after `created_after`.
    pub fn new(created_after: Option<u64>) -> Self {
        Self { created_after }
    }

    /// Whether a session created at `created` with `own` timeout passes.
    pub fn admits(&self, created: u64, own: Option<u64>) -> bool {
        self.created_after.is_none_or(|after| created > after)
            && own.is_none_or(|timeout| timeout <= MAX_TIMEOUT)
    }
}

/// The times of a session as a store found them during an in-place
/// change: what the session's policy needs to judge whether its idle TTL is
/// due for its refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Times {
    /// The last idle-TTL refresh, unix seconds (0: none recorded).
    pub refreshed: u64,
    /// The session's own idle timeout, seconds, if it has one.
    pub timeout: Option<u64>,
}

impl Times {
    /// The times of a session last refreshed at `refreshed` with `timeout`
    /// of its own.
    pub fn new(refreshed: u64, timeout: Option<u64>) -> Self {
        Self { refreshed, timeout }
    }
}

/// An in-place increment, for [`SessionStore::increment`].
///
/// It is applied only if the session at `key` exists, its metadata hold
/// what they should, it passes the `guard`, and its `entry` already holds an
/// integer in the `format` (a new entry would grow the session unweighed
/// against `max_session_bytes`); and only if the sum fits (on Redis: below
/// 2^53 in magnitude, where its scripts count exactly). Other entries are
/// not checked. The TTL is left as it is: it is what the last refresh
/// promised; the result carries the session's [`Times`], and the caller
/// refreshes when they say a refresh is due.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Increment {
    /// The session key.
    pub key: String,
    /// The entry's key (as in an [`Entry`]).
    pub entry: Vec<u8>,
    /// What to add (may be negative).
    pub by: i64,
    /// How the entry's integer is encoded.
    pub format: Integers,
    /// What the session's stored times must pass.
    pub guard: Guard,
}

/// What [`SessionStore::increment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incremented {
    /// The sum now stored.
    pub sum: i64,
    /// The session's times, as stored.
    pub times: Times,
}

impl Incremented {
    /// The result of an increment.
    pub fn new(sum: i64, times: Times) -> Self {
        Self { sum, times }
    }
}

impl fmt::Debug for Increment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys, fields and amounts are session data: never shown.
        f.debug_struct("Increment")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl<T: SessionStore + ?Sized> SessionStore for std::sync::Arc<T> {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded> {
        (**self).load(key)
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        (**self).write(writes)
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>> {
        (**self).index_put(index_key, entry, cap)
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        (**self).index_list(index_key, now)
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        (**self).index_remove(index_key, members, until)
    }

    fn moves_atomically(&self) -> bool {
        (**self).moves_atomically()
    }

    fn increment<'a>(&'a self, op: &'a Increment) -> StoreFuture<'a, Option<Incremented>> {
        (**self).increment(op)
    }

    fn append<'a>(&'a self, op: &'a Append) -> StoreFuture<'a, Option<Appended>> {
        (**self).append(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(last_seen: u64, expires: u64, agent: Option<&str>) -> IndexEntry {
        IndexEntry {
            member: "m".into(),
            expires,
            created: 10,
            last_seen,
            agent: agent.map(str::to_owned),
        }
    }

    #[cfg(feature = "memory-store")]
    #[test]
    fn the_newer_observation_wins_whatever_the_order() {
        let old = entry(100, 1300, Some("a"));
        let new = entry(200, 1400, None);
        let a = new.clone().merged_into(&old);
        let b = old.clone().merged_into(&new);
        assert_eq!(a, b);
        assert_eq!((a.last_seen, a.expires), (200, 1400));
        assert_eq!(a.agent.as_deref(), Some("a"), "None keeps the agent");
    }

    #[test]
    fn over_long_agents_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_AGENT_BYTES);
        let cut = entry(1, 1, Some(&long)).checked().unwrap();
        let agent = cut.agent.unwrap();
        assert!(agent.len() <= MAX_AGENT_BYTES && agent.len() >= MAX_AGENT_BYTES - 1);
        assert!(matches!(
            entry(MAX_INDEX_TIME + 1, 1, None).checked(),
            Err(Error::BadIndexEntry(_))
        ));
    }

    #[test]
    fn debug_never_shows_keys_members_or_agents() {
        let change = Change::entries(vec![(b"k".to_vec(), b"v".to_vec())], vec![]);
        let w = Write::update("secret-key", change, 5);
        assert_eq!(format!("{w:?}"), "Update(1 set, 0 deleted, 5 s)");
        let meta = Meta::new(1, 2).with_user("alice@example.com", Some("Firefox"), 3);
        let record = Record::new(meta, vec![(b"k".to_vec(), b"secret".to_vec())]);
        let shown = format!(
            "{record:?} {:?}",
            Write::create("secret-key", record.clone(), 5)
        );
        for secret in ["alice", "Firefox", "secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let e = entry(1, 2, Some("Firefox"));
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("Firefox") && !shown.contains("\"m\""),
            "{shown}"
        );
    }
}
