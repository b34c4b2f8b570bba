//! The axum extractor's contracts and the session methods that the
//! conformance routes do not reach.

use axum::Router;
use axum::routing::get;
use redis_sessions::{RedisSessionFactory, Session, session};

use crate::support::{Backend, Client, ProbeStore, SECRET};

#[tokio::test]
async fn a_missing_layer_is_a_500_that_names_it() {
    let app = Router::new()
        .route("/needs", get(|_: Session| async { "unreachable" }))
        .route(
            "/optional",
            get(|s: Option<Session>| async move { if s.is_some() { "some" } else { "none" } }),
        );
    let c = Client::new(app);
    let r = c.send("/needs", None).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("SessionLayer"), "{}", r.body);
    let r = c.send("/optional", None).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "none"));
}

#[tokio::test]
async fn option_session_is_some_behind_the_layer() {
    let factory = Backend::memory().factory(|b| b);
    let app = Router::new()
        .route(
            "/optional",
            get(|s: Option<Session>| async move { if s.is_some() { "some" } else { "none" } }),
        )
        .layer(factory.layer());
    assert_eq!(Client::new(app).send("/optional", None).await.body, "some");
}

#[tokio::test]
async fn changed_writes_every_value_back_and_entries_lists_them() {
    let backend = Backend::memory();
    let probe = ProbeStore::new(backend.store());
    let factory = RedisSessionFactory::builder(SECRET)
        .store(probe.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/fill",
            get(|s: Session| async move {
                s.update([("a", 1), ("b", 2)]).await?;
                Ok::<_, session::Error>("ok")
            }),
        )
        .route(
            "/changed",
            get(|s: Session| async move {
                s.changed().await?;
                let entries: Vec<(String, i64)> = s.entries().await?;
                Ok::<_, session::Error>(format!("{entries:?}"))
            }),
        )
        .route(
            "/look",
            get(|s: Session| async move { s.len().await.map(|n| n.to_string()) }),
        )
        .layer(factory.layer());
    let mut c = Client::new(app);
    c.get("/fill").await;
    c.get("/look").await;
    assert_eq!(
        probe.writes.lock().unwrap().len(),
        1,
        "a read writes nothing"
    );
    let r = c.get("/changed").await;
    assert_eq!(r.body, r#"[("a", 1), ("b", 2)]"#);
    let writes = probe.writes.lock().unwrap().clone();
    assert_eq!(
        writes.last().map(String::as_str),
        Some("[Update(2 set, 0 deleted, 1200 s)]"),
        "{writes:?}"
    );
}

#[tokio::test]
async fn values_get_or_popitem_and_tag_work_like_pyramids_dict() {
    let factory = Backend::memory().factory(|b| b);
    let session = factory.new_session(None);
    assert_eq!(session.tag(), None, "no id yet");
    assert_eq!(session.get_or("missing", 7u32).await.unwrap(), 7);
    session.insert("a", 1u32).await.unwrap();
    session.insert("b", 2u32).await.unwrap();
    assert_eq!(session.values::<u32>().await.unwrap(), [1, 2]);
    assert_eq!(
        session.popitem::<u32>().await.unwrap(),
        Some(("b".to_owned(), 2))
    );
    let set_cookie = session.save().await.unwrap().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let again = factory.new_session(Some(&cookie));
    let tag = again.tag().unwrap();
    assert_eq!(tag.len(), 16);
    assert!(!cookie.contains(&tag), "the tag is not part of the cookie");
    assert_eq!(again.keys().await.unwrap(), ["a"]);
    assert_eq!(
        again.tag().unwrap(),
        tag,
        "the same before and after loading"
    );
    assert_eq!(again.popitem::<u32>().await.unwrap(), Some(("a".into(), 1)));
    assert_eq!(again.popitem::<u32>().await.unwrap(), None);
}

#[tokio::test]
async fn flash_takes_any_serializable_message() {
    let factory = Backend::memory().factory(|b| b);
    let session = factory.new_session(None);
    session.flash("Saved.", "", false).await.unwrap();
    session
        .flash("Saved.".to_string(), "", false)
        .await
        .unwrap();
    session.flash(42, "", false).await.unwrap();
    let messages: Vec<serde_json::Value> = session.pop_flash("").await.unwrap();
    assert_eq!(
        messages,
        [serde_json::json!("Saved."), serde_json::json!(42)]
    );
}

#[tokio::test]
async fn client_callable_runs_only_for_requests_that_use_their_session() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let factory = RedisSessionFactory::builder(SECRET)
        .client_callable(
            move |_: &http::request::Parts, options: &redis_sessions::RedisOptions| {
                counter.fetch_add(1, Ordering::SeqCst);
                redis_sessions::RedisClient::open(options)
            },
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route(
            "/used",
            get(|s: Session| async move {
                s.invalidate();
                "ok"
            }),
        )
        .layer(factory.layer());
    let c = Client::new(app);
    c.send("/plain", Some("anything.x".into())).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "an untouched session");
    c.send("/used", None).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "invalidating nothing needs no store"
    );
}
