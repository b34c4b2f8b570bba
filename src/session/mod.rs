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
//! | `lifecycle.rs` | load, parse, plan, commit: one request, top to bottom |
//! | `state.rs` | the change log and the commit plan |
//! | `flash.rs`, `csrf.rs` | flash queues and CSRF tokens |
//! | `user.rs` | binding to a user, listing and revoking a user's sessions |
//! | `events.rs` | the event hook (sessions not adopted, old secrets) |
//! | `error.rs` | [`Error`] and the status each failure becomes |
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

mod csrf;
mod error;
mod events;
mod flash;
mod handle;
mod lifecycle;
mod state;
mod user;

pub use error::Error;
pub(crate) use events::EventSlot;
pub use events::{Event, EventHook, Reason};
pub use lifecycle::Session;
pub(crate) use lifecycle::{Outcome, ResponseHeaders, StoreSlot};
pub use user::{UserSession, Users};
