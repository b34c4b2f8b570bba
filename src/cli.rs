//! The operator CLI, `redis-sessions`, as a function an application can run
//! with its own registrations.
//!
//! ```text
//! redis-sessions check [--section NAME] FILE
//! redis-sessions users list [--section NAME] FILE USER [--json]
//! redis-sessions users revoke [--section NAME] FILE USER (TAG | --all)
//! redis-sessions stats [--section NAME] FILE
//! redis-sessions --version
//! ```
//!
//! Every command reads its settings as `check` does (and fails as it does,
//! exit 1, when they are wrong). `users list` prints a user's live sessions
//! (tag, created, signed in, last seen, agent; JSON with `--json`); `users
//! revoke` revokes one session by its tag, or all of them, and prints how
//! many; `stats` counts the live sessions under the prefix and the bytes
//! they take in Redis, by `SCAN` (on every master of a Cluster), weighing
//! at most 10,000 of them and estimating the rest, with a progress line on
//! stderr for scans that take over a second.
//!
//! `check` reads the INI file, coerces every `redis.sessions.*` setting,
//! resolves every dotted name (loading plugins), runs the includes, checks
//! the settings of included packages, builds the session factory and pings
//! the store. It prints the effective settings, secrets masked, and exits 0
//! when all is well; otherwise it lists every problem on stderr and exits 1.
//! Usage errors exit 2; `--help` prints the usage and exits 0.
//!
//! Install the stand-alone command with `cargo install --path .` from a
//! checkout (or `cargo install --git <repository url> redis-sessions`). It
//! knows the built-in names and plugin libraries only; an application whose
//! settings name objects or includes it registers in code checks them with
//! its own binary (`myapp check settings.ini`), in one line:
//!
//! ```no_run
//! use redis_sessions::config::Configurator;
//!
//! fn register(config: &mut Configurator) {
//!     config.register_codec("myapp.codecs.json", redis_sessions::codec::Json);
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     redis_sessions::cli::run(register)
//! }
//! ```

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::{Configurator, Error};
use crate::{RedisClient, RedisSessionFactory};

/// Runs the CLI on the process's arguments, printing to stdout and stderr.
/// `register` makes the application's registrations (names, includes,
/// declared settings) on the configurator before anything is checked.
pub fn run(register: impl FnOnce(&mut Configurator)) -> ExitCode {
    let code = run_with(
        register,
        std::env::args(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}

/// Runs the CLI on `args` (the program name first), writing to `out` and
/// `err`, and returns the exit status: 0 all well, 1 problems found, 2 a
/// usage error.
pub fn run_with(
    register: impl FnOnce(&mut Configurator),
    args: impl IntoIterator<Item = String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut args = args.into_iter();
    let program = args
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map_or_else(
            || "redis-sessions".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
    let usage = format!(
        "usage: {program} check [--section NAME] FILE\n       \
         {program} users list [--section NAME] FILE USER [--json]\n       \
         {program} users revoke [--section NAME] FILE USER (TAG | --all)\n       \
         {program} stats [--section NAME] FILE\n       \
         {program} --version"
    );
    // Output is best effort: a closed pipe must not turn into a panic.
    match parse_args(args, &usage) {
        Ok(Command::Help) => {
            let _ = writeln!(out, "{usage}\n\n{HELP}");
            0
        }
        Ok(Command::Version) => {
            let _ = writeln!(out, "{program} {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Command::Check { section, file }) => check(register, &section, &file, out, err),
        Ok(Command::Users {
            section,
            file,
            user,
            action,
        }) => match open(register, &section, &file, err) {
            Ok(factory) => users(&factory, &file, &user, action, out, err),
            Err(code) => code,
        },
        Ok(Command::Stats { section, file }) => match open(register, &section, &file, err) {
            Ok(factory) => stats(&factory, &file, out, err),
            Err(code) => code,
        },
        Err(message) => {
            let _ = writeln!(err, "{message}");
            2
        }
    }
}

const HELP: &str = "check: reads section [app:main] (or NAME) of FILE, coerces every
redis.sessions.* setting, resolves every dotted name (loading plugin
libraries), runs the includes, builds the session factory and pings its store.
Prints the effective settings, secrets masked.

users list: prints the live sessions of USER (tag, created, signed in, last
seen, agent), or a JSON array with --json.
users revoke: revokes the session of USER tagged TAG, or all of them with
--all, and prints how many.
stats: counts the live sessions under the prefix and the bytes they take in
Redis (SCAN, on every master of a Cluster; past 10000 sessions, the bytes are
estimated from those weighed).

Exit status: 0 all well; 1 problems found (each on stderr, with file and line),
a store that fails, or no session with that TAG; 2 a usage error.";

enum Command {
    Help,
    Version,
    Check {
        section: String,
        file: String,
    },
    Users {
        section: String,
        file: String,
        user: String,
        action: UsersAction,
    },
    Stats {
        section: String,
        file: String,
    },
}

enum UsersAction {
    List { json: bool },
    Revoke(Option<String>),
}

fn parse_args(mut args: impl Iterator<Item = String>, usage: &str) -> Result<Command, String> {
    let command = match args.next().as_deref() {
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some("users") => match args.next().as_deref() {
            Some("list") => "users list",
            Some("revoke") => "users revoke",
            Some(other) => {
                return Err(format!(
                    "unknown users command {other:?}: expected list or revoke\n{usage}"
                ));
            }
            None => return Err(format!("users needs list or revoke\n{usage}")),
        },
        Some("check") => "check",
        Some("stats") => "stats",
        None => return Err(usage.to_owned()),
        Some(other) => return Err(format!("unknown command {other:?}\n{usage}")),
    };
    let mut section = "app:main".to_owned();
    let (mut json, mut all) = (false, false);
    let mut positional = Vec::new();
    let mut options = true;
    while let Some(arg) = args.next() {
        // A session's tag may start with `-`: after FILE and USER, it is
        // the TAG; `--` ends the options anywhere.
        let is_tag = command == "users revoke" && positional.len() == 2;
        if options && arg == "--" {
            options = false;
            continue;
        }
        if !options || (is_tag && !matches!(arg.as_str(), "--all" | "--section")) {
            positional.push(arg);
            continue;
        }
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--section" => {
                section = args
                    .next()
                    .ok_or_else(|| format!("--section needs a NAME, e.g. app:main\n{usage}"))?
            }
            s if s.starts_with("--section=") => section = s["--section=".len()..].to_owned(),
            "--json" if command == "users list" => json = true,
            "--all" if command == "users revoke" => all = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}\n{usage}")),
            _ => positional.push(arg),
        }
    }
    let (wanted, expected) = match (command, all) {
        ("check" | "stats", _) => ("FILE", 1),
        ("users list", _) | ("users revoke", true) => ("FILE USER", 2),
        _ => ("FILE USER TAG (or --all)", 3),
    };
    if positional.len() != expected {
        return Err(format!(
            "{command} takes {wanted}: {} given\n{usage}",
            positional.len()
        ));
    }
    let mut positional = positional.into_iter();
    let mut next = || positional.next().unwrap_or_default();
    let file = next();
    Ok(match command {
        "check" => Command::Check { section, file },
        "stats" => Command::Stats { section, file },
        _ => {
            let user = next();
            let action = if command == "users list" {
                UsersAction::List { json }
            } else {
                UsersAction::Revoke((!all).then(next))
            };
            Command::Users {
                section,
                file,
                user,
                action,
            }
        }
    })
}

fn report(file: &str, error: &Error, err: &mut dyn Write) -> u8 {
    for problem in error.problems() {
        let _ = writeln!(err, "{problem}");
    }
    let n = error.problems().len();
    let _ = writeln!(
        err,
        "{n} problem{} found in {file}",
        if n == 1 { "" } else { "s" }
    );
    1
}

fn check(
    register: impl FnOnce(&mut Configurator),
    section: &str,
    file: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut config = match Configurator::from_ini_section(file, section) {
        Ok(config) => config,
        Err(e) => return report(file, &e, err),
    };
    register(&mut config);
    let settings_file = config
        .settings()
        .file()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let checked = match config.check() {
        Ok(checked) => checked,
        Err(e) => return report(file, &e, err),
    };
    let _ = writeln!(out, "{settings_file} [{section}]");
    for line in &checked.settings {
        let _ = writeln!(out, "  {line}");
    }
    let factory = checked.factory;
    for warning in factory.warnings() {
        let _ = writeln!(err, "warning: {warning}");
    }
    let description = factory.store_description().to_owned();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(err, "cannot start the async runtime: {e}");
            return 1;
        }
    };
    let timeout = factory.redis_options().timeout() + Duration::from_secs(1);
    let pinged = runtime.block_on(async { tokio::time::timeout(timeout, factory.ping()).await });
    let problem = match pinged {
        Ok(Ok(())) => {
            let _ = writeln!(out, "store: {description}: ok\nok");
            return 0;
        }
        Ok(Err(e)) => format!("{file}: store: {description}: {e}"),
        Err(_) => format!("{file}: store: {description}: no answer within {timeout:?}"),
    };
    let _ = writeln!(err, "{problem}\n1 problem found in {file}");
    1
}

/// Reads `file` and builds its factory, as `check` does, without printing
/// the settings; `Err` is the exit status, the problems printed.
fn open(
    register: impl FnOnce(&mut Configurator),
    section: &str,
    file: &str,
    err: &mut dyn Write,
) -> Result<RedisSessionFactory, u8> {
    let mut config =
        Configurator::from_ini_section(file, section).map_err(|e| report(file, &e, err))?;
    register(&mut config);
    let checked = config.check().map_err(|e| report(file, &e, err))?;
    Ok(checked.factory)
}

/// A runtime for the commands that talk to the store.
fn runtime(err: &mut dyn Write) -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            let _ = writeln!(err, "cannot start the async runtime: {e}");
            1
        })
}

/// A store failure, in the wording of `check`.
fn store_problem(
    factory: &RedisSessionFactory,
    file: &str,
    e: impl std::fmt::Display,
    err: &mut dyn Write,
) -> u8 {
    let _ = writeln!(
        err,
        "{file}: store: {}: {e}\n1 problem found in {file}",
        factory.store_description()
    );
    1
}

fn unix(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn users(
    factory: &RedisSessionFactory,
    file: &str,
    user: &str,
    action: UsersAction,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let runtime = match runtime(err) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let handle = match factory.users() {
        Ok(handle) => handle,
        Err(e) => return store_problem(factory, file, e, err),
    };
    match action {
        UsersAction::List { json } => {
            let sessions = match runtime.block_on(handle.list(user)) {
                Ok(sessions) => sessions,
                Err(e) => return store_problem(factory, file, e, err),
            };
            if json {
                let rows: Vec<serde_json::Value> = sessions
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "tag": s.tag,
                            "created": unix(s.created),
                            "signed_in": unix(s.signed_in),
                            "last_seen": unix(s.last_seen),
                            "agent": s.agent,
                        })
                    })
                    .collect();
                let _ = writeln!(out, "{}", serde_json::Value::Array(rows));
                return 0;
            }
            let _ = writeln!(
                out,
                "{} live session{} of {user:?}",
                sessions.len(),
                if sessions.len() == 1 { "" } else { "s" }
            );
            if !sessions.is_empty() {
                let _ = writeln!(
                    out,
                    "tag               created     signed in   last seen   agent"
                );
            }
            for s in &sessions {
                let _ = writeln!(
                    out,
                    "{:<16}  {:<10}  {:<10}  {:<10}  {}",
                    s.tag,
                    unix(s.created),
                    unix(s.signed_in),
                    unix(s.last_seen),
                    s.agent.as_deref().unwrap_or("-")
                );
            }
            0
        }
        UsersAction::Revoke(tag) => {
            let revoked = match &tag {
                Some(tag) => runtime.block_on(handle.revoke(user, tag)).map(usize::from),
                None => runtime.block_on(handle.revoke_all(user)),
            };
            match (revoked, tag) {
                (Err(e), _) => store_problem(factory, file, e, err),
                (Ok(0), Some(tag)) => {
                    let _ = writeln!(
                        err,
                        "revoked 0 sessions: no live session of {user:?} has tag {tag:?}; expected a tag from `users list`"
                    );
                    1
                }
                (Ok(n), _) => {
                    let _ = writeln!(out, "revoked {n} session{}", if n == 1 { "" } else { "s" });
                    0
                }
            }
        }
    }
}

fn stats(
    factory: &RedisSessionFactory,
    file: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let runtime = match runtime(err) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let options = factory.redis_options();
    if options.url.as_deref() == Some("memory://") {
        let _ = writeln!(
            err,
            "{file}: stats: the embedded store (memory://) lives in the application's own process: expected a Redis url\n1 problem found in {file}"
        );
        return 1;
    }
    let client = match RedisClient::open(options) {
        Ok(client) => client,
        Err(e) => return store_problem(factory, file, e, err),
    };
    let started = std::time::Instant::now();
    let mut shown = false;
    let mut progress = |scanned: u64| {
        if started.elapsed() > Duration::from_secs(1) {
            let _ = write!(err, "\rscanning: {scanned} keys so far");
            shown = true;
        }
    };
    let result = runtime.block_on(client.stats(factory.prefix(), &mut progress));
    if shown {
        let _ = writeln!(err);
    }
    match result {
        Ok(stats) => {
            let estimate = if stats.sampled {
                format!(" (estimated from {} sessions weighed)", stats.weighed)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{}: {} live sessions under prefix {:?}, {} bytes in Redis{estimate}; {} keys scanned",
                factory.store_description(),
                stats.sessions,
                factory.prefix(),
                stats.bytes,
                stats.scanned
            );
            0
        }
        Err(e) => store_problem(factory, file, e, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()), "usage")
    }

    #[test]
    fn a_tag_may_start_with_a_dash_and_double_dash_ends_the_options() {
        for args in [
            &["users", "revoke", "a.ini", "alice", "-AEi8WWczH4XQX8g"][..],
            &[
                "users",
                "revoke",
                "a.ini",
                "alice",
                "--",
                "-AEi8WWczH4XQX8g",
            ],
            &[
                "users",
                "revoke",
                "--section",
                "app:x",
                "a.ini",
                "alice",
                "-AEi8",
            ],
        ] {
            match parse(args) {
                Ok(Command::Users {
                    action: UsersAction::Revoke(Some(tag)),
                    user,
                    ..
                }) => {
                    assert!(tag.starts_with("-AEi8"), "{args:?}");
                    assert_eq!(user, "alice");
                }
                _ => panic!("{args:?} did not parse as a revocation"),
            }
        }
        assert!(matches!(
            parse(&["users", "revoke", "a.ini", "alice", "--all"]),
            Ok(Command::Users {
                action: UsersAction::Revoke(None),
                ..
            })
        ));
        assert!(parse(&["users", "list", "a.ini", "-typo"]).is_err());
        assert!(parse(&["users", "revoke", "a.ini", "alice", "tag", "extra"]).is_err());
    }
}
