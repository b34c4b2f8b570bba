//! A master, its replica and three Sentinels on loopback, with a 1 s
//! `down-after-milliseconds`: kill the master and the replica takes over.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::redis_server::{RedisServer, free_port, wait_until};
use super::tls::{Pki, server_tls_args};

pub const MASTER_NAME: &str = "sessions";

/// One `redis-server --sentinel` process.
pub struct Sentinel {
    pub port: u16,
    /// The TLS port, when the setup speaks TLS.
    pub tls_port: Option<u16>,
    dir: PathBuf,
    child: Option<Child>,
}

impl Sentinel {
    fn start(dir: PathBuf, master_port: u16, pki: Option<&Pki>) -> Self {
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        for _ in 0..5 {
            let port = free_port();
            let tls_port = pki.map(|_| free_port());
            let tls = match (pki, tls_port) {
                (Some(pki), Some(tls_port)) => server_tls_args(pki, tls_port)
                    .chunks(2)
                    .map(|kv| format!("{} {}\n", kv[0].trim_start_matches("--"), kv[1]))
                    .collect(),
                _ => String::new(),
            };
            let conf = dir.join("sentinel.conf");
            std::fs::write(
                &conf,
                tls + &format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n",
                    dir = dir.display()
                ),
            )
            .expect("temp dir is writable");
            let mut child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run redis-server --sentinel ({e}): run scripts/test.sh")
                });
            let up = wait_until("a Sentinel answers PING", Duration::from_secs(10), || {
                if child.try_wait().ok().flatten().is_some() {
                    return Some(false);
                }
                let pong = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
                pong.is_ok().then_some(true)
            });
            if up {
                return Self {
                    port,
                    tls_port,
                    dir,
                    child: Some(child),
                };
            }
            let _ = child.wait();
        }
        panic!(
            "no Sentinel started; log:\n{}",
            std::fs::read_to_string(dir.join("sentinel.log")).unwrap_or_default()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("sentinel.log")).unwrap_or_default()
    }

    /// `SENTINEL MASTER` as field → value.
    fn master_info(&self) -> Option<std::collections::HashMap<String, String>> {
        let mut conn = redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .and_then(|c| c.get_connection())
            .ok()?;
        redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg(MASTER_NAME)
            .query(&mut conn)
            .ok()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A master, a replica and three Sentinels watching them.
pub struct SentinelSetup {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<Sentinel>,
}

impl SentinelSetup {
    /// Starts everything and waits until the Sentinels know the replica
    /// and each other, so a failover can happen.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Like [`start`](Self::start), with TLS everywhere: clients, replication
    /// and the Sentinels (certificates of `pki`; every process keeps a plain
    /// port for the test's own checks).
    pub fn start_tls(pki: &Pki) -> Self {
        Self::start_with(Some(pki))
    }

    fn start_with(pki: Option<&Pki>) -> Self {
        let tls = |port: Option<u16>| -> Vec<String> {
            match (pki, port) {
                (Some(pki), Some(port)) => server_tls_args(pki, port),
                _ => Vec::new(),
            }
        };
        let master_tls = pki.map(|_| free_port());
        let mut args = vec!["--repl-diskless-sync-delay".to_owned(), "0".to_owned()];
        args.extend(tls(master_tls));
        let master =
            RedisServer::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
        let monitored = master_tls.unwrap_or(master.port);
        let mut args = vec![
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            monitored.to_string(),
        ];
        args.extend(tls(pki.map(|_| free_port())));
        let replica =
            RedisServer::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
        let sentinels: Vec<Sentinel> = (0..3)
            .map(|i| Sentinel::start(master.dir().join(format!("sentinel-{i}")), monitored, pki))
            .collect();
        for sentinel in &sentinels {
            wait_until(
                "the Sentinels know the replica and each other",
                Duration::from_secs(30),
                || {
                    let info = sentinel.master_info()?;
                    (info.get("num-slaves").map(String::as_str) == Some("1")
                        && info.get("num-other-sentinels").map(String::as_str) == Some("2"))
                    .then_some(())
                },
            );
        }
        wait_until("the replica is in sync", Duration::from_secs(30), || {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut replica.conn())
                .ok()?;
            info.contains("master_link_status:up").then_some(())
        });
        Self {
            master,
            replica,
            sentinels,
        }
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.tls_port.unwrap_or(s.port)))
            .collect();
        let scheme = if self.sentinels[0].tls_port.is_some() {
            "rediss+sentinel"
        } else {
            "redis+sentinel"
        };
        format!("{scheme}://{}/{MASTER_NAME}/0", hosts.join(","))
    }

    /// The port of the master the Sentinels name now.
    pub fn master_port(&self) -> Option<u16> {
        let mut conn = redis::Client::open(format!("redis://127.0.0.1:{}", self.sentinels[0].port))
            .and_then(|c| c.get_connection())
            .ok()?;
        let (_, port): (String, String) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER_NAME)
            .query(&mut conn)
            .ok()?;
        port.parse().ok()
    }
}
