//! A connection to the master that the Sentinels name, found again after a
//! failover.
//!
//! The master is looked up (and its role checked) on first use. When a
//! command fails in a way that says the master is gone or is no longer the
//! master (refused, dropped, no answer in time, `READONLY`, `LOADING`,
//! `MASTERDOWN`), the connection is dropped and the request fails; the next
//! request asks the Sentinels again. Nothing is retried: a write is sent at
//! most once, and the caller answers 503 meanwhile.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, RedisError, RedisFuture, Value};

use super::target::{Auth, tcp_addr};
use crate::store::Error;

/// Cheap to clone; every clone shares the master connection.
#[derive(Clone)]
pub(crate) struct SentinelConnection {
    shared: Arc<Shared>,
}

struct Shared {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    /// The current master connection and its generation.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    generation: Mutex<u64>,
    config: AsyncConnectionConfig,
    /// Commands that take longer drop the connection (the master may be
    /// paused or cut off, and a failover may follow).
    response_timeout: Duration,
    db: i64,
}

/// What the Sentinel target needs to connect.
pub(super) struct SentinelTarget {
    pub(super) nodes: Vec<(String, u16)>,
    pub(super) master: String,
    pub(super) auth: Auth,
    pub(super) db: i64,
    pub(super) tls: bool,
    #[cfg(feature = "tls")]
    pub(super) certificates: Option<redis::TlsCertificates>,
}

impl SentinelConnection {
    /// Builds the Sentinel client without connecting.
    pub(super) fn new(target: SentinelTarget, timeout: Duration) -> Result<Self, Error> {
        let addrs = target
            .nodes
            .iter()
            .map(|(host, port)| tcp_addr(host, *port, target.tls));
        let mut builder =
            SentinelClientBuilder::new(addrs, &target.master, SentinelServerType::Master)
                .map_err(|e| Error::Config(format!("sentinel: {e}")))?
                .set_client_to_redis_db(target.db);
        if let Some(username) = &target.auth.username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = &target.auth.password {
            builder = builder.set_client_to_redis_password(password);
        }
        if target.tls {
            builder = builder
                .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
            #[cfg(feature = "tls")]
            if let Some(certificates) = target.certificates {
                builder = builder
                    .set_client_to_sentinel_certificates(certificates.clone())
                    .set_client_to_redis_certificates(certificates);
            }
        }
        let sentinel = builder
            .build()
            .map_err(|e| Error::Config(format!("sentinel: {e}")))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(None);
        Ok(Self {
            shared: Arc::new(Shared {
                sentinel: tokio::sync::Mutex::new(sentinel),
                current: Mutex::new(None),
                generation: Mutex::new(0),
                config,
                // Just under the caller's own bound, so that this layer sees
                // the timeout and drops the connection.
                response_timeout: timeout.mul_f64(0.9),
                db: target.db,
            }),
        })
    }

    fn cached(&self) -> Option<(u64, MultiplexedConnection)> {
        self.shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The master connection, asking the Sentinels if there is none.
    async fn master(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let mut sentinel = self.shared.sentinel.lock().await;
        // Another request may have found the master while this one waited.
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let client = sentinel.async_get_client().await?;
        let conn = client
            .get_multiplexed_async_connection_with_config(&self.shared.config)
            .await?;
        let generation = {
            let mut generation = self
                .shared
                .generation
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *generation += 1;
            *generation
        };
        tracing::info!(
            target: "redis_sessions::store",
            "connected to the master named by the Sentinels"
        );
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((generation, conn.clone()));
        Ok((generation, conn))
    }

    /// A client of the master the Sentinels name now (asked every call).
    pub(super) async fn master_client(&self) -> Result<redis::Client, RedisError> {
        self.shared.sentinel.lock().await.async_get_client().await
    }

    /// Drops connection `generation` if it is still the current one.
    fn forget(&self, generation: u64, why: &str) {
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|(g, _)| *g == generation) {
            tracing::warn!(
                target: "redis_sessions::store",
                "dropping the master connection ({why}); the Sentinels are asked again"
            );
            *current = None;
        }
    }

    async fn run<T>(
        &self,
        call: impl AsyncFnOnce(&mut MultiplexedConnection) -> Result<T, RedisError>,
        failed_inside: impl Fn(&T) -> bool,
    ) -> Result<T, RedisError> {
        let (generation, mut conn) = self.master().await?;
        match tokio::time::timeout(self.shared.response_timeout, call(&mut conn)).await {
            Err(_) => {
                self.forget(generation, "no answer in time");
                Err(
                    io::Error::new(io::ErrorKind::TimedOut, "the master did not answer in time")
                        .into(),
                )
            }
            Ok(Err(e)) => {
                if master_lost(&e) {
                    self.forget(generation, "connection lost or not a master");
                }
                Err(e)
            }
            Ok(Ok(value)) => {
                if failed_inside(&value) {
                    self.forget(generation, "not a master any more");
                }
                Ok(value)
            }
        }
    }
}

/// True for errors that say this connection no longer reaches a usable
/// master.
pub(super) fn master_lost(e: &RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::ReadOnly
                    | ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
            )
        )
}

fn value_says_master_lost(value: &Value) -> bool {
    match value {
        Value::ServerError(e) => matches!(e.code(), "READONLY" | "LOADING" | "MASTERDOWN"),
        Value::Array(items) => items.iter().any(value_says_master_lost),
        _ => false,
    }
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            self.run(
                async |conn: &mut MultiplexedConnection| conn.req_packed_command(cmd).await,
                value_says_master_lost,
            )
            .await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.run(
                async |conn: &mut MultiplexedConnection| {
                    conn.req_packed_commands(pipeline, offset, count).await
                },
                |values: &Vec<Value>| values.iter().any(value_says_master_lost),
            )
            .await
        })
    }

    fn get_db(&self) -> i64 {
        self.shared.db
    }
}
