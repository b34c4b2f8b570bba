//! Builds the plugin crates (and test fixtures) once, in this test binary's
//! profile. Plugins link only `redis-sessions-plugin`, so the host's features
//! do not matter to their stamps.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The folder holding `libaead.so` and friends, built if needed.
pub fn plugin_dir() -> PathBuf {
    BUILT
        .get_or_init(build)
        .clone()
        .unwrap_or_else(|e| panic!("building the plugins failed:\n{e}"))
}

fn build() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/main-<hash> → target/<profile>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("cannot locate the target folder")?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("build")
        .arg("--quiet");
    for package in [
        "redis-sessions-aead",
        "redis-sessions-hostroute",
        "redis-sessions-idgen",
        "badstamp-fixture",
        "nostamp-fixture",
        "datastamp-fixture",
        "panicky-fixture",
    ] {
        cmd.args(["-p", package]);
    }
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(dir)
}
