//! `redis-sessions check`: its output and exit codes.

use std::process::{Command, Output};

use crate::config::ini;
use crate::support::plugins::plugin_dir;
use crate::support::{RedisServer, SECRET};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redis-sessions"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_good_file_passes_with_secrets_masked() {
    let server = RedisServer::start();
    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = redis://:pw-in-url@127.0.0.1:{}/0\n\
         redis.sessions.serialize = aead.encrypt\nredis.sessions.deserialize = aead.decrypt\n\
         redis.sessions.aead.key = {}\nredis.sessions.plugin_path = {}\n",
        server.port,
        "ab".repeat(32),
        plugin_dir().display()
    ));
    // The server has no password: connecting with one fails (Redis 6+ refuses
    // AUTH without a configured password), so first check that is reported.
    let out = check(&["check", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("store: redis://:<redacted>@127.0.0.1"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("1 problem found in {}\n", path.display())),
        "{stderr}"
    );

    let fixed = std::fs::read_to_string(&path)
        .unwrap()
        .replace(":pw-in-url@", "");
    std::fs::write(&path, fixed).unwrap();
    let out = check(&["check", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("  redis.sessions.secret = ********\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  redis.sessions.aead.key = ********\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  redis.sessions.timeout = 1200  (default)\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(SECRET) && !stdout.contains("abab"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!(
            "store: redis://127.0.0.1:{}/0: ok\nok\n",
            server.port
        )),
        "{stdout}"
    );
}

#[test]
fn a_broken_file_lists_every_problem() {
    let path = ini(
        "[app:main]\nredis.sessions.secret = tiny\nredis.sessions.port = http\nredis.sessions.cookie_httponly = sometimes\nredis.sessions.sekret = x\n",
    );
    let out = check(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let file = path.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{file}:2: redis.sessions.secret: the secret is 4 bytes long: expected at least 32 random bytes, e.g. the output of `openssl rand -base64 48`\n\
             {file}:3: redis.sessions.port = \"http\": expected a port number from 1 to 65535, e.g. 6379\n\
             {file}:4: redis.sessions.cookie_httponly = \"sometimes\": expected true or false (also yes/no, on/off, y/n, t/f, 1/0)\n\
             {file}:5: redis.sessions.sekret = \"x\": unknown setting: did you mean redis.sessions.secret?\n\
             4 problems found in {file}\n"
        )
    );
}

#[test]
fn syntax_errors_and_sections_are_reported() {
    let path = ini("[app:main]\nno equals sign\n[app:other]\nredis.sessions.secret = x\n");
    let out = check(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(&format!(
        "{}:2: cannot read \"no equals sign\"",
        path.display()
    )));
    let path = ini(&format!(
        "[app:other]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n"
    ));
    assert_eq!(
        check(&["check", path.to_str().unwrap()]).status.code(),
        Some(1),
        "no [app:main]"
    );
    let out = check(&["check", "--section", "app:other", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("store: the embedded in-memory store: ok\nok\n"));
}

#[test]
fn an_unreachable_store_fails_the_check() {
    let mut server = RedisServer::start();
    let port = server.port;
    server.stop();
    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.host = 127.0.0.1\nredis.sessions.port = {port}\nredis.sessions.socket_timeout = 0.5\n"
    ));
    let out = check(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "store: 127.0.0.1:{port} db 0: the session store is unreachable"
        )),
        "{stderr}"
    );
}

#[test]
fn check_refuses_a_library_whose_stamp_is_data_with_exit_1() {
    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n\
         redis.sessions.plugin_path = {}\nredis.sessions.serialize = datastamp.codec\n",
        plugin_dir().display()
    ));
    let out = check(&["check", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("libdatastamp.so is not a plugin library: `redis_sessions_plugin_stamp` is a data object, not a function"),
        "{stderr}"
    );
}

#[test]
fn check_names_a_server_that_is_not_redis() {
    let (port, _server) = crate::redis_only::http_server();
    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = redis://127.0.0.1:{port}/0\n"
    ));
    let out = check(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the server at 127.0.0.1:{port} did not answer like Redis (it sent \"HTTP/1.0 400 Bad Request\")"
        )),
        "{stderr}"
    );
}

#[test]
fn a_bad_plugin_setting_is_reported_once_where_it_is() {
    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n\
         redis.sessions.plugin_path = {}\nredis.sessions.serialize = aead.encrypt\n\
         redis.sessions.deserialize = aead.decrypt\nredis.sessions.aead.key = nothex\n",
        plugin_dir().display()
    ));
    let out = check(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("the key has 6 characters").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains(":7: redis.sessions.aead.key: "), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["check"],
        &["check", "a.ini", "b.ini"],
        &["check", "--bogus", "a.ini"],
    ] {
        let out = check(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("usage: redis-sessions check [--section NAME] FILE"),
            "{args:?}"
        );
    }
}

#[test]
fn help_exits_0() {
    for args in [&["--help"][..], &["-h"], &["help"], &["check", "--help"]] {
        let out = check(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("usage: redis-sessions check [--section NAME] FILE\n"),
            "{stdout}"
        );
        assert!(stdout.contains("Exit status: 0 all well"), "{stdout}");
    }
}

#[test]
fn an_app_runs_the_check_with_its_own_names() {
    use redis_sessions::config::Configurator;

    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = memory://\n\
         redis.sessions.serialize = myapp.codecs.json\nredis.sessions.deserialize = myapp.codecs.json\n\
         redis.sessions.myapp.color = green\n"
    ));
    fn register(config: &mut Configurator) {
        config.register_codec("myapp.codecs.json", redis_sessions::codec::Json);
        config.names_mut().declare_validated_setting(
            "redis.sessions.myapp.color",
            false,
            |v: &str| {
                matches!(v, "red" | "blue")
                    .then_some(())
                    .ok_or_else(|| "expected red or blue".to_owned())
            },
        );
    }
    let run = |args: &[&str]| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = args.iter().map(|a| a.to_string());
        let code = redis_sessions::cli::run_with(register, args, &mut out, &mut err);
        (code, text(&out), text(&err))
    };
    let file = path.to_str().unwrap();
    let (code, out, err) = run(&["/usr/bin/myapp", "check", file]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err,
        format!(
            "{file}:6: redis.sessions.myapp.color = \"green\": expected red or blue\n1 problem found in {file}\n"
        )
    );

    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("green", "red"),
    )
    .unwrap();
    let (code, out, err) = run(&["/usr/bin/myapp", "check", file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("  redis.sessions.serialize = myapp.codecs.json\n"),
        "{out}"
    );
    assert!(
        out.contains("  redis.sessions.myapp.color = red\n"),
        "{out}"
    );
    assert!(
        out.ends_with("store: the embedded in-memory store: ok\nok\n"),
        "{out}"
    );

    let (code, _, err) = run(&["/usr/bin/myapp"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("usage: myapp check [--section NAME] FILE"),
        "{err}"
    );

    // The stand-alone command does not know the app's names, and says so
    // truthfully: it looked for a plugin library and found none.
    let out = check(&["check", file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{file}:4: redis.sessions.serialize = \"myapp.codecs.json\": no plugin library libmyapp.so in redis.sessions.plugin_path (no folders: set redis.sessions.plugin_path)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("was loaded"), "{stderr}");
}

#[test]
fn check_lists_the_settings_of_included_plugins() {
    let path = ini(&format!(
        "[app:main]\npyramid.includes = hostroute\nredis.sessions.secret = {SECRET}\n\
         redis.sessions.url = memory://\nredis.sessions.plugin_path = {}\n\
         redis.sessions.hostroute.default = redis://:pw@127.0.0.1:1/0\n",
        plugin_dir().display()
    ));
    let out = check(&["check", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("  redis.sessions.hostroute.default = redis://:<redacted>@127.0.0.1:1/0\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("pw@"), "{stdout}");
}

#[test]
fn check_warns_about_weak_settings_but_passes() {
    let path = ini(&format!(
        "[app:main]\nredis.sessions.secret = {}\nredis.sessions.url = memory://\nredis.sessions.cookie_secure = false\n",
        "x".repeat(40)
    ));
    let out = check(&["check", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("redis.sessions.secret")),
        "{stderr}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("cookie_secure")),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&"x".repeat(40)),
        "the secret is never shown: {stderr}"
    );
}

/// An INI file for `backend` with `prefix`.
fn ini_for(url: &str, prefix: &str) -> std::path::PathBuf {
    ini(&format!(
        "[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.url = {url}\nredis.sessions.prefix = {prefix}\n"
    ))
}

async fn operator_commands_list_revoke_and_count(backend: crate::support::Backend) {
    use crate::support::Client;
    let prefix = format!("cli{}:", std::process::id() ^ rand_suffix());
    let url = backend.url().unwrap();
    let factory = backend.factory(|b| b.prefix(prefix.clone()));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = Client::new(crate::app::router(&factory));
        c.get("/set?key=k&value=v").await;
        assert_eq!(c.get("/login?user=ops-user").await.body, "ok");
        clients.push(c);
    }
    let mut anonymous = Client::new(crate::app::router(&factory));
    anonymous.get("/set?key=k&value=v").await;
    let path = ini_for(&url, &prefix);
    let file = path.to_str().unwrap();

    let out = check(&["users", "list", file, "ops-user", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    for row in &listed {
        for field in ["tag", "created", "signed_in", "last_seen", "agent"] {
            assert!(row.get(field).is_some(), "{field}: {row}");
        }
    }
    let out = check(&["users", "list", file, "ops-user"]);
    assert!(
        text(&out.stdout).starts_with("3 live sessions of \"ops-user\""),
        "{}",
        text(&out.stdout)
    );

    let out = check(&["stats", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("4 live sessions under prefix {prefix:?}")),
        "{}",
        text(&out.stdout)
    );

    let tag = listed[0]["tag"].as_str().unwrap();
    let out = check(&["users", "revoke", file, "ops-user", tag]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "revoked 1 session\n");
    let out = check(&["users", "revoke", file, "ops-user", tag]);
    assert_eq!(out.status.code(), Some(1), "a tag already revoked");
    assert!(text(&out.stderr).contains("no live session of \"ops-user\" has tag"));
    let out = check(&["users", "revoke", file, "ops-user", "--all"]);
    assert_eq!(text(&out.stdout), "revoked 2 sessions\n");
    for c in &mut clients {
        assert_eq!(c.get("/whoami").await.body, "", "revoked everywhere");
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[tokio::test]
async fn operator_commands_on_redis() {
    operator_commands_list_revoke_and_count(crate::support::Backend::redis()).await;
}

#[tokio::test]
async fn operator_commands_on_a_cluster() {
    operator_commands_list_revoke_and_count(crate::support::Backend::cluster()).await;
}

#[test]
fn version_and_usage_of_the_operator_commands() {
    let out = check(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("redis-sessions {}\n", env!("CARGO_PKG_VERSION"))
    );
    for args in [
        &["users"][..],
        &["users", "list", "a.ini"],
        &["users", "revoke", "a.ini", "u"],
        &["users", "drop", "a.ini", "u"],
        &["stats"],
        &["users", "list", "a.ini", "u", "--all"],
    ] {
        let out = check(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
