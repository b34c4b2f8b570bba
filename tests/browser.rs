//! The demo app (examples/quickstart) in real headless Chromium, on a real
//! redis-server and on the embedded store: two browsers with separate
//! profiles sign in as the same user and sign each other out, and forged
//! CSRF tokens are refused.
//!
//! Set `REDIS_SESSIONS_DEMO_SCREENSHOT=path.png` to also save the “Your
//! sessions” page with two devices (how docs/demo.png is made).

use std::net::SocketAddr;

use axum::Router;
use fantoccini::Locator;

use crate::quickstart;
use crate::support::Backend;
use crate::support::browser::{self, Browser, Chromedriver};

/// What a phone sends, so the two devices differ in the listing.
const PHONE_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

/// One Chromium scenario at a time: the machine running the tests may be small.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The demo app on `backend`, listening on a free loopback port.
async fn serve_demo(backend: &Backend) -> SocketAddr {
    let factory = backend.factory(|builder| builder);
    factory.ping().await.unwrap();
    let app: Router = quickstart::router(&factory);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Signs `browser` in as `name` from the start page.
async fn sign_in(browser: &Browser, base: &str, name: &str) {
    browser.open(base, "form#sign-in").await;
    browser.type_into("#name", name).await;
    browser.click("form#sign-in button").await;
    browser
        .wait_for(&format!("main[data-page=home][data-user={name}]"))
        .await;
    browser
        .wait_for_text(".notice.done", &format!("Welcome, {name}."))
        .await;
}

fn two_browsers(browsers: Vec<Browser>) -> (Browser, Browser) {
    let mut browsers = browsers.into_iter();
    match (browsers.next(), browsers.next()) {
        (Some(a), Some(b)) => (a, b),
        _ => panic!("two browsers were started"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_signed_out_from_another_is_signed_out_on_its_next_page_load_on_redis() {
    two_devices_sign_each_other_out(Backend::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_signed_out_from_another_is_signed_out_on_its_next_page_load_in_memory() {
    two_devices_sign_each_other_out(Backend::memory()).await;
}

async fn two_devices_sign_each_other_out(backend: Backend) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let base = format!("http://{}", serve_demo(&backend).await);
    let driver = Chromedriver::start();
    let laptop = driver.browser("laptop", None).await;
    let phone = driver.browser("phone", Some(PHONE_AGENT)).await;
    let test = format!("two_devices_{}", backend.name());
    let screenshot = std::env::var_os("REDIS_SESSIONS_DEMO_SCREENSHOT")
        .filter(|_| matches!(backend, Backend::Redis(_)));
    browser::run(&test, vec![laptop, phone], |browsers| async move {
        let (laptop, phone) = two_browsers(browsers);
        sign_in(&laptop, &base, "alice").await;
        sign_in(&phone, &base, "alice").await;

        // The laptop lists both devices, itself first and marked.
        let sessions = format!("{base}/sessions");
        laptop
            .open(
                &sessions,
                "main[data-page=sessions] ul.devices[data-count='2']",
            )
            .await;
        assert_eq!(laptop.count("li.device[data-current=true]").await, 1);
        assert_eq!(laptop.count("li.device[data-current=false]").await, 1);
        let this = laptop.text("li.device[data-current=true]").await;
        let other = laptop.text("li.device[data-current=false]").await;
        assert!(this.contains("This device"), "{this}");
        assert!(other.contains("Chrome on Android"), "{other}");
        assert!(!other.contains("This device"), "{other}");
        let other_tag = laptop
            .wait_for("li.device[data-current=false]")
            .await
            .attr("data-tag")
            .await
            .unwrap()
            .unwrap();
        if let Some(path) = screenshot {
            let page = laptop.wait_for("html").await.screenshot().await.unwrap();
            std::fs::write(&path, page).unwrap();
        }

        // The phone sees the same two, itself marked.
        phone
            .open(
                &sessions,
                "main[data-page=sessions] ul.devices[data-count='2']",
            )
            .await;
        let phone_self = phone
            .wait_for("li.device[data-current=true]")
            .await
            .attr("data-tag")
            .await
            .unwrap();
        assert_eq!(phone_self.as_deref(), Some(other_tag.as_str()));

        // The laptop signs the phone out.
        laptop.click("li.device[data-current=false] button").await;
        laptop
            .wait_for("main[data-page=sessions] ul.devices[data-count='1']")
            .await;
        laptop
            .wait_for_text(".notice.done", "That device is signed out.")
            .await;
        assert_eq!(laptop.count("li.device[data-current=true]").await, 1);

        // The phone's very next page load finds it signed out.
        phone
            .open(&base, "main[data-page=home][data-user='']")
            .await;
        assert_eq!(phone.count("form#sign-in").await, 1);
        phone
            .open(&sessions, "main[data-page=home][data-user='']")
            .await;
        phone
            .wait_for_text(".notice.problem", "Sign in to see your sessions.")
            .await;

        // The laptop is still signed in.
        laptop
            .open(&base, "main[data-page=home][data-user=alice]")
            .await;

        // Signing out ends the laptop's session too.
        laptop.click("nav form button").await;
        laptop.wait_for("main[data-page=home][data-user='']").await;
        laptop
            .wait_for_text(".notice.done", "You are signed out.")
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_csrf_token_is_refused_and_changes_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let backend = Backend::redis();
    let base = format!("http://{}", serve_demo(&backend).await);
    let driver = Chromedriver::start();
    let browser = driver.browser("browser", None).await;
    let test = "forged_csrf";
    browser::run(test, vec![browser], |browsers| async move {
        let browser = browsers
            .into_iter()
            .next()
            .expect("one browser was started");
        sign_in(&browser, &base, "bob").await;

        // With the page's own token, a message comes back once as a flash.
        browser.type_into("#text", "hello from the form").await;
        browser.click("form#message button").await;
        browser
            .wait_for_text(".notice.done", "hello from the form")
            .await;
        browser
            .open(&base, "main[data-page=home][data-user=bob]")
            .await;
        assert_eq!(browser.count(".notice").await, 0, "a flash is shown once");

        // A forged token is refused with a page that says so.
        let form = browser
            .client
            .form(Locator::Css("form#message"))
            .await
            .unwrap();
        form.set_by_name("csrf_token", "forged-token")
            .await
            .unwrap();
        form.set_by_name("message", "forged message").await.unwrap();
        form.submit().await.unwrap();
        browser.wait_for("main[data-page=refused]").await;
        assert_eq!(browser.text("h1").await, "Request refused");

        // Nothing was flashed, and a forged sign-out did not sign out.
        browser
            .open(&base, "main[data-page=home][data-user=bob]")
            .await;
        assert_eq!(browser.count(".notice").await, 0);
        let form = browser.client.form(Locator::Css("nav form")).await.unwrap();
        form.set_by_name("csrf_token", "forged-token")
            .await
            .unwrap();
        form.submit().await.unwrap();
        browser.wait_for("main[data-page=refused]").await;
        browser
            .open(&base, "main[data-page=home][data-user=bob]")
            .await;
    })
    .await;
}
