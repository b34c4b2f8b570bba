//! The per-request session state, its change log, and the commit plan: what
//! to write and which cookie to send when the response goes out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::{CREATED_FIELD, Field, REFRESHED_FIELD, TIMEOUT_FIELD, Write, user_field};

/// Where the session's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Not loaded yet.
    Unloaded,
    /// Loaded from the store, under this key: changes are per-field updates.
    Existing { key: String },
    /// A new session (no cookie, an unknown id, invalidated or regenerated):
    /// it is created, under a fresh id, only if it ends up holding data.
    Fresh,
}

/// A change to one user key, relative to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Set,
    Delete,
}

/// Everything a request knows and changed about its session.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) mode: Mode,
    /// User key → encoded value, as the handler sees it now.
    pub(crate) entries: BTreeMap<String, Vec<u8>>,
    /// User keys changed relative to the store (used in `Existing` mode).
    pub(crate) changes: BTreeMap<String, Change>,
    /// Unix seconds.
    pub(crate) created: u64,
    /// The per-session timeout, if adjusted.
    pub(crate) session_timeout: Option<u64>,
    /// The idle TTL is due for its throttled refresh (at most once per
    /// `timeout / 20`).
    pub(crate) refresh_due: bool,
    pub(crate) timeout_changed: bool,
    /// Anything to save in `Fresh` mode.
    pub(crate) dirty: bool,
    /// Keys to delete at commit (an invalidated or regenerated session).
    pub(crate) doomed: BTreeSet<String>,
}

impl State {
    pub(crate) fn unloaded() -> Self {
        Self {
            mode: Mode::Unloaded,
            entries: BTreeMap::new(),
            changes: BTreeMap::new(),
            created: now(),
            session_timeout: None,
            refresh_due: false,
            timeout_changed: false,
            dirty: false,
            doomed: BTreeSet::new(),
        }
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.mode != Mode::Unloaded
    }

    /// Starts over as a fresh, empty session.
    pub(crate) fn reset(&mut self) {
        if let Mode::Existing { key } = std::mem::replace(&mut self.mode, Mode::Fresh) {
            self.doomed.insert(key);
        }
        self.entries.clear();
        self.changes.clear();
        self.created = now();
        self.session_timeout = None;
        self.refresh_due = false;
        self.timeout_changed = false;
        self.dirty = false;
    }

    pub(crate) fn set(&mut self, key: String, value: Vec<u8>) {
        self.changes.insert(key.clone(), Change::Set);
        self.entries.insert(key, value);
        self.dirty = true;
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Vec<u8>> {
        let old = self.entries.remove(key)?;
        self.changes.insert(key.to_owned(), Change::Delete);
        self.dirty = true;
        Some(old)
    }

    /// Moves the data to a fresh id; the old key is deleted at commit.
    pub(crate) fn regenerate(&mut self) {
        if let Mode::Existing { key } = std::mem::replace(&mut self.mode, Mode::Fresh) {
            self.doomed.insert(key);
        }
        self.dirty = true;
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

    /// The writes this state needs at commit.
    pub(crate) fn plan(&self, default_timeout: u64) -> Plan {
        let mut plan = Plan {
            timeout: self.effective_timeout(default_timeout),
            writes: self
                .doomed
                .iter()
                .map(|key| Write::Delete { key: key.clone() })
                .collect(),
            create: None,
            update: false,
        };
        match &self.mode {
            Mode::Unloaded => {}
            Mode::Fresh => {
                if self.dirty && !self.entries.is_empty() {
                    plan.create = Some(self.all_fields());
                }
            }
            Mode::Existing { key } => {
                if !self.changes.is_empty() || self.timeout_changed {
                    let mut set = Vec::new();
                    let mut delete = Vec::new();
                    for (name, change) in &self.changes {
                        match (change, self.entries.get(name)) {
                            (Change::Set, Some(value)) => {
                                set.push((user_field(name), value.clone()))
                            }
                            _ => delete.push(user_field(name)),
                        }
                    }
                    if self.timeout_changed {
                        set.push(self.timeout_field());
                    }
                    if self.refresh_due {
                        set.push((REFRESHED_FIELD.to_vec(), now().to_string().into_bytes()));
                    }
                    plan.writes
                        .push(Write::update(key.clone(), set, delete, plan.timeout));
                    plan.update = true;
                } else if self.refresh_due {
                    plan.writes
                        .push(Write::refresh(key.clone(), plan.timeout, now()));
                }
            }
        }
        plan
    }

    fn timeout_field(&self) -> Field {
        (
            TIMEOUT_FIELD.to_vec(),
            self.session_timeout.unwrap_or(0).to_string().into_bytes(),
        )
    }

    fn all_fields(&self) -> Vec<Field> {
        let mut fields: Vec<Field> = self
            .entries
            .iter()
            .map(|(name, value)| (user_field(name), value.clone()))
            .collect();
        fields.push((
            CREATED_FIELD.to_vec(),
            self.created.to_string().into_bytes(),
        ));
        if self.session_timeout.is_some() {
            fields.push(self.timeout_field());
        }
        fields
    }
}

/// What a commit must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Deletes of doomed keys, then at most one update.
    pub(crate) writes: Vec<Write>,
    /// Fields of a fresh session to create under a new id.
    pub(crate) create: Option<Vec<Field>>,
    /// True if `writes` ends with an update of the existing session.
    pub(crate) update: bool,
    /// The session's idle timeout (its own, or the default).
    pub(crate) timeout: u64,
}

impl Plan {
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.create.is_none()
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

    fn existing() -> State {
        let mut s = State::unloaded();
        s.mode = Mode::Existing { key: "k".into() };
        s.entries.insert("a".into(), b"1".to_vec());
        s.entries.insert("b".into(), b"2".to_vec());
        s
    }

    #[test]
    fn an_untouched_session_plans_nothing() {
        assert!(State::unloaded().plan(1200).is_empty());
        assert!(existing().plan(1200).is_empty());
    }

    #[test]
    fn a_fresh_session_without_data_is_not_created() {
        let mut s = State::unloaded();
        s.mode = Mode::Fresh;
        s.adjust_for_test();
        assert!(s.plan(1200).is_empty());
    }

    #[test]
    fn changes_to_an_existing_session_write_only_those_fields() {
        let mut s = existing();
        s.set("c".into(), b"3".to_vec());
        s.remove("a");
        let plan = s.plan(60);
        assert!(
            matches!(
                &plan.writes[..],
                [Write::Update { key, set, delete, timeout: 60 }]
                    if key == "k"
                        && set == &[(b"c".to_vec(), b"3".to_vec())]
                        && delete == &[b"a".to_vec()]
            ),
            "{plan:?}"
        );
        assert!(plan.update && plan.create.is_none());
    }

    #[test]
    fn invalidate_deletes_and_later_writes_create_a_new_session() {
        let mut s = existing();
        s.reset();
        let plan = s.plan(60);
        assert_eq!(plan.writes, [Write::Delete { key: "k".into() }]);
        assert!(plan.create.is_none());

        s.set("x".into(), b"9".to_vec());
        let plan = s.plan(60);
        assert_eq!(plan.writes, [Write::Delete { key: "k".into() }]);
        let fields = plan.create.unwrap();
        assert!(fields.contains(&(b"x".to_vec(), b"9".to_vec())));
        assert!(!fields.iter().any(|(k, _)| k == b"a"));
    }

    #[test]
    fn regenerate_moves_all_data_and_deletes_the_old_key() {
        let mut s = existing();
        s.session_timeout = Some(99);
        s.regenerate();
        let plan = s.plan(60);
        assert_eq!(plan.writes, [Write::Delete { key: "k".into() }]);
        let fields = plan.create.unwrap();
        for expected in [
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (TIMEOUT_FIELD.to_vec(), b"99".to_vec()),
        ] {
            assert!(fields.contains(&expected), "{expected:?}");
        }
    }

    #[test]
    fn a_due_refresh_uses_the_session_own_timeout() {
        let mut s = existing();
        s.session_timeout = Some(5000);
        assert!(s.plan(60).is_empty(), "not due: nothing to write");
        s.refresh_due = true;
        assert!(
            matches!(
                &s.plan(60).writes[..],
                [Write::Refresh { timeout: 5000, .. }]
            ),
            "{:?}",
            s.plan(60)
        );
        s.set("x".into(), b"1".to_vec());
        let plan = s.plan(60);
        assert!(
            matches!(&plan.writes[..], [Write::Update { timeout: 5000, .. }]),
            "{plan:?}"
        );
    }

    #[test]
    fn an_adjusted_timeout_is_written_with_the_update() {
        let mut s = existing();
        s.session_timeout = Some(5);
        s.timeout_changed = true;
        let plan = s.plan(60);
        assert!(
            matches!(&plan.writes[0], Write::Update { set, timeout: 5, .. } if set[0] == (TIMEOUT_FIELD.to_vec(), b"5".to_vec()))
        );
    }

    impl State {
        fn adjust_for_test(&mut self) {
            self.session_timeout = Some(10);
            self.timeout_changed = true;
            self.dirty = true;
        }
    }
}
