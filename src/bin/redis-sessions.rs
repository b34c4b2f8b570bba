//! The operator CLI: `redis-sessions check [--section NAME] FILE`.
//!
//! See [`redis_sessions::cli`] for what `check` does, its exit codes, and how
//! an application runs the same check with its own registered names.

use std::process::ExitCode;

fn main() -> ExitCode {
    redis_sessions::cli::run(|_| {})
}
