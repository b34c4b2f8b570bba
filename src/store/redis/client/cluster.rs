//! A Redis Cluster connection: redis-rs follows `MOVED`/`ASK`, refreshes the
//! slot map after a failover and reconnects by itself. On top of it, a
//! pipeline whose commands touch keys in different slots (several sessions
//! written in one batch) is split into one pipeline per slot, sent at the
//! same time, and its replies put back in order, so callers may batch keys
//! freely. Commands of one slot keep their order; a transaction
//! (`MULTI`/`EXEC`) is passed through as it is and must stay in one slot.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection as Inner;
use redis::cluster_routing::Slot;
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};

use super::target::{Auth, tcp_addr};
use crate::store::Error;

/// Cheap to clone; every clone shares the node connections.
#[derive(Clone)]
pub(crate) struct ClusterConnection {
    inner: Inner,
}

/// Connects lazily: redis-rs starts its connection in the background, which
/// needs a running Tokio runtime, so it is made on first use.
pub(super) struct LazyCluster {
    client: ClusterClient,
    config: ClusterConfig,
    connection: OnceLock<ClusterConnection>,
    /// How to reach one node by itself (the process cache's tracking).
    auth: Auth,
    tls: bool,
    #[cfg(feature = "tls")]
    certificates: Option<redis::TlsCertificates>,
}

/// One node of `CLUSTER NODES`, reachable (not failed, not in handshake).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Node {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) master: bool,
}

/// The reachable nodes of a `CLUSTER NODES` reply, sorted.
pub(crate) fn parse_nodes(text: &str) -> Vec<Node> {
    let mut nodes: Vec<Node> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            let usable = !flags
                .split(',')
                .any(|f| f.starts_with("fail") || matches!(f, "handshake" | "noaddr"));
            let (host, port) = address.split('@').next()?.rsplit_once(':')?;
            let node = Node {
                host: host.to_owned(),
                port: port.parse().ok()?,
                master: flags.split(',').any(|f| f == "master"),
            };
            usable.then_some(node)
        })
        .collect();
    nodes.sort();
    nodes
}

/// What the Cluster target needs to connect.
pub(super) struct ClusterTarget {
    pub(super) nodes: Vec<(String, u16)>,
    pub(super) auth: Auth,
    pub(super) tls: bool,
    #[cfg(feature = "tls")]
    pub(super) certificates: Option<redis::TlsCertificates>,
}

impl LazyCluster {
    pub(super) fn new(target: ClusterTarget, timeout: Duration) -> Result<Self, Error> {
        let nodes = target
            .nodes
            .iter()
            .map(|(host, port)| {
                let addr = tcp_addr(host, *port, target.tls);
                addr.into_connection_info()
                    .map(|info| info.set_redis_settings(target.auth.apply(Default::default())))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("cluster: {e}")))?;
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            // A few quick retries ride out a MOVED or a slot map refresh;
            // a failover takes longer and answers 503 meanwhile.
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(200);
        if let Some(username) = &target.auth.username {
            builder = builder.username(username);
        }
        if let Some(password) = &target.auth.password {
            builder = builder.password(password);
        }
        #[cfg(feature = "tls")]
        if target.tls {
            builder = builder.tls(redis::TlsMode::Secure);
            if let Some(certificates) = &target.certificates {
                builder = builder.certs(certificates.clone());
            }
        }
        let client = builder
            .build()
            .map_err(|e| Error::Config(format!("cluster: {e}")))?;
        let config = ClusterConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout);
        Ok(Self {
            client,
            config,
            connection: OnceLock::new(),
            auth: target.auth,
            tls: target.tls,
            #[cfg(feature = "tls")]
            certificates: target.certificates,
        })
    }

    /// A client of the node at `host:port` alone, speaking RESP3.
    pub(super) fn node_client(&self, host: &str, port: u16) -> redis::RedisResult<redis::Client> {
        let addr = tcp_addr(host, port, self.tls);
        let settings = self
            .auth
            .apply(Default::default())
            .set_protocol(redis::ProtocolVersion::RESP3);
        let info = addr.into_connection_info()?.set_redis_settings(settings);
        #[cfg(feature = "tls")]
        if let Some(certificates) = &self.certificates {
            return redis::Client::build_with_tls(info, certificates.clone());
        }
        redis::Client::open(info)
    }

    pub(super) fn connection(&self) -> ClusterConnection {
        self.connection
            .get_or_init(|| ClusterConnection {
                inner: self
                    .client
                    .get_pending_async_connection_with_config(self.config.clone()),
            })
            .clone()
    }
}

/// The slot of the key a command touches, if it names one.
fn slot_of(cmd: &Cmd) -> Option<Slot> {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|arg| match arg {
            redis::Arg::Simple(bytes) => bytes,
            _ => &b""[..],
        })
        .collect();
    let name = args.first()?.to_ascii_uppercase();
    let key = match name.as_slice() {
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            let keys: usize = std::str::from_utf8(args.get(2)?).ok()?.parse().ok()?;
            if keys == 0 {
                return None;
            }
            args.get(3)?
        }
        b"PING" | b"MULTI" | b"EXEC" | b"DISCARD" | b"SCRIPT" | b"INFO" => return None,
        // `MEMORY USAGE key`: the key comes after the subcommand.
        b"MEMORY" => args.get(2)?,
        _ => args.get(1)?,
    };
    Some(Slot::for_key(key))
}

/// The commands of `pipeline` grouped by slot, in order; `None` when they
/// all go to one slot (or name none).
fn split_by_slot(pipeline: &Pipeline) -> Option<Vec<Vec<usize>>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_slot: HashMap<Slot, usize> = HashMap::new();
    let mut unslotted = Vec::new();
    for (i, cmd) in pipeline.cmd_iter().enumerate() {
        match slot_of(cmd) {
            Some(slot) => {
                let group = *by_slot.entry(slot).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[group].push(i);
            }
            None => unslotted.push(i),
        }
    }
    if groups.len() < 2 {
        return None;
    }
    // Commands without a key (PING) ride along with the first group.
    groups[0].extend(unslotted);
    groups[0].sort_unstable();
    Some(groups)
}

impl ClusterConnection {
    /// The address of every master that answers, from `CLUSTER NODES`.
    /// The reachable nodes, masters and replicas, sorted.
    pub(crate) async fn nodes(&self) -> redis::RedisResult<Vec<Node>> {
        use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
        let mut inner = self.inner.clone();
        let nodes = inner
            .route_command(
                redis::cmd("CLUSTER").arg("NODES").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        let text: String = redis::from_redis_value(nodes)?;
        Ok(parse_nodes(&text))
    }

    pub(crate) async fn masters(&self) -> redis::RedisResult<Vec<(String, u16)>> {
        Ok(self
            .nodes()
            .await?
            .into_iter()
            .filter(|node| node.master)
            .map(|node| (node.host, node.port))
            .collect())
    }
}

impl ConnectionLike for ClusterConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let groups = if pipeline.is_transaction() {
            None
        } else {
            split_by_slot(pipeline)
        };
        let Some(groups) = groups else {
            return self.inner.req_packed_commands(pipeline, offset, count);
        };
        let commands: Vec<&Cmd> = pipeline.cmd_iter().collect();
        Box::pin(async move {
            let subs: Vec<(Vec<usize>, Pipeline)> = groups
                .into_iter()
                .map(|indices| {
                    let mut sub = redis::pipe();
                    for &i in &indices {
                        sub.add_command(commands[i].clone());
                    }
                    (indices, sub)
                })
                .collect();
            let replies = futures_util::future::try_join_all(subs.iter().map(|(_, sub)| {
                let mut conn = self.inner.clone();
                async move { conn.req_packed_commands(sub, 0, sub.len()).await }
            }))
            .await?;
            let mut values = vec![Value::Nil; commands.len()];
            for ((indices, _), reply) in subs.iter().zip(replies) {
                for (&i, value) in indices.iter().zip(reply) {
                    values[i] = value;
                }
            }
            Ok(values.into_iter().skip(offset).take(count).collect())
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_over_several_slots_are_split_in_order() {
        let mut pipe = redis::pipe();
        pipe.cmd("HSET").arg("a").arg("f").arg("v");
        pipe.cmd("EVALSHA").arg("sha").arg(1).arg("b").arg("x");
        pipe.cmd("EXPIRE").arg("a").arg(10);
        pipe.cmd("PING");
        pipe.cmd("DEL").arg("b");
        assert_ne!(Slot::for_key("a"), Slot::for_key("b"));
        assert_eq!(split_by_slot(&pipe), Some(vec![vec![0, 2, 3], vec![1, 4]]));
        let mut one = redis::pipe();
        one.cmd("HGETALL").arg("a").cmd("EXPIRE").arg("a").arg(5);
        assert_eq!(split_by_slot(&one), None);
        let mut tagged = redis::pipe();
        tagged.cmd("DEL").arg("{u}1").cmd("DEL").arg("{u}2");
        assert_eq!(split_by_slot(&tagged), None);
    }
}
