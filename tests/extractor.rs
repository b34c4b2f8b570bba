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
