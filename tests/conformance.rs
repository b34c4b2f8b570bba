//! The behavioural suite: every test runs against the embedded store, a
//! real redis-server and a real Redis Cluster, through the conformance app's
//! routes, on both apps: axum (in-process) and actix-web (over HTTP).

use redis_sessions::cookie::CookieSigner;
use redis_sessions::id::generate_session_id;
use redis_sessions::{Builder, RedisSessionFactory};

use crate::support::{
    Backend, Client, ProbeStore, SECRET, app_client, on_actix_too, on_every_backend,
};

fn client(backend: &Backend) -> Client {
    client_with(backend, |b| b)
}

fn client_with(backend: &Backend, configure: impl FnOnce(Builder) -> Builder) -> Client {
    app_client(backend.factory(configure))
}

on_every_backend!(
    plain_never_touches_the_session,
    incr_counts_per_session,
    reading_without_a_cookie_creates_nothing,
    set_get_delete_and_keys,
    values_keep_their_types,
    a_corrupt_value_read_after_a_regenerate_discards_both_sessions,
    tampered_cookie_is_treated_as_absent,
    signed_but_unknown_id_is_never_adopted,
    clearing_deletes_the_session_and_the_cookie,
    invalidate_deletes_the_session_and_the_cookie,
    invalidate_then_set_starts_a_new_session,
    flash_queues_keep_order_and_honour_duplicates,
    csrf_token_is_stable_until_renewed,
    adjusted_timeout_sticks_for_the_rest_of_the_session,
    regenerate_keeps_data_under_a_new_id,
    info_reports_new_created_and_timeout,
    server_errors_keep_changes_by_default,
    server_errors_drop_changes_without_cookie_on_exception,
    concurrent_requests_setting_distinct_keys_keep_all,
    slow_write_does_not_resurrect_an_invalidated_session,
    a_write_racing_a_move_fails_loudly_and_lands_nowhere,
    concurrent_flash_messages_to_one_queue_all_land,
    concurrent_writers_cannot_beat_max_session_bytes_together,
    flash_appends_in_place_are_weighed_against_max_session_bytes,
    corrupt_payload_yields_a_fresh_session,
    a_corrupt_value_is_found_when_it_is_read,
    cookie_attributes_follow_the_settings,
    cookie_max_age_is_refreshed_on_use,
    keys_are_prefixed_digests,
);

// The same routes and answers on actix-web (the typed-values test drives a
// router of its own: it tests the library, not the app).
on_actix_too!(
    plain_never_touches_the_session,
    incr_counts_per_session,
    reading_without_a_cookie_creates_nothing,
    set_get_delete_and_keys,
    tampered_cookie_is_treated_as_absent,
    signed_but_unknown_id_is_never_adopted,
    clearing_deletes_the_session_and_the_cookie,
    invalidate_deletes_the_session_and_the_cookie,
    invalidate_then_set_starts_a_new_session,
    flash_queues_keep_order_and_honour_duplicates,
    csrf_token_is_stable_until_renewed,
    adjusted_timeout_sticks_for_the_rest_of_the_session,
    regenerate_keeps_data_under_a_new_id,
    info_reports_new_created_and_timeout,
    server_errors_keep_changes_by_default,
    server_errors_drop_changes_without_cookie_on_exception,
    concurrent_requests_setting_distinct_keys_keep_all,
    slow_write_does_not_resurrect_an_invalidated_session,
    a_write_racing_a_move_fails_loudly_and_lands_nowhere,
    concurrent_flash_messages_to_one_queue_all_land,
    concurrent_writers_cannot_beat_max_session_bytes_together,
    flash_appends_in_place_are_weighed_against_max_session_bytes,
    corrupt_payload_yields_a_fresh_session,
    a_corrupt_value_is_found_when_it_is_read,
    cookie_attributes_follow_the_settings,
    cookie_max_age_is_refreshed_on_use,
    keys_are_prefixed_digests,
);

async fn plain_never_touches_the_session(backend: Backend) {
    let mut c = client(&backend);
    c.get("/incr").await;
    for cookie in [None, c.cookie.clone()] {
        let r = c.send("/plain", cookie).await;
        assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "ok"));
        assert!(r.set_cookie.is_empty() && r.vary.is_empty(), "{r:?}");
    }
}

async fn incr_counts_per_session(backend: Backend) {
    let mut a = client(&backend);
    for expected in ["1", "2", "3"] {
        assert_eq!(a.get("/incr").await.body, expected);
    }
    let mut b = client(&backend);
    assert_eq!(b.get("/incr").await.body, "1");
    assert_eq!(a.get("/read").await.body, "3");
    assert_ne!(a.id(), b.id());
}

async fn reading_without_a_cookie_creates_nothing(backend: Backend) {
    let mut c = client(&backend);
    let r = c.get("/read").await;
    assert_eq!(r.body, "0");
    assert!(r.set_cookie.is_empty(), "{r:?}");
    assert_eq!(r.vary, ["Cookie"]);
    let r = c.get("/timeout?seconds=5").await;
    assert!(
        r.set_cookie.is_empty(),
        "metadata alone is not stored: {r:?}"
    );
}

async fn set_get_delete_and_keys(backend: Backend) {
    let mut c = client(&backend);
    assert_eq!(c.get("/set?key=b&value=2").await.body, "ok");
    c.get("/set?key=a&value=1").await;
    assert_eq!(c.get("/get?key=a").await.json(), "1");
    assert_eq!(c.get("/get?key=zz").await.json(), serde_json::Value::Null);
    assert_eq!(c.get("/keys").await.json(), serde_json::json!(["a", "b"]));
    c.get("/delete?key=a").await;
    assert_eq!(c.get("/get?key=a").await.json(), serde_json::Value::Null);
    assert_eq!(c.get("/keys").await.json(), serde_json::json!(["b"]));
    // Key names that look like metadata are ordinary keys.
    c.get("/set?key=%00t&value=x").await;
    assert_eq!(c.get("/get?key=%00t").await.json(), "x");
    assert_eq!(c.get("/info").await.json()["timeout"], 1200);
}

async fn values_keep_their_types(backend: Backend) {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    enum Plan {
        Free,
        Paid { seats: u32 },
    }
    let factory = backend.factory(|b| b);
    let router = axum::Router::new()
        .route(
            "/write",
            axum::routing::get(|s: redis_sessions::Session| async move {
                s.update([("max", u64::MAX), ("zero", 0)]).await?;
                s.insert("min", i64::MIN).await?;
                s.insert("pi", 3.25f64).await?;
                s.insert("bytes", serde_bytes::ByteBuf::from(vec![0u8, 255]))
                    .await?;
                s.insert("plan", Plan::Paid { seats: 3 }).await?;
                s.insert("none", None::<String>).await?;
                Ok::<_, redis_sessions::session::Error>("ok")
            }),
        )
        .route(
            "/check",
            axum::routing::get(|s: redis_sessions::Session| async move {
                assert_eq!(s.get::<u64>("max").await?, Some(u64::MAX));
                assert_eq!(s.get::<i64>("min").await?, Some(i64::MIN));
                assert_eq!(s.get::<f64>("pi").await?, Some(3.25));
                assert_eq!(
                    s.get::<serde_bytes::ByteBuf>("bytes")
                        .await?
                        .map(|b| b.into_vec()),
                    Some(vec![0, 255])
                );
                assert_eq!(s.get::<Plan>("plan").await?, Some(Plan::Paid { seats: 3 }));
                assert_eq!(s.get::<Option<String>>("none").await?, Some(None));
                assert!(
                    s.get::<String>("max").await.is_err(),
                    "wrong type is an error"
                );
                assert_eq!(s.setdefault("zero", 5u64).await?, 0);
                assert_eq!(s.setdefault("new", 5u64).await?, 5);
                assert_eq!(s.pop::<u64>("new").await?, Some(5));
                assert_eq!(s.len().await?, 7);
                assert_ne!(s.get::<Plan>("plan").await?, Some(Plan::Free));
                Ok::<_, redis_sessions::session::Error>("ok")
            }),
        )
        .layer(factory.layer());
    let mut c = Client::new(router);
    assert_eq!(c.get("/write").await.body, "ok");
    assert_eq!(c.get("/check").await.body, "ok");
}

async fn tampered_cookie_is_treated_as_absent(backend: Backend) {
    let mut c = client(&backend);
    c.get("/incr").await;
    c.get("/incr").await;
    let good = c.cookie.clone().unwrap();
    let (id, mac) = good.rsplit_once('.').unwrap();
    let flipped = format!(
        "{}{}",
        if id.starts_with('A') { "B" } else { "A" },
        &id[1..]
    );
    for bad in [
        format!("{flipped}.{mac}"),
        format!("{id}.{}", mac.chars().rev().collect::<String>()),
        id.to_owned(),
        format!("{good}x"),
        "garbage".into(),
        String::new(),
    ] {
        let r = c.send("/read", Some(bad.clone())).await;
        assert_eq!(r.body, "0", "{bad}");
        assert!(r.set_cookie.is_empty(), "{bad}: {r:?}");
    }
    assert_eq!(
        c.get("/read").await.body,
        "2",
        "the real session is untouched"
    );
}

async fn signed_but_unknown_id_is_never_adopted(backend: Backend) {
    let mut c = client(&backend);
    let chosen = generate_session_id().unwrap();
    let signer = CookieSigner::new(SECRET).unwrap();
    c.cookie = Some(signer.sign("session", &chosen));
    assert_eq!(c.get("/read").await.body, "0");
    let r = c.get("/incr").await;
    assert_eq!(r.body, "1");
    assert_ne!(c.id(), chosen, "a fixated id must not be adopted");
    assert!(!backend.exists(&chosen).await);
    assert!(backend.exists(&c.id()).await);
}

async fn clearing_deletes_the_session_and_the_cookie(backend: Backend) {
    let mut c = client(&backend);
    c.get("/set?key=a&value=1").await;
    let id = c.id();
    let r = c.get("/clear").await;
    assert_eq!(r.cookie("session").as_deref(), Some(""), "{r:?}");
    assert!(!backend.exists(&id).await);
    if let Backend::Redis(server) = &backend {
        assert!(server.keys().is_empty(), "{:?}", server.keys());
    }
    let r = c.get("/delete?key=nothing").await;
    assert!(r.set_cookie.is_empty());
}

async fn invalidate_deletes_the_session_and_the_cookie(backend: Backend) {
    let mut c = client_with(&backend, |b| {
        b.cookie_path("/").cookie_domain(Some("example.com".into()))
    });
    c.get("/incr").await;
    let old = c.cookie.clone();
    let id = c.id();
    let r = c.get("/invalidate").await;
    let deletion = r.set_cookie.first().expect("a deletion cookie");
    assert!(deletion.starts_with("session=;"), "{deletion}");
    for attr in ["Path=/", "Domain=example.com", "Max-Age=0"] {
        assert!(deletion.contains(attr), "{deletion} lacks {attr}");
    }
    assert_eq!(r.vary, ["Cookie"]);
    assert!(!backend.exists(&id).await);
    assert_eq!(c.send("/read", old).await.body, "0");
}

async fn invalidate_then_set_starts_a_new_session(backend: Backend) {
    let mut c = client(&backend);
    c.get("/set?key=old&value=1").await;
    let old = c.id();
    c.get("/invalidate_then_set?key=new&value=2").await;
    assert_ne!(c.id(), old);
    assert!(!backend.exists(&old).await);
    assert_eq!(c.get("/keys").await.json(), serde_json::json!(["new"]));
}

async fn flash_queues_keep_order_and_honour_duplicates(backend: Backend) {
    let mut c = client(&backend);
    c.get("/flash?msg=one").await;
    c.get("/flash?msg=one").await;
    c.get("/flash?msg=two&allow_duplicate=false").await;
    c.get("/flash?msg=two&allow_duplicate=false").await;
    c.get("/flash?msg=err&queue=errors").await;
    assert_eq!(
        c.get("/peek_flash").await.json(),
        serde_json::json!(["one", "one", "two"])
    );
    assert_eq!(
        c.get("/peek_flash").await.json(),
        serde_json::json!(["one", "one", "two"])
    );
    assert_eq!(
        c.get("/pop_flash").await.json(),
        serde_json::json!(["one", "one", "two"])
    );
    assert_eq!(c.get("/pop_flash").await.json(), serde_json::json!([]));
    assert_eq!(
        c.get("/pop_flash?queue=errors").await.json(),
        serde_json::json!(["err"])
    );
    assert_eq!(
        c.get("/flash?msg=x&allow_duplicate=maybe").await.status,
        400
    );
}

async fn csrf_token_is_stable_until_renewed(backend: Backend) {
    let mut c = client(&backend);
    let first = c.get("/csrf").await.body;
    assert!(first.len() >= 43, "{first}");
    assert_eq!(c.get("/csrf").await.body, first);
    let renewed = c.get("/new_csrf").await.body;
    assert_ne!(renewed, first);
    assert_eq!(c.get("/csrf").await.body, renewed);
    assert_eq!(c.get("/keys").await.json(), serde_json::json!(["_csrft_"]));
}

async fn adjusted_timeout_sticks_for_the_rest_of_the_session(backend: Backend) {
    let mut c = client(&backend);
    c.get("/incr").await;
    assert_eq!(c.get("/info").await.json()["timeout"], 1200);
    c.get("/timeout?seconds=77").await;
    c.get("/incr").await;
    assert_eq!(c.get("/info").await.json()["timeout"], 77);
    let meta = backend.meta(&c.id()).await.unwrap();
    assert_eq!(meta.timeout, Some(77));
}

async fn regenerate_keeps_data_under_a_new_id(backend: Backend) {
    let mut c = client(&backend);
    c.get("/incr").await;
    c.get("/timeout?seconds=300").await;
    let old_cookie = c.cookie.clone();
    let old = c.id();
    let r = c.get("/regenerate").await;
    assert!(r.cookie("session").is_some_and(|v| !v.is_empty()), "{r:?}");
    assert_ne!(c.id(), old);
    assert!(!backend.exists(&old).await);
    assert_eq!(c.get("/read").await.body, "1");
    assert_eq!(c.get("/info").await.json()["timeout"], 300);
    assert_eq!(c.send("/read", old_cookie).await.body, "0");
}

async fn info_reports_new_created_and_timeout(backend: Backend) {
    let mut c = client_with(&backend, |b| b.timeout(90));
    let before = now();
    let info = c.get("/info").await.json();
    assert_eq!(info["new"], true);
    assert_eq!(info["timeout"], 90);
    c.get("/incr").await;
    let info = c.get("/info").await.json();
    assert_eq!(info["new"], false);
    let created = info["created"].as_u64().unwrap();
    assert!(created >= before && created <= now(), "{info}");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn server_errors_keep_changes_by_default(backend: Backend) {
    let mut c = client(&backend);
    let r = c.get("/fail?key=k&value=v").await;
    assert_eq!(r.status, 500);
    assert!(r.cookie("session").is_some(), "{r:?}");
    assert_eq!(c.get("/get?key=k").await.json(), "v");
}

async fn server_errors_drop_changes_without_cookie_on_exception(backend: Backend) {
    let mut c = client_with(&backend, |b| b.cookie_on_exception(false));
    let r = c.get("/fail?key=k&value=v").await;
    assert_eq!(r.status, 500);
    assert!(r.set_cookie.is_empty(), "{r:?}");
    c.get("/set?key=a&value=1").await;
    c.get("/fail?key=k&value=v").await;
    assert_eq!(c.get("/keys").await.json(), serde_json::json!(["a"]));
    if let Backend::Memory(store) = &backend {
        assert_eq!(store.len(), 1, "no orphaned session");
    }
    if let Backend::Redis(server) = &backend {
        assert_eq!(server.keys().len(), 1, "no orphaned key");
    }
}

async fn concurrent_requests_setting_distinct_keys_keep_all(backend: Backend) {
    let mut c = client(&backend);
    c.get("/set?key=base&value=0").await;
    let requests = (0..50).map(|i| {
        let c = c.clone();
        let cookie = c.cookie.clone();
        tokio::spawn(async move { c.send(&format!("/set?key=k{i:02}&value={i}"), cookie).await })
    });
    for reply in join_all(requests).await {
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            reply.set_cookie.is_empty(),
            "an existing session keeps its cookie"
        );
    }
    let keys = c.get("/keys").await.json();
    let mut expected: Vec<String> = (0..50).map(|i| format!("k{i:02}")).collect();
    expected.insert(0, "base".into());
    assert_eq!(keys, serde_json::json!(expected));
}

async fn concurrent_writers_cannot_beat_max_session_bytes_together(backend: Backend) {
    let factory = backend.factory(|b| b.max_session_bytes(10_000));
    let mut c = app_client(factory);
    c.get("/set?key=base&value=0").await;
    let value = "v".repeat(6_000);
    // Each loads the small session, waits, then adds 6 KB: each alone fits.
    let requests = (0..40).map(|i| {
        let c = c.clone();
        let cookie = c.cookie.clone();
        let path = format!("/slow_set?key=k{i:02}&value={value}&ms=200");
        tokio::spawn(async move { c.send(&path, cookie).await })
    });
    let replies = join_all(requests).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 413),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(ok, 1, "only one 6 KB value fits in 10 KB");
    let keys: Vec<String> = serde_json::from_value(c.get("/keys").await.json()).unwrap();
    assert_eq!(keys.len(), 2, "base and the one that fit: {keys:?}");
}

async fn concurrent_flash_messages_to_one_queue_all_land(backend: Backend) {
    for existing_queue in [false, true] {
        let mut c = client(&backend);
        c.get("/set?key=base&value=0").await;
        if existing_queue {
            c.get("/flash?msg=first").await;
        }
        let requests = (0..30).map(|i| {
            let c = c.clone();
            let cookie = c.cookie.clone();
            tokio::spawn(async move { c.send(&format!("/flash?msg=m{i:02}"), cookie).await })
        });
        for reply in join_all(requests).await {
            assert_eq!(reply.status, 200, "{reply:?}");
        }
        let queue = c.get("/pop_flash").await.json();
        let mut kept: Vec<String> = serde_json::from_value(queue).unwrap();
        kept.sort();
        let mut expected: Vec<String> = (0..30).map(|i| format!("m{i:02}")).collect();
        if existing_queue {
            expected.insert(0, "first".into());
            expected.sort();
        }
        assert_eq!(kept, expected, "every acknowledged flash is kept");
        assert_eq!(c.get("/peek_flash").await.json(), serde_json::json!([]));
    }
}

async fn flash_appends_in_place_are_weighed_against_max_session_bytes(backend: Backend) {
    let factory = backend.factory(|b| b.max_session_bytes(200));
    let mut c = app_client(factory);
    c.get("/set?key=base&value=0").await;
    let message = "x".repeat(40);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            c.get(&format!("/flash?msg={message}"))
                .await
                .status
                .as_u16(),
        );
    }
    assert!(statuses.contains(&413), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 413),
        "{statuses:?}"
    );
    let kept: Vec<String> = serde_json::from_value(c.get("/peek_flash").await.json()).unwrap();
    assert_eq!(kept.len(), statuses.iter().filter(|s| **s == 200).count());
}

async fn join_all<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

async fn slow_write_does_not_resurrect_an_invalidated_session(backend: Backend) {
    let probe = ProbeStore::new(backend.store());
    let factory = RedisSessionFactory::builder(SECRET)
        .store(probe.clone())
        .build()
        .unwrap();
    let mut c = app_client(factory);
    c.get("/set?key=a&value=1").await;
    let id = c.id();
    // Wait until the slow request has read the session, then end the session.
    let slow = probe
        .spawn_after_load(&c, "/slow_set?key=late&value=2&ms=1500")
        .await;
    let r = c.get("/invalidate").await;
    assert_eq!(r.cookie("session").as_deref(), Some(""));
    assert!(
        !slow.is_finished(),
        "the invalidation must land inside the slow request's sleep"
    );
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, 200);
    assert!(slow.set_cookie.is_empty(), "{slow:?}");
    assert!(
        !backend.exists(&id).await,
        "the invalidated session came back"
    );
}

async fn a_write_racing_a_move_fails_loudly_and_lands_nowhere(backend: Backend) {
    let probe = ProbeStore::new(backend.store());
    let factory = RedisSessionFactory::builder(SECRET)
        .store(probe.clone())
        .build()
        .unwrap();
    let mut c = app_client(factory);
    c.get("/set?key=a&value=1").await;
    let old = c.cookie.clone();
    // The slow request loads the session, then the session moves.
    let slow = probe
        .spawn_after_load(&c, "/slow_set?key=late&value=2&ms=1500")
        .await;
    assert_eq!(c.get("/regenerate").await.status, 200);
    assert_ne!(c.cookie, old);
    assert!(
        !slow.is_finished(),
        "the move must land inside the slow request's sleep"
    );
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, 500, "never a 200 and a loss: {slow:?}");
    assert!(slow.set_cookie.is_empty(), "{slow:?}");
    assert_eq!(c.get("/get?key=late").await.body, "null");
    assert_eq!(
        c.get("/get?key=a").await.body,
        "\"1\"",
        "the move kept the data"
    );
    // The old cookie after the move sees nothing, and cannot reach the
    // moved session.
    let r = c.send("/get?key=a", old.clone()).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "null"));
    let r = c.send("/set?key=b&value=3", old).await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get("/get?key=b").await.body, "null");
}

async fn corrupt_payload_yields_a_fresh_session(backend: Backend) {
    let mut c = client(&backend);
    c.get("/incr").await;
    let id = c.id();
    backend.put_raw(&id, b"counter", b"\xc1 not msgpack").await;
    let r = c.get("/read").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "0"));
    let r = c.get("/incr").await;
    assert_eq!(r.body, "1");
    assert_ne!(c.id(), id, "a fresh session gets a fresh id");
    // A corrupt metadata field in Redis is handled the same way (the
    // embedded store's layout is written by no one else).
    if let Some(mut raw) = backend.raw() {
        let id = c.id();
        ::redis::cmd("HSET")
            .arg(crate::support::key_of(&id))
            .arg(crate::support::layout::CREATED_FIELD)
            .arg("yesterday")
            .exec(&mut *raw)
            .unwrap();
        let key = crate::support::key_of(&id);
        assert!(backend.exists(&id).await, "stored, corrupt");
        assert_eq!(c.get("/read").await.body, "0");
        let left: bool = ::redis::cmd("EXISTS").arg(&key).query(&mut *raw).unwrap();
        assert!(!left, "deleted as corrupt");
    }
}

/// Values are decoded when read: a corrupt one costs nothing until then,
/// and then discards the session as a corrupt load does. A value that is
/// well formed but not what the handler asks for is not corrupt.
async fn a_corrupt_value_is_found_when_it_is_read(backend: Backend) {
    let mut c = client(&backend);
    c.get("/set?key=a&value=1").await;
    c.get("/set?key=counter&value=x").await;
    let id = c.id();
    let r = c.get("/incr").await;
    assert_eq!(r.status, 500, "a string is not a counter");
    assert_eq!(
        c.get("/get?key=counter").await.json(),
        "x",
        "and it is kept"
    );
    backend.put_raw(&id, b"b", b"\xc1 not msgpack").await;
    assert_eq!(c.get("/get?key=a").await.json(), "1", "b is not read");
    assert_eq!(
        c.get("/keys").await.json(),
        serde_json::json!(["a", "b", "counter"])
    );
    assert!(backend.exists(&id).await);
    let r = c.get("/get?key=b").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (200, serde_json::Value::Null)
    );
    assert!(!backend.exists(&id).await, "the corrupt session is deleted");
    assert_eq!(c.get("/get?key=a").await.json(), serde_json::Value::Null);
}

/// A regenerate carries the values as they were read to the new id: one
/// that turns out corrupt when read afterwards, in the same request,
/// discards the session (the old key goes, nothing is created), as it does
/// when read before.
async fn a_corrupt_value_read_after_a_regenerate_discards_both_sessions(backend: Backend) {
    let factory = backend.factory(|b| b);
    let mut c = app_client(factory.clone());
    c.get("/set?key=a&value=1").await;
    c.get("/set?key=b&value=2").await;
    let id = c.id();
    backend.put_raw(&id, b"b", b"\xc1 not msgpack").await;
    let session = factory.new_session(Some(&format!("session={}", c.cookie.clone().unwrap())));
    assert_eq!(
        session.get::<String>("a").await.unwrap().as_deref(),
        Some("1")
    );
    session.regenerate().await.unwrap();
    assert_eq!(session.get::<String>("b").await.unwrap(), None);
    assert_eq!(
        session.get::<String>("a").await.unwrap(),
        None,
        "a fresh session"
    );
    assert!(session.is_new().await.unwrap());
    let set_cookie = session.save().await.unwrap();
    assert!(!backend.exists(&id).await, "the old session is deleted");
    assert!(
        set_cookie
            .as_deref()
            .is_none_or(|c| c.contains("Max-Age=0")),
        "nothing is created: {set_cookie:?}"
    );
}

async fn cookie_attributes_follow_the_settings(backend: Backend) {
    let mut c = client_with(&backend, |b| {
        b.cookie_name("sid")
            .cookie_path("/app")
            .cookie_secure(true)
            .cookie_httponly(true)
            .cookie_samesite(redis_sessions::cookie::SameSite::Strict)
            .cookie_max_age(Some(3600))
    });
    c.cookie_name = "sid".into();
    let r = c.get("/incr").await;
    let set = &r.set_cookie[0];
    for attr in [
        "sid=",
        "Path=/app",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=3600",
    ] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert_eq!(c.get("/read").await.body, "1");
}

async fn cookie_max_age_is_refreshed_on_use(backend: Backend) {
    let mut c = client_with(&backend, |b| b.cookie_max_age(Some(60)));
    let first = c.get("/incr").await.cookie("session").unwrap();
    let r = c.get("/read").await;
    assert_eq!(r.cookie("session").as_deref(), Some(first.as_str()));
    assert!(r.set_cookie[0].contains("Max-Age=60"));
    let mut plain = client(&backend);
    plain.get("/incr").await;
    assert!(plain.get("/read").await.set_cookie.is_empty());
}

async fn keys_are_prefixed_digests(backend: Backend) {
    let mut c = client_with(&backend, |b| b.prefix("app:s:"));
    c.get("/incr").await;
    let id = c.id();
    let key = format!("app:s:{}", crate::support::key_of(&id));
    assert!(backend.store().load(&key).await.unwrap().is_some());
    assert!(
        !backend.exists(&id).await,
        "nothing is stored without the prefix"
    );
    if let Backend::Redis(server) = &backend {
        let keys = server.keys();
        assert_eq!(keys, [key]);
        assert!(!keys[0].contains(&id));
    }
}
