//! `Session::incr`: counted in the store, atomically, without a load when it
//! can be; the ordinary way (load, add, save) when it cannot. On every
//! backend.

use std::sync::atomic::Ordering;

use crate::support::layout::{CREATED_FIELD, REFRESHED_FIELD};
use redis_sessions::codec::Json;
use redis_sessions::{Builder, RedisSessionFactory};

use crate::app;
use crate::support::{Backend, Client, ProbeStore, SECRET, key_of, on_every_backend};

on_every_backend!(
    concurrent_increments_of_one_session_all_count,
    an_existing_session_is_counted_without_a_load,
    a_value_that_is_not_an_integer_fails_and_stays,
    counts_stay_exact_past_two_to_the_53_and_refuse_to_overflow,
    a_due_refresh_is_counted_in_place_then_done_with_the_response,
    a_loaded_session_is_counted_in_place_and_saves_nothing_more,
    json_counters_stay_json,
    sessions_of_the_first_layout_are_read_counted_and_refreshed,
);

/// A client over `backend` through a [`ProbeStore`].
fn probed(
    backend: &Backend,
    configure: impl FnOnce(Builder) -> Builder,
) -> (Client, std::sync::Arc<ProbeStore>, RedisSessionFactory) {
    let probe = ProbeStore::new(backend.store());
    let factory = configure(RedisSessionFactory::builder(SECRET).store(probe.clone()))
        .build()
        .unwrap();
    (Client::new(app::router(&factory)), probe, factory)
}

/// Stores `value` under `counter` in the session of `c`, the ordinary way.
async fn store_counter(factory: &RedisSessionFactory, c: &Client, value: i64) {
    let session = factory.new_session(Some(&format!("session={}", c.cookie.clone().unwrap())));
    session.insert("counter", value).await.unwrap();
    session.save().await.unwrap();
}

async fn concurrent_increments_of_one_session_all_count(backend: Backend) {
    let mut c = Client::new(app::router(&backend.factory(|b| b)));
    assert_eq!(c.get("/incr").await.body, "1");
    let mut seen = Vec::new();
    for request in c.spawn_many("/incr", 40) {
        let reply = request.await.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(reply.set_cookie.is_empty(), "{reply:?}");
        seen.push(reply.body.parse::<i64>().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (2..=41).collect::<Vec<_>>(),
        "each increment saw its own sum"
    );
    assert_eq!(c.get("/read").await.body, "41");
}

async fn an_existing_session_is_counted_without_a_load(backend: Backend) {
    let (mut c, probe, _) = probed(&backend, |b| b);
    assert_eq!(c.get("/incr").await.body, "1");
    let loads = probe.loads.load(Ordering::SeqCst);
    let writes = probe.writes.lock().unwrap().len();
    let r = c.get("/incr").await;
    assert_eq!(r.body, "2");
    assert!(r.set_cookie.is_empty(), "{r:?}");
    assert_eq!(r.vary, ["Cookie"], "the response depends on the cookie");
    assert_eq!(probe.loads.load(Ordering::SeqCst), loads, "no load");
    assert_eq!(probe.writes.lock().unwrap().len(), writes, "no write batch");
    assert_eq!(c.get("/read").await.body, "2");

    // A forged cookie is never counted in the store: a new session.
    let forged = format!("{}x", c.cookie.clone().unwrap());
    let increments = probe.increments.load(Ordering::SeqCst);
    let r = c.send("/incr", Some(forged)).await;
    assert_eq!(r.body, "1");
    assert_eq!(probe.increments.load(Ordering::SeqCst), increments);
    assert_eq!(c.get("/read").await.body, "2");

    // A signed id whose session is gone: a new session, not a resurrection.
    let id = c.id();
    c.get("/invalidate").await;
    let mut stale = c.clone();
    stale.cookie = Some(CookieOf::signed(&id));
    let r = stale.get("/incr").await;
    assert_eq!(r.body, "1");
    assert_ne!(stale.id(), id, "a new id");
    assert!(!backend.exists(&id).await, "the ended session stays ended");
}

/// Signs ids as the factories of these tests do.
struct CookieOf;

impl CookieOf {
    fn signed(id: &str) -> String {
        redis_sessions::cookie::CookieSigner::new(SECRET)
            .unwrap()
            .sign("session", id)
    }
}

async fn a_value_that_is_not_an_integer_fails_and_stays(backend: Backend) {
    let mut c = Client::new(app::router(&backend.factory(|b| b)));
    c.get("/set?key=counter&value=x").await;
    let r = c.get("/incr").await;
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(c.get("/get?key=counter").await.body, "\"x\"");
}

async fn counts_stay_exact_past_two_to_the_53_and_refuse_to_overflow(backend: Backend) {
    let factory = backend.factory(|b| b);
    let mut c = Client::new(app::router(&factory));
    c.get("/incr").await;
    store_counter(&factory, &c, (1 << 53) - 2).await;
    assert_eq!(c.get("/incr").await.body, "9007199254740991");
    assert_eq!(c.get("/incr").await.body, "9007199254740992");
    assert_eq!(c.get("/incr").await.body, "9007199254740993");
    assert_eq!(c.get("/read").await.body, "9007199254740993");
    store_counter(&factory, &c, i64::MAX - 1).await;
    assert_eq!(c.get("/incr").await.body, i64::MAX.to_string());
    let r = c.get("/incr").await;
    assert_eq!(r.status, 500, "an overflow is an error: {r:?}");
    assert_eq!(
        c.get("/read").await.body,
        i64::MAX.to_string(),
        "left as it was"
    );
}

async fn a_due_refresh_is_counted_in_place_then_done_with_the_response(backend: Backend) {
    let (mut c, probe, _) = probed(&backend, |b| b);
    c.get("/incr").await;
    // Refreshed 100 s ago: due (every 1200 / 20 = 60 s), not expired.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    backend.put_times(&c.id(), now - 200, now - 100).await;
    let loads = probe.loads.load(Ordering::SeqCst);
    let increments = probe.increments.load(Ordering::SeqCst);
    assert_eq!(c.get("/incr").await.body, "2");
    assert_eq!(
        probe.increments.load(Ordering::SeqCst),
        increments + 1,
        "in place"
    );
    assert_eq!(
        probe.loads.load(Ordering::SeqCst),
        loads + 1,
        "then loaded, to refresh"
    );
    let after = backend.meta(&c.id()).await.unwrap().refreshed;
    assert!(after >= now, "refreshed now: {after}");
    assert_eq!(c.get("/read").await.body, "2");
}

async fn a_loaded_session_is_counted_in_place_and_saves_nothing_more(backend: Backend) {
    let (mut c, probe, factory) = probed(&backend, |b| b);
    c.get("/incr").await;
    let cookie = format!("session={}", c.cookie.clone().unwrap());

    let session = factory.new_session(Some(&cookie));
    assert_eq!(session.get::<i64>("counter").await.unwrap(), Some(1));
    let increments = probe.increments.load(Ordering::SeqCst);
    assert_eq!(session.incr("counter", 5).await.unwrap(), 6);
    assert_eq!(
        probe.increments.load(Ordering::SeqCst),
        increments + 1,
        "in place"
    );
    assert_eq!(session.get::<i64>("counter").await.unwrap(), Some(6));
    let writes = probe.writes.lock().unwrap().len();
    assert_eq!(session.save().await.unwrap(), None);
    assert_eq!(
        probe.writes.lock().unwrap().len(),
        writes,
        "nothing more to save"
    );

    // A key changed earlier in the request is counted in the request.
    let session = factory.new_session(Some(&cookie));
    session.insert("counter", 10).await.unwrap();
    assert_eq!(session.incr("counter", -3).await.unwrap(), 7);
    session.save().await.unwrap();
    assert_eq!(c.get("/read").await.body, "7");
}

async fn json_counters_stay_json(backend: Backend) {
    let factory = backend.factory(|b| b.codec(Json));
    let mut c = Client::new(app::router(&factory));
    c.get("/incr").await;
    assert_eq!(c.get("/incr").await.body, "2");
    c.get("/set?key=other&value=x").await;
    let fields = backend.fields(&c.id()).await.unwrap();
    let counter = fields.iter().find(|(name, _)| name == b"counter").unwrap();
    assert_eq!(counter.1, b"2");
    assert_eq!(c.get("/get?key=counter").await.body, "2");
}

/// The first layout kept the refresh time in a field of its own.
async fn sessions_of_the_first_layout_are_read_counted_and_refreshed(backend: Backend) {
    let factory = backend.factory(|b| b);
    let id = redis_sessions::id::generate_session_id().unwrap();
    let mut c = Client::new(app::router(&factory));
    c.cookie = Some(CookieOf::signed(&id));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Only Redis holds sessions an earlier version wrote.
    let Some(mut raw) = backend.raw() else {
        return;
    };
    let key = key_of(&id);
    // One command at a time: a Cluster connection sends no pipeline.
    let mut put_old = |created: u64, refreshed: u64| {
        ::redis::cmd("DEL").arg(&key).exec(&mut *raw).unwrap();
        ::redis::cmd("HSET")
            .arg(&key)
            .arg(&b"counter"[..])
            .arg(&[5u8][..])
            .arg(CREATED_FIELD)
            .arg(created)
            .arg(REFRESHED_FIELD)
            .arg(refreshed)
            .exec(&mut *raw)
            .unwrap();
        ::redis::cmd("EXPIRE")
            .arg(&key)
            .arg(1200)
            .exec(&mut *raw)
            .unwrap();
    };
    put_old(now - 500, now - 10);
    assert_eq!(c.get("/read").await.body, "5");
    assert_eq!(c.get("/incr").await.body, "6", "counted in place");
    assert_eq!(c.id(), id, "the same session");

    // A refresh due by the old field: done, in the new layout.
    put_old(now - 500, now - 100);
    assert_eq!(c.get("/incr").await.body, "6");
    let (created, refreshed): (Vec<u8>, Option<Vec<u8>>) = ::redis::cmd("HMGET")
        .arg(&key)
        .arg(CREATED_FIELD)
        .arg(REFRESHED_FIELD)
        .query(&mut *raw)
        .unwrap();
    let created = String::from_utf8(created).unwrap();
    let (created, refreshed_now) = created.split_once(' ').expect("the new layout");
    assert_eq!(created, (now - 500).to_string());
    assert!(
        refreshed_now.parse::<u64>().unwrap() >= now,
        "refreshed now"
    );
    assert_eq!(
        refreshed,
        Some((now - 100).to_string().into_bytes()),
        "left as it was"
    );
    assert_eq!(c.get("/read").await.body, "6");
}
