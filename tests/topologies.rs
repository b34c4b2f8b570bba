//! Production topologies through the whole HTTP stack: TLS with a private
//! CA and with client certificates, a Sentinel-managed master that fails
//! over, and a Redis Cluster whose master fails over.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redis_sessions::{RedisClient, RedisOptions, RedisSessionFactory, RedisStore};

use crate::app;
use crate::support::cluster::Cluster;
use crate::support::redis_server::wait_until;
use crate::support::sentinel::SentinelSetup;
use crate::support::tls::{Pki, TlsServer};
use crate::support::{Backend, Client, RedisServer, Reply, SECRET};

/// The longest a failover may take before the app serves again.
const RECOVERY: Duration = Duration::from_secs(15);

fn router_on(options: RedisOptions) -> Client {
    let store = RedisStore::new(RedisClient::open(&options).unwrap());
    let factory = RedisSessionFactory::builder(SECRET)
        .store(store)
        .build()
        .unwrap();
    Client::new(app::router(&factory))
}

fn tls_options(url: String, ca: PathBuf, cert: Option<(PathBuf, PathBuf)>) -> RedisOptions {
    RedisOptions {
        url: Some(url),
        socket_timeout: Some(Duration::from_secs(2)),
        tls_ca_file: Some(ca),
        tls_cert_file: cert.as_ref().map(|(c, _)| c.clone()),
        tls_key_file: cert.map(|(_, k)| k),
        ..RedisOptions::default()
    }
}

fn assert_unavailable(r: &Reply) {
    assert_eq!(r.status, 503, "{r:?}");
    assert!(
        r.set_cookie.is_empty(),
        "no cookie while Redis is away: {r:?}"
    );
}

#[tokio::test]
async fn tls_with_a_private_ca_serves_sessions() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki, false);
    let mut c = router_on(tls_options(server.url(), pki.path("ca.crt"), None));
    assert_eq!(c.get("/incr").await.body, "1");
    assert_eq!(c.get("/incr").await.body, "2");
    assert_eq!(c.get("/read").await.body, "2");
}

#[tokio::test]
async fn tls_refuses_a_server_that_another_ca_signed() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki, false);
    let c = router_on(tls_options(server.url(), pki.path("other-ca.crt"), None));
    assert_unavailable(&c.send("/incr", None).await);
}

#[tokio::test]
async fn tls_refuses_a_name_the_certificate_does_not_carry() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki, false);
    // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
    let url = format!("rediss://127.0.0.2:{}/0", server.tls_port);
    let c = router_on(tls_options(url, pki.path("ca.crt"), None));
    assert_unavailable(&c.send("/incr", None).await);
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki, true);
    let without = router_on(tls_options(server.url(), pki.path("ca.crt"), None));
    assert_unavailable(&without.send("/incr", None).await);
    let cert = (pki.path("client.crt"), pki.path("client.key"));
    let mut with = router_on(tls_options(server.url(), pki.path("ca.crt"), Some(cert)));
    assert_eq!(with.get("/incr").await.body, "1");
    assert_eq!(with.get("/incr").await.body, "2");
}

#[tokio::test]
async fn unreadable_tls_files_stop_the_start() {
    let options = tls_options(
        "rediss://127.0.0.1:1/0".into(),
        "/nonexistent/ca.pem".into(),
        None,
    );
    let e = RedisClient::open(&options).unwrap_err().to_string();
    assert!(
        e.starts_with("tls_ca_file = \"/nonexistent/ca.pem\": cannot read it"),
        "{e}"
    );
}

#[tokio::test]
async fn cluster_over_mutual_tls_serves_sessions() {
    let pki = Pki::new();
    let cluster = Cluster::start_tls(&pki);
    let cert = (pki.path("client.crt"), pki.path("client.key"));
    let options = tls_options(cluster.tls_url(), pki.path("ca.crt"), Some(cert));
    let factory = RedisSessionFactory::builder(SECRET)
        .store(RedisStore::new(RedisClient::open(&options).unwrap()))
        .build()
        .unwrap();
    for _ in 0..10 {
        let mut c = Client::new(app::router(&factory));
        assert_eq!(c.get("/incr").await.body, "1");
        assert_eq!(c.get("/incr").await.body, "2");
    }
    let per_master = cluster.keys_per_master();
    assert_eq!(per_master.iter().map(|(_, n)| n).sum::<usize>(), 10);
}

#[tokio::test]
async fn sentinel_over_mutual_tls_serves_sessions() {
    let pki = Pki::new();
    let setup = SentinelSetup::start_tls(&pki);
    let cert = (pki.path("client.crt"), pki.path("client.key"));
    let mut c = router_on(tls_options(setup.url(), pki.path("ca.crt"), Some(cert)));
    assert_eq!(c.get("/incr").await.body, "1");
    assert_eq!(c.get("/incr").await.body, "2");
}

/// Sends `/incr` until it answers 200, checking that every answer before
/// is a 503 without a cookie; returns the 200 and how long it took.
async fn incr_until_served(c: &mut Client) -> (Reply, Duration) {
    let start = Instant::now();
    loop {
        let r = c.get("/incr").await;
        if r.status == 200 {
            return (r, start.elapsed());
        }
        assert_unavailable(&r);
        assert!(
            start.elapsed() < RECOVERY,
            "not served again within {RECOVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `replicas` replicas acknowledged every write of the master
/// (their acknowledged offsets reach the master's replication offset).
fn replicated(master: &RedisServer, replicas: usize) {
    wait_until(
        "the replicas acknowledge every write",
        Duration::from_secs(10),
        || {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut master.conn())
                .ok()?;
            let field = |line: &str, name: &str| -> Option<u64> {
                line.split([',', ':'])
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            };
            let offset: u64 = info
                .lines()
                .find_map(|l| l.strip_prefix("master_repl_offset:"))?
                .trim()
                .parse()
                .ok()?;
            let caught_up = info
                .lines()
                .filter(|l| l.starts_with("slave") && l.contains("state=online"))
                .filter(|l| field(l, "offset").is_some_and(|o| o >= offset))
                .count();
            (caught_up >= replicas).then_some(())
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_is_followed_without_a_restart() {
    let mut setup = SentinelSetup::start();
    let old_master = setup.master.port;
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(setup.url()))
        .socket_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    for n in 1..=3 {
        assert_eq!(c.get("/incr").await.body, n.to_string());
    }
    replicated(&setup.master, 1);
    setup.master.stop();
    let (r, _) = incr_until_served(&mut c).await;

    assert_eq!(r.body, "4", "the replicated count survives the failover");
    assert_eq!(setup.master_port(), Some(setup.replica.port));
    assert_ne!(setup.master_port(), Some(old_master));
    assert_eq!(c.get("/incr").await.body, "5");
}

#[tokio::test]
async fn cluster_spreads_sessions_over_the_masters() {
    let cluster = Cluster::start();
    let backend = Backend::Cluster(std::sync::Arc::new(cluster));
    let factory = backend.factory(|b| b);
    for _ in 0..30 {
        let mut c = Client::new(app::router(&factory));
        assert_eq!(c.get("/incr").await.body, "1");
        assert_eq!(c.get("/incr").await.body, "2");
    }
    let Backend::Cluster(cluster) = &backend else {
        unreachable!()
    };
    let per_master = cluster.keys_per_master();
    assert_eq!(per_master.len(), 3, "{per_master:?}");
    assert_eq!(per_master.iter().map(|(_, n)| n).sum::<usize>(), 30);
    assert!(per_master.iter().all(|(_, n)| *n > 0), "{per_master:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_failover_is_followed_without_a_restart() {
    let mut cluster = Cluster::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(cluster.url()))
        .socket_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let mut clients: Vec<Client> = (0..12)
        .map(|_| Client::new(app::router(&factory)))
        .collect();
    for c in &mut clients {
        assert_eq!(c.get("/incr").await.body, "1");
    }
    let (victim, keys) = cluster
        .keys_per_master()
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("masters");
    assert!(keys > 0);
    replicated(&cluster.nodes[victim], 1);
    cluster.nodes[victim].stop();
    for c in &mut clients {
        let (r, _) = incr_until_served(c).await;
        assert_eq!(r.body, "2", "the replicated count survives the failover");
    }
    cluster.wait_until_ok(RECOVERY);
    assert_eq!(cluster.masters().len(), 3, "a replica took over");
}
