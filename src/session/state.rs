//! The per-request session state, its change log, and the commit plan: what
//! to write and which index entries to touch when the response goes out.
//!
//! # Idle TTL refresh
//!
//! Loading a session costs one command and does not touch its TTL. The TTL
//! is refreshed (to the full timeout, with the refresh time kept beside the
//! creation time in the session's [`CREATED_FIELD`]) at most once per
//! `timeout / 20`, when the response goes out; between refreshes every write
//! sets the TTL to what the last refresh promised (`refreshed + timeout`). A
//! session may therefore end up to 5 % of its timeout early, never late, and
//! a user's index entry (whose expiry is written at each refresh) never
//! outlives the session it lists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::events::Reason;
use crate::store::Ended;
pub(crate) use crate::store::Policy;
use crate::store::cache::{ClientCache, Weigh};
use crate::store::{self, Meta, Record, Write};

/// Where a request's session stands. The phases and what moves between
/// them:
///
/// ```text
/// Unloaded ──load──► Loaded ──regenerate──► Fresh { moved_from: Some }
///    │ │               │  └──invalidate / corrupt value──► Fresh
///    │ └──in-place change (applied: true)
///    └──load finds nothing usable, invalidate──► Fresh
/// ```
///
/// Only the transitions of [`State`] change the phase; what changed within
/// a phase (keys, the timeout, the user or agent) is its change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not loaded yet. `applied`: a change already went to the stored
    /// session in place (an increment or append), so the session was used.
    Unloaded { applied: bool },
    /// Loaded from the store under `key`: changes are per-field updates of
    /// it. `resign`: the cookie verified with an old secret, and is sent
    /// again signed with the current one.
    Loaded { key: String, resign: bool },
    /// A new session (no cookie, an unknown, expired or corrupt one,
    /// invalidated or regenerated): created under a fresh id only if it ends
    /// up holding data. `moved_from`: the stored session it was regenerated
    /// from, moved to the new key at commit only if it still exists then.
    Fresh { moved_from: Option<String> },
}

/// A change to one user key, relative to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Set,
    Delete,
}

/// A stored session as the load read it, for [`State::load_existing`].
#[derive(Clone)]
pub(crate) struct Loaded {
    /// Shared with the process cache: copied only when a request changes it.
    pub(crate) entries: Arc<BTreeMap<String, Vec<u8>>>,
    /// Its times and its user, as the store holds them.
    pub(crate) meta: Meta,
}

impl Loaded {
    /// Why this session must not be adopted now, if it must not.
    pub(crate) fn expired(&self, policy: &Policy) -> Option<Reason> {
        let meta = &self.meta;
        policy
            .ended(meta.created, meta.refreshed, meta.timeout)
            .map(|ended| match ended {
                Ended::Lifetime => Reason::LifetimeExpired,
                Ended::Idle => Reason::IdleExpired,
            })
    }
}

/// Sessions kept decoded in the process (`client_cache_size`), shared:
/// a hit copies what the request may change.
pub(crate) type SessionCache = ClientCache<Arc<Loaded>>;

impl Weigh for Arc<Loaded> {
    fn bytes(&self) -> u64 {
        /// Bookkeeping per entry and per session, roughly.
        const ENTRY: u64 = 48;
        const SESSION: u64 = 160;
        let text = |t: &Option<String>| t.as_ref().map_or(0, |t| t.len() as u64);
        self.entries
            .iter()
            .map(|(k, v)| ENTRY + entry_size(k, v))
            .sum::<u64>()
            + SESSION
            + text(&self.meta.user)
            + text(&self.meta.agent)
    }
}

/// Everything a request knows and changed about its session.
#[derive(Debug)]
pub(crate) struct State {
    phase: Phase,
    /// User key → encoded value, as the handler sees it now (shared with
    /// the process cache until changed).
    pub(crate) entries: Arc<BTreeMap<String, Vec<u8>>>,
    /// User keys changed relative to the store (used when `Loaded`).
    pub(crate) changes: BTreeMap<String, Change>,
    /// Encoded bytes of every key and value (checked against
    /// `max_session_bytes`).
    pub(crate) size: u64,
    /// Unix seconds.
    pub(crate) created: u64,
    /// Unix seconds of the last TTL refresh (0: unknown, refresh now).
    pub(crate) refreshed: u64,
    /// The per-session timeout, if adjusted.
    pub(crate) session_timeout: Option<u64>,
    timeout_changed: bool,
    /// The bound user, if any.
    pub(crate) user: Option<String>,
    /// When `user` was bound, unix seconds (0: unknown).
    pub(crate) bound: u64,
    /// The recorded user agent, if any.
    pub(crate) agent: Option<String>,
    /// `user` or `agent` changed in this request.
    meta_changed: bool,
    /// Anything to save when `Fresh`.
    dirty: bool,
    /// Store keys to delete at commit (invalidated, regenerated, corrupt or
    /// expired sessions).
    pub(crate) to_delete: BTreeSet<String>,
    /// Index entries to remove at commit: (user, store key).
    pub(crate) unbind: Vec<(String, String)>,
}

/// An index change planned at commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexChange {
    /// The session at `key` was refreshed: its entry now expires at `expires`.
    Refresh {
        user: String,
        key: String,
        expires: u64,
    },
    /// The session created by this commit belongs to `user` (its key is
    /// known once the create succeeded).
    Created { user: String, expires: u64 },
    /// The session at `key` no longer belongs to `user`.
    Remove { user: String, key: String },
}

/// What a commit must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Store keys to delete.
    pub(crate) deletes: Vec<String>,
    /// The change to the loaded session: a [`Write::Update`] (of data, of
    /// the refresh time, or both).
    pub(crate) change: Option<Write>,
    /// A fresh session to create under a new id, and its TTL.
    pub(crate) create: Option<(Record, u64)>,
    /// With `create`: the stored session it is moved from (regenerate),
    /// which must still exist.
    pub(crate) moved_from: Option<String>,
    /// Index entries to touch.
    pub(crate) index: Vec<IndexChange>,
}

impl Plan {
    pub(crate) fn is_empty(&self) -> bool {
        self.deletes.is_empty()
            && self.change.is_none()
            && self.create.is_none()
            && self.index.is_empty()
    }

    /// Only the deletes (and unbinding): what runs when a 5xx response must
    /// not persist changes.
    pub(crate) fn deletes_only(mut self) -> Self {
        self.change = None;
        self.create = None;
        self.deletes.extend(self.moved_from.take());
        self.index
            .retain(|change| matches!(change, IndexChange::Remove { .. }));
        self
    }
}

impl State {
    pub(crate) fn unloaded() -> Self {
        Self {
            phase: Phase::Unloaded { applied: false },
            entries: Arc::default(),
            changes: BTreeMap::new(),
            size: 0,
            // Set when the session is loaded or started afresh.
            created: 0,
            refreshed: 0,
            session_timeout: None,
            timeout_changed: false,
            user: None,
            bound: 0,
            agent: None,
            meta_changed: false,
            dirty: false,
            to_delete: BTreeSet::new(),
            unbind: Vec::new(),
        }
    }

    pub(crate) fn is_loaded(&self) -> bool {
        !matches!(self.phase, Phase::Unloaded { .. })
    }

    /// The key of the stored session the value of `key` was read from, when
    /// it is still as read (not set in this request): loaded, or loaded and
    /// then regenerated (the value moves to the new id as it was read).
    pub(crate) fn stored_as_read(&self, key: &str) -> Option<&str> {
        let store_key = match &self.phase {
            Phase::Loaded { key, .. } => key,
            Phase::Fresh {
                moved_from: Some(from),
            } => from,
            _ => return None,
        };
        (!self.changes.contains_key(key)).then_some(store_key.as_str())
    }

    /// Where the session stands.
    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// A new session: no stored one is in use.
    pub(crate) fn is_fresh(&self) -> bool {
        matches!(self.phase, Phase::Fresh { .. })
    }

    /// The store key of the loaded session, if it exists in the store.
    pub(crate) fn key(&self) -> Option<&str> {
        match &self.phase {
            Phase::Loaded { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Adopts the entries read from the store.
    fn adopt(&mut self, entries: Arc<BTreeMap<String, Vec<u8>>>) {
        self.size = entries.iter().map(|(k, v)| entry_size(k, v)).sum();
        self.entries = entries;
    }

    // The transitions of a request's session. Every change of phase and
    // every flag is made here, and only here.

    /// Unloaded → fresh: the load found no session to adopt (no cookie, an
    /// unknown, expired or corrupt one); `doomed` is deleted at commit.
    pub(crate) fn start_fresh(&mut self, now: u64, doomed: Option<String>) {
        self.phase = Phase::Fresh { moved_from: None };
        self.created = now;
        self.to_delete.extend(doomed);
    }

    /// Unloaded → existing: the load adopted the session stored at `key`.
    /// A cookie signed with an old secret is sent again, re-signed.
    pub(crate) fn load_existing(&mut self, key: String, loaded: Loaded, old_secret: bool) {
        self.phase = Phase::Loaded {
            key,
            resign: old_secret,
        };
        self.adopt(loaded.entries);
        let meta = loaded.meta;
        self.created = meta.created;
        self.refreshed = meta.refreshed;
        self.session_timeout = meta.timeout;
        self.user = meta.user;
        self.bound = meta.bound;
        self.agent = meta.agent;
    }

    /// Unloaded → fresh, holding a session taken over from another format
    /// (upgrade mode): saved under a new id at commit.
    #[cfg_attr(not(feature = "compat"), allow(dead_code))]
    pub(crate) fn take_over(
        &mut self,
        entries: BTreeMap<String, Vec<u8>>,
        created: u64,
        timeout: Option<u64>,
    ) {
        self.phase = Phase::Fresh { moved_from: None };
        self.adopt(Arc::new(entries));
        self.created = created;
        self.session_timeout = timeout;
        self.timeout_changed = timeout.is_some();
        self.dirty = true;
    }

    /// Binds the session to `user` at `now` (after a regenerate).
    pub(crate) fn bind_user(&mut self, user: String, now: u64) {
        self.user = Some(user);
        self.bound = now;
        self.meta_changed = true;
        self.dirty = true;
    }

    /// Records the user agent, if it changed.
    pub(crate) fn record_agent(&mut self, agent: String) {
        if self.agent.as_deref() != Some(agent.as_str()) {
            self.agent = Some(agent);
            self.meta_changed = true;
            self.dirty = true;
        }
    }

    /// Sets this session's own idle timeout.
    pub(crate) fn adjust_timeout(&mut self, seconds: u64) {
        self.session_timeout = Some(seconds);
        self.timeout_changed = true;
        self.dirty = true;
    }

    /// Any phase → fresh and empty: the stored session (the loaded one, or
    /// the one at `unread`, the cookie's key, when nothing was loaded) is
    /// deleted at commit. Without a load, the key is deleted unread (a user
    /// index still listing it drops it when next read).
    pub(crate) fn invalidate(&mut self, unread: Option<&str>) {
        if !self.is_loaded()
            && let Some(key) = unread
        {
            self.to_delete.insert(key.to_owned());
        }
        self.reset();
    }

    /// Loaded (or fresh, regenerated from a loaded one) → fresh and empty:
    /// a value read from the store turned out corrupt when first decoded. As a corrupt session found by the load,
    /// the stored one is deleted (and unbound) at commit.
    pub(crate) fn discard_corrupt(&mut self) {
        self.reset();
    }

    /// A change went to the store directly (an in-place increment or
    /// append), with or without a load: the session was used.
    pub(crate) fn mark_applied(&mut self) {
        if let Phase::Unloaded { applied } = &mut self.phase {
            *applied = true;
        }
    }

    /// The session was loaded, or changed in the store directly.
    pub(crate) fn was_used(&self) -> bool {
        !matches!(self.phase, Phase::Unloaded { applied: false })
    }

    /// The stored session the cookie names was found (loaded, or changed
    /// in place without a load).
    pub(crate) fn found_stored(&self) -> bool {
        match self.phase {
            Phase::Loaded { .. } => true,
            Phase::Unloaded { applied } => applied,
            Phase::Fresh { .. } => false,
        }
    }

    /// The cookie must be sent again, signed with the current secret.
    pub(crate) fn resign(&self) -> bool {
        matches!(self.phase, Phase::Loaded { resign: true, .. })
    }

    /// The size the session would have with `key` set to `value`.
    pub(crate) fn size_with(&self, key: &str, value: &[u8]) -> u64 {
        let old = self.entries.get(key).map_or(0, |v| entry_size(key, v));
        self.size - old + entry_size(key, value)
    }

    /// The size the session would have after setting every pair (later
    /// pairs win, as they would when applied in order).
    pub(crate) fn size_after(&self, pairs: &[(String, Vec<u8>)]) -> u64 {
        let last: BTreeMap<&str, &[u8]> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        last.into_iter().fold(self.size, |size, (key, value)| {
            let old = self.entries.get(key).map_or(0, |v| entry_size(key, v));
            size - old + entry_size(key, value)
        })
    }

    /// Starts over as a fresh, empty session: the stored one is deleted and
    /// unbound from its user at commit.
    pub(crate) fn reset(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Fresh { moved_from: None }) {
            Phase::Loaded { key, .. } => self.leave(key),
            Phase::Fresh {
                moved_from: Some(from),
            } => {
                self.to_delete.insert(from);
            }
            _ => {}
        }
        self.entries = Arc::default();
        self.changes.clear();
        self.size = 0;
        self.created = now();
        self.refreshed = 0;
        self.session_timeout = None;
        self.timeout_changed = false;
        self.user = None;
        self.bound = 0;
        self.agent = None;
        self.meta_changed = false;
        self.dirty = false;
    }

    pub(crate) fn set(&mut self, key: String, value: Vec<u8>) {
        self.size = self.size_with(&key, &value);
        self.changes.insert(key.clone(), Change::Set);
        Arc::make_mut(&mut self.entries).insert(key, value);
        self.dirty = true;
    }

    /// Records `value` under `key` as the store now holds it (an in-place
    /// increment): nothing to write at commit.
    pub(crate) fn set_stored(&mut self, key: &str, value: Vec<u8>) {
        self.size = self.size_with(key, &value);
        Arc::make_mut(&mut self.entries).insert(key.to_owned(), value);
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Vec<u8>> {
        if !self.entries.contains_key(key) {
            return None;
        }
        let old = Arc::make_mut(&mut self.entries).remove(key)?;
        self.size -= entry_size(key, &old);
        self.changes.insert(key.to_owned(), Change::Delete);
        self.dirty = true;
        Some(old)
    }

    /// Moves the data to a fresh id; the old key is deleted (and unbound) at
    /// commit.
    pub(crate) fn regenerate(&mut self) {
        self.phase = match std::mem::replace(&mut self.phase, Phase::Fresh { moved_from: None }) {
            Phase::Loaded { key, .. } => {
                if let Some(user) = &self.user {
                    self.unbind.push((user.clone(), key.clone()));
                }
                Phase::Fresh {
                    moved_from: Some(key),
                }
            }
            // Regenerated again: still moved from the session it was loaded as.
            fresh @ Phase::Fresh { .. } => fresh,
            Phase::Unloaded { .. } => Phase::Fresh { moved_from: None },
        };
        self.dirty = true;
    }

    /// Leaves the stored session at `key`: it is deleted and unbound at
    /// commit.
    fn leave(&mut self, key: String) {
        if let Some(user) = &self.user {
            self.unbind.push((user.clone(), key.clone()));
        }
        self.to_delete.insert(key);
    }

    /// Marks every value as changed (they are all written back).
    pub(crate) fn touch_all(&mut self) {
        for key in self.entries.keys() {
            self.changes.insert(key.clone(), Change::Set);
        }
        self.dirty = true;
    }

    pub(crate) fn effective_timeout(&self, default: u64) -> u64 {
        self.session_timeout.unwrap_or(default)
    }

    /// The TTL a session refreshed now gets (see [`Policy::full_ttl`]).
    fn full_ttl(&self, policy: &Policy) -> u64 {
        policy.full_ttl(self.created, self.session_timeout)
    }

    /// Whether the idle TTL is due for a refresh: by the policy, or because
    /// the session's timeout changed.
    fn refresh_due(&self, policy: &Policy) -> bool {
        policy.refresh_due(self.refreshed, self.session_timeout)
            || (self.timeout_changed && policy.timeout(self.session_timeout) > 0)
    }

    /// The writes this state needs at commit.
    pub(crate) fn plan(&self, policy: &Policy) -> Plan {
        let mut plan = Plan {
            deletes: self.to_delete.iter().cloned().collect(),
            change: None,
            create: None,
            moved_from: None,
            index: self
                .unbind
                .iter()
                .map(|(user, key)| IndexChange::Remove {
                    user: user.clone(),
                    key: key.clone(),
                })
                .collect(),
        };
        match &self.phase {
            Phase::Unloaded { .. } => {}
            Phase::Fresh { moved_from } => {
                if self.dirty && (!self.entries.is_empty() || self.user.is_some()) {
                    let ttl = self.full_ttl(policy);
                    plan.create = Some((self.record(policy.now), ttl));
                    plan.moved_from.clone_from(moved_from);
                    if let Some(user) = &self.user {
                        plan.index.push(IndexChange::Created {
                            user: user.clone(),
                            expires: expiry(policy.now, ttl),
                        });
                    }
                }
            }
            Phase::Loaded { key, .. } => self.plan_existing(key, policy, &mut plan),
        }
        if let (None, Phase::Fresh { moved_from }) = (&plan.create, &self.phase) {
            // Regenerated, then emptied: nothing to move, the old key goes.
            plan.deletes.extend(moved_from.clone());
        }
        plan
    }

    fn plan_existing(&self, key: &str, policy: &Policy, plan: &mut Plan) {
        let due = self.refresh_due(policy);
        let timeout = policy.timeout(self.session_timeout);
        let ttl = if due || timeout == 0 {
            self.full_ttl(policy)
        } else {
            // What the last refresh promised, so the user's index entry never
            // outlives the session.
            let promised = self.refreshed.saturating_add(timeout);
            policy.cap(self.created, promised.saturating_sub(policy.now).max(1))
        };
        let changed = !self.changes.is_empty() || self.timeout_changed || self.meta_changed;
        if changed || due {
            let mut change = store::Change::default();
            for (name, kind) in &self.changes {
                let key = name.as_bytes().to_vec();
                match (kind, self.entries.get(name)) {
                    (Change::Set, Some(value)) => change.set.push((key, value.clone())),
                    _ => change.delete.push(key),
                }
            }
            if self.timeout_changed {
                change.timeout = Some(self.session_timeout.unwrap_or(0));
            }
            if self.meta_changed {
                change.user.clone_from(&self.user);
                change.agent.clone_from(&self.agent);
                change.bound = (self.user.is_some() && self.bound > 0).then_some(self.bound);
            }
            if due {
                change.times = Some((self.created, policy.now));
            }
            plan.change = Some(Write::Update {
                key: key.to_owned(),
                change,
                ttl,
                max_bytes: policy.max_bytes,
            });
        }
        if due && let Some(user) = &self.user {
            plan.index.push(IndexChange::Refresh {
                user: user.clone(),
                key: key.to_owned(),
                expires: expiry(policy.now, ttl),
            });
        }
    }

    /// The session as a fresh record, refreshed at `now`.
    fn record(&self, now: u64) -> Record {
        let meta = Meta {
            created: self.created,
            refreshed: now,
            timeout: self.session_timeout,
            user: self.user.clone(),
            agent: self.agent.clone(),
            bound: self.bound,
        };
        let entries = self
            .entries
            .iter()
            .map(|(name, value)| (name.as_bytes().to_vec(), value.clone()))
            .collect();
        Record::new(meta, entries)
    }
}

fn entry_size(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

/// When a session refreshed at `now` with `ttl` expires (`u64::MAX`: never).
fn expiry(now: u64, ttl: u64) -> u64 {
    if ttl == 0 {
        u64::MAX
    } else {
        now.saturating_add(ttl)
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn policy() -> Policy {
        Policy {
            default_timeout: 1200,
            max_lifetime: None,
            now: NOW,
            max_bytes: 1000,
        }
    }

    fn existing() -> State {
        let mut s = State::unloaded();
        s.phase = Phase::Loaded {
            key: "k".into(),
            resign: false,
        };
        s.adopt(Arc::new(
            [("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
                .into_iter()
                .collect(),
        ));
        s.refreshed = NOW - 10;
        s.created = NOW - 100;
        s
    }

    #[test]
    fn an_untouched_session_plans_nothing() {
        assert!(State::unloaded().plan(&policy()).is_empty());
        assert!(existing().plan(&policy()).is_empty());
    }

    #[test]
    fn a_fresh_session_without_data_is_not_created() {
        let mut s = State::unloaded();
        s.phase = Phase::Fresh { moved_from: None };
        s.session_timeout = Some(10);
        s.timeout_changed = true;
        s.dirty = true;
        assert!(s.plan(&policy()).is_empty());
    }

    #[test]
    fn a_read_refreshes_the_ttl_only_when_due() {
        let mut s = existing();
        // 1200 / 20 = 60 s between refreshes.
        s.refreshed = NOW - 59;
        assert!(s.plan(&policy()).is_empty());
        s.refreshed = NOW - 60;
        assert_eq!(
            s.plan(&policy()).change,
            Some(Write::Update {
                key: "k".into(),
                change: store::Change::default().with_refresh(NOW - 100, NOW),
                ttl: 1200,
                max_bytes: 1000,
            })
        );
    }

    #[test]
    fn writes_between_refreshes_keep_the_promised_expiry() {
        let mut s = existing();
        s.set("c".into(), b"3".to_vec());
        s.remove("a");
        let plan = s.plan(&policy());
        assert_eq!(
            plan.change,
            Some(Write::Update {
                key: "k".into(),
                change: store::Change::entries(
                    vec![(b"c".to_vec(), b"3".to_vec())],
                    vec![b"a".to_vec()]
                ),
                ttl: 1190,
                max_bytes: 1000,
            })
        );
        assert!(plan.create.is_none() && plan.deletes.is_empty());
    }

    #[test]
    fn a_due_write_refreshes_too() {
        let mut s = existing();
        s.refreshed = NOW - 600;
        s.set("c".into(), b"3".to_vec());
        let Some(Write::Update { change, ttl, .. }) = s.plan(&policy()).change else {
            panic!("expected an update");
        };
        assert_eq!(ttl, 1200);
        assert_eq!(change.times, Some((NOW - 100, NOW)));
        assert_eq!(change.set, [(b"c".to_vec(), b"3".to_vec())]);
    }

    #[test]
    fn the_absolute_lifetime_caps_every_ttl() {
        let mut s = existing();
        s.refreshed = 0;
        let policy = Policy {
            max_lifetime: Some(150),
            ..policy()
        };
        assert!(matches!(
            s.plan(&policy).change,
            Some(Write::Update { ttl: 50, .. })
        ));
    }

    #[test]
    fn invalidate_deletes_and_later_writes_create_a_new_session() {
        let mut s = existing();
        s.reset();
        let plan = s.plan(&policy());
        assert_eq!(plan.deletes, ["k"]);
        assert!(plan.create.is_none() && plan.change.is_none());

        s.set("x".into(), b"9".to_vec());
        let plan = s.plan(&policy());
        assert_eq!(plan.deletes, ["k"]);
        let (session, ttl) = plan.create.unwrap();
        assert_eq!(ttl, 1200);
        assert_eq!(session.entries, [(b"x".to_vec(), b"9".to_vec())]);
    }

    #[test]
    fn regenerate_moves_all_data_and_unbinds_the_old_key() {
        let mut s = existing();
        s.session_timeout = Some(99);
        s.user = Some("alice".into());
        s.regenerate();
        let plan = s.plan(&policy());
        assert!(plan.deletes.is_empty(), "the old key is moved, not deleted");
        assert_eq!(plan.moved_from.as_deref(), Some("k"));
        let (session, ttl) = plan.create.clone().unwrap();
        assert_eq!(ttl, 99);
        assert_eq!(
            session.entries,
            [
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(session.meta.timeout, Some(99));
        assert_eq!(session.meta.user.as_deref(), Some("alice"));
        assert_eq!(
            plan.index,
            [
                IndexChange::Remove {
                    user: "alice".into(),
                    key: "k".into()
                },
                IndexChange::Created {
                    user: "alice".into(),
                    expires: NOW + 99
                }
            ]
        );
    }

    #[test]
    fn a_regenerated_session_that_ends_empty_deletes_the_old_key() {
        let mut s = existing();
        s.regenerate();
        s.remove("a");
        s.remove("b");
        let plan = s.plan(&policy());
        assert_eq!(plan.deletes, ["k"]);
        assert!(plan.create.is_none() && plan.moved_from.is_none());
        let mut s = existing();
        s.regenerate();
        s.reset();
        assert_eq!(
            s.plan(&policy()).deletes,
            ["k"],
            "invalidate after regenerate"
        );
    }

    #[test]
    fn an_adjusted_timeout_is_written_with_the_update() {
        let mut s = existing();
        s.session_timeout = Some(5);
        s.timeout_changed = true;
        let Some(Write::Update { change, ttl, .. }) = s.plan(&policy()).change else {
            panic!("expected an update");
        };
        assert_eq!(ttl, 5);
        assert_eq!(change.timeout, Some(5));
    }

    #[test]
    fn a_5xx_keeps_only_deletes_and_unbinding() {
        let mut s = existing();
        s.user = Some("bob".into());
        s.reset();
        s.set("x".into(), b"1".to_vec());
        let plan = s.plan(&policy()).deletes_only();
        assert_eq!(plan.deletes, ["k"]);
        assert!(plan.create.is_none());
        assert_eq!(plan.index.len(), 1);
    }

    #[test]
    fn sizes_follow_every_change() {
        let mut s = existing();
        assert_eq!(s.size, 4);
        s.set("a".into(), b"12345".to_vec());
        assert_eq!(s.size, 8);
        assert_eq!(s.size_with("zz", b"1"), 11);
        s.remove("b");
        assert_eq!(s.size, 6);
    }
}
