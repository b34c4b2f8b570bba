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
