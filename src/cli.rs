//! The operator CLI, `redis-sessions check`, as a function an application
//! can run with its own registrations.
//!
//! ```text
//! redis-sessions check [--section NAME] FILE
//! ```
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
    let usage = format!("usage: {program} check [--section NAME] FILE");
    // Output is best effort: a closed pipe must not turn into a panic.
    match parse_args(args, &usage) {
        Ok(Command::Help) => {
            let _ = writeln!(out, "{usage}\n\n{HELP}");
            0
        }
        Ok(Command::Check { section, file }) => check(register, &section, &file, out, err),
        Err(message) => {
            let _ = writeln!(err, "{message}");
            2
        }
    }
}

const HELP: &str = "Checks a configuration: reads section [app:main] (or NAME) of FILE, coerces
every redis.sessions.* setting, resolves every dotted name (loading plugin
libraries), runs the includes, builds the session factory and pings its store.
Prints the effective settings, secrets masked.

Exit status: 0 all well; 1 problems found (each on stderr, with file and line);
2 a usage error.";

enum Command {
    Help,
    Check { section: String, file: String },
}

fn parse_args(mut args: impl Iterator<Item = String>, usage: &str) -> Result<Command, String> {
    match args.next().as_deref() {
        Some("check") => {}
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        None => return Err(usage.to_owned()),
        Some(other) => return Err(format!("unknown command {other:?}\n{usage}")),
    }
    let mut section = "app:main".to_owned();
    let mut file = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--section" => {
                section = args
                    .next()
                    .ok_or_else(|| format!("--section needs a NAME, e.g. app:main\n{usage}"))?
            }
            s if s.starts_with("--section=") => section = s["--section=".len()..].to_owned(),
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}\n{usage}")),
            _ if file.is_some() => return Err(format!("more than one FILE given\n{usage}")),
            _ => file = Some(arg),
        }
    }
    let file = file.ok_or_else(|| format!("no FILE given\n{usage}"))?;
    Ok(Command::Check { section, file })
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
