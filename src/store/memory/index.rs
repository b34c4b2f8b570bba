//! The embedded store's user indexes: one map per user, member to entry,
//! with the same rules as the Redis store's index script.

use std::collections::HashMap;

use super::super::api::{IndexEntry, MAX_INDEX_TIME, MAX_LISTED};
use super::super::error::Error;
use super::MemoryStore;

/// The most removed members a user's index remembers.
const MAX_TOMBSTONES: usize = 1000;

/// One user's index: member -> entry, or the time until which a removed
/// member stays removed (0: forever).
#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) slots: HashMap<String, Slot>,
}

#[derive(Debug)]
pub(super) enum Slot {
    Live(IndexEntry),
    Removed(u64),
}

impl Slot {
    /// The time this slot is kept until (0: never expires).
    fn until(&self) -> u64 {
        match self {
            Self::Live(entry) => entry.expires,
            Self::Removed(until) => *until,
        }
    }
}

/// When an entry ends, for ordering (0: never, so last).
fn ends(expires: u64) -> u64 {
    if expires == 0 { u64::MAX } else { expires }
}

impl Index {
    /// Keeps at most `cap` live entries (0: any number): the ones that end
    /// first (never `spared`) are removed until their own expiry, and
    /// returned.
    fn cap(&mut self, cap: usize, spared: &str) -> Vec<String> {
        let live = self
            .slots
            .values()
            .filter(|slot| matches!(slot, Slot::Live(_)))
            .count();
        if cap == 0 || live <= cap {
            return Vec::new();
        }
        let mut ending: Vec<(u64, String)> = self
            .slots
            .iter()
            .filter_map(|(member, slot)| match slot {
                Slot::Live(entry) if member != spared => {
                    Some((ends(entry.expires), member.clone()))
                }
                _ => None,
            })
            .collect();
        ending.sort_unstable();
        ending.truncate(live - cap);
        for (until, member) in &ending {
            let until = if *until == u64::MAX { 0 } else { *until };
            self.slots.insert(member.clone(), Slot::Removed(until));
        }
        ending.into_iter().map(|(_, member)| member).collect()
    }

    /// Keeps at most [`MAX_TOMBSTONES`] removed members, those kept longest
    /// (as the Redis store does).
    fn trim_tombstones(&mut self) {
        let mut removed: Vec<(u64, String)> = self
            .slots
            .iter()
            .filter_map(|(member, slot)| match slot {
                Slot::Removed(until) => Some((ends(*until), member.clone())),
                Slot::Live(_) => None,
            })
            .collect();
        if removed.len() <= MAX_TOMBSTONES {
            return;
        }
        removed.sort_unstable();
        for (_, member) in removed.into_iter().rev().skip(MAX_TOMBSTONES) {
            self.slots.remove(&member);
        }
    }

    /// Drops what is kept until <= `now` (`now` = 0 drops nothing).
    pub(super) fn prune(&mut self, now: u64) {
        self.slots.retain(|_, slot| {
            let until = slot.until();
            until == 0 || until > now
        });
    }
}

/// The later of two "kept until" times, where 0 means never.
fn later(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 { 0 } else { a.max(b) }
}

impl MemoryStore {
    pub(super) fn index_put_now(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> Result<Vec<String>, Error> {
        let entry = entry.checked()?;
        let seen = entry.last_seen;
        let mut indexes = self.lock_indexes();
        let index = indexes.entry(index_key.to_owned()).or_default();
        index.prune(seen);
        let member = entry.member.clone();
        let merged = match index.slots.get(&member) {
            Some(Slot::Removed(_)) => None,
            Some(Slot::Live(old)) => Some(entry.merged_into(old)),
            None => Some(entry),
        };
        match merged {
            // Ended as of its own observation: nothing to list.
            Some(merged) if merged.expires != 0 && merged.expires <= seen => {
                index.slots.remove(&member);
            }
            Some(merged) => {
                index.slots.insert(member.clone(), Slot::Live(merged));
            }
            None => {}
        }
        let revoked = index.cap(cap, &member);
        index.trim_tombstones();
        if index.slots.is_empty() {
            indexes.remove(index_key);
        }
        Ok(revoked)
    }

    pub(super) fn index_list_now(&self, index_key: &str, now: u64) -> Vec<IndexEntry> {
        let mut indexes = self.lock_indexes();
        let Some(index) = indexes.get_mut(index_key) else {
            return Vec::new();
        };
        index.prune(now);
        let mut live: Vec<IndexEntry> = index
            .slots
            .values()
            .filter_map(|slot| match slot {
                Slot::Live(entry) => Some(entry.clone()),
                Slot::Removed(_) => None,
            })
            .collect();
        if live.len() > MAX_LISTED {
            live.sort_unstable_by_key(|e| std::cmp::Reverse(ends(e.expires)));
            live.truncate(MAX_LISTED);
        }
        if index.slots.is_empty() {
            indexes.remove(index_key);
        }
        live
    }

    pub(super) fn index_remove_now(
        &self,
        index_key: &str,
        members: &[String],
        until: u64,
    ) -> Result<(), Error> {
        if until > MAX_INDEX_TIME {
            return Err(Error::BadIndexEntry(
                "`until` is above 2^53 - 1 unix seconds",
            ));
        }
        if members.is_empty() {
            return Ok(());
        }
        let mut indexes = self.lock_indexes();
        let index = indexes.entry(index_key.to_owned()).or_default();
        for member in members {
            let keep = index
                .slots
                .get(member)
                .map_or(until, |slot| later(until, slot.until()));
            index.slots.insert(member.clone(), Slot::Removed(keep));
        }
        index.trim_tombstones();
        Ok(())
    }
}
