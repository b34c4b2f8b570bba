//! Where sessions live: the [`SessionStore`] trait, the Redis store and the
//! embedded in-memory store.
//!
//! The [`SessionStore`] trait speaks in sessions: a load returns a
//! [`Record`] (its [`Meta`] and its entries), an update applies a
//! [`Change`]. How a store lays them out is its own: a custom store needs
//! none of what follows.
//!
//! # Storage layout (Redis and the embedded store)
//!
//! A session is one hash under `{prefix}{digest}`, where `digest` is the
//! base64url SHA-256 of the session id: a key listing or a dump yields no
//! usable cookie. Each session key is one field; metadata lives in fields
//! starting with one NUL byte (`"\0c"`: the creation and last refresh
//! times, `"\0t"`: the session's own timeout, `"\0u"`, `"\0a"`, `"\0b"`:
//! its bound user), and a user key that itself starts with NUL is stored
//! with one more NUL in front, so the two never collide. A session exists
//! only while it has its `"\0c"`. The key's TTL is the idle timeout. The
//! sessions of a user are listed in one more hash per user, named by a
//! digest of the user id (see [`SessionStore::index_put`]).
//!
//! # Commands per operation (Redis)
//!
//! | operation | commands (as `INFO commandstats` counts them) | round trips |
//! |---|---|---|
//! | [`load`](SessionStore::load) | `HGETALL` | 1 |
//! | [`Write::Update`], timeout > 0 | `EVALSHA` → `EXPIRE`, `HSET` (if setting), `HDEL` (if deleting), `HKEYS` + `DEL` (only when deleting without setting a user field) | 1 |
//! | [`Write::Create`] | `EVALSHA` → `EXISTS`, `HSET`, `EXPIRE` | 1 |
//! | [`Write::Delete`] | `DEL` | 1 |
//! | [`increment`](SessionStore::increment) | `EVALSHA` → `HMGET`, `HSET` | 1 |
//! | a batch of writes | one pipeline of the above | 1 (+1 per repeat of a key) |
//! | [`index_put`](SessionStore::index_put), [`index_list`](SessionStore::index_list), [`index_remove`](SessionStore::index_remove) | `EVALSHA` → `HGET`/`HSET`, `HGETALL`, `HDEL`, `EXPIREAT` | 1 |
//!
//! So an ordinary read is one command, a read then a change two round
//! trips and four commands, and an increment with
//! [`Session::incr`](crate::Session::incr) one round trip and three
//! commands, with no load. Each row is one round trip
//! because every conditional step runs inside one cached Lua script
//! (`EVALSHA`). When Redis answers `NOSCRIPT` (a restart, a failover, a
//! `SCRIPT FLUSH`, or the first use on a server), the store replays exactly
//! the writes that did not run, with the script's source (`EVAL`, which
//! caches it again). A batch that names a key twice is sent in two waves,
//! so a replay never runs after a later write to its key. A script is
//! atomic, so an update racing a delete either finds the session (and sets
//! its TTL with its fields) or writes nothing: no key is ever left without
//! its TTL, whatever fails between two commands.
//!
//! **Every command of a session touches one key, so everything is
//! single-slot and works on Redis Cluster; keep it so.** The user index is a
//! second key that may live on another node: its operations are single-key
//! too, idempotent, and tolerate any order.
//!
//! # Differences from pyramid_redis_sessions
//!
//! The original stores one pickled blob under the raw id, rewrites all of it
//! on every change, loses concurrent updates to other keys, refreshes the
//! TTL with a second command on every access, and has no per-user index.

mod api;
pub(crate) mod cache;
mod callable;
mod error;
mod hash;
mod in_place;
mod layout;
#[cfg(feature = "memory-store")]
mod memory;
mod policy;
mod record;
mod redis;

pub use api::{IndexEntry, MAX_AGENT_BYTES, MAX_LISTED, SessionStore, StoreFuture, Write, Written};
pub use callable::ClientCallable;
pub use error::Error;
pub use in_place::{Append, Appended, Guard, Increment, Incremented, Times};
pub use layout::{MAX_TIMEOUT, MOVED_GRACE};
pub(crate) use layout::{log_tag, session_key, stored_name, tag_of, user_index_key};
#[cfg(feature = "memory-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
pub use memory::MemoryStore;
pub(crate) use policy::{Ended, Policy};
pub use record::{Change, Corrupt, Entry, Loaded, Meta, Record};
pub use redis::{
    DEFAULT_SOCKET_TIMEOUT, MAX_CONNECTION_POOL, RedisClient, RedisOptions, RedisStore,
};
pub(crate) use redis::{redact_url, tracker};
