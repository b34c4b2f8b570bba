//! Sessions of a user: binding at login, listing, revoking, and the index's
//! hygiene (no raw user id in key names, a TTL on every key, nothing stale
//! listed). Shared behaviour runs on both stores through the conformance
//! routes; key-level checks run on a real redis-server.

use std::time::Duration;

use redis_sessions::RedisSessionFactory;

use crate::app;
use crate::support::{Backend, Client, RedisServer, SECRET, on_every_backend};

on_every_backend!(
    login_binds_the_user_regenerates_the_id_and_keeps_the_data,
    my_sessions_lists_every_device_with_the_current_one_marked,
    revoke_by_tag_ends_that_session_on_its_next_request,
    revoking_another_users_tag_is_refused,
    logout_unbinds_and_the_listing_forgets_the_session,
    the_admin_handle_lists_and_revokes_any_user,
    a_session_without_a_user_lists_nothing,
    past_max_sessions_per_user_the_oldest_sessions_are_revoked,
);

fn router(backend: &Backend) -> (RedisSessionFactory, axum::Router) {
    let factory = backend.factory(|b| b);
    let router = app::router(&factory);
    (factory, router)
}

async fn login_binds_the_user_regenerates_the_id_and_keeps_the_data(backend: Backend) {
    let (_, router) = router(&backend);
    let mut c = Client::new(router);
    c.get("/set?key=cart&value=2").await;
    let before = c.id();
    assert_eq!(c.get("/whoami").await.body, "");
    assert_eq!(c.get("/login?user=kate").await.body, "ok");
    assert_ne!(c.id(), before, "login regenerates the id");
    assert!(!backend.exists(&before).await);
    assert_eq!(c.get("/whoami").await.body, "kate");
    assert_eq!(c.get("/get?key=cart").await.body, "\"2\"", "data is kept");
}

async fn my_sessions_lists_every_device_with_the_current_one_marked(backend: Backend) {
    let (_, router) = router(&backend);
    let mut phone = Client::new(router.clone());
    let mut laptop = Client::new(router);
    let r = phone
        .send_headers("/login?user=alice", &[("user-agent", "Phone/1.0".into())])
        .await;
    phone.cookie = r.cookie("session");
    laptop.get("/login?user=alice").await;
    let listed = laptop.get("/my_sessions").await.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let current: Vec<bool> = listed
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1);
    for session in listed {
        let tag = session["tag"].as_str().unwrap();
        assert_eq!(tag.len(), 16);
        assert!(!phone.id().contains(tag) && !laptop.id().contains(tag));
        assert!(session["created"].as_u64().unwrap() > 1_600_000_000);
        assert!(session["last_seen"].as_u64().unwrap() >= session["created"].as_u64().unwrap());
    }
    assert!(
        listed.iter().any(|s| s["agent"] == "Phone/1.0"),
        "the recorded agent is listed: {listed:?}"
    );
}

async fn revoke_by_tag_ends_that_session_on_its_next_request(backend: Backend) {
    let (_, router) = router(&backend);
    let mut first = Client::new(router.clone());
    let mut second = Client::new(router);
    first.get("/login?user=dana").await;
    second.get("/login?user=dana").await;
    second.get("/set?key=draft&value=x").await;
    let listed = first.get("/my_sessions").await.json();
    let other = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["tag"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(first.get(&format!("/revoke?tag={other}")).await.status, 200);
    assert_eq!(second.get("/whoami").await.body, "", "signed out at once");
    assert_eq!(second.get("/get?key=draft").await.body, "null");
    assert_eq!(first.get("/whoami").await.body, "dana");
    let listed = first.get("/my_sessions").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The current session can revoke itself: that is a logout.
    let own = listed[0]["tag"].as_str().unwrap().to_owned();
    assert_eq!(first.get(&format!("/revoke?tag={own}")).await.status, 200);
    assert_eq!(first.get("/whoami").await.body, "");
}

async fn revoking_another_users_tag_is_refused(backend: Backend) {
    let (_, router) = router(&backend);
    let mut mallory = Client::new(router.clone());
    let mut victim = Client::new(router);
    mallory.get("/login?user=mallory").await;
    victim.get("/login?user=victim").await;
    let tag = victim.get("/my_sessions").await.json()[0]["tag"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = mallory.get(&format!("/revoke?tag={tag}")).await;
    assert_eq!(r.status, 404);
    assert_eq!(victim.get("/whoami").await.body, "victim");
}

async fn logout_unbinds_and_the_listing_forgets_the_session(backend: Backend) {
    let (_, router) = router(&backend);
    let mut a = Client::new(router.clone());
    let mut b = Client::new(router.clone());
    a.get("/login?user=erin").await;
    b.get("/login?user=erin").await;
    b.get("/logout").await;
    let listed = a.get("/my_sessions").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // A logout that never read the session (invalidate before any access)
    // still drops out of the listing.
    let mut c = Client::new(router);
    c.get("/login?user=erin").await;
    assert_eq!(
        a.get("/my_sessions").await.json().as_array().unwrap().len(),
        2
    );
    c.get("/invalidate").await;
    assert_eq!(
        a.get("/my_sessions").await.json().as_array().unwrap().len(),
        1
    );
}

async fn the_admin_handle_lists_and_revokes_any_user(backend: Backend) {
    let (factory, router) = router(&backend);
    let mut a = Client::new(router.clone());
    let mut b = Client::new(router);
    a.get("/login?user=frank").await;
    b.get("/login?user=frank").await;
    let users = factory.users().unwrap();
    let listed = users.list("frank").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| !s.current));
    assert!(users.revoke("frank", &listed[0].tag).await.unwrap());
    assert!(
        !users.revoke("frank", &listed[0].tag).await.unwrap(),
        "already gone"
    );
    assert_eq!(users.revoke_all("frank").await.unwrap(), 1);
    assert_eq!(a.get("/whoami").await.body, "");
    assert_eq!(b.get("/whoami").await.body, "");
    assert!(users.list("frank").await.unwrap().is_empty());
    assert!(users.list("nobody").await.unwrap().is_empty());
}

async fn a_session_without_a_user_lists_nothing(backend: Backend) {
    let (_, router) = router(&backend);
    let mut c = Client::new(router);
    c.get("/incr").await;
    assert_eq!(c.get("/my_sessions").await.body, "[]");
    assert_eq!(c.get("/revoke_others").await.body, "0");
    assert_eq!(c.get("/revoke?tag=whatever").await.status, 404);
}

#[tokio::test]
async fn index_keys_name_no_user_and_expire_with_the_last_session() {
    let server = RedisServer::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(server.url()))
        .timeout(300)
        .socket_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("/login?user=grace@example.com").await;
    let keys = server.keys();
    assert_eq!(
        keys.len(),
        3,
        "the session and the user's index (two keys): {keys:?}"
    );
    for key in &keys {
        assert!(!key.contains("grace"), "{key}");
        let ttl = server.ttl(key);
        assert!((1..=300).contains(&ttl), "{key}: TTL {ttl}");
    }
    c.get("/logout").await;
    let left = server.keys();
    assert!(
        left.iter().all(|k| server.ttl(k) > 0),
        "whatever is left expires: {left:?}"
    );
}

#[tokio::test]
async fn expired_sessions_drop_out_of_listings() {
    let server = RedisServer::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(server.url()))
        .socket_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let router = app::router(&factory);
    let mut old = Client::new(router.clone());
    let mut new = Client::new(router);
    old.get("/login?user=heidi").await;
    new.get("/login?user=heidi").await;
    // The old session's key expires (as if idle past its TTL).
    let mut conn = server.conn();
    let key = crate::support::key_of(&old.id());
    let _: () = ::redis::cmd("DEL").arg(&key).query(&mut conn).unwrap();
    let listed = new.get("/my_sessions").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["current"], true);
}

/// A login or regenerate that loaded the session before a revocation must
/// not bring it back under a new id (the move is atomic on one server).
async fn a_regenerate_racing_a_revocation_never_brings_the_session_back(backend: Backend) {
    use std::sync::Arc;

    use axum::routing::get;
    use tokio::sync::Notify;

    let factory = backend.factory(|b| b);
    let conformance = app::router(&factory);
    let (loaded, proceed) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let slow = {
        let (loaded, proceed) = (Arc::clone(&loaded), Arc::clone(&proceed));
        axum::Router::new()
            .route(
                "/regenerate_then_wait",
                get(move |session: redis_sessions::Session| async move {
                    session.regenerate().await.unwrap();
                    loaded.notify_one();
                    proceed.notified().await;
                    "ok"
                }),
            )
            .layer(factory.layer())
    };
    let mut victim = Client::new(conformance.clone());
    let mut attacker = Client::new(conformance);
    victim.get("/login?user=race-owner").await;
    attacker.get("/login?user=race-owner").await;
    let racing = {
        let mut slow = Client::new(slow);
        slow.cookie = attacker.cookie.clone();
        tokio::spawn(async move { slow.get("/regenerate_then_wait").await })
    };
    // The regenerate has loaded the session: revoke it meanwhile.
    loaded.notified().await;
    assert_eq!(victim.get("/revoke_others").await.body, "1");
    proceed.notify_one();
    let reply = racing.await.unwrap();
    if let Some(value) = reply.cookie("session").filter(|v| !v.is_empty()) {
        attacker.cookie = Some(value);
    }
    assert_eq!(attacker.get("/whoami").await.body, "", "still revoked");
    let listed = victim.get("/my_sessions").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn a_regenerate_racing_a_revocation_never_brings_the_session_back_in_memory() {
    a_regenerate_racing_a_revocation_never_brings_the_session_back(Backend::memory()).await
}

#[tokio::test]
async fn a_regenerate_racing_a_revocation_never_brings_the_session_back_on_redis() {
    a_regenerate_racing_a_revocation_never_brings_the_session_back(Backend::redis()).await
}

async fn past_max_sessions_per_user_the_oldest_sessions_are_revoked(backend: Backend) {
    let factory = backend.factory(|b| b.max_sessions_per_user(3));
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut c = Client::new(app::router(&factory));
        assert_eq!(c.get("/login?user=zoe").await.body, "ok");
        clients.push(c);
    }
    let mut live = 0;
    for c in &mut clients {
        let id = c.id();
        if c.get("/whoami").await.body == "zoe" {
            live += 1;
        } else {
            assert!(!backend.exists(&id).await, "a revoked session is deleted");
        }
    }
    assert_eq!(live, 3, "at most max_sessions_per_user stay");
    // The last login is never the one revoked (it ends last).
    let last = clients.last_mut().unwrap();
    assert_eq!(last.get("/whoami").await.body, "zoe");
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&last.get("/my_sessions").await.body).unwrap();
    assert_eq!(listed.len(), 3);
}
