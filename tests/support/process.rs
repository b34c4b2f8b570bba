//! The axum conformance app in a process of its own (the binary `cargo
//! test` builds beside the tests), as a server behind a load balancer runs:
//! two of them on one Redis share nothing but Redis.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Loopback;
use super::redis_server::{free_port, wait_until};

/// A running conformance app process; killed on drop.
pub struct AppProcess {
    child: Child,
    dir: PathBuf,
    pub loopback: Loopback,
}

/// The conformance app's binary, built by `cargo test` with the examples.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/main-… → target/<profile>/examples/conformance
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let app = profile.join("examples").join("conformance");
    assert!(
        app.exists(),
        "{} is missing: `cargo test` builds it with the examples",
        app.display()
    );
    app
}

impl AppProcess {
    /// Starts the app on a free port, reading `settings` (INI text whose
    /// `[app:main]` holds `redis.sessions.*` keys) through `SETTINGS`, and
    /// waits until it listens.
    pub fn start(settings: &str) -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("conformance-app-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ini = dir.join("settings.ini");
        std::fs::write(&ini, settings).unwrap();
        let log = std::fs::File::create(dir.join("app.log")).unwrap();
        let child = Command::new(binary())
            .env("SETTINGS", &ini)
            .env("PORT", port.to_string())
            .env_remove("REDIS_URL")
            .env_remove("SESSION_SECRET")
            .env_remove("SESSION_TIMEOUT")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the conformance app starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut app = Self {
            child,
            dir,
            loopback: Loopback::new(addr),
        };
        wait_until(
            "the conformance app listens",
            Duration::from_secs(30),
            || {
                if let Ok(Some(status)) = app.child.try_wait() {
                    panic!("the conformance app exited ({status}):\n{}", app.log_text());
                }
                TcpStream::connect(addr).ok()
            },
        );
        app
    }

    /// What the app logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("app.log")).unwrap_or_default()
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
