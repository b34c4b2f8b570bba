//! `Session::incr` at its edges: values at the codecs' boundaries and raw
//! values (it must agree with `get` + 1), a due refresh under concurrency,
//! sizes, old secrets and TTLs. On every backend, but where noted.

use redis_sessions::RedisSessionFactory;
use redis_sessions::codec::{self, Json, MsgPack};

use crate::app;
use crate::support::{Backend, Client, key_of, on_every_backend};

on_every_backend!(
    due_refresh_increments_from_two_requests_both_count,
    due_refresh_concurrent_requests_all_count,
    json_raw_values_agree_with_get,
    msgpack_raw_values_agree_with_get,
    msgpack_boundaries_are_written_as_insert_writes_them,
    json_boundaries_are_written_as_insert_writes_them,
    in_place_new_keys_respect_max_session_bytes,
    a_u64_near_its_max_is_not_an_i64,
    old_secret_cookie_is_counted_and_resigned,
    in_place_changes_stop_at_the_lifetime_to_the_second,
);

/// Makes the idle TTL of `c`'s session due for its refresh: refreshed 100 s
/// ago (due every 1200 / 20 = 60 s), not expired.
async fn make_refresh_due(backend: &Backend, c: &Client) {
    let now = unix_now();
    backend.put_times(&c.id(), now - 200, now - 100).await;
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn cookie_of(c: &Client) -> String {
    format!("session={}", c.cookie.clone().unwrap())
}

/// A session that exists, with `counter` = 1.
async fn started(factory: &RedisSessionFactory) -> Client {
    let mut c = Client::new(app::router(factory));
    assert_eq!(c.get("/incr").await.body, "1");
    c
}

/// Two requests of one browser increment while the idle TTL refresh is due
/// (it is, once per timeout / 20): both count in place.
async fn due_refresh_increments_from_two_requests_both_count(backend: Backend) {
    let factory = backend.factory(|b| b);
    let mut c = started(&factory).await;
    make_refresh_due(&backend, &c).await;
    let cookie = cookie_of(&c);
    let a = factory.new_session(Some(&cookie));
    let b = factory.new_session(Some(&cookie));
    let x = a.incr("counter", 1).await.unwrap();
    let y = b.incr("counter", 1).await.unwrap();
    a.save().await.unwrap();
    b.save().await.unwrap();
    assert_eq!(
        c.get("/read").await.body,
        "3",
        "both increments count (they answered {x} and {y})"
    );
}

/// The cookbook's 20 concurrent failed logins, but when the refresh is due.
async fn due_refresh_concurrent_requests_all_count(backend: Backend) {
    let factory = backend.factory(|b| b);
    let mut c = started(&factory).await;
    make_refresh_due(&backend, &c).await;
    for r in c.spawn_many("/incr", 20) {
        assert_eq!(r.await.unwrap().status, 200);
    }
    assert_eq!(c.get("/read").await.body, "21", "every increment counts");
}

/// For each raw stored value: what `get::<i64>` says, and what `incr(1)`
/// says; `incr` must agree with `get` (same value + 1, or an error).
async fn raw_values_agree(backend: &Backend, factory: &RedisSessionFactory, raws: &[&[u8]]) {
    let mut wrong = Vec::new();
    for raw in raws {
        let c = started(factory).await;
        let cookie = cookie_of(&c);
        backend.put_raw(&c.id(), b"counter", raw).await;
        let got = factory
            .new_session(Some(&cookie))
            .get::<i64>("counter")
            .await
            .map_err(|_| ());
        let session = factory.new_session(Some(&cookie));
        let incr = session.incr("counter", 1).await.map_err(|_| ());
        let _ = session.save().await;
        let expected = got.and_then(|n| n.unwrap_or(0).checked_add(1).ok_or(()));
        if incr != expected {
            wrong.push(format!(
                "{:?} {raw:02x?}: get+1 = {expected:?}, incr = {incr:?}",
                String::from_utf8_lossy(raw)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}: {wrong:#?}", backend.name());
}

async fn json_raw_values_agree_with_get(backend: Backend) {
    let factory = backend.factory(|b| b.codec(Json));
    raw_values_agree(
        &backend,
        &factory,
        &[
            b"-0",
            b" 5",
            b"5 ",
            b"1e3",
            b"1.0",
            b"-1",
            b"007",
            b"+5",
            b"-",
            b"9007199254740991",
            b"-9007199254740991",
            b"9223372036854775807",
            b"18446744073709551615",
        ],
    )
    .await;
}

async fn msgpack_raw_values_agree_with_get(backend: Backend) {
    let factory = backend.factory(|b| b);
    raw_values_agree(
        &backend,
        &factory,
        &[
            &[0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], // f64 1.0
            &[0xca, 0x3f, 0x80, 0, 0],             // f32 1.0
            &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // u64::MAX
            &[0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0],    // i64::MAX + 1 as u64
            &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],    // i64::MIN
            &[0xd3, 0, 0, 0, 0, 0, 0, 0, 5],       // 5, not minimal
            &[0xcf, 0, 0, 0, 0, 0, 0, 0, 5],       // 5 as u64
            &[0xd0, 0xff],                         // -1 as i8
            &[0xc0],                               // nil
            &[0xc3],                               // true
            &[0x05, 0x00],                         // trailing bytes
            &[0xcc],                               // truncated
        ],
    )
    .await;
}

async fn boundaries(backend: &Backend, factory: &RedisSessionFactory, codec: &dyn codec::Codec) {
    let c = started(factory).await;
    let cookie = cookie_of(&c);
    let mut wrong = Vec::new();
    let starts: &[i64] = &[
        -34,
        -33,
        -32,
        -31,
        -2,
        -1,
        0,
        1,
        126,
        127,
        128,
        254,
        255,
        256,
        -127,
        -128,
        -129,
        -32767,
        -32768,
        -32769,
        65534,
        65535,
        65536,
        2147483647,
        -2147483648,
        -2147483649,
        4294967295,
        4294967296,
    ];
    for &start in starts {
        for by in [-1i64, 1] {
            let s = factory.new_session(Some(&cookie));
            s.insert("counter", start).await.unwrap();
            s.save().await.unwrap();
            let s = factory.new_session(Some(&cookie));
            let sum = s.incr("counter", by).await.unwrap();
            s.save().await.unwrap();
            let stored = backend
                .fields(&c.id())
                .await
                .unwrap()
                .into_iter()
                .find(|(n, _)| n == b"counter")
                .unwrap()
                .1;
            let want = codec::encode(codec, &(start + by)).unwrap();
            if sum != start + by || stored != want {
                wrong.push(format!(
                    "{start}{by:+}: sum {sum}, stored {stored:x?}, want {want:x?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}: {wrong:#?}", backend.name());
}

async fn msgpack_boundaries_are_written_as_insert_writes_them(backend: Backend) {
    let factory = backend.factory(|b| b);
    boundaries(&backend, &factory, &MsgPack).await;
}

async fn json_boundaries_are_written_as_insert_writes_them(backend: Backend) {
    let factory = backend.factory(|b| b.codec(Json));
    boundaries(&backend, &factory, &Json).await;
}

/// `max_session_bytes` is the only bound on a session's size: a key that is
/// absent is counted the ordinary way, and weighed.
async fn in_place_new_keys_respect_max_session_bytes(backend: Backend) {
    let factory = backend.factory(|b| b.max_session_bytes(200));
    let c = started(&factory).await;
    let cookie = cookie_of(&c);
    let mut refused = 0;
    for i in 0..50 {
        let s = factory.new_session(Some(&cookie));
        let key = format!("counter-with-an-attacker-chosen-long-name-{i:04}");
        match s.incr(&key, 1).await {
            Ok(_) => {}
            Err(redis_sessions::session::Error::TooLarge { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        let _ = s.save().await;
    }
    let size: usize = backend
        .fields(&c.id())
        .await
        .unwrap()
        .iter()
        .filter(|(n, _)| n.first() != Some(&0))
        .map(|(n, v)| n.len() + v.len())
        .sum();
    assert!(
        size <= 200,
        "{}: the session holds {size} bytes of user data past max_session_bytes = 200 ({refused} increments refused)",
        backend.name()
    );
}

/// A key that is not a hash: the load deletes it as corrupt; the increment
/// must not turn it into a 500.
#[tokio::test]
async fn a_key_of_the_wrong_type_is_a_new_session() {
    let backend = Backend::redis();
    let factory = backend.factory(|b| b);
    let c = started(&factory).await;
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    let out = std::process::Command::new("redis-cli")
        .args(["-u", &server.url(), "SET", &key_of(&c.id()), "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let r = c.send("/incr", c.cookie.clone()).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "1"), "{r:?}");
}

/// A `u64` near `u64::MAX` (a "no limit" sentinel, say) is not an `i64`:
/// `get::<i64>` fails, so must `incr`, leaving it as it was.
async fn a_u64_near_its_max_is_not_an_i64(backend: Backend) {
    let factory = backend.factory(|b| b);
    let c = started(&factory).await;
    let cookie = cookie_of(&c);
    let s = factory.new_session(Some(&cookie));
    s.insert("quota", u64::MAX - 41).await.unwrap();
    s.save().await.unwrap();
    let s = factory.new_session(Some(&cookie));
    let r = s.incr("quota", 1).await;
    let after = factory.new_session(Some(&cookie)).get::<u64>("quota").await;
    assert!(
        r.is_err() && after.as_ref().ok() == Some(&Some(u64::MAX - 41)),
        "{}: incr answered {r:?}; quota is now {after:?}",
        backend.name()
    );
}

async fn old_secret_cookie_is_counted_and_resigned(backend: Backend) {
    let old = backend.factory(|b| b);
    let c = started(&old).await;
    let new = backend
        .builder("another-secret-another-secret-another-secret")
        .old_secrets([crate::support::SECRET])
        .build()
        .unwrap();
    let s = new.new_session(Some(&cookie_of(&c)));
    assert_eq!(s.incr("counter", 1).await.unwrap(), 2);
    assert!(s.save().await.unwrap().is_some(), "re-signed");
}

/// An increment or a flash in place is made only while the session is
/// within its absolute lifetime, to the second: the store compares the
/// session's creation time with the guard the policy computed. Past it, the
/// load ends the session and the change lands in a new one.
async fn in_place_changes_stop_at_the_lifetime_to_the_second(backend: Backend) {
    let factory = backend.factory(|b| b.max_lifetime(Some(3600)));
    let c = started(&factory).await;
    let now = unix_now();
    // One second short of the lifetime (with a second to spare for the
    // clock): still counted in place.
    backend.put_times(&c.id(), now - 3598, now).await;
    let s = factory.new_session(Some(&cookie_of(&c)));
    assert_eq!(s.incr("counter", 1).await.unwrap(), 2);
    s.flash("kept", "q", false).await.unwrap();
    assert!(s.save().await.unwrap().is_none(), "in place: no new cookie");
    // At the lifetime: neither change is made in place.
    backend.put_times(&c.id(), now - 3600, now).await;
    let s = factory.new_session(Some(&cookie_of(&c)));
    assert_eq!(s.incr("counter", 1).await.unwrap(), 1, "a new session");
    s.flash("new", "q", false).await.unwrap();
    let new: Vec<String> = s.peek_flash("q").await.unwrap();
    assert_eq!(new, ["new"]);
    assert!(s.save().await.unwrap().is_some(), "a new cookie");
    assert!(!backend.exists(&c.id()).await, "the old session is gone");
}

/// The in-place increment leaves the TTL as the last refresh set it.
#[tokio::test]
async fn in_place_increment_keeps_the_ttl() {
    let backend = Backend::redis();
    let factory = backend.factory(|b| b.timeout(1000).max_lifetime(Some(500)));
    let mut c = started(&factory).await;
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    let key = key_of(&c.id());
    let ttl = || {
        let out = std::process::Command::new("redis-cli")
            .args(["-u", &server.url(), "TTL", &key])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let before = ttl();
    assert!((490..=500).contains(&before), "{before}");
    assert_eq!(c.get("/incr").await.body, "2");
    let after = ttl();
    assert!(after > 0 && after <= before, "{before} -> {after}");
}
