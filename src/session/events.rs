//! Session events: a hook on the factory, called for every presented session
//! that is not adopted and whenever an old secret is used, so apps can count,
//! alert and rate-limit guessing. Each event is also a `tracing` event
//! (target `redis_sessions::session`) carrying the reason and a short tag,
//! never a raw id.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::throttle::Throttle;

/// Why an [`Event`] was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// A cookie with our name whose signature does not verify (tampered,
    /// signed with a removed secret, or made for another cookie name).
    BadSignature,
    /// A correctly signed id that the store does not know (expired,
    /// invalidated, or never issued here).
    UnknownId,
    /// The session is older than `max_lifetime`: it was deleted.
    LifetimeExpired,
    /// The session was idle longer than its timeout (the store's TTL was
    /// extended by another path): it was deleted.
    IdleExpired,
    /// The stored session does not decode: it was deleted.
    Corrupt,
    /// The cookie was signed with one of `old_secrets`; it is re-signed with
    /// the current secret in this response.
    OldSecret,
}

impl Reason {
    /// The reason as a stable snake_case name, e.g. `bad_signature`.
    ///
    /// ```
    /// use redis_sessions::session::Reason;
    /// assert_eq!(Reason::LifetimeExpired.as_str(), "lifetime_expired");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::UnknownId => "unknown_id",
            Self::LifetimeExpired => "lifetime_expired",
            Self::IdleExpired => "idle_expired",
            Self::Corrupt => "corrupt",
            Self::OldSecret => "old_secret",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event, given to the hook set with
/// [`RedisSessionFactory::on_event`](crate::RedisSessionFactory::on_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// Why it was raised.
    pub reason: Reason,
    /// The log-safe tag of the session concerned (see
    /// [`Session::tag`](crate::Session::tag)), when one is known.
    pub tag: Option<String>,
}

/// The hook called with every [`Event`]. It runs on the request's task:
/// keep it short (count, log, enqueue).
pub type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// Where a factory keeps its hooks (added after the factory is built, so
/// that factories made from settings get them too).
#[derive(Default)]
pub(crate) struct EventSlot(RwLock<Vec<EventHook>>, Throttle);

impl EventSlot {
    fn hooks(&self) -> Vec<EventHook> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The throttle of this factory's log lines.
    pub(crate) fn throttle(&self) -> &Throttle {
        &self.1
    }

    pub(crate) fn add(&self, hook: EventHook) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hook);
    }
}

/// A stored session that cannot be read (`problem` says what, never a
/// value): logged (at most once per interval) and raised as
/// [`Reason::Corrupt`]; the caller deletes it.
pub(crate) fn corrupt(slot: &EventSlot, store_key: &str, problem: &str) {
    if let Some(n) = slot.throttle().count("unreadable") {
        tracing::warn!(target: "redis_sessions::session", session = crate::store::log_tag(store_key), problem, occurrences = n, "stored session cannot be read: deleting it");
    }
    emit(slot, Reason::Corrupt, Some(crate::store::tag_of(store_key)));
}

/// Raises `event`: a tracing event (at most one line per reason per
/// interval, with the count it stands for: clients choose what they send),
/// then the hook if one is set (every time).
pub(crate) fn emit(slot: &EventSlot, reason: Reason, tag: Option<String>) {
    if reason != Reason::OldSecret {
        crate::metrics::invalid(reason.as_str());
    }
    if let Some(n) = slot.throttle().count(reason.as_str()) {
        let (name, session) = (reason.as_str(), tag.as_deref());
        match reason {
            Reason::BadSignature | Reason::Corrupt => {
                tracing::warn!(target: "redis_sessions::session", reason = name, session, occurrences = n, "session not adopted")
            }
            Reason::OldSecret => {
                tracing::info!(target: "redis_sessions::session", reason = name, session, occurrences = n, "cookie signed with an old secret: re-signing")
            }
            _ => {
                tracing::debug!(target: "redis_sessions::session", reason = name, session, occurrences = n, "session not adopted")
            }
        }
    }
    let hooks = slot.hooks();
    if !hooks.is_empty() {
        let event = Event { reason, tag };
        for hook in hooks {
            hook(&event);
        }
    }
}
