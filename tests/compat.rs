//! Side by side with the original: one browser's session moves between a
//! Pyramid app on `pyramid_redis_sessions` and the conformance app in compat
//! mode, and upgrade mode turns an original session into a native one once.

use std::sync::Arc;

use redis_sessions::{Builder, Compat, RedisSessionFactory};

use crate::support::{Client, RedisServer, SECRET};

#[allow(dead_code)]
#[path = "support/python.rs"]
mod python;
use python::{PY_SECRET, PyApp, tool};

/// The conformance app on `redis`, with `configure` applied.
fn rust_app(redis: &RedisServer, configure: impl FnOnce(Builder) -> Builder) -> Client {
    let builder = RedisSessionFactory::builder(SECRET)
        .url(Some(redis.url()))
        .socket_timeout(Some(std::time::Duration::from_secs(5)));
    Client::new(crate::app::router(&configure(builder).build().unwrap()))
}

/// Compat mode, with the Pyramid app's secret.
fn shared(redis: &RedisServer) -> Client {
    rust_app(redis, |b| {
        b.compat(Compat::PyramidRedisSessions)
            .legacy_secret(Some(PY_SECRET.into()))
    })
}

fn redis_key_exists(redis: &RedisServer, key: &str) -> bool {
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("EXISTS").arg(key).query(&mut conn).unwrap()
}

#[tokio::test]
async fn one_session_moves_back_and_forth_between_python_and_rust() {
    let redis = RedisServer::start();
    let py = PyApp::start(&redis.url(), None);
    let mut rust = shared(&redis);

    let (body, cookie) = py.get("/incr", None);
    assert_eq!(body, "1");
    let cookie = cookie.unwrap();
    py.body("/flash?msg=from%20python", &cookie);
    let token = py.body("/csrf", &cookie);
    py.body("/set_datetime?key=when", &cookie);

    rust.cookie = Some(cookie.clone());
    let reply = rust.get("/incr").await;
    assert_eq!(reply.body, "2");
    assert!(reply.cookie("session").is_none(), "the session was kept");
    assert_eq!(
        rust.get("/peek_flash").await.json(),
        serde_json::json!(["from python"])
    );
    assert_eq!(rust.get("/csrf").await.body, token);
    rust.get("/flash?msg=from%20rust").await;

    assert_eq!(py.body("/incr", &cookie), "3");
    assert_eq!(py.body("/csrf", &cookie), token);
    assert_eq!(py.body("/is_datetime?key=when", &cookie), "yes");
    assert_eq!(
        py.body("/pop_flash", &cookie),
        r#"["from python", "from rust"]"#
    );
    assert_eq!(rust.get("/read").await.body, "3");
    assert_eq!(rust.get("/pop_flash").await.json(), serde_json::json!([]));
    // The datetime cannot be read here, but it is not lost.
    assert_ne!(rust.get("/get?key=when").await.status, 200);
    assert_eq!(py.body("/is_datetime?key=when", &cookie), "yes");
}

#[tokio::test]
async fn a_session_started_in_rust_is_used_by_python() {
    let redis = RedisServer::start();
    let py = PyApp::start(&redis.url(), Some("sess:"));
    let mut rust = rust_app(&redis, |b| {
        b.compat(Compat::PyramidRedisSessions)
            .legacy_secret(Some(PY_SECRET.into()))
            .legacy_prefix(Some("sess:".into()))
    });
    assert_eq!(rust.get("/incr").await.body, "1");
    let new_csrf = rust.get("/csrf").await.body;
    let cookie = rust
        .cookie
        .clone()
        .expect("a cookie in the original's format");
    let id = tool(&["verify", PY_SECRET, &cookie]);
    assert!(id.starts_with("sess:") && id.len() == 5 + 64, "{id}");
    assert!(redis_key_exists(&redis, &id), "the key is the id");

    assert_eq!(py.body("/incr", &cookie), "2");
    assert_eq!(py.body("/csrf", &cookie), new_csrf);
    let (_, set) = py.get("/read", Some(&cookie));
    assert!(set.is_none(), "Python took the session as its own");
    assert_eq!(rust.get("/read").await.body, "2");
}

#[tokio::test]
async fn forged_and_tampered_cookies_are_refused() {
    let redis = RedisServer::start();
    let py = PyApp::start(&redis.url(), None);
    let rust = shared(&redis);
    let (_, cookie) = py.get("/incr", None);
    let cookie = cookie.unwrap();
    let id = tool(&["verify", PY_SECRET, &cookie]);

    let forged = tool(&["sign", "not the Pyramid app's secret", &id]);
    let mut tampered = cookie.clone();
    tampered.replace_range(0..1, if cookie.starts_with('0') { "1" } else { "0" });
    for bad in [forged, tampered] {
        let reply = rust.send("/read", Some(bad)).await;
        assert_eq!(reply.body, "0", "a refused cookie starts afresh");
    }
    assert_eq!(rust.send("/read", Some(cookie)).await.body, "1");
}

#[tokio::test]
async fn rust_requests_never_undo_python_ones() {
    let redis = RedisServer::start();
    let py = Arc::new(PyApp::start(&redis.url(), None));
    let mut rust = shared(&redis);
    let (_, cookie) = py.get("/incr", None);
    let cookie = cookie.unwrap();
    rust.cookie = Some(cookie.clone());

    const PYTHON_REQUESTS: usize = 40;
    let python = {
        let (py, cookie) = (py.clone(), cookie.clone());
        std::thread::spawn(move || {
            for _ in 0..PYTHON_REQUESTS {
                py.body("/incr", &cookie);
            }
        })
    };
    let mut ours = 0;
    while !python.is_finished() {
        ours += 1;
        let reply = rust.get(&format!("/set?key=rust&value={ours}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    python.join().unwrap();
    assert!(ours > 1, "the requests did not overlap");
    assert_eq!(py.body("/read", &cookie), (PYTHON_REQUESTS + 1).to_string());
}

#[tokio::test]
async fn an_original_session_upgrades_once() {
    let redis = RedisServer::start();
    let py = PyApp::start(&redis.url(), None);
    let (_, cookie) = py.get("/incr", None);
    let cookie = cookie.unwrap();
    py.body("/flash?msg=kept", &cookie);
    let token = py.body("/csrf", &cookie);
    let id = tool(&["verify", PY_SECRET, &cookie]);

    // Native mode, with the Pyramid app's secret: upgrade mode.
    let mut rust = rust_app(&redis, |b| b.legacy_secret(Some(PY_SECRET.into())));
    rust.cookie = Some(cookie.clone());
    let reply = rust.get("/read").await;
    assert_eq!(reply.body, "1");
    let native = reply
        .cookie("session")
        .expect("a native cookie replaces it");
    assert!(native.contains('.'), "{native}");
    assert!(!redis_key_exists(&redis, &id), "the original is gone");
    assert_eq!(rust.get("/incr").await.body, "2");
    assert_eq!(
        rust.get("/pop_flash").await.json(),
        serde_json::json!(["kept"])
    );
    assert_eq!(rust.get("/csrf").await.body, token);

    // The original cookie works no more, here or in Python.
    assert_eq!(rust.send("/read", Some(cookie.clone())).await.body, "0");
    assert_eq!(py.body("/read", &cookie), "0");

    // A session holding a Python object is left as it was.
    let (_, cookie) = py.get("/set_datetime?key=when", None);
    let cookie = cookie.unwrap();
    let reply = rust.send("/keys", Some(cookie.clone())).await;
    assert_eq!(reply.json(), serde_json::json!([]));
    assert_eq!(py.body("/is_datetime?key=when", &cookie), "yes");
}

#[tokio::test]
async fn without_legacy_settings_original_cookies_are_ignored() {
    let redis = RedisServer::start();
    let py = PyApp::start(&redis.url(), None);
    let (_, cookie) = py.get("/incr", None);
    let cookie = cookie.unwrap();
    let rust = rust_app(&redis, |b| b);
    assert_eq!(rust.send("/read", Some(cookie.clone())).await.body, "0");
    assert_eq!(py.body("/read", &cookie), "1");
}

/// The conformance app's way in: `SETTINGS` names an INI file whose
/// `compat` and `legacy_secret` settings choose the original's formats.
#[tokio::test]
async fn compat_and_upgrade_modes_come_from_an_ini_file() {
    let redis = RedisServer::start();
    let py = PyApp::start(&redis.url(), None);
    let from_ini = |extra: &str| {
        let path = crate::config::ini(&format!(
            "[app:main]\npyramid.includes = redis_sessions\n\
             redis.sessions.secret = {SECRET}\nredis.sessions.url = {}\n{extra}",
            redis.url()
        ));
        let registry = redis_sessions::Configurator::from_ini(&path)
            .unwrap()
            .commit()
            .unwrap();
        Client::new(crate::app::router(registry.session_factory().unwrap()))
    };
    // Compat: the Python app's session is ours too, counter included.
    let (_, cookie) = py.get("/incr", None);
    let cookie = cookie.unwrap();
    let mut shared = from_ini(&format!(
        "redis.sessions.compat = pyramid_redis_sessions\nredis.sessions.legacy_secret = {PY_SECRET}\n"
    ));
    shared.cookie = Some(cookie.clone());
    assert_eq!(shared.get("/incr").await.body, "2");
    assert_eq!(py.body("/read", &cookie), "2");
    // Upgrade: a native app moves it into its own format, once.
    let mut native = from_ini(&format!("redis.sessions.legacy_secret = {PY_SECRET}\n"));
    native.cookie = Some(cookie.clone());
    let reply = native.get("/incr").await;
    assert_eq!(reply.body, "3");
    let upgraded = reply.cookie("session").expect("a native cookie");
    assert_ne!(upgraded, cookie);
    assert_eq!(native.get("/read").await.body, "3");
    assert_eq!(
        native.send("/read", Some(cookie.clone())).await.body,
        "0",
        "the original cookie no longer works"
    );
    assert_eq!(py.body("/read", &cookie), "0", "nor in the Python app");
}

#[tokio::test]
async fn checklist_32_a_pickle_that_expands_past_the_budget_is_a_corrupt_session() {
    let redis = RedisServer::start();
    let blob = tool(&["bomb"]);
    let bytes: Vec<u8> = (0..blob.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&blob.trim()[i..i + 2], 16).unwrap())
        .collect();
    assert!(bytes.len() < 2000, "a small pickle: {} bytes", bytes.len());
    let id = "ab".repeat(32);
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&id)
        .arg(&bytes)
        .query(&mut conn)
        .unwrap();
    let mut rust = shared(&redis);
    rust.cookie = Some(tool(&["sign", PY_SECRET, &id]));
    // 2^18 copies of 1 KB once expanded: refused at the 1 MiB budget, so
    // the request gets a fresh session instead of gigabytes of memory.
    let reply = rust.get("/get?key=y").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "null"));
    assert!(
        redis_key_exists(&redis, &id),
        "left in place for the Python app"
    );
}
