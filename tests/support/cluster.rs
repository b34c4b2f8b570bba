//! A Redis Cluster of three masters and three replicas on loopback, with a
//! 1 s `cluster-node-timeout`: kill a master and its replica takes over.

use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::redis_server::{RedisServer, free_cluster_port, free_port, wait_until};
use super::tls::{Pki, server_tls_args};

/// Six cluster nodes; `nodes[..3]` start as masters.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
    /// The TLS port of each node, when the cluster speaks TLS.
    pub tls_ports: Vec<u16>,
}

fn tls_args(pki: &Pki, tls_port: u16) -> Vec<String> {
    let mut args = server_tls_args(pki, tls_port);
    args.extend(["--tls-cluster".into(), "yes".into()]);
    args
}

fn cluster_info(node: &RedisServer) -> Option<String> {
    let mut conn = redis::Client::open(node.url())
        .and_then(|c| c.get_connection())
        .ok()?;
    redis::cmd("CLUSTER").arg("INFO").query(&mut conn).ok()
}

impl Cluster {
    /// Starts six nodes, joins them with `redis-cli --cluster create` and
    /// waits until every node says the cluster is up.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Like [`start`](Self::start), with TLS between clients and nodes and
    /// between the nodes themselves (certificates of `pki`); each node
    /// keeps a plain port for the test's own checks.
    pub fn start_tls(pki: &Pki) -> Self {
        Self::start_with(Some(pki))
    }

    fn start_with(pki: Option<&Pki>) -> Self {
        let mut tls_ports = Vec::new();
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                let mut args: Vec<String> = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes-%port%.conf",
                    "--cluster-node-timeout",
                    "1000",
                    "--repl-diskless-sync-delay",
                    "0",
                ]
                .map(String::from)
                .to_vec();
                if let Some(pki) = pki {
                    let tls_port = free_port();
                    tls_ports.push(tls_port);
                    args.extend(tls_args(pki, tls_port));
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                RedisServer::start_on(free_cluster_port, &args, None)
            })
            .collect();
        let ports: Vec<u16> = match pki {
            Some(_) => tls_ports.clone(),
            None => nodes.iter().map(|n| n.port).collect(),
        };
        let mut create = Command::new("redis-cli");
        if let Some(pki) = pki {
            create
                .arg("--tls")
                .arg("--cacert")
                .arg(pki.path("ca.crt"))
                .arg("--cert")
                .arg(pki.path("client.crt"))
                .arg("--key")
                .arg(pki.path("client.key"));
        }
        let output = create
            .args(["--cluster", "create"])
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): run scripts/test.sh"));
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Self { nodes, tls_ports };
        cluster.wait_until_ok(Duration::from_secs(30));
        cluster
    }

    /// The `rediss+cluster://` URL of a cluster made by
    /// [`start_tls`](Self::start_tls).
    pub fn tls_url(&self) -> String {
        format!(
            "rediss+cluster://127.0.0.1:{},127.0.0.1:{}",
            self.tls_ports[0], self.tls_ports[1]
        )
    }

    /// A cluster shared by the tests that run at the same time: started by
    /// the first, stopped when the last one drops it. Tests that share it
    /// must not count keys or kill nodes.
    pub fn shared() -> Arc<Self> {
        static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cluster) = shared.upgrade() {
            return cluster;
        }
        let cluster = Arc::new(Self::start());
        *shared = Arc::downgrade(&cluster);
        cluster
    }

    /// Waits until every running node reports `cluster_state:ok` and
    /// knows all slots.
    pub fn wait_until_ok(&self, within: Duration) {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            wait_until("every cluster node says the cluster is ok", within, || {
                let info = cluster_info(node)?;
                (info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384"))
                    .then_some(())
            });
        }
    }

    pub fn url(&self) -> String {
        // Two seed nodes are enough to find the rest.
        format!(
            "redis+cluster://127.0.0.1:{},127.0.0.1:{}",
            self.nodes[0].port, self.nodes[1].port
        )
    }

    /// Indexes of the nodes that are masters now.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let node = &self.nodes[i];
                node.is_running()
                    && redis::cmd("ROLE")
                        .query::<redis::Value>(&mut node.conn())
                        .ok()
                        .and_then(|v| match v {
                            redis::Value::Array(items) => items.into_iter().next(),
                            _ => None,
                        })
                        .is_some_and(
                            |role| matches!(role, redis::Value::BulkString(b) if b == b"master"),
                        )
            })
            .collect()
    }

    /// How many keys each running master holds.
    pub fn keys_per_master(&self) -> Vec<(usize, usize)> {
        self.masters()
            .into_iter()
            .map(|i| {
                let n: usize = redis::cmd("DBSIZE")
                    .query(&mut self.nodes[i].conn())
                    .expect("DBSIZE");
                (i, n)
            })
            .collect()
    }
}
