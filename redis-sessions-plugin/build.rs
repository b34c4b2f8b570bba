//! Computes the stamp that a plugin and its host must share: the plugin ABI
//! number, this crate's version, a digest of this crate's source (every type,
//! trampoline and calling convention that crosses the boundary lives here),
//! the rustc that compiles it, the target and panic strategy, and this
//! crate's enabled cargo features.

use std::path::Path;
use std::process::Command;

/// Bump when anything that crosses the boundary changes meaning. A change
/// that forgets the bump still changes the source digest.
const PLUGIN_ABI: u32 = 2;

/// FNV-1a, 64 bits: enough to tell two sources apart, no dependency.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "rustc unknown".into());

    let src = Path::new("src");
    let mut files: Vec<_> = std::fs::read_dir(src)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut digest = 0xcbf2_9ce4_8422_2325_u64;
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        fnv1a(&mut digest, name.unwrap_or_default().as_bytes());
        fnv1a(&mut digest, &std::fs::read(file).unwrap_or_default());
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .map(|f| f.to_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let target = std::env::var("TARGET").unwrap_or_default();
    // A plugin built with `panic = "abort"` would take the host down on a
    // panic that its trampolines could otherwise catch.
    let panic = std::env::var("CARGO_CFG_PANIC").unwrap_or_default();
    let stamp = format!(
        "redis-sessions plugin abi {PLUGIN_ABI}; redis-sessions-plugin {} (source {digest:016x}); {version}; {target}, panic={panic}; features [{}]",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        features.join(",")
    );
    println!("cargo:rustc-env=REDIS_SESSIONS_PLUGIN_STAMP={stamp}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
