//! The process cache's consistency contract (`client_cache_size`), tested
//! the way two servers behind a load balancer run: two conformance app
//! processes on one Redis, each with its own cache. Whatever one of them
//! acknowledges, the other serves on its next request, though it holds the
//! older copy; what one of them ends, the other refuses at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::process::AppProcess;
use crate::support::redis_server::wait_until;
use crate::support::sentinel::SentinelSetup;
use crate::support::tls::{Pki, TlsServer};
use crate::support::{Client, Cluster, RedisServer, SECRET, key_of};

/// The settings of both apps: one Redis, a cache of 10,000 sessions.
fn settings(url: &str, extra: &str) -> String {
    format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = {url}\n\
         redis.sessions.client_cache_size = 10000\nredis.sessions.socket_timeout = 2\n{extra}"
    )
}

/// Two apps with their own caches on `url`.
fn two_apps(url: &str, extra: &str) -> (Arc<AppProcess>, Arc<AppProcess>) {
    let start = || Arc::new(AppProcess::start(&settings(url, extra)));
    (start(), start())
}

/// A counter of the app's `/metrics`.
async fn metric(app: &Arc<AppProcess>, name: &str) -> u64 {
    let text = Client::process(Arc::clone(app)).get("/metrics").await.body;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

async fn hits(app: &Arc<AppProcess>) -> u64 {
    metric(app, "redis_sessions_cache_hits_total").await
}

/// Reads through `client` until its app serves a read from its cache (its
/// tracking connection is up): `read` must answer `expected` throughout.
async fn until_cached(app: &Arc<AppProcess>, client: &mut Client, read: &str, expected: &str) {
    let before = hits(app).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(client.get(read).await.body, expected);
        if hits(app).await > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cache never served:\n{}",
            app.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `trials` times: B holds a copy (read twice, the second time from its
/// cache), A changes the session, and B's next request must see it. First
/// with `/set` (a load and an update), then with `/incr` (in place).
async fn writes_on_one_app_are_seen_by_the_other(url: &str, trials: usize) {
    writes_on_one_app_are_seen_by_the_other_with(url, "", trials).await;
}

async fn writes_on_one_app_are_seen_by_the_other_with(url: &str, extra: &str, trials: usize) {
    let (a, b) = two_apps(url, extra);
    let mut on_a = Client::process(Arc::clone(&a));
    assert_eq!(on_a.get("/set?key=k&value=v0").await.body, "ok");
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&on_a);
    until_cached(&b, &mut on_b, "/get?key=k", "\"v0\"").await;
    let before = hits(&b).await;
    let mut stale = Vec::new();
    for i in 1..=trials {
        let older = format!("\"v{}\"", i - 1);
        assert_eq!(on_b.get("/get?key=k").await.body, older);
        assert_eq!(on_b.get("/get?key=k").await.body, older);
        assert_eq!(on_a.get(&format!("/set?key=k&value=v{i}")).await.body, "ok");
        let seen = on_b.get("/get?key=k").await.body;
        if seen != format!("\"v{i}\"") {
            stale.push((i, seen));
        }
    }
    for n in 1..=trials {
        assert_eq!(on_b.get("/read").await.body, (n - 1).to_string());
        assert_eq!(on_b.get("/read").await.body, (n - 1).to_string());
        assert_eq!(on_a.get("/incr").await.body, n.to_string());
        let seen = on_b.get("/read").await.body;
        if seen != n.to_string() {
            stale.push((n, seen));
        }
    }
    assert!(stale.is_empty(), "stale reads on B: {stale:?}");
    let served = hits(&b).await - before;
    // Four reads per trial could be hits; a hit waits for nothing, so
    // under load some go to Redis while an invalidation is in flight.
    assert!(
        served >= trials as u64,
        "B served {served} reads from its cache in {} trials: the cache was not used",
        trials * 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_writes_on_one_app_are_seen_by_the_other_at_once() {
    let redis = RedisServer::start();
    writes_on_one_app_are_seen_by_the_other(&redis.url(), 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_writes_on_one_app_are_seen_by_the_other_at_once() {
    let cluster = Cluster::shared();
    writes_on_one_app_are_seen_by_the_other(&cluster.url(), 150).await;
}

/// The ways a session ends on A; each must be refused by B at once.
#[derive(Debug, Clone, Copy)]
enum End {
    Logout,
    Invalidate,
    Regenerate,
    Revoke,
    RevokeOthers,
}

/// `trials` times: a session signed in as a user and cached by B is ended
/// by A in the way `end` names; B must refuse its cookie at once.
async fn ended_sessions_are_refused_by_the_other_app(
    a: &Arc<AppProcess>,
    b: &Arc<AppProcess>,
    end: End,
    trials: usize,
) -> Vec<String> {
    let mut served = Vec::new();
    for i in 0..trials {
        let user = format!("user-{end:?}-{i}");
        // The victim: signed in on A, cached by B.
        let mut victim = Client::process(Arc::clone(a));
        assert_eq!(victim.get(&format!("/login?user={user}")).await.body, "ok");
        assert_eq!(victim.get("/set?key=k&value=secret").await.body, "ok");
        let mut on_b = Client::process(Arc::clone(b)).with_cookie_of(&victim);
        assert_eq!(on_b.get("/whoami").await.body, user);
        assert_eq!(on_b.get("/whoami").await.body, user);
        let old_cookie = victim.cookie.clone();
        match end {
            End::Logout => assert_eq!(victim.get("/logout").await.body, "ok"),
            End::Invalidate => assert_eq!(victim.get("/invalidate").await.body, "ok"),
            End::Regenerate => assert_eq!(victim.get("/regenerate").await.body, "ok"),
            End::Revoke | End::RevokeOthers => {
                // The user's other device, on A, ends the victim's session.
                let mut other = Client::process(Arc::clone(a));
                assert_eq!(other.get(&format!("/login?user={user}")).await.body, "ok");
                if matches!(end, End::Revoke) {
                    let list: serde_json::Value =
                        serde_json::from_str(&other.get("/my_sessions").await.body).unwrap();
                    let tag = list
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|s| s["current"] == false)
                        .and_then(|s| s["tag"].as_str())
                        .expect("the victim's session is listed")
                        .to_owned();
                    assert_eq!(other.get(&format!("/revoke?tag={tag}")).await.body, "ok");
                } else {
                    assert_eq!(other.get("/revoke_others").await.body, "1");
                }
            }
        }
        let reply = on_b.send("/get?key=k", old_cookie).await;
        if reply.body != "null" {
            served.push(format!("{end:?} #{i}: {} {}", reply.status, reply.body));
        }
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_on_one_app_are_refused_by_the_other_at_once() {
    let redis = RedisServer::start();
    let (a, b) = two_apps(&redis.url(), "");
    let mut warm = Client::process(Arc::clone(&a));
    assert_eq!(warm.get("/set?key=k&value=v").await.body, "ok");
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&warm);
    until_cached(&b, &mut on_b, "/get?key=k", "\"v\"").await;
    let before = hits(&b).await;
    let mut served = Vec::new();
    for (end, trials) in [
        (End::Logout, 60),
        (End::Invalidate, 60),
        (End::Regenerate, 60),
        (End::Revoke, 50),
        (End::RevokeOthers, 50),
    ] {
        served.extend(ended_sessions_are_refused_by_the_other_app(&a, &b, end, trials).await);
    }
    assert!(served.is_empty(), "ended sessions served by B: {served:?}");
    // One read per trial could be a hit.
    let served_from_cache = hits(&b).await - before;
    assert!(
        served_from_cache >= 100,
        "B served {served_from_cache} of 280 reads from its cache"
    );
}

/// While Redis is down nothing is served from the cache (503, as without
/// one); after Redis comes back empty, no app serves what it had cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_served_from_the_cache_while_redis_is_down_or_after_it_restarts_empty() {
    let mut redis = RedisServer::start();
    let (a, b) = two_apps(&redis.url(), "");
    let mut on_a = Client::process(Arc::clone(&a));
    assert_eq!(on_a.get("/set?key=k&value=cached").await.body, "ok");
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&on_a);
    until_cached(&b, &mut on_b, "/get?key=k", "\"cached\"").await;
    redis.stop();
    for client in [&on_a, &on_b] {
        let reply = client.send("/get?key=k", client.cookie.clone()).await;
        assert_eq!(
            reply.status, 503,
            "served while Redis is down: {}",
            reply.body
        );
    }
    redis.restart();
    for client in [&on_a, &on_b] {
        let body = wait_for_200(client, "/get?key=k").await;
        assert_eq!(body, "null", "a session served after Redis restarted empty");
    }
    // And the cache serves again once its tracking is back.
    let mut fresh = Client::process(Arc::clone(&a));
    assert_eq!(fresh.get("/set?key=k&value=again").await.body, "ok");
    let mut fresh_b = Client::process(Arc::clone(&b)).with_cookie_of(&fresh);
    until_cached(&b, &mut fresh_b, "/get?key=k", "\"again\"").await;
}

/// The body of the first 200 answer to `path` (other answers are 503s
/// while Redis comes back).
async fn wait_for_200(client: &Client, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = client.send(path, client.cookie.clone()).await;
        if reply.status == 200 {
            return reply.body;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Cached reads still refresh the idle TTL when due (every `timeout / 20`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_sessions_keep_their_idle_refresh() {
    let redis = RedisServer::start();
    let (a, b) = two_apps(&redis.url(), "redis.sessions.timeout = 40\n");
    let mut on_a = Client::process(Arc::clone(&a));
    assert_eq!(on_a.get("/incr").await.body, "1");
    let key = key_of(&on_a.id());
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&on_a);
    until_cached(&b, &mut on_b, "/read", "1").await;
    let started = Instant::now();
    let before = hits(&b).await;
    // 6 s of reads: without refreshes the TTL would be down to 34 s.
    while started.elapsed() < Duration::from_secs(6) {
        assert_eq!(on_b.get("/read").await.body, "1");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = redis.ttl(&key);
    assert!(
        ttl >= 36,
        "the idle TTL was not refreshed: {ttl} s left of 40"
    );
    assert!(
        hits(&b).await - before >= 20,
        "B did not serve from its cache"
    );
}

/// The absolute lifetime ends a cached session as it ends a loaded one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_sessions_end_at_their_lifetime() {
    let redis = RedisServer::start();
    let (a, b) = two_apps(&redis.url(), "redis.sessions.max_lifetime = 4\n");
    let mut on_a = Client::process(Arc::clone(&a));
    let created = Instant::now();
    assert_eq!(on_a.get("/incr").await.body, "1");
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&on_a);
    until_cached(&b, &mut on_b, "/read", "1").await;
    let before = hits(&b).await;
    let mut answers = Vec::new();
    while created.elapsed() < Duration::from_secs(6) {
        let body = on_b.send("/read", on_b.cookie.clone()).await.body;
        answers.push((created.elapsed(), body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(hits(&b).await > before, "B did not serve from its cache");
    // Seconds are whole in the store: "1" until 3 s, "0" from 5 s on.
    for (at, body) in &answers {
        if *at < Duration::from_secs(3) {
            assert_eq!(body, "1", "at {at:?}");
        } else if *at >= Duration::from_secs(5) {
            assert_eq!(body, "0", "served past its lifetime, at {at:?}");
        }
    }
}

/// A Sentinel failover: the cache is emptied and tracks the new master
/// before it serves again, so a write made on the new master through A is
/// what B serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_leaves_no_stale_session_in_the_cache() {
    let mut setup = SentinelSetup::start();
    let (a, b) = two_apps(&setup.url(), "");
    let mut on_a = Client::process(Arc::clone(&a));
    assert_eq!(on_a.get("/set?key=k&value=before").await.body, "ok");
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&on_a);
    until_cached(&b, &mut on_b, "/get?key=k", "\"before\"").await;
    wait_until(
        "the replica has the session",
        Duration::from_secs(10),
        || {
            let exists: bool = redis::cmd("EXISTS")
                .arg(key_of(&on_a.id()))
                .query(&mut setup.replica.conn())
                .ok()?;
            exists.then_some(())
        },
    );
    setup.master.stop();
    // A writes on the new master as soon as it is served again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = on_a.get("/set?key=k&value=after").await;
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the failover never completed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(setup.master_port(), Some(setup.replica.port));
    let body = wait_for_200(&on_b, "/get?key=k").await;
    assert_eq!(
        body, "\"after\"",
        "B served its copy from before the failover"
    );
    until_cached(&b, &mut on_b, "/get?key=k", "\"after\"").await;
    assert_eq!(on_a.get("/set?key=k&value=later").await.body, "ok");
    assert_eq!(on_b.get("/get?key=k").await.body, "\"later\"");
}

/// Over mutual TLS: the tracking connections verify the server and show
/// the client certificate, as the data connections do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_writes_on_one_app_are_seen_by_the_other_at_once() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki, true);
    let tls = format!(
        "redis.sessions.tls_ca_file = {}\nredis.sessions.tls_cert_file = {}\nredis.sessions.tls_key_file = {}\n",
        pki.path("ca.crt").display(),
        pki.path("client.crt").display(),
        pki.path("client.key").display()
    );
    writes_on_one_app_are_seen_by_the_other_with(&server.url(), &tls, 100).await;
}

/// A Cluster failover that leaves the old master running (`CLUSTER
/// FAILOVER` on its replica): the promoted replica's writes reach B's
/// cache, and the node list change empties it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_failover_leaves_no_stale_session_in_the_cache() {
    let cluster = Cluster::start();
    let (a, b) = two_apps(&cluster.url(), "");
    let mut on_a = Client::process(Arc::clone(&a));
    assert_eq!(on_a.get("/set?key=k&value=before").await.body, "ok");
    let mut on_b = Client::process(Arc::clone(&b)).with_cookie_of(&on_a);
    until_cached(&b, &mut on_b, "/get?key=k", "\"before\"").await;
    // The replica of the master that holds the session takes over.
    let key = key_of(&on_a.id());
    let owner = cluster
        .masters()
        .into_iter()
        .find(|&i| {
            redis::cmd("EXISTS")
                .arg(&key)
                .query::<bool>(&mut cluster.nodes[i].conn())
                .unwrap_or(false)
        })
        .expect("a master holds the session");
    let owner_port = cluster.nodes[owner].port;
    let replica = (0..cluster.nodes.len())
        .find(|&i| {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut cluster.nodes[i].conn())
                .unwrap_or_default();
            info.contains(&format!("master_port:{owner_port}"))
                && info.contains("master_link_status:up")
        })
        .expect("the master has a replica in sync");
    let _: () = redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query(&mut cluster.nodes[replica].conn())
        .unwrap();
    wait_until("the replica took over", Duration::from_secs(30), || {
        cluster.masters().contains(&replica).then_some(())
    });
    cluster.wait_until_ok(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = on_a.get("/set?key=k&value=after").await;
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "A was never served again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = wait_for_200(&on_b, "/get?key=k").await;
    assert_eq!(
        body, "\"after\"",
        "B served its copy from before the failover"
    );
    until_cached(&b, &mut on_b, "/get?key=k", "\"after\"").await;
    assert_eq!(on_a.get("/set?key=k&value=later").await.body, "ok");
    assert_eq!(on_b.get("/get?key=k").await.body, "\"later\"");
}
