//! A Redis Cluster of three masters and three replicas on loopback, with a
//! 1 s `cluster-node-timeout`: kill a master and its replica takes over.

use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::redis_server::{RedisServer, free_cluster_port, wait_until};

/// Six cluster nodes; `nodes[..3]` start as masters.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
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
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                RedisServer::start_on(
                    free_cluster_port,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes-%port%.conf",
                        "--cluster-node-timeout",
                        "1000",
                        "--repl-diskless-sync-delay",
                        "0",
                    ],
                    None,
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): run scripts/test.sh"));
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok(Duration::from_secs(30));
        cluster
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
