//! The user index: per user, one index key named by a digest of the user id
//! (never the id itself) lists the store keys of the user's sessions with
//! their expiry. The index is written at login, at logout and when a bound
//! session's idle TTL is refreshed (at most once per `timeout / 20`), never on
//! other requests. Listing prunes expired entries in the same command and
//! drops entries whose session is gone, so no listing shows an expired or
//! revoked session. Each index operation touches one key, so the index and a
//! session may live on different Redis Cluster nodes; updates are idempotent
//! and order-tolerant.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Error;
use super::context::Context;
use super::state::{IndexChange, now};
use crate::store::{IndexEntry, SessionStore, Write, user_index_key};

/// One live session of a user, as [`Session::user_sessions`](crate::Session::user_sessions) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSession {
    /// A log-safe public handle of the session (see [`Session::tag`](crate::Session::tag)): pass
    /// it to [`Session::revoke`](crate::Session::revoke).
    pub tag: String,
    /// When the session was created.
    pub created: SystemTime,
    /// When the session was bound to its user ([`Session::set_user`](crate::Session::set_user): the
    /// login); its creation time for sessions bound by earlier versions.
    pub signed_in: SystemTime,
    /// When the session was last seen (its idle TTL last refreshed; at most
    /// `timeout / 20` behind the real last request).
    pub last_seen: SystemTime,
    /// The user agent recorded with [`Session::set_agent`](crate::Session::set_agent), if any.
    pub agent: Option<String>,
    /// True for the session of the request that asked.
    pub current: bool,
}

fn unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// When a session with `ttl` (0: none) refreshed at `now` expires, as the
/// index writes it (0: never).
pub(crate) fn expiry(now: u64, ttl: u64) -> u64 {
    if ttl == 0 { 0 } else { now.saturating_add(ttl) }
}

/// The latest time a session of this factory could still expire: how long
/// a removal's tombstone must last.
fn latest_expiry(context: &Context, now: u64) -> u64 {
    // The store keeps a tombstone at least until the entry's own expiry.
    expiry(now, context.timeout)
}

/// Applies the index changes of a commit. `created` is the store key of the
/// session the commit created, if any.
pub(crate) async fn apply_index(
    context: &Context,
    store: &dyn SessionStore,
    changes: Vec<IndexChange>,
    created: Option<&str>,
) -> Result<(), Error> {
    let now = now();
    for change in changes {
        match change {
            IndexChange::Remove { user, key } => {
                let index = user_index_key(&context.prefix, &user);
                store
                    .index_remove(&index, &[key], latest_expiry(context, now))
                    .await?;
            }
            IndexChange::Refresh { user, key, expires } => {
                put(context, store, &user, entry(key, expires, now)).await?;
            }
            IndexChange::Created { user, expires } => {
                if let Some(key) = created {
                    put(context, store, &user, entry(key.to_owned(), expires, now)).await?;
                }
            }
        }
    }
    Ok(())
}

/// Lists the session about to be created at `key` in its user's index
/// before it exists (a regenerate with a user bound), or, with `listed`
/// false, takes that back when it was not created.
pub(crate) async fn list_created(
    context: &Context,
    store: &dyn SessionStore,
    changes: &[IndexChange],
    key: &str,
    listed: bool,
) -> Result<(), Error> {
    let now = now();
    for change in changes {
        if let IndexChange::Created { user, expires } = change {
            let index = user_index_key(&context.prefix, user);
            if listed {
                put(context, store, user, entry(key.to_owned(), *expires, now)).await?;
            } else {
                let key = [key.to_owned()];
                store
                    .index_remove(&index, &key, latest_expiry(context, now))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Puts `entry` in the index of `user`, and deletes the sessions the index
/// revoked to stay within `max_sessions_per_user` (wherever they live in a
/// Cluster: one batch, split by slot).
async fn put(
    context: &Context,
    store: &dyn SessionStore,
    user: &str,
    entry: IndexEntry,
) -> Result<(), Error> {
    let index = user_index_key(&context.prefix, user);
    let revoked = store
        .index_put(&index, entry, context.max_sessions_per_user)
        .await?;
    if !revoked.is_empty() {
        crate::metrics::revoked(revoked.len());
        tracing::debug!(target: "redis_sessions::session", revoked = revoked.len(), "oldest sessions of a user revoked past max_sessions_per_user");
        store
            .write(
                revoked
                    .into_iter()
                    .map(|key| Write::Delete { key })
                    .collect(),
            )
            .await?;
    }
    Ok(())
}

fn entry(member: String, expires: u64, now: u64) -> IndexEntry {
    IndexEntry {
        member,
        expires,
        created: 0,
        last_seen: now,
        agent: None,
    }
}

/// Lists the live sessions of `user`, marking `current`; drops index
/// entries whose session is gone.
pub(super) async fn list(
    context: &Context,
    store: &dyn SessionStore,
    user: &str,
    current: Option<&str>,
) -> Result<Vec<(String, UserSession)>, Error> {
    let index = user_index_key(&context.prefix, user);
    let now = now();
    let entries = store.index_list(&index, now).await?;
    // The sessions themselves tell creation, last refresh and agent, and
    // whether they still exist (one pipelined round trip on Redis).
    let loads = entries.iter().map(|e| store.load(&e.member));
    let sessions = futures_util::future::join_all(loads).await;
    let mut live = Vec::new();
    let mut gone = Vec::new();
    for (entry, loaded) in entries.into_iter().zip(sessions) {
        // Its metadata are enough: no value is opened.
        let parsed = loaded?.and_then(Result::ok).map(|record| record.meta);
        match parsed {
            Some(p) if p.user.as_deref() == Some(user) => {
                let created = p.created;
                let last_seen = p.refreshed.max(entry.last_seen).max(created);
                let signed_in = if p.bound > 0 { p.bound } else { created };
                let session = UserSession {
                    tag: crate::store::tag_of(&entry.member),
                    created: unix(created),
                    signed_in: unix(signed_in),
                    last_seen: unix(last_seen),
                    agent: p.agent.or(entry.agent),
                    current: current == Some(entry.member.as_str()),
                };
                live.push((entry.member, session));
            }
            _ => gone.push(entry.member),
        }
    }
    if !gone.is_empty() {
        store
            .index_remove(&index, &gone, latest_expiry(context, now))
            .await?;
    }
    live.sort_by(|a, b| {
        b.1.last_seen
            .cmp(&a.1.last_seen)
            .then(a.1.tag.cmp(&b.1.tag))
    });
    Ok(live)
}

/// How often a revocation lists the user's sessions again: a session that
/// was moving to a new id while it was listed (a login, a regenerate) is
/// listed under its new key by the next pass.
const REVOKE_PASSES: usize = 8;

/// Revokes every session of `user` but `keep`, listing again until a
/// listing shows none; returns how many were revoked.
pub(super) async fn revoke_until_gone(
    context: &Context,
    store: &dyn SessionStore,
    user: &str,
    keep: Option<&str>,
) -> Result<usize, Error> {
    let mut revoked = 0;
    for _ in 0..REVOKE_PASSES {
        let others: Vec<String> = list(context, store, user, keep)
            .await?
            .into_iter()
            .filter(|(key, _)| Some(key.as_str()) != keep)
            .map(|(key, _)| key)
            .collect();
        if others.is_empty() {
            break;
        }
        revoked += revoke_keys(context, store, user, others).await?;
    }
    Ok(revoked)
}

/// Deletes the sessions at `keys` and their index entries.
pub(super) async fn revoke_keys(
    context: &Context,
    store: &dyn SessionStore,
    user: &str,
    keys: Vec<String>,
) -> Result<usize, Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let n = keys.len();
    let index = user_index_key(&context.prefix, user);
    store
        .index_remove(&index, &keys, latest_expiry(context, now()))
        .await?;
    store
        .write(keys.into_iter().map(|key| Write::Delete { key }).collect())
        .await?;
    crate::metrics::revoked(n);
    Ok(n)
}
