//! Records what a plugin library must match to be loaded: the plugin ABI
//! number, this crate's version, the rustc that built it, and the cargo
//! features that add code (`default` and `full` only select others).

use std::process::Command;

/// Bump when anything in `src/plugin.rs` that crosses the boundary changes.
const PLUGIN_ABI: u32 = 1;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "rustc unknown".into());
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .filter(|f| f != "DEFAULT" && f != "FULL")
        .map(|f| f.to_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let stamp = format!(
        "redis-sessions plugin abi {PLUGIN_ABI}; crate {}; {version}; features [{}]",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        features.join(",")
    );
    println!("cargo:rustc-env=REDIS_SESSIONS_ABI_STAMP={stamp}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
