//! The operator CLI.
//!
//! ```text
//! redis-sessions check [--section NAME] FILE
//! ```
//!
//! `check` reads the INI file, coerces every `redis.sessions.*` setting,
//! resolves every dotted name (loading plugins), builds the session factory,
//! and pings the store. It prints the effective settings, secrets masked, and
//! exits 0 when all is well; otherwise it lists every problem on stderr and
//! exits 1. Usage errors exit 2.

use std::process::ExitCode;
use std::time::Duration;

use redis_sessions::config::{Configurator, Error};

const USAGE: &str = "usage: redis-sessions check [--section NAME] FILE";

struct Args {
    section: String,
    file: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    match args.next().as_deref() {
        Some("check") => {}
        Some("-h" | "--help") | None => return Err(USAGE.into()),
        Some(other) => return Err(format!("unknown command {other:?}\n{USAGE}")),
    }
    let mut section = "app:main".to_owned();
    let mut file = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--section" => {
                section = args
                    .next()
                    .ok_or_else(|| format!("--section needs a NAME, e.g. app:main\n{USAGE}"))?
            }
            s if s.starts_with("--section=") => section = s["--section=".len()..].to_owned(),
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}\n{USAGE}")),
            _ if file.is_some() => return Err(format!("more than one FILE given\n{USAGE}")),
            _ => file = Some(arg),
        }
    }
    let file = file.ok_or_else(|| format!("no FILE given\n{USAGE}"))?;
    Ok(Args { section, file })
}

fn report(file: &str, error: &Error) -> ExitCode {
    for problem in error.problems() {
        eprintln!("{problem}");
    }
    let n = error.problems().len();
    eprintln!(
        "{n} problem{} found in {file}",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut config = match Configurator::from_ini_section(&args.file, &args.section) {
        Ok(config) => config,
        Err(e) => return report(&args.file, &e),
    };
    if let Err(e) = config.include("redis_sessions") {
        return report(&args.file, &e);
    }
    let describe = config.settings().describe(config.names());
    let store = {
        let Some(factory) = config.registry().session_factory() else {
            eprintln!("internal error: the factory was not stored");
            return ExitCode::from(1);
        };
        (factory.clone(), factory.store_description().to_owned())
    };
    let settings_file = config
        .settings()
        .file()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Err(e) = config.commit() {
        return report(&args.file, &e);
    }
    println!("{} [{}]", settings_file, args.section);
    for line in describe {
        println!("  {line}");
    }
    let (factory, description) = store;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let timeout = factory.redis_options().timeout() + Duration::from_secs(1);
    let pinged = runtime.block_on(async { tokio::time::timeout(timeout, factory.ping()).await });
    match pinged {
        Ok(Ok(())) => {
            println!("store: {description}: ok");
            println!("ok");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("{}: store: {description}: {e}", args.file);
            eprintln!("1 problem found in {}", args.file);
            ExitCode::from(1)
        }
        Err(_) => {
            eprintln!(
                "{}: store: {description}: no answer within {timeout:?}",
                args.file
            );
            eprintln!("1 problem found in {}", args.file);
            ExitCode::from(1)
        }
    }
}
