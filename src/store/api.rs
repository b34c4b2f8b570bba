//! The [`SessionStore`] trait and the writes it applies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::error::{Error, check_timeout};
use super::in_place::{Append, Appended, Increment, Incremented};
use super::record::{Change, Loaded, Record};

/// The future returned by [`SessionStore`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

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
    use crate::store::Meta;

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
