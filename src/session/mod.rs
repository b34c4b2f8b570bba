//! The session a request sees: [`Session`], a lazy handle with a dict-like
//! API over serde values, flash messages and CSRF tokens.
//!
//! # Lifecycle
//!
//! A handle is created for every request by the layer and costs nothing
//! until used: the first method that needs data loads the whole session
//! (one command). Changes are recorded per key and written when the response
//! goes out (one round trip, only if something changed), so concurrent
//! requests that change different keys of one session both keep their
//! changes. The idle TTL is refreshed at most once per `timeout / 20` (a
//! session may end up to 5 % early, never late).
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | the public dict API |
//! | `lifecycle.rs` | load, plan, commit: one request, top to bottom |
//! | `parse.rs` | reading a stored session (corrupt ones are refused whole) |
//! | `scheme.rs` | cookie, id and key formats: ours, or the original's |
//! | `upgrade.rs`, `detached.rs` | upgrade mode; sessions outside the layer |
//! | `state.rs` | the change log and the commit plan |
//! | `flash.rs`, `csrf.rs` | flash queues and CSRF tokens |
//! | `user.rs` | binding to a user, listing and revoking a user's sessions |
//! | `events.rs` | the event hook (sessions not adopted, old secrets) |
//! | `error.rs` | [`Error`] and the status each failure becomes |
//!
//! # Failures, limits and what they cost
//!
//! - A store that is unreachable or slower than `socket_timeout` makes the
//!   first access fail with a 503 and no `Set-Cookie`; the request never
//!   falls back to an empty session. A 503 caused by a *timeout* does not
//!   prove that a write did not happen: Redis may still apply a command it
//!   received before the deadline. Each write is atomic, so a session is
//!   never half-written, and no key is ever left without a TTL.
//! - `max_session_bytes` (default 1 MiB) bounds the encoded size of all
//!   keys and values: the call that would exceed it fails with a 413 and
//!   changes nothing. It costs one addition per change.
//! - `max_lifetime` ends a session a fixed time after its creation, however
//!   active; every TTL is cut at that point. It costs one comparison per load.
//! - `old_secrets`: a cookie signed with an old secret is accepted and
//!   re-signed with the current one. A cookie that verifies with neither the
//!   current secret nor an old one costs one HMAC per secret, so keep the
//!   list short and drop secrets once sessions signed with them have expired.
//! - A stored session that does not decode, is idle past its timeout or past
//!   its lifetime is deleted and reported through the event hook
//!   ([`RedisSessionFactory::on_event`](crate::RedisSessionFactory::on_event)),
//!   and the request goes on with a fresh one. Values are decoded when a
//!   handler reads them, not when the session loads (a read costs what it
//!   reads): a value that is no value of the codec at all is found on its
//!   first read, and the session is discarded then, changes this request
//!   made before included.
//!
//! # Differences from pyramid_redis_sessions
//!
//! - Methods are `async` and return `Result`: a store outage is an error
//!   (503), never an empty session.
//! - A signed id that the store does not know is never adopted: a fresh id is
//!   minted.
//! - `invalidate()` then writes start a new session with a new id;
//!   `regenerate()` moves the data to a new id (use it at login).
//! - Flash queues (`_f_` + queue) and the CSRF token (`_csrft_`) are ordinary
//!   session keys, as in Pyramid; `regenerate()` also rotates the CSRF token.
//! - New: [`Session::set_user`], [`Session::user_sessions`],
//!   [`Session::revoke`], [`Session::revoke_others`], [`Session::tag`],
//!   size limits (`max_session_bytes`) and absolute lifetimes (`max_lifetime`).

pub(crate) mod context;
mod counter;
mod csrf;
mod detached;
mod error;
mod events;
mod flash;
mod handle;
mod index;
mod lifecycle;
mod parse;
mod scheme;
mod state;
#[cfg(feature = "compat")]
mod upgrade;
mod user;
mod values;

pub use error::Error;
pub(crate) use events::EventSlot;
pub use events::{Event, EventHook, Reason};
pub use index::UserSession;
pub use lifecycle::Session;
pub(crate) use lifecycle::{Outcome, ResponseHeaders, StoreSlot};
pub(crate) use scheme::Scheme;
pub(crate) use state::SessionCache;
pub use user::Users;
