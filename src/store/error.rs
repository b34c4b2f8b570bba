//! The one error type every store maps its failures into.

use std::time::Duration;

use super::layout::MAX_TIMEOUT;

/// Errors from a session store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be reached (refused, dropped, DNS, I/O).
    #[error("the session store is unreachable: {0}")]
    Unreachable(String),
    /// The store did not answer within `socket_timeout`.
    #[error("the session store did not answer within {0:?} (socket_timeout)")]
    Timeout(Duration),
    /// The store answered with an error (for example a key of the wrong
    /// type).
    #[error("the session store answered with an error: {0}")]
    Backend(String),
    /// The store's settings are wrong (for example a malformed URL).
    #[error("{0}")]
    Config(String),
    /// A write asked for an idle timeout above [`MAX_TIMEOUT`]; nothing of
    /// its batch was written.
    #[error(
        "timeout = {0} s: expected at most {MAX_TIMEOUT} s (10 years), or 0 for no expiry, e.g. 1200"
    )]
    TimeoutTooLong(u64),
    /// The store answered, but not in the shape the protocol expects (a
    /// different server, a proxy, or a damaged reply). The reply itself is
    /// never quoted: it could carry session data.
    #[error("the session store sent an unexpected reply to {to}: expected {expected}")]
    UnexpectedReply {
        /// The operation that got the reply, e.g. `a session update`.
        to: &'static str,
        /// What the protocol expected, e.g. `an integer from 0 to 2`.
        expected: &'static str,
    },
    /// The key holds something that is not a session (a value of another
    /// Redis type written by someone else): the session is treated as
    /// corrupt, deleted, and replaced by a fresh one.
    #[error("the session key holds a value of another type")]
    WrongType,
    /// The store is full: Redis is over its `maxmemory` and evicts nothing
    /// (`noeviction`), so it refused the write before running it. A 503,
    /// like an outage: nothing of the refused write was stored.
    #[error(
        "the session store is out of memory (over its maxmemory, with nothing to evict): the write was refused"
    )]
    OutOfMemory,
    /// What answered is not Redis (an HTTP server, say, on the configured
    /// port): its reply could not be parsed. A 503, like an outage.
    #[error(
        "the server{} did not answer like Redis{}",
        at_text(server),
        sent_text(sent)
    )]
    NotRedis {
        /// The address, e.g. `127.0.0.1:6398`.
        server: String,
        /// The start of what it sent to a `PING`, printable characters
        /// only, when it could be read.
        sent: Option<String>,
    },
    /// An index entry the store cannot keep (what is wrong with it).
    #[error("index entry refused: {0}")]
    BadIndexEntry(&'static str),
}

impl Error {
    /// True when the store is unreachable, too slow or full: the request
    /// gets a 503 and no cookie, and a later request may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::Timeout(_) | Self::OutOfMemory | Self::NotRedis { .. }
        )
    }
}

fn at_text(server: &str) -> String {
    if server.is_empty() {
        String::new()
    } else {
        format!(" at {server}")
    }
}

fn sent_text(sent: &Option<String>) -> String {
    sent.as_ref()
        .map(|sent| format!(" (it sent \"{sent}\")"))
        .unwrap_or_default()
}

impl Error {
    /// A fixed word for the kind of error (the metrics' `kind` label).
    #[cfg(feature = "metrics")]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Timeout(_) => "timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::NotRedis { .. } => "not_redis",
            Self::WrongType => "wrong_type",
            Self::UnexpectedReply { .. } => "reply",
            Self::Config(_) => "config",
            Self::Backend(_) | Self::TimeoutTooLong(_) | Self::BadIndexEntry(_) => "backend",
        }
    }
}

/// Refuses a timeout above [`MAX_TIMEOUT`].
pub(crate) fn check_timeout(timeout: u64) -> Result<u64, Error> {
    if timeout > MAX_TIMEOUT {
        Err(Error::TimeoutTooLong(timeout))
    } else {
        Ok(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_too_long_timeout_names_the_value_and_the_ceiling() {
        assert_eq!(check_timeout(MAX_TIMEOUT), Ok(MAX_TIMEOUT));
        assert_eq!(check_timeout(0), Ok(0));
        let e = check_timeout(u64::MAX).unwrap_err();
        assert_eq!(
            e.to_string(),
            "timeout = 18446744073709551615 s: expected at most 315360000 s (10 years), or 0 for no expiry, e.g. 1200"
        );
        assert!(!e.is_unavailable());
    }
}
