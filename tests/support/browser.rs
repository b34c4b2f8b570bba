//! Headless Chromium over WebDriver: a private `chromedriver` on a free
//! loopback port (stopped on drop), browsers with their own fresh profile
//! directory, and scenarios that save a screenshot of every browser when they
//! fail.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// How long a page may take to show what a step waits for.
pub const PAGE_DEADLINE: Duration = Duration::from_secs(15);

/// The Chromium flags that work headless, as root, without network extras.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS hands out a free loopback port")
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A private chromedriver: its own port and a directory for its log and the
/// browsers' profiles.
pub struct Chromedriver {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Chromedriver {
    /// Starts chromedriver and waits until it accepts connections.
    pub fn start() -> Self {
        let program = find_program(&["chromedriver"])
            .expect("chromedriver is not installed: run scripts/test.sh, which installs it");
        let dir = std::env::temp_dir().join(format!(
            "redis-sessions-browser-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&program)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, which the browsers it starts join:
                // dropping the driver ends them all, even after a panic.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut exited = false;
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    exited = true;
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { port, dir, child };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            if !exited {
                panic!(
                    "chromedriver did not listen on port {port} within 20 s; log:\n{}",
                    std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
                );
            }
        }
        panic!(
            "chromedriver exited at start on 5 free ports; log:\n{}",
            std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
        );
    }

    /// A new headless Chromium with a fresh profile (so its own cookies),
    /// named `name` in screenshots, sending `user_agent` when given.
    pub async fn browser(&self, name: &str, user_agent: Option<&str>) -> Browser {
        let profile = self.dir.join(format!("profile-{name}"));
        std::fs::create_dir_all(&profile).expect("temp dir is writable");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--window-size=1000,900".to_owned());
        if let Some(agent) = user_agent {
            args.push(format!("--user-agent={agent}"));
        }
        let mut options = serde_json::json!({ "args": args });
        if let Some(binary) = find_program(&["chromium", "chromium-browser", "google-chrome"]) {
            options["binary"] = binary.display().to_string().into();
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium ({e}); log:\n{}",
                    self.log_tail()
                )
            });
        Browser {
            name: name.to_owned(),
            client,
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Where failure screenshots go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group is chromedriver's own (its id is chromedriver's pid):
        // this ends chromedriver and any browser it left running.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "chromedriver log and browser profiles kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One browser window with its own profile.
#[derive(Clone)]
pub struct Browser {
    pub name: String,
    pub client: Client,
}

impl Browser {
    /// Waits until an element matching `css` is on the page.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PAGE_DEADLINE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!(
                    "{}: no element `{css}` within {PAGE_DEADLINE:?} ({e}); at {url:?}",
                    self.name
                )
            }
        }
    }

    /// Waits until the first element matching `css` reads `expected` (the
    /// page before a navigation may still show an older match).
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + PAGE_DEADLINE;
        loop {
            let seen = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.ok(),
                Err(_) => None,
            };
            if seen.as_deref() == Some(expected) {
                return;
            }
            if Instant::now() >= deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!(
                    "{}: `{css}` did not read {expected:?} within {PAGE_DEADLINE:?}; \
                     it reads {seen:?} at {url:?}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens `url` and waits until `css` matches on the page.
    pub async fn open(&self, url: &str, css: &str) -> Element {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.name));
        self.wait_for(css).await
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot type into `{css}`: {e}", self.name));
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = self.wait_for(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click `{css}`: {e}", self.name));
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.wait_for(css).await;
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot read `{css}`: {e}", self.name))
    }

    /// How many elements match `css` right now.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: cannot search `{css}`: {e}", self.name))
            .len()
    }

    /// Saves a PNG of the window at `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let png = self.client.screenshot().await.map_err(|e| e.to_string())?;
        std::fs::write(path, png).map_err(|e| e.to_string())
    }
}

/// Runs `scenario` with `browsers`; if it panics, saves a screenshot of every
/// browser next to the test binary (paths printed), then fails. The browsers
/// are closed either way.
pub async fn run<F, Fut>(test: &str, browsers: Vec<Browser>, scenario: F)
where
    F: FnOnce(Vec<Browser>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(scenario(browsers.clone())).await;
    if let Err(failure) = &outcome {
        let dir = failure_dir();
        for browser in &browsers {
            let path = dir.join(format!("{test}-{}.png", browser.name));
            match browser.screenshot(&path).await {
                Ok(()) => eprintln!("screenshot of {}: {}", browser.name, path.display()),
                Err(e) => eprintln!("no screenshot of {}: {e}", browser.name),
            }
        }
        if !failure.is_panic() {
            eprintln!("scenario {test} did not finish: {failure}");
        }
    }
    for browser in browsers {
        let _ = browser.client.close().await;
    }
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("scenario {test} did not finish: {e}"),
        }
    }
}

/// `target/browser-failures`, created on demand.
fn failure_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-failures");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
