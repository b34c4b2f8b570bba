//! Configuration end to end: INI files, the Configurator and includes, name
//! resolution, code-only settings.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis_sessions::codec::Json;
use redis_sessions::config::{Configurator, ErrorKind, Settings, session_factory_from_settings};

use crate::app;
use crate::support::{Client, RedisServer, SECRET, key_of};

static N: AtomicUsize = AtomicUsize::new(0);

/// Writes `text` to a fresh INI file and returns its path.
pub fn ini(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "redis-sessions-config-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.ini");
    std::fs::write(&path, text).unwrap();
    path
}

fn base(extra: &str) -> String {
    format!("[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n{extra}")
}

#[tokio::test]
async fn the_includes_line_builds_the_factory_on_commit() {
    for key in ["pyramid.includes", "includes"] {
        let path = ini(&base(&format!(
            "{key} =\n    redis_sessions\nredis.sessions.timeout = 77\n"
        )));
        let registry = Configurator::from_ini(&path).unwrap().commit().unwrap();
        let factory = registry.session_factory().expect("the includes line ran");
        assert_eq!(factory.timeout(), 77);
        let mut c = Client::new(app::router(factory));
        assert_eq!(c.get("/incr").await.body, "1");
        assert_eq!(c.get("/info").await.json()["timeout"], 77);
    }
}

#[test]
fn include_is_idempotent_and_unknown_includes_fail() {
    let mut config = Configurator::from_ini(ini(&base(""))).unwrap();
    config.include("redis_sessions").unwrap();
    config.include("redis_sessions").unwrap();
    assert!(config.registry().session_factory().is_some());
    let err = config.include("pyramid_tm").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Name);
    assert!(
        err.to_string()
            .contains("no include is named \"pyramid_tm\""),
        "{err}"
    );

    let path = ini(&base("pyramid.includes = redis_sessions nosuch\n"));
    let err = Configurator::from_ini(&path).unwrap().commit().unwrap_err();
    assert_eq!(err.problems()[0].line(), Some(4), "{err}");
}

#[test]
fn app_registered_includemes_and_names_are_used() {
    fn includeme(config: &mut Configurator) -> Result<(), redis_sessions::config::Error> {
        config.registry_mut().insert(String::from("included"));
        config.include("redis_sessions")
    }
    let path = ini(&base(
        "includes = myapp\nredis.sessions.serialize = myapp.codecs.json\nredis.sessions.deserialize = myapp.codecs.json\n",
    ));
    let mut config = Configurator::from_ini(&path).unwrap();
    config.register_includeme("myapp", includeme);
    config.register_codec("myapp.codecs.json", Json);
    let registry = config.commit().unwrap();
    assert_eq!(
        registry.get::<String>().map(String::as_str),
        Some("included")
    );
    assert!(registry.session_factory().is_some());
}

#[tokio::test]
async fn builtin_codec_names_change_what_redis_stores() {
    let server = RedisServer::start();
    let mut names = vec![("json", b"\"v\"".to_vec()), ("msgpack", vec![0xa1, b'v'])];
    if cfg!(feature = "bincode") {
        names.push(("bincode", vec![1, 0, 0, 0, 0, 0, 0, 0, b'v']));
    }
    for (name, stored) in names {
        let settings = Settings::new()
            .with("redis.sessions.secret", SECRET)
            .with("redis.sessions.url", server.url())
            .with("redis.sessions.serialize", name)
            .with("redis.sessions.deserialize", name)
            .with(
                "redis.sessions.id_generator",
                if name == "json" {
                    "redis_sessions.id.generate_session_id"
                } else {
                    "generate_session_id"
                },
            );
        let factory = session_factory_from_settings(&settings).unwrap();
        let mut c = Client::new(app::router(&factory));
        c.get("/set?key=k&value=v").await;
        let raw: Vec<u8> = redis::cmd("HGET")
            .arg(key_of(&c.id()))
            .arg("k")
            .query(&mut server.conn())
            .unwrap();
        assert_eq!(raw, stored, "{name}");
        // Typed values round-trip through every codec...
        c.get("/incr").await;
        assert_eq!(c.get("/incr").await.body, "2", "{name}");
        // ...and self-describing ones also decode into dynamic values.
        if name != "bincode" {
            assert_eq!(c.get("/get?key=k").await.json(), "v", "{name}");
        }
    }
}

#[tokio::test]
async fn code_only_settings_take_objects() {
    let settings = Settings::new()
        .with("redis.sessions.secret", SECRET)
        .with("redis.sessions.url", "memory://")
        .with_codec("redis.sessions.serialize", Json)
        .with_codec("redis.sessions.deserialize", Json)
        .with_id_generator("redis.sessions.id_generator", || {
            "fixed-but-long-enough-id-1".to_string()
        });
    let factory = session_factory_from_settings(&settings).unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("/incr").await;
    assert_eq!(c.id(), "fixed-but-long-enough-id-1");
}

#[test]
fn every_problem_in_a_file_is_reported_with_its_line() {
    let path = ini("[app:main]\n\
         redis.sessions.secret = short\n\
         redis.sessions.timeout = ten\n\
         redis.sessions.cookie_secure = maybe\n\
         redis.sessions.cookie_domian = example.com\n\
         redis.sessions.serialize = pickle\n\
         redis.sessions.socket_timeout = 1.5\n");
    let err = Configurator::from_ini(&path)
        .unwrap()
        .include("redis_sessions")
        .unwrap_err();
    let file = path.display();
    let expected = [
        format!(
            "{file}:2: redis.sessions.secret: the secret is 5 bytes long: expected at least 32 random bytes, e.g. the output of `openssl rand -base64 48`"
        ),
        format!("{file}:3: redis.sessions.timeout = \"ten\": expected whole seconds, e.g. 1200"),
        format!(
            "{file}:4: redis.sessions.cookie_secure = \"maybe\": expected true or false (also yes/no, on/off, y/n, t/f, 1/0)"
        ),
        format!(
            "{file}:5: redis.sessions.cookie_domian = \"example.com\": unknown setting: did you mean redis.sessions.cookie_domain?"
        ),
        format!(
            "{file}:6: redis.sessions.serialize = \"pickle\": no codec is named \"pickle\": expected one of {}, or a dotted name pkg.attr from a plugin library",
            if cfg!(feature = "bincode") {
                "bincode, json, msgpack"
            } else {
                "json, msgpack"
            }
        ),
    ];
    let lines: Vec<String> = err.to_string().lines().map(str::to_owned).collect();
    assert_eq!(lines, expected);
}

#[test]
fn a_missing_file_or_section_is_a_clear_error() {
    let err = Settings::from_ini("/nonexistent/app.ini").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/app.ini: cannot read the settings file"),
        "{err}"
    );
    let err = Settings::from_ini_section(ini(&base("")), "app:other").unwrap_err();
    assert!(
        err.to_string()
            .contains("no section [app:other]: expected one of [app:main]"),
        "{err}"
    );
}

#[test]
fn the_repository_settings_ini_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/settings.ini");
    let registry = Configurator::from_ini(path).unwrap().commit().unwrap();
    let factory = registry.session_factory().unwrap();
    assert_eq!(factory.store_description(), "the embedded in-memory store");
    assert_eq!(factory.timeout(), 1200);
}

#[test]
fn errors_returned_from_main_print_their_lines_not_a_struct() {
    let path = ini(&base(
        "redis.sessions.timeout = ten\nredis.sessions.cookie_secure = maybe\n",
    ));
    let err = Configurator::from_ini(&path)
        .unwrap()
        .include("redis_sessions")
        .unwrap_err();
    // What `fn main() -> Result<(), Box<dyn Error>>` prints after "Error: ".
    let boxed: Box<dyn std::error::Error> = Box::new(err.clone());
    let debug = format!("{boxed:?}");
    assert_eq!(debug, err.to_string());
    let file = path.display();
    assert_eq!(
        debug.lines().collect::<Vec<_>>(),
        [
            format!(
                "{file}:4: redis.sessions.timeout = \"ten\": expected whole seconds, e.g. 1200"
            ),
            format!(
                "{file}:5: redis.sessions.cookie_secure = \"maybe\": expected true or false (also yes/no, on/off, y/n, t/f, 1/0)"
            ),
        ]
    );
}

#[test]
fn new_settings_are_checked_with_their_file_and_line() {
    let path = ini(&base(
        "redis.sessions.timeout = 315360001\n\
         redis.sessions.cookie_name = __Host-session\n\
         redis.sessions.old_secrets = an-old-secret-that-is-long-enough-1 tiny\n\
         redis.sessions.tls_key_file = missing.key\n\
         redis.sessions.cache_control = private\n",
    ));
    let err = Configurator::from_ini(&path)
        .unwrap()
        .include("redis_sessions")
        .unwrap_err();
    let file = path.display();
    let lines: Vec<String> = err.to_string().lines().map(str::to_owned).collect();
    let key = path.with_file_name("missing.key");
    assert_eq!(
        lines,
        [
            format!(
                "{file}:4: redis.sessions.timeout = \"315360001\": expected whole seconds up to 315360000 (10 years), e.g. 1200"
            ),
            format!(
                "{file}:5: redis.sessions.cookie_name = \"__Host-session\": browsers drop a __Host- cookie unless its settings allow it: set redis.sessions.cookie_secure = true"
            ),
            format!(
                "{file}:6: redis.sessions.old_secrets: old secret number 2 is 4 bytes long: expected at least 32 bytes (a former redis.sessions.secret)"
            ),
            format!(
                "{file}:7: redis.sessions.tls_key_file = \"{}\": cannot read it (No such file or directory (os error 2)): expected a readable PEM file, e.g. /etc/redis/tls/ca.crt",
                key.display()
            ),
            format!(
                "{file}:7: redis.sessions.tls_key_file: a private key needs its client certificate: set redis.sessions.tls_cert_file too"
            ),
            format!(
                "{file}:8: redis.sessions.cache_control = \"private\": expected no-store or none"
            ),
        ]
    );
    assert!(!err.to_string().contains("an-old-secret"), "{err}");
}

#[test]
fn warnings_of_an_ini_file_name_their_line() {
    let path = ini(&format!(
        "[app:main]\nredis.sessions.url = memory://\nredis.sessions.secret = {SECRET}\n\
         redis.sessions.cookie_secure = false\nredis.sessions.legacy_prefix = old:\n"
    ));
    let mut config = Configurator::from_ini(&path).unwrap();
    config.include("redis_sessions").unwrap();
    let factory = config.registry().session_factory().unwrap();
    let file = path.display();
    let warnings: Vec<String> = factory.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "{file}:4: redis.sessions.cookie_secure: the session cookie is also sent over plain HTTP: set redis.sessions.cookie_secure = true outside development"
            ),
            format!(
                "{file}:5: redis.sessions.legacy_prefix: has no effect without redis.sessions.legacy_secret (upgrade mode) or redis.sessions.compat = pyramid_redis_sessions"
            ),
        ]
    );
    assert!(
        factory
            .warnings()
            .iter()
            .all(|w| w.kind() == ErrorKind::Warning)
    );
}
