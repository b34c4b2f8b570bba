//! What `redis-sessions stats` reads: the sessions under a prefix, found by
//! `SCAN` (on every master of a Cluster), counted, and their memory weighed
//! with `MEMORY USAGE` (on a sample, past [`WEIGHED`] sessions).

use super::{Connection, RedisClient};
use crate::store::Error;

/// Sessions weighed one by one; past it, the rest are counted and their
/// bytes estimated from the average.
const WEIGHED: u64 = 10_000;
/// Keys asked for per `SCAN` step.
const SCAN_COUNT: usize = 1000;
/// The length of a session key's digest (base64url of SHA-256).
const DIGEST_LEN: usize = 43;

/// Live sessions under a prefix, and the memory they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stats {
    /// Keys the scan went through.
    pub(crate) scanned: u64,
    /// Live sessions among them.
    pub(crate) sessions: u64,
    /// Bytes they take in Redis (`MEMORY USAGE`), estimated when `sampled`.
    pub(crate) bytes: u64,
    /// True when only [`WEIGHED`] sessions were weighed.
    pub(crate) sampled: bool,
    /// How many were weighed.
    pub(crate) weighed: u64,
}

/// A connection that `SCAN`s one node.
enum Scanner {
    /// The client's own (one server).
    Shared(Connection),
    /// A connection to one master of a Cluster.
    #[cfg(feature = "cluster")]
    Node(redis::aio::MultiplexedConnection),
}

impl RedisClient {
    /// Scans the keys under `prefix` on every master, calling `progress`
    /// with the number of keys scanned after each step.
    ///
    /// # Errors
    ///
    /// As any command: [`Error`] when Redis is unreachable, too slow, or
    /// refuses a command.
    pub(crate) async fn stats(
        &self,
        prefix: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Stats, Error> {
        let pattern = format!("{}*", escape_glob(prefix));
        let mut stats = Stats::default();
        let mut weighed = (0u64, 0u64); // sessions, bytes
        let conn = self.connection()?;
        let nodes: Vec<Option<(String, u16)>> = match &conn {
            #[cfg(feature = "cluster")]
            Connection::Cluster(cluster) => self
                .explained(self.bounded(cluster.masters()).await)
                .await?
                .into_iter()
                .map(Some)
                .collect(),
            _ => vec![None],
        };
        for node in nodes {
            let mut scanner = self.scanner(&conn, node).await?;
            let mut cursor = 0u64;
            loop {
                let (next, keys) = self.scan_step(&mut scanner, cursor, &pattern).await?;
                stats.scanned += keys.len() as u64;
                let candidates: Vec<String> = keys
                    .into_iter()
                    .filter(|key| is_session_key(prefix, key))
                    .collect();
                self.count(&conn, &candidates, &mut stats, &mut weighed)
                    .await?;
                progress(stats.scanned);
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        stats.sampled = stats.sessions > weighed.0;
        stats.weighed = weighed.0;
        stats.bytes = match weighed {
            (0, _) => 0,
            (n, bytes) if stats.sampled => bytes / n * stats.sessions,
            (_, bytes) => bytes,
        };
        Ok(stats)
    }

    /// What scans one node: the connection itself, or on a Cluster a
    /// connection of its own to the master at `node`, so that a master the
    /// cluster connection has not reached yet (it connects to nodes in the
    /// background) is scanned all the same.
    async fn scanner(
        &self,
        conn: &Connection,
        node: Option<(String, u16)>,
    ) -> Result<Scanner, Error> {
        match (&self.inner.backend, node) {
            #[cfg(feature = "cluster")]
            (super::Backend::Cluster(lazy), Some((host, port))) => {
                let client = lazy
                    .node_client(&host, port)
                    .map_err(|e| super::map_error(e, self.inner.timeout))?;
                let node = self
                    .bounded(client.get_multiplexed_async_connection())
                    .await;
                Ok(Scanner::Node(self.explained(node).await?))
            }
            _ => Ok(Scanner::Shared(conn.clone())),
        }
    }

    async fn scan_step(
        &self,
        scanner: &mut Scanner,
        cursor: u64,
        pattern: &str,
    ) -> Result<(u64, Vec<String>), Error> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        let step = match scanner {
            Scanner::Shared(conn) => self.bounded(cmd.query_async(conn)).await,
            #[cfg(feature = "cluster")]
            Scanner::Node(conn) => self.bounded(cmd.query_async(conn)).await,
        };
        self.explained(step).await
    }

    /// Counts the live sessions among `keys` (a moved session's marker is
    /// none), and weighs them while fewer than [`WEIGHED`] were.
    async fn count(
        &self,
        conn: &Connection,
        keys: &[String],
        stats: &mut Stats,
        weighed: &mut (u64, u64),
    ) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HEXISTS")
                .arg(key)
                .arg(crate::store::layout::CREATED_FIELD);
        }
        let mut conn = conn.clone();
        let alive: Vec<bool> = self
            .explained(self.bounded(pipe.query_async(&mut conn)).await)
            .await?;
        let live: Vec<&String> = keys
            .iter()
            .zip(alive)
            .filter_map(|(key, alive)| alive.then_some(key))
            .collect();
        stats.sessions += live.len() as u64;
        let room = usize::try_from(WEIGHED.saturating_sub(weighed.0)).unwrap_or(usize::MAX);
        let weigh: Vec<&&String> = live.iter().take(room).collect();
        if !weigh.is_empty() {
            let mut pipe = redis::pipe();
            for key in &weigh {
                pipe.cmd("MEMORY").arg("USAGE").arg(**key);
            }
            let bytes: Vec<Option<u64>> = self
                .explained(self.bounded(pipe.query_async(&mut conn)).await)
                .await?;
            weighed.0 += weigh.len() as u64;
            weighed.1 += bytes.into_iter().flatten().sum::<u64>();
        }
        Ok(())
    }
}

/// `prefix` with the characters `SCAN MATCH` reads as a pattern escaped.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// True for a key of the form of a session key: the prefix and a digest.
fn is_session_key(prefix: &str, key: &str) -> bool {
    key.strip_prefix(prefix).is_some_and(|digest| {
        digest.len() == DIGEST_LEN
            && digest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_matched_literally_and_keys_by_their_shape() {
        assert_eq!(escape_glob("s*[x]?\\:"), "s\\*\\[x\\]\\?\\\\:");
        let digest = "a".repeat(DIGEST_LEN);
        assert!(is_session_key("s:", &format!("s:{digest}")));
        assert!(!is_session_key("s:", &format!("s:u:{digest}")));
        assert!(!is_session_key("s:", &format!("{{s:u:{digest}}}:z")));
        assert!(!is_session_key("s:", "s:short"));
    }
}
