//! The terms the [`SessionStore`](super::SessionStore) trait speaks in: a
//! session as a store holds it ([`Record`]: its [`Meta`] and its entries),
//! what a load finds ([`Loaded`]), and a change to apply ([`Change`]).

use std::fmt;

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
    /// One past [`MAX_TIMEOUT`](super::MAX_TIMEOUT) makes the session
    /// corrupt.
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

/// What [`SessionStore::load`](super::SessionStore::load) found at a key.
pub type Loaded = Option<Result<Record, Corrupt>>;

/// A change to a stored session, for [`Write::Update`](super::Write::Update): entries to set and
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
