//! The actix-web middleware and extractor: the contracts the conformance
//! suite (which runs on both apps) does not reach, and one session shared by
//! an axum app and an actix-web app on the same Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, web};
use redis_sessions::{RedisSessionFactory, Session, session};

use crate::app;
use crate::support::actix::Server;
use crate::support::{Backend, Client, SECRET};

#[tokio::test]
async fn a_missing_middleware_is_a_500_that_names_it() {
    let c = Client::http(Server::serve(|| {
        App::new()
            .route(
                "/needs",
                web::get().to(|_: Session| async { "unreachable" }),
            )
            .route(
                "/optional",
                web::get().to(|s: Option<Session>| async move {
                    if s.is_some() { "some" } else { "none" }
                }),
            )
    }));
    let r = c.send("/needs", None).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("SessionMiddleware"), "{}", r.body);
    let r = c.send("/optional", None).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "none"));
}

#[tokio::test]
async fn option_session_is_some_behind_the_middleware() {
    let factory = Backend::memory().factory(|b| b);
    let c = Client::http(Server::serve(move || {
        App::new()
            .route(
                "/optional",
                web::get().to(|s: Option<Session>| async move {
                    if s.is_some() { "some" } else { "none" }
                }),
            )
            .wrap(factory.middleware())
    }));
    assert_eq!(c.send("/optional", None).await.body, "some");
}

#[tokio::test]
async fn a_store_outage_is_a_503_without_a_cookie() {
    let mut server = crate::support::RedisServer::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(server.url()))
        .socket_timeout(Some(std::time::Duration::from_millis(500)))
        .build()
        .unwrap();
    let mut c = Client::actix(factory);
    assert_eq!(c.get("/incr").await.body, "1");
    server.stop();
    for path in ["/read", "/incr", "/login?user=x"] {
        let r = c.send(path, c.cookie.clone()).await;
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.body, "503 session store unavailable");
        assert!(r.set_cookie.is_empty(), "{path}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/plain; charset=utf-8")
        );
    }
}

#[tokio::test]
async fn client_callable_sees_the_request_and_runs_only_when_used() {
    let calls = Arc::new(AtomicUsize::new(0));
    let agents = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (counter, seen) = (Arc::clone(&calls), Arc::clone(&agents));
    let backend = Backend::redis();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(backend.url())
        .client_callable(
            move |head: &http::request::Parts, options: &redis_sessions::RedisOptions| {
                counter.fetch_add(1, Ordering::SeqCst);
                let agent = head.headers.get("user-agent").cloned();
                seen.lock()
                    .unwrap()
                    .push((head.uri.path().to_owned(), agent));
                redis_sessions::RedisClient::open(options)
            },
        )
        .build()
        .unwrap();
    let c = Client::actix(factory);
    c.send("/plain", Some("anything.x".into())).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "an untouched session");
    let r = c
        .send_headers("/incr", &[("user-agent", "probe/1.0".into())])
        .await;
    assert_eq!(r.body, "1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        agents.lock().unwrap().as_slice(),
        [(
            "/incr".to_owned(),
            Some(http::HeaderValue::from_static("probe/1.0"))
        )]
    );
}

#[tokio::test]
async fn handlers_answer_session_errors_with_the_generic_body() {
    let factory = Backend::memory().factory(|b| b.max_session_bytes(100));
    let c = Client::http(Server::serve(move || {
        App::new()
            .route(
                "/big",
                web::get().to(|s: Session| async move {
                    s.insert("big", "x".repeat(1_000)).await?;
                    Ok::<_, session::Error>(HttpResponse::Ok().body("stored"))
                }),
            )
            .wrap(factory.middleware())
    }));
    let r = c.send("/big", None).await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str()),
        (413, "413 session too large")
    );
    assert!(r.set_cookie.is_empty(), "{r:?}");
}

/// A session made by the axum app is used and changed by the actix-web app
/// on the same Redis, and back again: one cookie, one session.
#[tokio::test]
async fn axum_and_actix_apps_share_their_sessions() {
    let backend = Backend::redis();
    let mut axum = Client::new(app::router(&backend.factory(|b| b)));
    assert_eq!(axum.get("/incr").await.body, "1");
    axum.get("/set?key=from&value=axum").await;
    axum.get("/flash?msg=hello").await;
    let id = axum.id();

    let mut actix = Client::actix(backend.factory(|b| b)).with_cookie_of(&axum);
    assert_eq!(actix.get("/read").await.body, "1");
    assert_eq!(actix.get("/get?key=from").await.json(), "axum");
    assert_eq!(actix.get("/incr").await.body, "2");
    actix.get("/set?key=from&value=actix").await;
    assert_eq!(
        actix.get("/pop_flash").await.json(),
        serde_json::json!(["hello"])
    );
    assert_eq!(actix.id(), id, "the same session");

    axum = axum.with_cookie_of(&actix);
    assert_eq!(axum.get("/read").await.body, "2");
    assert_eq!(axum.get("/get?key=from").await.json(), "actix");
    assert_eq!(axum.get("/peek_flash").await.json(), serde_json::json!([]));
    // A move on one app is followed by the other; the old cookie is dead.
    let old = axum.cookie.clone();
    axum.get("/regenerate").await;
    actix = actix.with_cookie_of(&axum);
    assert_eq!(actix.get("/read").await.body, "2");
    assert_eq!(actix.send("/read", old).await.body, "0");
    // A logout on actix-web ends the session for the axum app too.
    actix.get("/logout").await;
    assert_eq!(axum.get("/read").await.body, "0");
    assert!(!backend.exists(&id).await);
}

/// As on axum: a request that never touches its session costs no command
/// and gets no header, with or without a cookie.
#[tokio::test]
async fn untouched_requests_cost_nothing() {
    let backend = Backend::redis();
    // Without the process cache, whose tracking connection starts with the
    // first read.
    let mut c = Client::actix(backend.factory(|b| b.client_cache_size(0)));
    c.get("/incr").await;
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    for cookie in [None, c.cookie.clone()] {
        let (r, commands) = server.commands_during(c.send("/plain", cookie)).await;
        assert!(commands.is_empty(), "{commands:?}");
        assert!(r.set_cookie.is_empty() && r.vary.is_empty(), "{r:?}");
    }
    let (r, commands) = server.commands_during(c.get("/read")).await;
    assert_eq!(r.body, "1");
    assert_eq!(
        commands.values().sum::<u64>(),
        1,
        "one command: {commands:?}"
    );
}
