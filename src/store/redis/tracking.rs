//! The tracker that keeps a process cache true: one RESP3 connection per
//! Redis node with `CLIENT TRACKING ON BCAST PREFIX <prefix>`, so that Redis
//! names every session key that changes, expires or is deleted, by anyone.
//!
//! - Every name evicts the cached session; a flush (`FLUSHALL`) empties the
//!   cache.
//! - The cache serves only while every connection is up and was checked in
//!   the last heartbeat (every 500 ms): a `ROLE` that still says `master`
//!   (one server, Sentinel), a `PING` on every node and an unchanged node
//!   list (Cluster). A lost connection turns the cache off at once, from
//!   the connection's own reader; anything else at the next heartbeat.
//! - After any break the tracker connects again (backing off up to 5 s),
//!   empties the cache and only then lets it serve.
//!
//! With Sentinel, the master is asked of the Sentinels at each connect, and
//! a failover (which disconnects the old master's clients) is a break. With
//! Cluster, every reachable node is tracked, replicas included, because a
//! replica promoted by a failover takes writes before anyone notices;
//! a change of the node list is a break.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, PushInfo, PushKind, RedisError, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::client::RedisClient;
use crate::store::Error;
use crate::store::cache::{Fence, Invalidate, Start};

/// How often the connections are checked.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// The first wait before connecting again after a failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait before connecting again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts a tracker for the sessions under `prefix` on `client`'s servers.
pub(crate) fn starter(client: RedisClient, prefix: String) -> Start {
    Box::new(move |sink| {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        runtime.spawn(run(client.clone(), prefix.clone(), sink));
        true
    })
}

/// Turns the cache off when the tracker's task ends, however it ends (its
/// runtime shutting down included).
struct Stopped(Weak<dyn Invalidate>);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(sink) = self.0.upgrade() {
            sink.stopped();
        }
    }
}

async fn run(client: RedisClient, prefix: String, sink: Weak<dyn Invalidate>) {
    let _stopped = Stopped(sink.clone());
    let mut backoff = FIRST_BACKOFF;
    let mut warned = false;
    loop {
        let result = track(&client, &prefix, &sink, &mut warned).await;
        let Some(cache) = sink.upgrade() else {
            return; // the factory is gone
        };
        cache.go_dark();
        drop(cache);
        match result {
            Ok(()) => backoff = FIRST_BACKOFF,
            Err(e) => {
                if warned {
                    tracing::debug!(target: "redis_sessions::cache", error = %e, "process cache still off: tracking connection not ready");
                } else {
                    tracing::warn!(target: "redis_sessions::cache", error = %e, "process cache off until Redis can tell it what changes (CLIENT TRACKING, Redis 6 or later); sessions are read from Redis meanwhile; set redis.sessions.client_cache_size = 0 to stop trying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Tracks until something breaks: `Ok` when the Cluster's nodes changed
/// (track again at once), `Err` when a connection failed.
async fn track(
    client: &RedisClient,
    prefix: &str,
    sink: &Weak<dyn Invalidate>,
    warned: &mut bool,
) -> Result<(), Error> {
    let nodes = client.nodes_to_track().await?;
    let lost = Arc::new(Notify::new());
    let mut conns = Vec::with_capacity(nodes.len());
    let mut fences = Vec::with_capacity(nodes.len());
    for node in nodes {
        let pushes = {
            let (sink, lost) = (sink.clone(), Arc::clone(&lost));
            move |info: PushInfo| {
                heard(&sink, &lost, info);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(client.timeout()))
            .set_response_timeout(Some(client.timeout()))
            .set_push_sender(pushes);
        let (mut conn, fence) = client.bounded(connect(client, &node, config)).await?;
        fences.push(fence);
        let mut on = redis::cmd("CLIENT");
        on.arg("TRACKING").arg("ON").arg("BCAST");
        if !prefix.is_empty() {
            on.arg("PREFIX").arg(prefix);
        }
        client.bounded(on.query_async::<()>(&mut conn)).await?;
        conns.push(conn);
    }
    let cluster = client.is_cluster();
    let topology = match (cluster, conns.first_mut()) {
        (true, Some(conn)) => Some(cluster_nodes(client, conn).await?),
        _ => None,
    };
    match sink.upgrade() {
        Some(cache) => cache.go_live(fences),
        None => return Ok(()),
    }
    tracing::info!(target: "redis_sessions::cache", nodes = conns.len(), "process cache on: Redis tells it what changes");
    if prefix.is_empty() {
        tracing::info!(target: "redis_sessions::cache", "no redis.sessions.prefix: the process cache hears of every key that changes in this Redis; a prefix such as session: narrows it to sessions");
    }
    // The next outage is worth a warning again.
    *warned = false;
    loop {
        if tokio::time::timeout(HEARTBEAT, lost.notified())
            .await
            .is_ok()
        {
            return Err(Error::Unreachable("a tracking connection was lost".into()));
        }
        if sink.strong_count() == 0 {
            return Ok(());
        }
        for conn in &mut conns {
            if cluster {
                client
                    .bounded(redis::cmd("PING").query_async::<()>(conn))
                    .await?;
            } else {
                let role: Value = client.bounded(redis::cmd("ROLE").query_async(conn)).await?;
                if !says_master(&role) {
                    return Err(Error::Unreachable(
                        "the tracked server is not a master any more".into(),
                    ));
                }
            }
        }
        if let (Some(before), Some(conn)) = (&topology, conns.first_mut())
            && cluster_nodes(client, conn).await? != *before
        {
            tracing::info!(target: "redis_sessions::cache", "the Cluster's nodes changed: the process cache is emptied and its tracking starts over");
            return Ok(());
        }
    }
}

/// A tracking connection to `node` over a socket of our own (TCP, TLS or
/// a Unix socket), and its fence: true when the socket holds nothing (a
/// non-blocking peek) and nothing read from it is still being handled.
async fn connect(
    client: &RedisClient,
    node: &redis::Client,
    config: AsyncConnectionConfig,
) -> Result<(MultiplexedConnection, Fence), RedisError> {
    let info = node.get_connection_info();
    let unread = Arc::new(AtomicBool::new(true));
    let settings = info.redis_settings();
    let (conn, peek) = match info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            let (stream, peek) = tcp(host, *port).await?;
            (over(settings, stream, &unread, config).await?, peek)
        }
        #[cfg(feature = "tls")]
        ConnectionAddr::TcpTls { host, port, .. } => {
            let tls = client.tls_config().ok_or_else(|| {
                RedisError::from(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "no TLS settings",
                ))
            })?;
            let (stream, peek) = tcp(host, *port).await?;
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, stream)
                .await?;
            (over(settings, stream, &unread, config).await?, peek)
        }
        ConnectionAddr::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await?;
            let peek = socket2::Socket::from(stream.as_fd().try_clone_to_owned()?);
            (over(settings, stream, &unread, config).await?, peek)
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = client;
            return Err(RedisError::from(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kind of connection cannot be tracked",
            )));
        }
    };
    let fence: Fence = Box::new(move || {
        let mut byte = [MaybeUninit::uninit()];
        // Peek first: a push read after this check was in the socket before it.
        let empty = matches!(peek.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        empty && !unread.load(Ordering::SeqCst)
    });
    Ok((conn, fence))
}

/// A TCP connection to `host:port`, and a second handle on its socket for
/// the fence's peek.
async fn tcp(host: &str, port: u16) -> io::Result<(tokio::net::TcpStream, socket2::Socket)> {
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let peek = socket2::Socket::from(stream.as_fd().try_clone_to_owned()?);
    Ok((stream, peek))
}

/// A multiplexed connection over `stream`, watched through `unread`; its
/// driver runs on a task of its own.
async fn over<S>(
    settings: &redis::RedisConnectionInfo,
    stream: S,
    unread: &Arc<AtomicBool>,
    config: AsyncConnectionConfig,
) -> Result<MultiplexedConnection, RedisError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watched = Watched {
        inner: stream,
        unread: Arc::clone(unread),
    };
    let (conn, driver) = MultiplexedConnection::new_with_config(settings, watched, config).await?;
    tokio::spawn(driver);
    Ok(conn)
}

/// A tracking connection's stream, telling whether bytes it returned may
/// not be handled yet: set before every read, cleared only when a read
/// finds nothing, which the connection asks for only once everything read
/// before was handled.
struct Watched<S> {
    inner: S,
    unread: Arc<AtomicBool>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.unread.store(true, Ordering::SeqCst);
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_pending() {
            self.unread.store(false, Ordering::SeqCst);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The Cluster's reachable nodes, as one of them sees them.
async fn cluster_nodes(
    client: &RedisClient,
    conn: &mut MultiplexedConnection,
) -> Result<Vec<String>, Error> {
    #[cfg(feature = "cluster")]
    {
        let text: String = client
            .bounded(redis::cmd("CLUSTER").arg("NODES").query_async(conn))
            .await?;
        Ok(super::client::parse_nodes(&text)
            .into_iter()
            .map(|node| format!("{}:{} {}", node.host, node.port, node.master))
            .collect())
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (client, conn);
        Ok(Vec::new())
    }
}

/// What a tracking connection heard: an invalidation, or its own end.
fn heard(sink: &Weak<dyn Invalidate>, lost: &Notify, info: PushInfo) {
    let Some(cache) = sink.upgrade() else {
        return;
    };
    match info.kind {
        PushKind::Invalidate => {
            for item in &info.data {
                match item {
                    Value::Array(keys) | Value::Set(keys) => {
                        for key in keys {
                            match key {
                                Value::BulkString(key) => cache.evict(key),
                                Value::SimpleString(key) => cache.evict(key.as_bytes()),
                                _ => cache.flush(),
                            }
                        }
                    }
                    // A null list: the whole database was flushed.
                    _ => cache.flush(),
                }
            }
        }
        PushKind::Disconnection => {
            cache.go_dark();
            lost.notify_one();
        }
        _ => {}
    }
}

/// True when a `ROLE` reply names a master.
fn says_master(role: &Value) -> bool {
    match role {
        Value::Array(items) => match items.first() {
            Some(Value::BulkString(role)) => role == b"master",
            Some(Value::SimpleString(role)) => role == "master",
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records what the tracker asked of the cache.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Invalidate for Recorder {
        fn evict(&self, key: &[u8]) {
            self.0
                .lock()
                .unwrap()
                .push(format!("evict {}", String::from_utf8_lossy(key)));
        }
        fn flush(&self) {
            self.0.lock().unwrap().push("flush".into());
        }
        fn go_live(&self, _: Vec<Fence>) {
            self.0.lock().unwrap().push("live".into());
        }
        fn go_dark(&self) {
            self.0.lock().unwrap().push("dark".into());
        }
        fn stopped(&self) {
            self.0.lock().unwrap().push("stopped".into());
        }
    }

    #[test]
    fn pushes_evict_flush_or_turn_the_cache_off() {
        let recorder = Arc::new(Recorder::default());
        let sink: Arc<dyn Invalidate> = recorder.clone();
        let weak = Arc::downgrade(&sink);
        let lost = Notify::new();
        let push = |kind, data| heard(&weak, &lost, PushInfo { kind, data });
        push(
            PushKind::Invalidate,
            vec![Value::Array(vec![
                Value::BulkString(b"s:a".to_vec()),
                Value::BulkString(b"s:b".to_vec()),
            ])],
        );
        push(PushKind::Invalidate, vec![Value::Nil]);
        push(
            PushKind::Message,
            vec![Value::BulkString(b"ignored".to_vec())],
        );
        push(PushKind::Disconnection, vec![]);
        assert_eq!(
            *recorder.0.lock().unwrap(),
            ["evict s:a", "evict s:b", "flush", "dark"]
        );
        // The loss wakes the tracker's loop.
        let woken = futures_util::FutureExt::now_or_never(lost.notified());
        assert!(woken.is_some());
        // Once the cache is gone, pushes are dropped (and nothing fails).
        let gone: Weak<dyn Invalidate> = {
            let cache: Arc<dyn Invalidate> = Arc::new(Recorder::default());
            Arc::downgrade(&cache)
        };
        let flush = PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Nil],
        };
        heard(&gone, &lost, flush);
        drop(sink);
    }

    #[test]
    fn role_replies_are_read() {
        let master = Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(0),
            Value::Array(vec![]),
        ]);
        assert!(says_master(&master));
        let replica = Value::Array(vec![Value::BulkString(b"slave".to_vec())]);
        assert!(!says_master(&replica));
        assert!(!says_master(&Value::Nil));
    }
}
