use super::*;
use crate::cookie::SameSite;
use crate::problem::ErrorKind;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn keys(err: &crate::config::Error) -> Vec<&str> {
    err.problems().iter().map(|p| p.key().unwrap()).collect()
}

#[test]
fn defaults_are_the_manuals() {
    let f = RedisSessionFactory::builder(SECRET).build().unwrap();
    let s = &f.context;
    assert_eq!(s.timeout, 1200);
    assert_eq!(s.cookie.name, "session");
    assert_eq!(s.cookie.max_age, None);
    assert_eq!(s.cookie.path, "/");
    assert_eq!(s.cookie.domain, None);
    assert!(!s.cookie.secure);
    assert!(s.cookie.httponly);
    assert_eq!(s.cookie.samesite, SameSite::Lax);
    assert!(s.cookie_on_exception);
    assert_eq!(s.redis, RedisOptions::default());
    assert_eq!(s.redis.host, "localhost");
    assert_eq!(s.redis.port, 6379);
    assert_eq!(s.serialize.name(), "msgpack");
    assert_eq!(s.prefix, "");
    assert_eq!(s.max_session_bytes, 1_048_576);
    assert_eq!(s.max_lifetime, None);
    assert_eq!(s.cache_control, CacheControl::NoStore);
    assert_eq!(s.compat, Compat::None);
    assert!(s.legacy.is_none());
    assert_eq!(s.signer.old_secrets(), 0);
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = RedisSessionFactory::builder("")
        .cookie_name("bad name")
        .charset("latin-1")
        .errors("loud")
        .cookie_samesite(SameSite::None)
        .build()
        .unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "redis.sessions.secret",
            "redis.sessions.cookie_name",
            "redis.sessions.cookie_samesite",
            "redis.sessions.charset",
            "redis.sessions.errors",
        ]
    );
    assert_eq!(err.problems()[0].kind(), ErrorKind::Missing);
}

#[test]
fn debug_output_redacts_secrets() {
    let f = RedisSessionFactory::builder(SECRET)
        .old_secrets(["an old secret that is long enough, too!"])
        .password(Some("hunter2hunter2".into()))
        .compat(Compat::PyramidRedisSessions)
        .legacy_secret(Some("the python app's secret".into()))
        .build()
        .unwrap();
    let text = format!("{f:?}");
    for secret in [SECRET, "hunter2", "an old secret", "python app"] {
        assert!(!text.contains(secret), "{text}");
    }
    let builder = format!(
        "{:?}",
        RedisSessionFactory::builder(SECRET)
            .old_secrets(["an old secret that is long enough, too!"])
    );
    assert!(
        !builder.contains(SECRET) && !builder.contains("an old"),
        "{builder}"
    );
}

#[test]
fn url_takes_text_or_an_option() {
    let from_str = RedisSessionFactory::builder(SECRET)
        .url("redis://127.0.0.1:6391/0")
        .build()
        .unwrap();
    assert_eq!(from_str.store_description(), "redis://127.0.0.1:6391/0");
    let from_option = RedisSessionFactory::builder(SECRET)
        .url(Some("redis://127.0.0.1:6390/1".into()))
        .build()
        .unwrap();
    assert_eq!(from_option.store_description(), "redis://127.0.0.1:6390/1");
    let unset = RedisSessionFactory::builder(SECRET)
        .url(String::from("redis://127.0.0.1:6391/0"))
        .url(None)
        .build()
        .unwrap();
    assert_eq!(unset.store_description(), "localhost:6379 db 0");
}

#[test]
fn timeouts_and_lifetimes_beyond_the_maximum_are_refused() {
    let max = store::MAX_TIMEOUT;
    assert!(
        RedisSessionFactory::builder(SECRET)
            .timeout(max)
            .build()
            .is_ok()
    );
    let err = RedisSessionFactory::builder(SECRET)
        .timeout(max + 1)
        .max_lifetime(Some(u64::MAX))
        .max_session_bytes(0)
        .build()
        .unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "redis.sessions.timeout",
            "redis.sessions.max_lifetime",
            "redis.sessions.max_session_bytes"
        ]
    );
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ErrorKind::Invalid)
    );
    assert!(
        err.to_string().contains("up to 315360000 (10 years)"),
        "{err}"
    );
    let err = RedisSessionFactory::builder(SECRET)
        .max_lifetime(Some(0))
        .max_session_bytes(MAX_SESSION_BYTES + 1)
        .build()
        .unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
}

#[test]
fn new_settings_reach_the_context() {
    let f = RedisSessionFactory::builder(SECRET)
        .old_secrets(["an old secret that is long enough, too!"])
        .max_lifetime(Some(86_400))
        .max_session_bytes(4096)
        .cache_control(CacheControl::None)
        .build()
        .unwrap();
    let c = &f.context;
    assert_eq!(c.signer.old_secrets(), 1);
    assert_eq!(c.max_lifetime, Some(86_400));
    assert_eq!(c.max_session_bytes, 4096);
    assert_eq!(c.cache_control, CacheControl::None);
}

#[test]
fn short_old_secrets_are_refused() {
    let err = RedisSessionFactory::builder(SECRET)
        .old_secrets(["an old secret that is long enough, too!", "short"])
        .build()
        .unwrap_err();
    assert_eq!(keys(&err), ["redis.sessions.old_secrets"]);
    assert!(
        err.to_string()
            .contains("old secret number 2 is 5 bytes long"),
        "{err}"
    );
    assert!(!err.to_string().contains("short\""), "{err}");
}

#[test]
fn checklist_09_host_and_secure_prefixes_are_enforced_at_build() {
    let host = |secure: bool, path: &str, domain: Option<&str>| {
        RedisSessionFactory::builder(SECRET)
            .cookie_name("__Host-session")
            .cookie_secure(secure)
            .cookie_path(path)
            .cookie_domain(domain.map(str::to_owned))
            .build()
    };
    assert!(host(true, "/", None).is_ok());
    for (secure, path, domain, fix) in [
        (false, "/", None, "cookie_secure = true"),
        (true, "/app", None, "cookie_path = /"),
        (
            true,
            "/",
            Some("example.com"),
            "remove redis.sessions.cookie_domain",
        ),
    ] {
        let err = host(secure, path, domain).unwrap_err();
        assert_eq!(err.problems()[0].kind(), ErrorKind::Conflict, "{err}");
        assert_eq!(keys(&err), ["redis.sessions.cookie_name"], "{err}");
        assert!(err.to_string().contains(fix), "{err}");
    }
    assert_eq!(
        host(false, "/x", Some("a.example"))
            .unwrap_err()
            .problems()
            .len(),
        3
    );
    let secure = |on: bool| {
        RedisSessionFactory::builder(SECRET)
            .cookie_name("__Secure-sid")
            .cookie_secure(on)
            .cookie_path("/app")
            .cookie_domain(Some("example.com".into()))
            .build()
    };
    assert!(secure(true).is_ok());
    assert_eq!(
        secure(false).unwrap_err().problems()[0].kind(),
        ErrorKind::Conflict
    );
    // Browsers match the prefixes in any case.
    assert!(
        RedisSessionFactory::builder(SECRET)
            .cookie_name("__HOST-sid")
            .build()
            .is_err()
    );
}

#[test]
fn checklist_29_weak_secrets_and_insecure_cookies_are_warned_about() {
    let f = RedisSessionFactory::builder("your_cookie_signing_secret_your_cookie")
        .build()
        .unwrap();
    let warned: Vec<_> = f.warnings().iter().map(|w| w.key().unwrap()).collect();
    assert_eq!(
        warned,
        ["redis.sessions.secret", "redis.sessions.cookie_secure"]
    );
    assert!(f.warnings().iter().all(|w| w.kind() == ErrorKind::Warning));
    let text = f.warnings()[0].to_string();
    assert!(!text.contains("your_cookie_signing"), "{text}");
    let few = RedisSessionFactory::builder("ab".repeat(20))
        .cookie_secure(true)
        .build()
        .unwrap();
    assert!(
        few.warnings()[0].message().contains("2 distinct bytes"),
        "{:?}",
        few.warnings()
    );
    let good = RedisSessionFactory::builder("q3Vd8J0m2yPZkQ5x7fLrT1sWnB4cH6gA9eUoIiKjM0pR")
        .cookie_secure(true)
        .build()
        .unwrap();
    assert!(good.warnings().is_empty(), "{:?}", good.warnings());
    // Short and missing secrets stop the build.
    let err = RedisSessionFactory::builder("short").build().unwrap_err();
    assert_eq!(err.problems()[0].kind(), ErrorKind::Invalid);
}

#[test]
fn tls_files_must_be_readable_and_paired() {
    let dir = std::env::temp_dir().join(format!("rs-factory-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("client.crt");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let missing = dir.join("missing.key");
    let err = RedisSessionFactory::builder(SECRET)
        .tls_ca_file(Some(dir.clone()))
        .tls_cert_file(Some(cert.clone()))
        .build()
        .unwrap_err();
    assert_eq!(
        keys(&err),
        ["redis.sessions.tls_ca_file", "redis.sessions.tls_cert_file"]
    );
    assert_eq!(err.problems()[1].kind(), ErrorKind::Conflict);
    let err = RedisSessionFactory::builder(SECRET)
        .tls_cert_file(Some(cert.clone()))
        .tls_key_file(Some(missing.clone()))
        .build()
        .unwrap_err();
    assert_eq!(keys(&err), ["redis.sessions.tls_key_file"]);
    assert_eq!(err.problems()[0].value(), Some(missing.to_str().unwrap()));
    assert!(
        err.to_string().contains("expected a readable PEM file"),
        "{err}"
    );
    // Readable and paired, but the connection does not use TLS.
    let err = RedisSessionFactory::builder(SECRET)
        .tls_cert_file(Some(cert.clone()))
        .tls_key_file(Some(cert.clone()))
        .build()
        .unwrap_err();
    assert_eq!(keys(&err), ["redis.sessions.tls_cert_file"]);
    assert!(err.to_string().contains("rediss://"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compat_resolves_legacy_settings_to_ours_and_warns_when_they_do_nothing() {
    let f = RedisSessionFactory::builder(SECRET)
        .prefix("app:")
        .compat(Compat::PyramidRedisSessions)
        .legacy_cookie_name(Some("pyramid_session".into()))
        .build()
        .unwrap();
    let legacy = f.context.legacy.as_ref().unwrap();
    assert_eq!(legacy.secret, SECRET);
    assert_eq!(legacy.prefix, "app:");
    assert_eq!(legacy.cookie_name, "pyramid_session");
    let idle = RedisSessionFactory::builder(SECRET)
        .legacy_prefix(Some("old:".into()))
        .build()
        .unwrap();
    assert!(idle.context.legacy.is_none());
    assert!(
        idle.warnings()
            .iter()
            .any(|w| w.key() == Some("redis.sessions.legacy_prefix"))
    );
    let err = RedisSessionFactory::builder(SECRET)
        .compat(Compat::PyramidRedisSessions)
        .legacy_cookie_name(Some("bad name".into()))
        .legacy_secret(Some(String::new()))
        .build()
        .unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "redis.sessions.legacy_cookie_name",
            "redis.sessions.legacy_secret"
        ]
    );
}

#[test]
fn code_and_ini_get_the_same_range_checks() {
    let err = RedisSessionFactory::builder(SECRET)
        .port(0)
        .db(-1)
        .socket_timeout(Some(std::time::Duration::ZERO))
        .connection_pool(Some(0))
        .build()
        .unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "redis.sessions.port",
            "redis.sessions.db",
            "redis.sessions.socket_timeout",
            "redis.sessions.connection_pool"
        ]
    );
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ErrorKind::Invalid)
    );
}

#[test]
fn the_process_cache_is_on_for_redis_and_bounded() {
    // On by default for Redis from the settings; no I/O until first use.
    let cache_warnings = |f: &RedisSessionFactory| {
        f.warnings()
            .iter()
            .map(ToString::to_string)
            .filter(|w| w.contains("client_cache"))
            .collect::<Vec<_>>()
    };
    let redis = RedisSessionFactory::builder(SECRET).build().unwrap();
    assert!(redis.context.cache.is_some());
    assert!(cache_warnings(&redis).is_empty());
    let off = RedisSessionFactory::builder(SECRET)
        .client_cache_size(0)
        .build()
        .unwrap();
    assert!(off.context.cache.is_none());
    // The embedded store has no use for it: silent by default, a warning
    // when set by hand.
    let memory = || RedisSessionFactory::builder(SECRET).url(Some("memory://".into()));
    let quiet = memory().build().unwrap();
    assert!(quiet.context.cache.is_none() && cache_warnings(&quiet).is_empty());
    let told = memory().client_cache_size(500).build().unwrap();
    assert!(told.context.cache.is_none());
    let warning = cache_warnings(&told).join("\n");
    assert!(
        warning.contains("redis.sessions.client_cache_size") && warning.contains("embedded store"),
        "{warning}"
    );
    // Out of bounds: the key, the value and what is expected.
    let err = RedisSessionFactory::builder(SECRET)
        .client_cache_size(100_000_001)
        .client_cache_bytes(1023)
        .build()
        .unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "redis.sessions.client_cache_size",
            "redis.sessions.client_cache_bytes"
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("100000001") && text.contains("from 0 (off) to 100000000"),
        "{text}"
    );
    assert!(
        text.contains("1023") && text.contains("from 1024"),
        "{text}"
    );
}
