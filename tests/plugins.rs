//! Plugin libraries loaded for real: the three in `plugins/` used end to end
//! against real redis-server processes, and every way a library is refused.

use redis_sessions::config::{Configurator, ErrorKind, Settings, session_factory_from_settings};

use crate::app;
use crate::config::ini;
use crate::support::plugins::plugin_dir;
use crate::support::{Client, RedisServer, SECRET, key_of};

const AEAD_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn settings(url: &str) -> Settings {
    Settings::new()
        .with("redis.sessions.secret", SECRET)
        .with("redis.sessions.url", url)
        .with(
            "redis.sessions.plugin_path",
            plugin_dir().display().to_string(),
        )
}

fn raw(server: &RedisServer, id: &str, field: &str) -> Vec<u8> {
    redis::cmd("HGET")
        .arg(key_of(id))
        .arg(field)
        .query(&mut server.conn())
        .unwrap()
}

#[tokio::test]
async fn the_encrypting_codec_seals_values_to_their_session_and_field() {
    let server = RedisServer::start();
    let path = ini(&format!(
        "[app:main]\npyramid.includes = redis_sessions\n\
         redis.sessions.secret = {SECRET}\nredis.sessions.url = {}\n\
         redis.sessions.plugin_path = {}\n\
         redis.sessions.serialize = aead.encrypt\nredis.sessions.deserialize = aead.decrypt\n\
         redis.sessions.aead.key = {AEAD_KEY}\n",
        server.url(),
        plugin_dir().display()
    ));
    let registry = Configurator::from_ini(&path).unwrap().commit().unwrap();
    let factory = registry.session_factory().unwrap();
    let mut a = Client::new(app::router(factory));
    a.get("/set?key=role&value=admin-secret-value").await;
    a.get("/set?key=other&value=x").await;
    assert_eq!(a.get("/get?key=role").await.json(), "admin-secret-value");
    let stored = raw(&server, &a.id(), "role");
    assert!(
        !stored.windows(5).any(|w| w == b"admin"),
        "stored in the clear: {stored:?}"
    );
    assert_eq!(stored[0], 1, "format version byte");

    // A value copied to another field, or to another session, does not open:
    // that session starts afresh instead of trusting it.
    let mut b = a.clone();
    b.cookie = None;
    b.get("/set?key=role&value=guest").await;
    redis::cmd("HSET")
        .arg(key_of(&b.id()))
        .arg("role")
        .arg(&stored)
        .query::<()>(&mut server.conn())
        .unwrap();
    assert_eq!(b.get("/get?key=role").await.json(), serde_json::Value::Null);
    redis::cmd("HSET")
        .arg(key_of(&a.id()))
        .arg("other")
        .arg(&stored)
        .query::<()>(&mut server.conn())
        .unwrap();
    assert_eq!(a.get("/keys").await.json(), serde_json::json!([]));

    // Regenerate re-seals everything for the new key.
    let mut c = Client::new(app::router(factory));
    c.get("/set?key=k&value=v").await;
    c.get("/regenerate").await;
    assert_eq!(c.get("/get?key=k").await.json(), "v");
}

#[test]
fn the_encrypting_codec_needs_its_key() {
    let err = session_factory_from_settings(
        &settings("memory://").with("redis.sessions.serialize", "aead.encrypted"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Name);
    assert!(
        err.to_string()
            .contains("redis.sessions.aead.key is not set"),
        "{err}"
    );
    let err = session_factory_from_settings(
        &settings("memory://")
            .with("redis.sessions.serialize", "aead.encrypted")
            .with("redis.sessions.aead.key", "abc"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("has 3 characters"), "{err}");
    assert!(
        !err.to_string().contains("\"abc\""),
        "the key is a secret: {err}"
    );
}

#[test]
fn plugin_settings_are_unknown_until_their_plugin_is_loaded() {
    let err = session_factory_from_settings(
        &settings("memory://").with("redis.sessions.aead.key", AEAD_KEY),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unknown);
    assert!(!err.to_string().contains(AEAD_KEY), "{err}");
}

#[tokio::test]
async fn the_host_router_picks_a_server_per_request() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    let map = format!("\n    a.test {}\n    b.test {}", a.url(), b.url());
    let factory = session_factory_from_settings(
        &settings("memory://")
            .with("redis.sessions.client_callable", "hostroute.by_host")
            .with("redis.sessions.hostroute.map", map),
    )
    .unwrap();
    assert_eq!(
        factory.store_description(),
        "chosen per request by client_callable"
    );
    let mut c = Client::new(app::router(&factory));
    c.get("http://a.test/incr").await;
    assert_eq!(a.keys(), [key_of(&c.id())]);
    assert!(b.keys().is_empty());
    c.cookie = None;
    let mut request_b = c.clone();
    request_b.get("http://B.TEST/incr").await;
    request_b.get("http://b.test/incr").await;
    assert_eq!(request_b.get("http://b.test/read").await.body, "2");
    assert_eq!(b.keys(), [key_of(&request_b.id())]);
    let unknown = c.get("http://elsewhere.test/incr").await;
    assert_eq!(unknown.status, 500, "{unknown:?}");
    assert!(unknown.set_cookie.is_empty());
}

#[tokio::test]
async fn the_sortable_id_generator_makes_ids() {
    let server = RedisServer::start();
    let factory = session_factory_from_settings(
        &settings(&server.url())
            .with("redis.sessions.id_generator", "idgen.sortable")
            .with("redis.sessions.idgen.random_bytes", "16"),
    )
    .unwrap();
    let mut first = Client::new(app::router(&factory));
    first.get("/incr").await;
    let mut second = Client::new(app::router(&factory));
    second.get("/incr").await;
    for id in [first.id(), second.id()] {
        assert_eq!(id.len(), 12 + 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    assert!(first.id()[..12] <= second.id()[..12]);
    assert_eq!(server.keys().len(), 2);
    let err = session_factory_from_settings(
        &settings("memory://")
            .with("redis.sessions.id_generator", "idgen.sortable")
            .with("redis.sessions.idgen.random_bytes", "8"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("expected a number from 16 to 64"),
        "{err}"
    );
}

#[test]
fn a_plugin_with_a_wrong_stamp_is_refused_without_being_called() {
    // If the host called the fixture's registration function, the whole test
    // process would abort.
    let err = session_factory_from_settings(
        &settings("memory://").with("redis.sessions.serialize", "badstamp.codec"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Name);
    assert!(
        text.contains("libbadstamp.so was built as \"redis-sessions plugin abi 999;"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "but this program is \"{}\"",
            redis_sessions::plugin::ABI_STAMP
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "rebuild the plugin with the same rustc, redis-sessions version and features"
        ),
        "{text}"
    );
}

#[test]
fn each_way_a_plugin_fails_has_its_own_message() {
    let cases = [
        (
            "nostamp.codec",
            "exports no `REDIS_SESSIONS_PLUGIN_STAMP`: expected a plugin made with redis_sessions::export_plugin!",
        ),
        (
            "missing.codec",
            "no plugin library libmissing.so in redis.sessions.plugin_path",
        ),
        (
            "idgen.nope",
            "no codec is named \"idgen.nope\" (libidgen was loaded but does not register it)",
        ),
        ("nodots", "no codec is named \"nodots\": expected one of"),
    ];
    for (name, expected) in cases {
        let err = session_factory_from_settings(
            &settings("memory://").with("redis.sessions.serialize", name),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Name, "{name}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    let err = session_factory_from_settings(
        &Settings::new()
            .with("redis.sessions.secret", SECRET)
            .with("redis.sessions.url", "memory://")
            .with("redis.sessions.serialize", "aead.encrypt"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("(no folders: set redis.sessions.plugin_path)"),
        "{err}"
    );
}

#[test]
fn plugin_path_takes_several_folders() {
    let settings = Settings::new()
        .with("redis.sessions.secret", SECRET)
        .with("redis.sessions.url", "memory://")
        .with(
            "redis.sessions.plugin_path",
            format!("/nonexistent/first\n    {}", plugin_dir().display()),
        )
        .with("redis.sessions.id_generator", "idgen.sortable");
    assert!(session_factory_from_settings(&settings).is_ok());
}
