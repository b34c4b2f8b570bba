//! Test support: real Redis servers, the two stores behind one interface, and
//! an HTTP client with a cookie jar that drives a router in-process.

#![allow(dead_code)]

pub mod actix;
pub mod browser;
pub mod cluster;
pub mod plugins;
pub mod process;
pub mod redis_server;
pub mod sentinel;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use redis_sessions::store::{
    Append, Appended, Change, Entry, Increment, Incremented, IndexEntry, Loaded, Meta, StoreFuture,
    Write, Written,
};
use redis_sessions::{
    Builder, MemoryStore, RedisClient, RedisOptions, RedisSessionFactory, RedisStore, SessionStore,
};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tower::ServiceExt as _;

pub use cluster::Cluster;

/// The storage layout as Redis holds it (see the `store` module's docs),
/// for the tests that write it directly, as an earlier version or a
/// corruption would. The library keeps it private to its stores.
pub mod layout {
    /// `created refreshed`, unix seconds (the first layout: `created`).
    pub const CREATED_FIELD: &[u8] = b"\0c";
    /// The last refresh, in the first layout.
    pub const REFRESHED_FIELD: &[u8] = b"\0r";
}
/// Runs each named `async fn(Backend)` test of the calling module against
/// every backend: the embedded store, a real redis-server and a real Redis
/// Cluster. The Cluster is shared by the tests running at the same time, so
/// names that reach the store (user ids) must differ between tests.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::Backend::memory()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::Backend::redis()).await
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::Backend::cluster()).await
                }
            )*
        }
    };
}
pub(crate) use on_every_backend;

tokio::task_local! {
    /// Set while a test runs against the actix-web app.
    pub static ON_ACTIX: ();
}

/// True while the running test drives the actix-web app.
pub fn on_actix() -> bool {
    ON_ACTIX.try_with(|()| ()).is_ok()
}

/// A client of the conformance app the test runs against.
pub fn app_client(factory: RedisSessionFactory) -> Client {
    if on_actix() {
        Client::actix(factory)
    } else {
        Client::new(crate::app::router(&factory))
    }
}

/// Runs each named `async fn(Backend)` test of the calling module on every
/// backend against the actix-web conformance app: the tests make their
/// clients with [`app_client`], which picks the app the test runs against.
macro_rules! on_actix_too {
    ($($name:ident),* $(,)?) => {
        mod actix {
            mod memory {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let backend = crate::support::Backend::memory();
                        crate::support::ON_ACTIX.scope((), super::super::$name(backend)).await
                    }
                )*
            }
            mod redis {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let backend = crate::support::Backend::redis();
                        crate::support::ON_ACTIX.scope((), super::super::$name(backend)).await
                    }
                )*
            }
            mod cluster {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let backend = crate::support::Backend::cluster();
                        crate::support::ON_ACTIX.scope((), super::super::$name(backend)).await
                    }
                )*
            }
        }
    };
}
pub(crate) use on_actix_too;

pub use redis_server::RedisServer;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The Redis key of a session id with no prefix (base64url SHA-256).
pub fn key_of(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()))
}

/// Where the sessions of a test live.
pub enum Backend {
    Memory(Arc<MemoryStore>),
    Redis(RedisServer),
    /// A Redis Cluster, shared by the tests that run at the same time.
    Cluster(Arc<Cluster>),
}

impl Backend {
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::new()))
    }

    pub fn redis() -> Self {
        Self::Redis(RedisServer::start())
    }

    pub fn cluster() -> Self {
        Self::Cluster(Cluster::shared())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
            Self::Cluster(_) => "cluster",
        }
    }

    /// The Redis URL of this backend, if it is Redis.
    pub fn url(&self) -> Option<String> {
        match self {
            Self::Memory(_) => None,
            Self::Redis(server) => Some(server.url()),
            Self::Cluster(cluster) => Some(cluster.url()),
        }
    }

    /// A store talking to this backend directly (to inspect or corrupt data).
    pub fn store(&self) -> Arc<dyn SessionStore> {
        match self {
            Self::Memory(store) => store.clone(),
            Self::Redis(_) | Self::Cluster(_) => {
                let options = RedisOptions {
                    url: self.url(),
                    ..RedisOptions::default()
                };
                Arc::new(RedisStore::new(RedisClient::open(&options).unwrap()))
            }
        }
    }

    /// A factory on this backend with `configure` applied.
    pub fn factory(&self, configure: impl FnOnce(Builder) -> Builder) -> RedisSessionFactory {
        configure(self.builder(SECRET)).build().unwrap()
    }

    /// A builder with `secret` on this backend.
    pub fn builder(&self, secret: &str) -> Builder {
        let builder = RedisSessionFactory::builder(secret);
        match self {
            Self::Memory(store) => builder.store(store.clone()),
            Self::Redis(_) | Self::Cluster(_) => builder
                .url(self.url())
                .socket_timeout(Some(std::time::Duration::from_secs(2))),
        }
    }

    /// True if a session with this id is stored.
    pub async fn exists(&self, id: &str) -> bool {
        // A corrupt one counts: it is stored.
        self.store().load(&key_of(id)).await.unwrap().is_some()
    }

    /// The entries of the session with this id, if it is stored.
    pub async fn fields(&self, id: &str) -> Option<Vec<Entry>> {
        let loaded = self.store().load(&key_of(id)).await.unwrap();
        loaded.map(|record| record.unwrap().entries)
    }

    /// The metadata of the session with this id, if it is stored.
    pub async fn meta(&self, id: &str) -> Option<Meta> {
        let loaded = self.store().load(&key_of(id)).await.unwrap();
        loaded.map(|record| record.unwrap().meta)
    }

    /// Overwrites the raw (encoded) value of one key of a stored session
    /// (its TTL becomes the default timeout, 1200 s).
    pub async fn put_raw(&self, id: &str, key: &[u8], value: &[u8]) {
        let change = Change::entries(vec![(key.to_vec(), value.to_vec())], vec![]);
        self.change(id, change).await;
    }

    /// Records the creation and last refresh times of a stored session
    /// (its TTL becomes the default timeout, 1200 s).
    pub async fn put_times(&self, id: &str, created: u64, refreshed: u64) {
        let change = Change::default().with_refresh(created, refreshed);
        self.change(id, change).await;
    }

    async fn change(&self, id: &str, change: Change) {
        let written = self
            .store()
            .write(vec![Write::update(key_of(id), change, 1200)])
            .await
            .unwrap();
        assert_eq!(written, [Written::Stored]);
    }

    /// A connection to the Redis server (or Cluster) behind this backend,
    /// to write the storage layout directly: `None` for the embedded store,
    /// whose layout no one but it can write.
    pub fn raw(&self) -> Option<Box<dyn redis::ConnectionLike>> {
        match self {
            Self::Memory(_) => None,
            Self::Redis(server) => Some(Box::new(server.conn())),
            Self::Cluster(cluster) => {
                let nodes: Vec<String> = cluster
                    .url()
                    .trim_start_matches("redis+cluster://")
                    .split(',')
                    .map(|node| format!("redis://{node}"))
                    .collect();
                let client = redis::cluster::ClusterClient::new(nodes).unwrap();
                Some(Box::new(client.get_connection().unwrap()))
            }
        }
    }
}

/// A reply, with the headers the tests look at.
#[derive(Debug)]
pub struct Reply {
    pub headers: Vec<(String, String)>,
    pub status: StatusCode,
    pub body: String,
    pub set_cookie: Vec<String>,
    pub vary: Vec<String>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The session cookie value this reply sets, if any (`Some("")` deletes).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie.iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// A browser of sorts: keeps the session cookie between requests.
#[derive(Clone)]
pub struct Client {
    app: App,
    pub cookie_name: String,
    pub cookie: Option<String>,
}

/// Where a [`Client`]'s requests go.
#[derive(Clone)]
enum App {
    /// An axum router, called in-process.
    Router(Router),
    /// An app served over HTTP on loopback (the actix-web conformance app),
    /// stopped when the last client holding it is dropped.
    Http(Arc<actix::Server>),
    /// The axum conformance app in a process of its own.
    Process(Arc<process::AppProcess>),
}

/// An HTTP client of one app on a loopback address.
pub struct Loopback {
    addr: std::net::SocketAddr,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Body,
    >,
}

impl Loopback {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            addr,
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    /// Sends `request` (its path and query, its headers) over HTTP.
    pub async fn send(&self, request: Request<Body>) -> http::Response<hyper::body::Incoming> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = format!("http://{}{path}", self.addr).parse().unwrap();
        self.client
            .request(Request::from_parts(parts, body))
            .await
            .expect("the app answered")
    }
}

impl Client {
    pub fn new(router: Router) -> Self {
        Self::with_app(App::Router(router))
    }

    /// A client of the actix-web conformance app on `factory`, served on a
    /// free loopback port for as long as a clone of the client lives.
    pub fn actix(factory: RedisSessionFactory) -> Self {
        Self::with_app(App::Http(Arc::new(actix::Server::start(factory))))
    }

    /// A client of an actix-web app of the test's own (see
    /// [`actix::Server::serve`]).
    pub fn http(server: actix::Server) -> Self {
        Self::with_app(App::Http(Arc::new(server)))
    }

    /// A client of a conformance app process.
    pub fn process(app: Arc<process::AppProcess>) -> Self {
        Self::with_app(App::Process(app))
    }

    fn with_app(app: App) -> Self {
        Self {
            app,
            cookie_name: "session".into(),
            cookie: None,
        }
    }

    /// The same cookie jar, talking to another app (a session made by one
    /// app, used by the other).
    pub fn with_cookie_of(mut self, other: &Client) -> Self {
        self.cookie_name = other.cookie_name.clone();
        self.cookie = other.cookie.clone();
        self
    }

    /// The session id in the current cookie.
    pub fn id(&self) -> String {
        let value = self
            .cookie
            .as_deref()
            .expect("the client holds a session cookie");
        value
            .rsplit_once('.')
            .expect("a signed cookie")
            .0
            .to_owned()
    }

    /// GET `path`, sending and then updating the cookie.
    pub async fn get(&mut self, path: &str) -> Reply {
        let reply = self.send(path, self.cookie.clone()).await;
        if let Some(value) = reply.cookie(&self.cookie_name) {
            self.cookie = (!value.is_empty()).then_some(value);
        }
        reply
    }

    /// GET `path` with `cookie` (or none), leaving the jar alone.
    pub async fn send(&self, path: &str, cookie: Option<String>) -> Reply {
        let mut request = Request::get(path);
        if let Some(value) = cookie {
            request = request.header("cookie", format!("{}={value}", self.cookie_name));
        }
        self.send_request(request.body(Body::empty()).unwrap())
            .await
    }

    /// Sends `request` to the app.
    pub async fn send_request(&self, request: Request<Body>) -> Reply {
        match &self.app {
            App::Router(router) => reply(router.clone().oneshot(request).await.unwrap()).await,
            App::Http(server) => reply(server.send(request).await).await,
            App::Process(app) => reply(app.loopback.send(request).await).await,
        }
    }
}

async fn reply<B: http_body::Body>(response: http::Response<B>) -> Reply
where
    B::Error: std::fmt::Debug,
{
    let headers = response.headers().clone();
    let strings = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    Reply {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        status: response.status(),
        set_cookie: strings(http::header::SET_COOKIE),
        vary: strings(http::header::VARY),
        body: String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap(),
    }
}

/// Forwards to a real store and lets a test wait for loads.
pub struct ProbeStore {
    inner: Arc<dyn SessionStore>,
    pub loads: AtomicUsize,
    pub loaded: Notify,
    /// Every batch written, as its (redacted) `Debug` text.
    pub writes: std::sync::Mutex<Vec<String>>,
    /// How many in-place increments were tried.
    pub increments: AtomicUsize,
}

impl ProbeStore {
    pub fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            loads: AtomicUsize::new(0),
            increments: AtomicUsize::new(0),
            loaded: Notify::new(),
            writes: Default::default(),
        })
    }
}

impl ProbeStore {
    /// Sends `path` with `client`'s cookie on another task and returns once
    /// that request has loaded its session (so a test can act while the
    /// request is still running).
    pub async fn spawn_after_load(
        &self,
        client: &Client,
        path: &str,
    ) -> tokio::task::JoinHandle<Reply> {
        let loads = self.loads.load(Ordering::SeqCst);
        let notified = self.loaded.notified();
        let (client, path) = (client.clone(), path.to_owned());
        let cookie = client.cookie.clone();
        let handle = tokio::spawn(async move { client.send(&path, cookie).await });
        if self.loads.load(Ordering::SeqCst) == loads {
            notified.await;
        }
        handle
    }
}

impl SessionStore for ProbeStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded> {
        Box::pin(async move {
            let result = self.inner.load(key).await;
            self.loads.fetch_add(1, Ordering::SeqCst);
            self.loaded.notify_waiters();
            result
        })
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        self.writes.lock().unwrap().push(format!("{writes:?}"));
        self.inner.write(writes)
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>> {
        self.inner.index_put(index_key, entry, cap)
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        self.inner.index_list(index_key, now)
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        self.inner.index_remove(index_key, members, until)
    }

    fn moves_atomically(&self) -> bool {
        self.inner.moves_atomically()
    }

    fn increment<'a>(&'a self, op: &'a Increment) -> StoreFuture<'a, Option<Incremented>> {
        self.increments.fetch_add(1, Ordering::SeqCst);
        self.inner.increment(op)
    }

    fn append<'a>(&'a self, op: &'a Append) -> StoreFuture<'a, Option<Appended>> {
        self.inner.append(op)
    }
}

impl Reply {
    /// The first value of header `name`, if any.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

impl Client {
    /// Sends `path` `n` times at once, each on its own task, with this
    /// client's cookie.
    pub fn spawn_many(&self, path: &str, n: usize) -> Vec<tokio::task::JoinHandle<Reply>> {
        (0..n)
            .map(|_| {
                let (client, path) = (self.clone(), path.to_owned());
                let cookie = client.cookie.clone();
                tokio::spawn(async move { client.send(&path, cookie).await })
            })
            .collect()
    }

    /// GET `path` with extra headers (no cookie from the jar).
    pub async fn send_headers(&self, path: &str, headers: &[(&str, String)]) -> Reply {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        self.send_request(request.body(Body::empty()).unwrap())
            .await
    }

    /// GET `path` with one raw `Cookie` header value (may hold any bytes).
    pub async fn send_header_value(&self, path: &str, cookie: http::HeaderValue) -> Reply {
        let request = Request::get(path)
            .header(http::header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        self.send_request(request).await
    }
}

/// Runs `f` with every tracing event of every level written to a buffer,
/// and returns what was written.
pub async fn capture_logs<F: std::future::Future>(f: F) -> (String, F::Output) {
    use tracing::instrument::WithSubscriber as _;

    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = f.with_subscriber(subscriber).await;
    let text = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (text, out)
}
