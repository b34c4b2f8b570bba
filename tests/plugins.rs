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
async fn checklist_13_the_encrypting_codec_seals_values_to_their_session_and_field() {
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
        text.contains("rebuild the plugin with the same rustc and redis-sessions-plugin"),
        "{text}"
    );
}

#[test]
fn each_way_a_plugin_fails_has_its_own_message() {
    let cases = [
        (
            "nostamp.codec",
            "exports no `redis_sessions_plugin_stamp`: expected a plugin made with redis_sessions_plugin::export_plugin!",
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
fn checklist_38_a_library_whose_stamp_is_data_is_refused_before_it_is_loaded() {
    // Both fixtures abort the process from a constructor if they are ever
    // loaded, and jumping to a data stamp would crash it.
    let err = session_factory_from_settings(
        &settings("memory://").with("redis.sessions.serialize", "datastamp.codec"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Name);
    let text = err.to_string();
    assert!(
        text.contains("libdatastamp.so is not a plugin library: `redis_sessions_plugin_stamp` is a data object, not a function; expected a cdylib made with redis_sessions_plugin::export_plugin!"),
        "{text}"
    );
    let err = session_factory_from_settings(
        &settings("memory://").with("redis.sessions.serialize", "nostamp.codec"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("libnostamp.so exports no `redis_sessions_plugin_stamp`"),
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

fn ini_with_plugins(extra: &str) -> std::path::PathBuf {
    ini(&format!(
        "[app:main]\nredis.sessions.plugin_path = {}\n{extra}",
        plugin_dir().display()
    ))
}

#[tokio::test]
async fn a_plugin_included_from_an_ini_file_registers_its_names() {
    let server = RedisServer::start();
    let path = ini_with_plugins(&format!(
        "pyramid.includes = hostroute redis_sessions\n\
         redis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n\
         redis.sessions.client_callable = hostroute.by_host\n\
         redis.sessions.hostroute.map = a.test {}\n",
        server.url()
    ));
    let mut config = Configurator::from_ini(&path).unwrap();
    config.include("hostroute").unwrap();
    assert_eq!(
        config.names().loaded_packages().collect::<Vec<_>>(),
        ["hostroute"]
    );
    assert!(
        config
            .names()
            .declared_settings()
            .any(|(key, secret)| key == "redis.sessions.hostroute.map" && !secret)
    );
    let registry = config.commit().unwrap();
    let mut c = Client::new(app::router(registry.session_factory().unwrap()));
    c.get("http://a.test/incr").await;
    assert_eq!(server.keys(), [key_of(&c.id())]);
}

#[test]
fn settings_of_included_plugins_are_checked_with_file_and_line() {
    let path = ini_with_plugins(
        "pyramid.includes = hostroute\n\
         redis.sessions.hostroute.map = a.test\n\
         redis.sessions.hostroute.mpa = b.test redis://b\n\
         redis.sessions.hostroute.default = localhost\n\
         redis.sessions.elsewhere.thing = 1\n",
    );
    let err = Configurator::from_ini(&path).unwrap().commit().unwrap_err();
    let file = path.display();
    let lines: Vec<String> = err.to_string().lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            format!(
                "{file}:4: redis.sessions.hostroute.map = \"a.test\": entry 1: expected `host url`, e.g. shop.example.com redis://127.0.0.1:6379/0"
            ),
            format!(
                "{file}:5: redis.sessions.hostroute.mpa: unknown setting: did you mean redis.sessions.hostroute.map?"
            ),
            format!(
                "{file}:6: redis.sessions.hostroute.default = \"localhost\": expected a Redis URL, e.g. redis://127.0.0.1:6379/0"
            ),
            format!(
                "{file}:7: redis.sessions.elsewhere.thing: unknown setting: no included package declares it: expected a setting of a loaded plugin (name one of its objects, or list elsewhere in pyramid.includes)"
            ),
        ]
    );
    assert_eq!(err.problems()[1].kind(), ErrorKind::Unknown);
    assert_eq!(err.problems()[0].kind(), ErrorKind::Invalid);
}

#[test]
fn a_failing_plugin_includeme_registers_nothing() {
    let path = ini_with_plugins("pyramid.includes = hostroute\n");
    let mut config = Configurator::from_ini(&path).unwrap();
    let err = config.include("hostroute").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot include hostroute: ")
            && text.contains("libhostroute.so: includeme failed: hostroute routes no host: set redis.sessions.hostroute.map"),
        "{text}"
    );
    assert_eq!(err.problems()[0].line(), Some(3), "{text}");
    assert_eq!(config.names().loaded_packages().count(), 0);
    assert_eq!(config.names().declared_settings().count(), 0);
}

#[test]
fn secret_plugin_settings_never_show_their_values() {
    let path = ini_with_plugins(
        "pyramid.includes = aead\n\
         redis.sessions.aead.key = sekrit-value\n\
         redis.sessions.aead.kye = sekrit-typo\n",
    );
    let err = Configurator::from_ini(&path).unwrap().commit().unwrap_err();
    let file = path.display();
    assert_eq!(
        err.to_string(),
        format!(
            "{file}:4: redis.sessions.aead.key: the key has 12 characters: expected 64 hex digits (32 random bytes), e.g. the output of `openssl rand -hex 32`\n\
             {file}:5: redis.sessions.aead.kye: unknown setting: did you mean redis.sessions.aead.key?"
        )
    );
    assert!(!format!("{err:?}").contains("sekrit"));
}

#[test]
fn a_panic_in_a_plugin_is_caught_on_its_side() {
    let err = session_factory_from_settings(
        &settings("memory://").with("redis.sessions.serialize", "panicky.codec"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("libpanicky.so: the plugin panicked"),
        "{err}"
    );
    let path = ini_with_plugins("includes = panicky\nredis.sessions.panicky.when = include\n");
    let err = Configurator::from_ini(&path).unwrap().commit().unwrap_err();
    assert!(
        err.to_string()
            .contains("libpanicky.so: includeme failed: the plugin panicked"),
        "{err}"
    );
}

#[test]
fn a_plugin_cannot_declare_the_librarys_own_settings() {
    let path = ini_with_plugins(
        "includes = panicky
redis.sessions.panicky.when = declare-core
",
    );
    let err = Configurator::from_ini(&path).unwrap().commit().unwrap_err();
    assert!(
        err.to_string()
            .contains("libpanicky.so: includeme failed: the host refused redis.sessions.timeout"),
        "{err}"
    );
}

#[test]
fn app_names_get_suggestions_and_are_never_searched_as_plugins() {
    let path = ini_with_plugins(&format!(
        "redis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n\
         redis.sessions.serialize = myapp.codecs.jsno\n\
         redis.sessions.deserialize = myapp.codecs.xml\n"
    ));
    let mut config = Configurator::from_ini(&path).unwrap();
    config.register_codec("myapp.codecs.json", redis_sessions::codec::Json);
    let text = config.include("redis_sessions").unwrap_err().to_string();
    assert!(
        text.contains("no codec is named \"myapp.codecs.jsno\": did you mean myapp.codecs.json?"),
        "{text}"
    );
    assert!(
        text.contains("no codec is named \"myapp.codecs.xml\" (myapp.* names are registered in code, and this is not one of them)"),
        "{text}"
    );
    assert!(!text.contains("libmyapp"), "{text}");
    assert_eq!(config.names().loaded_packages().count(), 0);

    let path = ini_with_plugins("pyramid.includes = redis_sesions\n");
    let err = Configurator::from_ini(&path).unwrap().commit().unwrap_err();
    assert!(
        err.to_string().ends_with(
            ":3: pyramid.includes = \"redis_sesions\": no include is named \"redis_sesions\": did you mean redis_sessions?"
        ),
        "{err}"
    );
}

#[test]
fn a_package_whose_library_is_missing_is_not_loaded() {
    let path = ini_with_plugins(&format!(
        "redis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n\
         redis.sessions.serialize = missing.one\nredis.sessions.deserialize = missing.two\n"
    ));
    let mut config = Configurator::from_ini(&path).unwrap();
    let err = config.include("redis_sessions").unwrap_err();
    // Both names get the true reason; neither claims the library loaded.
    assert_eq!(err.problems().len(), 2, "{err}");
    for problem in err.problems() {
        assert!(
            problem
                .message()
                .starts_with("no plugin library libmissing.so in redis.sessions.plugin_path"),
            "{problem}"
        );
    }
    assert_eq!(config.names().loaded_packages().count(), 0);
}

#[test]
fn plugins_depend_on_the_plugin_abi_crate_alone() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for package in [
        "redis-sessions-aead",
        "redis-sessions-hostroute",
        "redis-sessions-idgen",
    ] {
        let out = std::process::Command::new(&cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "tree",
                "-p",
                package,
                "-e",
                "normal,build",
                "--prefix",
                "none",
            ])
            .output()
            .unwrap();
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let crates: Vec<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert!(
            crates.contains(&"redis-sessions-plugin"),
            "{package}: {tree}"
        );
        for host in ["redis-sessions", "redis", "tokio"] {
            assert!(
                !crates.contains(&host),
                "{package} depends on {host}: {tree}"
            );
        }
    }
}
