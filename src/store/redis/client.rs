//! The Redis client: settings, shared, multiplexed, self-healing
//! connections, a timeout on every call, on every topology.
//!
//! # Where the sessions live
//!
//! One setting, `redis.sessions.url`, says where:
//!
//! | URL | what |
//! |---|---|
//! | `redis://[user:password@]host[:port][/db]` | one server over TCP |
//! | `rediss://[user:password@]host[:port][/db]` | one server over TLS (feature `tls`) |
//! | `redis+unix:///path/to/redis.sock?db=N` | one server over a Unix socket |
//! | `redis+sentinel://[user:password@]host:port[,host:port…]/MASTER[/db]` | the master that Sentinels name (feature `sentinel`; `rediss+sentinel://` for TLS) |
//! | `redis+cluster://[user:password@]host:port[,host:port…]` | a Redis Cluster (feature `cluster`; `rediss+cluster://` for TLS) |
//!
//! The user and password of a Sentinel URL are those of the Redis servers;
//! the Sentinels themselves are asked without them. Sentinel ports default
//! to 26379, Cluster ports to 6379.
//!
//! **TLS** is always verified: against the system's roots, or against
//! `tls_ca_file` (PEM) for a private authority; the host name in the URL
//! must match the server's certificate. `tls_cert_file` and `tls_key_file`
//! (PEM, both or neither) add a client certificate for mutual TLS. There is
//! no setting that skips verification, and a URL fragment such as
//! `#insecure` is refused.
//!
//! # Failover
//!
//! A command that cannot reach Redis fails with [`Error::Unreachable`] or
//! [`Error::Timeout`] (so the request answers 503 without `Set-Cookie`);
//! the connection heals by itself, and a later request is served again
//! without a restart. With Sentinel, a lost connection, a timeout or a
//! `READONLY` answer make the next request ask the Sentinels for the master
//! again. With Cluster, redis-rs follows `MOVED`/`ASK` and refreshes its slot
//! map when a replica takes over.
//!
//! Redis replicates asynchronously: a write that the old master
//! acknowledged but had not yet sent to its replica is lost when that
//! replica is promoted. Bound the window with `min-replicas-to-write 1` and
//! `min-replicas-max-lag 10` on the masters: a master then refuses writes
//! (the request answers 503) when no replica is in reach.
//!
//! # One key per session
//!
//! Every command of a request touches one key, the session's hash, so every
//! command is single-slot and works on a Cluster unchanged. A pipeline that
//! writes several sessions at once is split per slot (see the Cluster
//! connection). Anyone adding a second key to a request must either keep it
//! in the same slot (a `{hash tag}`) or make its updates idempotent and
//! order-free.

#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
pub(crate) use cluster::parse_nodes;
mod options;
#[cfg(feature = "sentinel")]
mod sentinel;
mod stats;
mod target;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use crate::store::Error;
pub(crate) use options::redact_url;
pub use options::{DEFAULT_SOCKET_TIMEOUT, MAX_CONNECTION_POOL, RedisOptions};
use target::Target;

/// A handle on Redis (one server, a Sentinel-managed master or a Cluster):
/// cheap to clone, shared by every request.
///
/// Opening a client checks its settings (and reads the TLS files) but does
/// not connect. The first command connects; a dropped connection is
/// re-established, and a failover followed, by itself, so the application
/// recovers when Redis does. Every command is bounded by `socket_timeout`.
///
/// ```
/// use redis_sessions::{RedisClient, RedisOptions};
///
/// // No I/O happens here, so this works without a server.
/// let client = RedisClient::open(&RedisOptions::default()).unwrap();
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct RedisClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    backend: Backend,
    timeout: Duration,
    /// Where the server is, for people (`host:port` or a socket's path).
    server: String,
    /// A plain TCP server's address: what answered there is read once when
    /// its reply cannot be parsed (see [`Error::NotRedis`]).
    probe: Option<(String, u16)>,
    sent: tokio::sync::OnceCell<Option<String>>,
    /// The TLS settings of the connections a process cache opens itself.
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

// Made once per client and kept behind its `Arc`: size does not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Single {
        client: redis::Client,
        size: usize,
        pool: OnceLock<Vec<ConnectionManager>>,
        next: AtomicUsize,
    },
    #[cfg(feature = "sentinel")]
    Sentinel(sentinel::SentinelConnection),
    #[cfg(feature = "cluster")]
    Cluster(Box<cluster::LazyCluster>),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Self::Single { .. } => "single",
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => "sentinel",
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => "cluster",
        }
    }
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RedisClient");
        debug
            .field("topology", &self.inner.backend.name())
            .field("timeout", &self.inner.timeout);
        #[allow(irrefutable_let_patterns)]
        if let Backend::Single { size, .. } = &self.inner.backend {
            debug.field("connections", size);
        }
        debug.finish_non_exhaustive()
    }
}

/// One connection to Redis, whatever the topology: cheap to clone, and
/// usable with `query_async` like any redis-rs connection.
#[derive(Clone)]
pub(crate) enum Connection {
    /// One server, reconnected in the background.
    Single(ConnectionManager),
    /// The master the Sentinels name.
    #[cfg(feature = "sentinel")]
    Sentinel(sentinel::SentinelConnection),
    /// A Cluster.
    #[cfg(feature = "cluster")]
    Cluster(cluster::ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(conn) => conn.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(conn) => conn.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(conn) => conn.get_db(),
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl RedisClient {
    /// Checks `options` and makes a client, without connecting.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL or address is malformed, a TLS file
    /// cannot be read or holds the wrong thing, the URL needs a Cargo
    /// feature this build leaves out, or the pool size is out of range (see
    /// [`RedisOptions::validate`]).
    pub fn open(options: &RedisOptions) -> Result<Self, Error> {
        let size = options.connection_pool.unwrap_or(1);
        if !(1..=MAX_CONNECTION_POOL).contains(&size) {
            return Err(Error::Config(format!(
                "connection_pool = {size}: expected a number of connections from 1 to {MAX_CONNECTION_POOL}, e.g. 4"
            )));
        }
        let timeout = options.timeout();
        let target = target::validate(options)?;
        #[cfg(feature = "tls")]
        let certificates = if target.is_tls() {
            install_crypto_provider();
            Some(target::certificates(options)?)
        } else {
            None
        };
        #[cfg(feature = "tls")]
        let tls = certificates
            .as_ref()
            .map(target::rustls_config)
            .transpose()?;
        let server: String;
        let probe: Option<(String, u16)>;
        let backend = match target {
            Target::Single(info) => {
                (server, probe) = match info.addr() {
                    redis::ConnectionAddr::Tcp(host, port) => {
                        (format!("{host}:{port}"), Some((host.clone(), *port)))
                    }
                    redis::ConnectionAddr::TcpTls { host, port, .. } => {
                        (format!("{host}:{port}"), None)
                    }
                    redis::ConnectionAddr::Unix(path) => (path.display().to_string(), None),
                    _ => ("the configured address".into(), None),
                };
                #[cfg(feature = "tls")]
                let client = match certificates {
                    Some(certificates) => redis::Client::build_with_tls(info, certificates),
                    None => redis::Client::open(info),
                };
                #[cfg(not(feature = "tls"))]
                let client = redis::Client::open(info);
                Backend::Single {
                    client: client.map_err(|e| Error::Config(e.to_string()))?,
                    size,
                    pool: OnceLock::new(),
                    next: AtomicUsize::new(0),
                }
            }
            #[cfg(feature = "sentinel")]
            Target::Sentinel {
                nodes,
                master,
                auth,
                db,
                tls,
            } => Backend::Sentinel({
                server = "the master the Sentinels named".into();
                probe = None;
                sentinel::SentinelConnection::new(
                    sentinel::SentinelTarget {
                        nodes,
                        master,
                        auth,
                        db,
                        tls,
                        #[cfg(feature = "tls")]
                        certificates,
                    },
                    timeout,
                )?
            }),
            #[cfg(feature = "cluster")]
            Target::Cluster { nodes, auth, tls } => {
                server = "a Cluster node".into();
                probe = None;
                Backend::Cluster(Box::new(cluster::LazyCluster::new(
                    cluster::ClusterTarget {
                        nodes,
                        auth,
                        tls,
                        #[cfg(feature = "tls")]
                        certificates,
                    },
                    timeout,
                )?))
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::Config(
                    "url: this topology needs a Cargo feature this build leaves out".into(),
                ));
            }
        };
        Ok(Self {
            inner: Arc::new(ClientInner {
                backend,
                timeout,
                server,
                probe,
                sent: tokio::sync::OnceCell::new(),
                #[cfg(feature = "tls")]
                tls,
            }),
        })
    }

    /// The timeout applied to every command.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// True when the client talks to a Redis Cluster. A pipeline whose
    /// commands name keys in different slots is split per slot by the
    /// connection, so callers need not care; a `MULTI`/`EXEC` transaction
    /// must stay within one slot.
    pub fn is_cluster(&self) -> bool {
        self.inner.backend.name() == "cluster"
    }

    /// Sends `PING` and waits for the answer.
    ///
    /// # Errors
    ///
    /// [`Error`] when Redis is unreachable, too slow or refuses the command
    /// (for example a wrong password).
    pub async fn ping(&self) -> Result<(), Error> {
        let reply: String = self.explained(self.query(redis::cmd("PING")).await).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(Error::Backend(format!("PING answered {reply:?}")))
        }
    }

    /// A connection: shared and multiplexed, never one per request. Must
    /// be called inside a Tokio runtime.
    pub(crate) fn connection(&self) -> Result<Connection, Error> {
        let inner = &self.inner;
        match &inner.backend {
            Backend::Single {
                client,
                size,
                pool,
                next,
            } => {
                let pool = match pool.get() {
                    Some(pool) => pool,
                    None => {
                        let config = redis::aio::ConnectionManagerConfig::new()
                            // `bounded` puts one timer on every call; a
                            // second one here would only cost time.
                            .set_connection_timeout(Some(inner.timeout))
                            .set_response_timeout(None)
                            .set_number_of_retries(1)
                            .set_min_delay(Duration::from_millis(10))
                            .set_max_delay(Duration::from_millis(200));
                        let fresh = (0..*size)
                            .map(|_| {
                                ConnectionManager::new_lazy_with_config(
                                    client.clone(),
                                    config.clone(),
                                )
                            })
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| Error::Config(e.to_string()))?;
                        // Another task may have won the race; either pool works.
                        let _ = pool.set(fresh);
                        pool.get()
                            .ok_or_else(|| Error::Config("no connection".into()))?
                    }
                };
                // One connection (the default): no shared counter to bump.
                let i = match pool.len() {
                    1 => 0,
                    len => next.fetch_add(1, Ordering::Relaxed) % len,
                };
                Ok(Connection::Single(pool[i].clone()))
            }
            #[cfg(feature = "sentinel")]
            Backend::Sentinel(conn) => Ok(Connection::Sentinel(conn.clone())),
            #[cfg(feature = "cluster")]
            Backend::Cluster(lazy) => Ok(Connection::Cluster(lazy.connection())),
        }
    }

    /// The servers a process cache must hear from (see
    /// `store::redis::tracking`): one client per node, speaking RESP3. One
    /// server: it; Sentinel: the master the Sentinels name now; Cluster:
    /// every reachable node, masters and replicas (a replica promoted by a
    /// failover is then heard from at once).
    pub(crate) async fn nodes_to_track(&self) -> Result<Vec<redis::Client>, Error> {
        let resp3 = |info: &redis::ConnectionInfo| {
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(redis::ProtocolVersion::RESP3);
            redis::Client::open(info.clone().set_redis_settings(settings))
                .map_err(|e| map_error(e, self.inner.timeout))
        };
        match &self.inner.backend {
            Backend::Single { client, .. } => Ok(vec![resp3(client.get_connection_info())?]),
            #[cfg(feature = "sentinel")]
            Backend::Sentinel(conn) => {
                let master = self.bounded(conn.master_client()).await?;
                Ok(vec![resp3(master.get_connection_info())?])
            }
            #[cfg(feature = "cluster")]
            Backend::Cluster(lazy) => {
                let nodes = self.bounded(lazy.connection().nodes()).await?;
                nodes
                    .iter()
                    .map(|node| {
                        lazy.node_client(&node.host, node.port)
                            .map_err(|e| map_error(e, self.inner.timeout))
                    })
                    .collect()
            }
        }
    }

    /// The TLS settings for connections opened outside redis-rs (the
    /// process cache's tracking), when the target uses TLS.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_config(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.inner.tls.clone()
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: Cmd) -> Result<T, Error> {
        let mut conn = self.connection()?;
        self.bounded(cmd.query_async(&mut conn)).await
    }

    /// `result`, with an [`Error::NotRedis`] completed: the server's
    /// address, and (once per client, for a plain TCP server) the start of
    /// what it answers to a `PING`.
    pub(crate) async fn explained<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        match result {
            Err(Error::NotRedis { .. }) => {
                let inner = &self.inner;
                let sent = inner
                    .sent
                    .get_or_init(|| async {
                        let (host, port) = inner.probe.as_ref()?;
                        tokio::time::timeout(inner.timeout, first_line(host, *port))
                            .await
                            .ok()
                            .flatten()
                    })
                    .await
                    .clone();
                Err(Error::NotRedis {
                    server: inner.server.clone(),
                    sent,
                })
            }
            other => other,
        }
    }

    pub(crate) async fn bounded<T>(
        &self,
        future: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Error> {
        let result = match tokio::time::timeout(self.inner.timeout, future).await {
            Ok(result) => result.map_err(|e| map_error(e, self.inner.timeout)),
            Err(_) => Err(Error::Timeout(self.inner.timeout)),
        };
        // Every caller names the server that is not Redis.
        self.explained(result).await
    }
}

/// The start of what the server at `host:port` answers to `PING`: at most
/// 40 printable characters of its first line, `…` when cut.
async fn first_line(host: &str, port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
    stream.write_all(b"PING\r\n").await.ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await.ok()?;
    let line = buf[..n].split(|b| *b == b'\n' || *b == b'\r').next()?;
    let mut text: String = line
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .take(40)
        .collect();
    if line.len() > 40 {
        text.push('…');
    }
    (!text.is_empty()).then_some(text)
}

/// rustls needs one process-wide cryptography provider; this build brings
/// `ring`. An application that installed its own keeps it.
///
/// rustls 0.23.48 deprecates its `ring` provider because *ring* has no
/// post-quantum key exchange. We keep it deliberately: it is the provider
/// the `redis` crate's rustls build brings, without a C toolchain or a
/// second TLS stack. An application that wants post-quantum key exchange
/// installs its own provider (e.g. rustls's `aws-lc-rs` one) before its
/// first TLS connection, and this function leaves it in place.
#[cfg(feature = "tls")]
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        #[allow(deprecated)] // see above: a deliberate choice, not an oversight
        let provider = rustls::crypto::ring::default_provider();
        // Losing a race to another installer is fine: one is in place.
        let _ = provider.install_default();
    }
}

/// Sorts a redis-rs error: unreachable (503), too slow (503), or an answer
/// that is an error. A server that is loading, read-only (a demoted master),
/// a Cluster without a master for the slot, or a slot that keeps moving
/// after the redirects were followed counts as unreachable: a failover is
/// under way and a later request may succeed.
pub(crate) fn map_error(e: RedisError, timeout: Duration) -> Error {
    use redis::{ErrorKind, ServerErrorKind};
    if e.kind() == ErrorKind::Parse {
        // Completed with the address by `RedisClient::explained`.
        Error::NotRedis {
            server: String::new(),
            sent: None,
        }
    } else if e.is_timeout() {
        Error::Timeout(timeout)
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::MasterNameNotFoundBySentinel
                | ErrorKind::NoValidReplicasFoundBySentinel
                | ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::ReadOnly
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::Moved
                        | ServerErrorKind::Ask
                )
        )
    {
        Error::Unreachable(e.to_string())
    } else if e.code() == Some("WRONGTYPE") {
        Error::WrongType
    } else if e.code() == Some("OOM") {
        Error::OutOfMemory
    } else {
        Error::Backend(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://user:pw@host:1/0"),
            "redis://user:<redacted>@host:1/0"
        );
        assert_eq!(redact_url("redis://:pw@host"), "redis://:<redacted>@host");
        assert_eq!(redact_url("redis://host:1/0"), "redis://host:1/0");
        assert_eq!(
            redact_url("redis+sentinel://u:pw@a:1,b:2/m"),
            "redis+sentinel://u:<redacted>@a:1,b:2/m"
        );
    }

    #[test]
    fn opening_checks_settings_without_connecting() {
        // Port 1 is never listened on; open must still succeed.
        let options = RedisOptions {
            url: Some("redis://127.0.0.1:1/0".into()),
            ..RedisOptions::default()
        };
        assert!(RedisClient::open(&options).is_ok());
        let bad = RedisOptions {
            url: Some("http://nope".into()),
            ..RedisOptions::default()
        };
        assert!(matches!(RedisClient::open(&bad), Err(Error::Config(_))));
        let pool = RedisOptions {
            connection_pool: Some(0),
            ..RedisOptions::default()
        };
        assert!(matches!(RedisClient::open(&pool), Err(Error::Config(_))));
    }

    #[test]
    fn validation_passes_the_embedded_store_and_names_the_setting() {
        let memory = RedisOptions {
            url: Some("memory://".into()),
            ..RedisOptions::default()
        };
        assert!(memory.validate().is_ok());
        let e = RedisOptions::validate_url("redis+cluster://:pw@a:1/3")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("url = \"redis+cluster://:<redacted>@a:1/3\": "),
            "{e}"
        );
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn every_topology_opens_without_connecting() {
        let urls = [
            ("redis://127.0.0.1:1/0", cfg!(all())),
            ("rediss://127.0.0.1:1/0", cfg!(feature = "tls")),
            (
                "redis+sentinel://127.0.0.1:1,127.0.0.1:2/m/1",
                cfg!(feature = "sentinel"),
            ),
            (
                "redis+cluster://127.0.0.1:1,127.0.0.1:2",
                cfg!(feature = "cluster"),
            ),
        ];
        for (url, supported) in urls {
            let options = RedisOptions {
                url: Some(url.into()),
                ..RedisOptions::default()
            };
            match RedisClient::open(&options) {
                Ok(client) => {
                    assert!(supported, "{url}");
                    assert_eq!(client.is_cluster(), url.contains("cluster"));
                }
                Err(e) => {
                    assert!(!supported, "{url}: {e}");
                    assert!(e.to_string().contains("Cargo feature"), "{e}");
                }
            }
        }
    }
}
