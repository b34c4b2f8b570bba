//! What only a real Redis can show: round trips counted on the server, TTLs,
//! outages, connection settings and per-request clients.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis_sessions::{RedisClient, RedisOptions, RedisSessionFactory};

use crate::app;
use crate::support::{Backend, Client, RedisServer, SECRET, key_of};

fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn redis_client(
    server: &RedisServer,
    configure: impl FnOnce(redis_sessions::Builder) -> redis_sessions::Builder,
) -> Client {
    let factory = configure(
        RedisSessionFactory::builder(SECRET)
            .url(Some(server.url()))
            .socket_timeout(Some(Duration::from_secs(2))),
    )
    .build()
    .unwrap();
    Client::new(app::router(&factory))
}

/// With the process cache (on by default): a session read again costs no
/// command until someone changes it; this process's own changes evict it
/// at once.
#[tokio::test]
async fn the_process_cache_reads_without_a_command_until_a_change() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| b);
    // Warm up: load the scripts; the session records its size.
    c.get("/incr").await;
    c.get("/incr").await;
    c.get("/set?key=warm&value=1").await;
    c.get("/delete?key=warm").await;
    // The tracking connection comes up in the background on first use.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (r, read) = server.commands_during(c.get("/read")).await;
        assert_eq!(r.body, "2");
        if read.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "never served from the cache");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, read) = server.commands_during(c.get("/read")).await;
    assert_eq!(read, counts(&[]), "a cached read: no command");
    let (r, set) = server.commands_during(c.get("/set?key=name&value=x")).await;
    assert_eq!(r.body, "ok");
    assert_eq!(
        set,
        counts(&[
            ("evalsha", 1),
            ("hexists", 1),
            ("hstrlen", 1),
            ("hget", 1),
            ("expire", 1),
            ("hset", 1)
        ]),
        "a change to a cached session: the update alone, no load"
    );
    let (r, read) = server.commands_during(c.get("/read")).await;
    assert_eq!(r.body, "2");
    assert_eq!(read, counts(&[("hgetall", 1)]), "the change evicted it");
    let (_, read) = server.commands_during(c.get("/read")).await;
    assert_eq!(read, counts(&[]), "and the read cached it again");
    // A change by someone else (here, by hand) evicts it too.
    redis::cmd("HSET")
        .arg(key_of(&c.id()))
        .arg("counter")
        .arg(rmp_serde::to_vec(&7).unwrap())
        .query::<()>(&mut server.conn())
        .unwrap();
    let (r, read) = server.commands_during(c.get("/read")).await;
    assert_eq!(r.body, "7", "a change made elsewhere is seen at once");
    assert_eq!(read, counts(&[("hgetall", 1)]));
}

#[tokio::test]
async fn round_trips_per_request_hold_the_floor() {
    let server = RedisServer::start();
    // Without the process cache: every load is a Redis read (the cache's
    // own floor is the next test's).
    let mut c = redis_client(&server, |b| b.client_cache_size(0));
    // Warm up: connect and load the scripts (create, increment, update).
    c.get("/incr").await;
    c.get("/incr").await;
    c.get("/set?key=warm&value=1").await;
    c.get("/delete?key=warm").await;

    let (r, plain) = server.commands_during(c.get("/plain")).await;
    assert_eq!(r.body, "ok");
    assert_eq!(plain, counts(&[]), "/plain");

    let cookie = c.cookie.clone().unwrap();
    let (r, tampered) = server
        .commands_during(c.send("/read", Some(format!("x{cookie}"))))
        .await;
    assert_eq!(r.body, "0");
    assert_eq!(tampered, counts(&[]), "a bad signature costs no command");

    let (r, read) = server.commands_during(c.get("/read")).await;
    assert_eq!(r.body, "2");
    assert_eq!(
        read,
        counts(&[("hgetall", 1)]),
        "an ordinary read: one command (the TTL refresh is not due)"
    );

    let (r, incr) = server.commands_during(c.get("/incr")).await;
    assert_eq!(r.body, "3");
    assert_eq!(
        incr,
        counts(&[("evalsha", 1), ("hmget", 1), ("hset", 1)]),
        "an increment: one round trip, no load, the TTL left as the last refresh set it"
    );

    let (r, set) = server.commands_during(c.get("/set?key=name&value=x")).await;
    assert_eq!(r.body, "ok");
    assert_eq!(
        set,
        counts(&[
            ("hgetall", 1),
            ("evalsha", 1),
            ("hexists", 1),
            ("hstrlen", 1),
            ("hget", 1),
            ("expire", 1),
            ("hset", 1)
        ]),
        "read + change: two round trips; the update checks the session (or a move's marker), weighs the change against the stored size and sets the TTL"
    );
    c.get("/delete?key=name").await;

    // Make the refresh due: no refresh recorded ("created refreshed").
    let key = key_of(&c.id());
    redis::cmd("HSET")
        .arg(&key)
        .arg(crate::support::layout::CREATED_FIELD)
        .arg(format!("{} 0", unix_now()))
        .query::<()>(&mut server.conn())
        .unwrap();
    let (r, due) = server.commands_during(c.get("/read")).await;
    assert_eq!(r.body, "3");
    assert_eq!(
        due,
        counts(&[
            ("hgetall", 1),
            ("evalsha", 1),
            ("hexists", 1),
            ("expire", 1),
            ("hset", 1)
        ]),
        "a due refresh happens at response time"
    );
    let (_, after) = server.commands_during(c.get("/read")).await;
    assert_eq!(
        after,
        counts(&[("hgetall", 1)]),
        "and then is not due again"
    );

    let mut fresh = c.clone();
    fresh.cookie = None;
    let (_, create) = server
        .commands_during(fresh.get("/set?key=a&value=1"))
        .await;
    assert_eq!(
        create,
        counts(&[("evalsha", 1), ("exists", 1), ("hset", 1), ("expire", 1)]),
        "a new session with data: one create-if-absent round trip"
    );

    let emptied = key_of(&c.id());
    let (r, delete) = server.commands_during(c.get("/delete?key=counter")).await;
    assert_eq!(r.cookie("session").as_deref(), Some(""), "emptied: deleted");
    assert_eq!(
        delete,
        counts(&[
            ("hgetall", 1),
            ("evalsha", 1),
            ("hexists", 1),
            ("hstrlen", 1),
            ("hget", 1),
            ("hset", 1),
            ("expire", 1),
            ("hdel", 1),
            ("hkeys", 1),
            ("del", 1),
        ]),
        "emptying a session: the update finds it empty and deletes it, in one round trip"
    );
    assert!(!server.keys().contains(&emptied));

    let (r, invalidate) = server.commands_during(fresh.get("/invalidate")).await;
    assert_eq!(r.cookie("session").as_deref(), Some(""));
    assert_eq!(
        invalidate,
        counts(&[("del", 1)]),
        "invalidate without reading: one DEL"
    );
}

#[tokio::test]
async fn ttl_is_the_idle_timeout_and_can_be_adjusted_or_disabled() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| b.timeout(300));
    c.get("/incr").await;
    let key = key_of(&c.id());
    assert!(
        (295..=300).contains(&server.ttl(&key)),
        "{}",
        server.ttl(&key)
    );
    c.get("/timeout?seconds=5000").await;
    assert!((4995..=5000).contains(&server.ttl(&key)));
    c.get("/read").await;
    assert!(
        (4995..=5000).contains(&server.ttl(&key)),
        "a read keeps the adjusted timeout: {}",
        server.ttl(&key)
    );
    redis::cmd("EXPIRE")
        .arg(&key)
        .arg(10)
        .query::<()>(&mut server.conn())
        .unwrap();
    redis::cmd("HSET")
        .arg(&key)
        .arg(crate::support::layout::CREATED_FIELD)
        .arg(format!("{} 0", unix_now()))
        .query::<()>(&mut server.conn())
        .unwrap();
    c.get("/read").await;
    assert!(
        (4995..=5000).contains(&server.ttl(&key)),
        "a due refresh restores the session's own timeout: {}",
        server.ttl(&key)
    );
    c.get("/timeout?seconds=0").await;
    assert_eq!(server.ttl(&key), -1, "timeout 0: no expiry");

    let mut never = redis_client(&server, |b| b.timeout(0));
    never.get("/incr").await;
    assert_eq!(server.ttl(&key_of(&never.id())), -1);
    assert_eq!(
        never.get("/read").await.body,
        "1",
        "timeout 0 keeps sessions"
    );
}

#[tokio::test]
async fn sessions_expire_after_their_idle_timeout_in_redis() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| b.timeout(1));
    c.get("/incr").await;
    let key = key_of(&c.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.keys().contains(&key) {
        assert!(Instant::now() < deadline, "the key never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.get("/read").await.body, "0");
    assert_eq!(c.get("/info").await.json()["new"], true);
}

#[tokio::test(start_paused = true)]
async fn sessions_expire_after_their_idle_timeout_in_memory() {
    let backend = Backend::memory();
    let mut c = Client::new(app::router(&backend.factory(|b| b.timeout(60))));
    c.get("/incr").await;
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        c.get("/set?key=seen&value=1").await.body,
        "ok",
        "alive after 59 s; the update sets the idle timeout again"
    );
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(c.get("/read").await.body, "1");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(c.get("/read").await.body, "0");
    if let Backend::Memory(store) = &backend {
        assert!(store.is_empty());
    }
}

#[tokio::test]
async fn redis_outage_answers_503_without_a_cookie_and_recovers() {
    let mut server = RedisServer::start();
    let mut c = redis_client(&server, |b| b.socket_timeout(Some(Duration::from_secs(1))));
    c.get("/incr").await;
    let cookie = c.cookie.clone();
    server.stop();
    for path in ["/incr", "/read", "/set?key=a&value=b", "/invalidate"] {
        for cookie in [cookie.clone(), None] {
            let r = c.send(path, cookie.clone()).await;
            if matches!(path, "/read" | "/invalidate") && cookie.is_none() {
                // Nothing to read or delete without a cookie: no store access.
                assert_eq!(r.status, 200, "{path}: {r:?}");
                assert!(r.set_cookie.is_empty(), "{path}: {r:?}");
                continue;
            }
            assert_eq!(
                r.status,
                503,
                "{path} with cookie {:?}: {r:?}",
                cookie.is_some()
            );
            assert!(r.set_cookie.is_empty(), "{path}: {r:?}");
        }
    }
    assert_eq!(c.send("/plain", cookie.clone()).await.status, 200);

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let r = c.send("/incr", cookie.clone()).await;
        if r.status == 200 {
            break r;
        }
        assert!(Instant::now() < deadline, "never recovered: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The restarted server has no data (no persistence): a new session.
    assert_eq!(reply.body, "1");
    assert!(reply.cookie("session").is_some());
}

#[tokio::test]
async fn a_stalled_redis_answers_503_within_socket_timeout() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| {
        b.socket_timeout(Some(Duration::from_millis(300)))
    });
    c.get("/incr").await;
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query::<()>(&mut server.conn())
        .unwrap();
    let r = c.get("/incr").await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.set_cookie.is_empty());
    redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query::<()>(&mut server.conn())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.get("/read").await.status != 200 {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn url_with_password_and_db_is_honoured() {
    let server = RedisServer::start_with(&[], Some("s3cret-pw"));
    let url = format!("redis://:s3cret-pw@127.0.0.1:{}/3", server.port);
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(url))
        .build()
        .unwrap();
    factory.ping().await.unwrap();
    let mut c = Client::new(app::router(&factory));
    assert_eq!(c.get("/incr").await.body, "1");
    let mut conn = server.conn();
    redis::cmd("SELECT").arg(3).query::<()>(&mut conn).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert_eq!(keys, [key_of(&c.id())]);

    // An ACL user with its own password, as redis://user:password@host/db.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("alice")
        .arg("on")
        .arg(">alice-pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .query::<()>(&mut conn)
        .unwrap();
    let alice = RedisSessionFactory::builder(SECRET)
        .url(Some(format!(
            "redis://alice:alice-pw@127.0.0.1:{}/4",
            server.port
        )))
        .build()
        .unwrap();
    let mut a = Client::new(app::router(&alice));
    assert_eq!(a.get("/incr").await.body, "1");
    redis::cmd("SELECT").arg(4).query::<()>(&mut conn).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert_eq!(keys, [key_of(&a.id())]);

    let wrong = RedisSessionFactory::builder(SECRET)
        .url(Some(format!("redis://:wrong@127.0.0.1:{}/0", server.port)))
        .build()
        .unwrap();
    assert!(wrong.ping().await.is_err());
}

#[tokio::test]
async fn separate_host_port_db_password_settings_connect() {
    let server = RedisServer::start_with(&[], Some("pw-pw-pw"));
    let factory = RedisSessionFactory::builder(SECRET)
        .host("127.0.0.1")
        .port(server.port)
        .db(2)
        .password(Some("pw-pw-pw".into()))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    assert_eq!(c.get("/incr").await.body, "1");
    let mut conn = server.conn();
    redis::cmd("SELECT").arg(2).query::<()>(&mut conn).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut conn).unwrap(), 1);
}

#[tokio::test]
async fn unix_socket_path_connects() {
    let server = RedisServer::start_with(&["--unixsocket", "%dir%/redis.sock"], None);
    let factory = RedisSessionFactory::builder(SECRET)
        .unix_socket_path(Some(server.dir().join("redis.sock")))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    assert_eq!(c.get("/incr").await.body, "1");
    assert_eq!(c.get("/incr").await.body, "2");
    assert_eq!(server.keys(), [key_of(&c.id())]);
}

#[tokio::test]
async fn connection_pool_spreads_requests_and_keeps_state() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| b.connection_pool(Some(4)));
    for n in 1..=8 {
        assert_eq!(c.get("/incr").await.body, n.to_string());
    }
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut server.conn())
        .unwrap();
    // Four pooled connections plus the one asking.
    assert_eq!(clients.lines().count(), 5, "{clients}");
}

#[tokio::test]
async fn client_callable_picks_the_server_per_request() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    let clients: HashMap<String, RedisClient> = [("a.test", &a), ("b.test", &b)]
        .into_iter()
        .map(|(host, server)| {
            let options = RedisOptions {
                url: Some(server.url()),
                ..RedisOptions::default()
            };
            (host.to_owned(), RedisClient::open(&options).unwrap())
        })
        .collect();
    let factory = RedisSessionFactory::builder(SECRET)
        .client_callable(move |parts: &http::request::Parts, _: &RedisOptions| {
            let host = parts.uri.host().unwrap_or_default();
            clients.get(host).cloned().ok_or_else(|| {
                redis_sessions::store::Error::Config(format!("no Redis for host {host}"))
            })
        })
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("http://a.test/incr").await;
    assert_eq!(a.keys(), [key_of(&c.id())]);
    assert!(b.keys().is_empty());
    c.cookie = None;
    c.get("http://b.test/incr").await;
    c.get("http://b.test/incr").await;
    assert_eq!(b.keys(), [key_of(&c.id())]);
    assert_eq!(a.keys().len(), 1);
    assert_eq!(c.get("http://nowhere.test/read").await.status, 500);
}

/// Unix seconds now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `INFO memory`'s `used_memory`, in bytes.
fn used_memory(server: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut server.conn())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn checklist_35_a_full_redis_refuses_writes_up_front_with_503() {
    const MAX: u64 = 2 * 1024 * 1024;
    let server = RedisServer::start_with(
        &["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"],
        None,
    );
    let value = "v".repeat(60_000);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut peak = 0;
    for s in 0..10 {
        let mut c = redis_client(&server, |b| b);
        for k in 0..15 {
            let r = c.get(&format!("/set?key=k{k}&value={value}")).await;
            *statuses.entry(r.status.as_u16()).or_default() += 1;
            if r.status == 503 {
                assert_eq!(r.body, "503 session store unavailable", "session {s}");
                assert!(r.set_cookie.is_empty(), "no cookie on a refused write");
            }
            peak = peak.max(used_memory(&server));
        }
        let r = c.get("/login?user=someone").await;
        assert!(matches!(r.status.as_u16(), 200 | 503), "{}", r.status);
    }
    assert!(statuses.get(&503).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert_eq!(
        statuses.keys().filter(|s| **s != 200 && **s != 503).count(),
        0,
        "only 200 and 503: {statuses:?}"
    );
    // One write's worth past the limit at most (a 60 KB value, its command
    // and the reply buffers), never the 9 MB the requests carried.
    assert!(peak <= MAX + 512 * 1024, "Redis grew to {peak} bytes");
}

/// A server on a free loopback port that answers every connection like an
/// HTTP server, whatever it is sent, until the returned guard is dropped.
pub(crate) fn http_server() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        // Bounded: the tests that use it make a few connections each.
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (port, handle)
}

#[tokio::test]
async fn checklist_37_a_server_that_is_not_redis_is_named_with_what_it_sent() {
    let (port, _server) = http_server();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(format!("redis://127.0.0.1:{port}/0")))
        .socket_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let expected = format!(
        "the server at 127.0.0.1:{port} did not answer like Redis (it sent \"HTTP/1.0 400 Bad Request\")"
    );
    let e = factory.ping().await.unwrap_err();
    assert!(e.to_string().contains(&expected), "{e}");
    let mut c = Client::new(app::router(&factory));
    let (logs, r) = crate::support::capture_logs(c.get("/incr")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body, "503 session store unavailable");
    assert!(
        logs.contains(&expected) || !logs.contains("unavailable"),
        "the 503's line (when this interval's line is ours) names it: {logs}"
    );
}

#[tokio::test]
async fn the_weighed_size_stays_exact_through_every_kind_of_change() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| b);
    c.get("/set?key=a&value=1").await;
    c.get("/set?key=b&value=grows").await; // weighed from here on
    for _ in 0..300 {
        c.get("/incr").await; // 1 byte, then 3 (uint 16) as it grows
    }
    c.get("/flash?msg=hello").await;
    c.get("/flash?msg=world").await;
    c.get("/set?key=b&value=shrinks-no-longer-but-grows-more")
        .await;
    c.get("/delete?key=a").await;
    let key = key_of(&c.id());
    let all: Vec<Vec<u8>> = redis::cmd("HGETALL")
        .arg(&key)
        .query(&mut server.conn())
        .unwrap();
    let mut weighed = None;
    let mut actual = 0;
    for pair in all.chunks(2) {
        let (name, value) = (&pair[0], &pair[1]);
        if name.as_slice() == b"\0s" {
            weighed = Some(String::from_utf8(value.clone()).unwrap());
        } else if name.first() != Some(&0) {
            actual += name.len() + value.len();
        }
    }
    assert_eq!(weighed, Some(actual.to_string()));
}

#[tokio::test]
async fn metrics_count_what_operators_graph_and_name_no_id_or_user() {
    let server = RedisServer::start();
    let mut c = redis_client(&server, |b| b);
    c.get("/incr").await;
    c.get("/login?user=private-user@example.com").await;
    c.get("/read").await;
    let id = c.id();
    c.send("/read", Some(format!("{id}.forged"))).await;
    let r = c.get("/metrics").await;
    assert_eq!(r.status, 200);
    let text = r.body;
    for expected in [
        "redis_sessions_loads_total",
        "redis_sessions_created_total",
        "redis_sessions_revoked_total",
        "redis_sessions_store_duration_seconds_count{op=\"load\"}",
        "redis_sessions_store_duration_seconds_count{op=\"write\"}",
        "redis_sessions_invalid_total{reason=\"bad_signature\"}",
        "redis_sessions_cache_hits_total",
        "redis_sessions_cache_misses_total",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    for secret in [id.as_str(), "private-user", SECRET] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
}
