//! Real `redis-server` processes on free loopback ports, stopped on drop.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// One private `redis-server`: its own port, directory and log file.
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
    password: Option<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS hands out a free loopback port")
}

/// A free port below 55536 whose cluster bus port (+10000) is free too.
pub fn free_cluster_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Spread over 20000..45000 by process and call, then probe.
    let start = 20000 + (std::process::id() as usize * 7919) % 25000;
    loop {
        let port = (start + NEXT.fetch_add(1, Ordering::Relaxed) * 13) % 25000 + 20000;
        let port = port as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok()
        {
            return port;
        }
    }
}

impl RedisServer {
    /// Starts a server without persistence and waits until it answers PING.
    pub fn start() -> Self {
        Self::start_with(&[], None)
    }

    /// Starts a server with extra `redis-server` arguments (`%dir%` is
    /// replaced by its directory) and, if given, a password.
    pub fn start_with(extra: &[&str], password: Option<&str>) -> Self {
        Self::start_on(free_port, extra, password)
    }

    /// Like [`start_with`](Self::start_with), on a port from `pick` (`%port%`
    /// in `extra` is replaced by it).
    pub fn start_on(pick: fn() -> u16, extra: &[&str], password: Option<&str>) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "redis-sessions-test-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        for _ in 0..5 {
            // A fresh folder per attempt: a failed attempt (another process
            // took the port first) may leave a Cluster's nodes.conf behind,
            // which the next attempt would refuse to reuse.
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir is writable");
            let port = pick();
            let mut server = Self {
                port,
                dir: dir.clone(),
                child: None,
                extra: extra
                    .iter()
                    .map(|a| {
                        a.replace("%dir%", &dir.display().to_string())
                            .replace("%port%", &port.to_string())
                    })
                    .collect(),
                password: password.map(str::to_owned),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn log(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Spawns on `self.port`; true once it answers PING.
    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log())
            .args(&self.extra)
            .args(
                self.password
                    .iter()
                    .flat_map(|pw| ["--requirepass", pw.as_str()]),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): run scripts/test.sh, which installs it")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                eprintln!(
                    "redis-server exited with {status}; log:\n{}",
                    self.log_text()
                );
                self.child = None;
                return false;
            }
            if let Ok(mut conn) = redis::Client::open(self.url()).and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s; log:\n{}",
            self.port,
            self.log_text()
        );
    }

    /// The process id while the server runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Kills the server (its data is lost: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    /// Freezes the server (SIGSTOP) until the guard is dropped (SIGCONT).
    pub fn pause(&self) -> Paused {
        let pid = self.child.as_ref().expect("the server runs").id();
        signal(pid, "-STOP");
        Paused(pid)
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| {
                panic!(
                    "cannot connect to the test redis-server: {e}; log:\n{}",
                    self.log_text()
                )
            })
    }

    /// `INFO commandstats` as command → calls.
    pub fn command_calls(&self) -> HashMap<String, u64> {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.conn())
            .expect("INFO commandstats");
        info.lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("cmdstat_")?;
                let (name, stats) = rest.split_once(':')?;
                let calls = stats.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .collect()
    }

    /// Runs `f` and returns the commands the server executed meanwhile, with
    /// the measuring connection's own `INFO` calls left out.
    pub async fn commands_during<F: std::future::Future>(
        &self,
        f: F,
    ) -> (F::Output, HashMap<String, u64>) {
        let before = self.command_calls();
        let out = f.await;
        let after = self.command_calls();
        let mut delta: HashMap<String, u64> = after
            .into_iter()
            .filter_map(|(name, calls)| {
                let d = calls - before.get(&name).copied().unwrap_or(0);
                (d > 0 && name != "info").then_some((name, d))
            })
            .collect();
        delta.retain(|_, d| *d > 0);
        (out, delta)
    }

    pub fn keys(&self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg("*")
            .query(&mut self.conn())
            .expect("KEYS")
    }

    pub fn ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL")
            .arg(key)
            .query(&mut self.conn())
            .expect("TTL")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A frozen server; resumes on drop.
pub struct Paused(u32);

impl Drop for Paused {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {sig} {pid}");
}
/// Calls `check` until it gives `Some`, for at most `within`; panics with
/// `what` after that. For waiting on a server's state, never on the clock.
pub fn wait_until<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
