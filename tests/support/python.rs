//! The original Python package, for the compatibility tests: the venv made
//! by `scripts/python-env.sh` (run once per test process), Pyramid's own
//! cookie code (`tests/python/tool.py`) and a Pyramid app on
//! `pyramid_redis_sessions` (`tests/python/app.py`) on a free port.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The secret the Pyramid app signs its cookies with.
pub const PY_SECRET: &str = "a secret shared with the Pyramid app";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's interpreter, made by `scripts/python-env.sh` once per run.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("scripts/python-env.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "scripts/python-env.sh failed");
        let path = String::from_utf8(out.stdout).expect("a UTF-8 path");
        PathBuf::from(path.trim())
    })
}

/// Runs `tests/python/tool.py` with `args`, feeding it `input`; its output.
pub fn tool_with_input(args: &[&str], input: &str) -> String {
    let mut child = Command::new(python())
        .arg(root().join("tests/python/tool.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("tool.py reads its input");
    let out = child.wait_with_output().expect("tool.py ends");
    assert!(out.status.success(), "tool.py {args:?} failed");
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .trim()
        .to_owned()
}

/// Runs `tests/python/tool.py` with `args`; its output.
pub fn tool(args: &[&str]) -> String {
    tool_with_input(args, "")
}

/// The Pyramid app, on its own port, stopped on drop.
pub struct PyApp {
    child: Child,
    port: u16,
}

impl PyApp {
    /// Starts the app on the Redis at `redis_url`, with `prefix` as its
    /// `redis.sessions.prefix` if given.
    pub fn start(redis_url: &str, prefix: Option<&str>) -> Self {
        let mut child = Command::new(python())
            .arg(root().join("tests/python/app.py"))
            .arg(redis_url)
            .arg(PY_SECRET)
            .args(prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the app prints its port");
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the Pyramid app did not start: {line:?}"));
        Self { child, port }
    }

    /// GET `path` with the session cookie `cookie`; returns the body and
    /// the new cookie value, if one was set.
    pub fn get(&self, path: &str, cookie: Option<&str>) -> (String, Option<String>) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("the app listens");
        let cookie = cookie.map_or(String::new(), |c| format!("Cookie: session={c}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{cookie}\r\n"
        )
        .expect("the app reads");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("the app answers");
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(head.starts_with("HTTP/1.0 200"), "{path}: {head}");
        let set = head.lines().find_map(|l| {
            let value = l.strip_prefix("Set-Cookie: session=")?;
            Some(value.split(';').next()?.to_owned())
        });
        (body.to_owned(), set)
    }

    /// The body of GET `path` with the session cookie `cookie`.
    pub fn body(&self, path: &str, cookie: &str) -> String {
        self.get(path, Some(cookie)).0
    }
}

impl Drop for PyApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
