//! The security checklist (`SECURITY-CHECKLIST.md` of the project's brief):
//! one test per item, named `checklist_NN_…`, or a written reason why an item
//! does not apply. Behaviour that both stores share runs on both.
//!
//! Item 13 (a value copied under another session's key) is
//! `plugins::checklist_13_the_encrypting_codec_seals_values_to_their_session_and_field`:
//! it needs the encrypting codec plugin, which binds each value to its key
//! and field.
//!
//! Items with a reason instead of a test:
//! - 10 (timing of MAC verification): the comparison is `Mac::verify_slice`
//!   (constant time, `subtle`), and the store lookup is keyed by a SHA-256
//!   digest of the id; timing is measured in `benches/`, never asserted in
//!   tests.
//! - 22 (spoofed `X-Forwarded-Proto`): nothing reads forwarding headers; the
//!   `Secure` attribute is configuration only (`cookie_secure`). The test
//!   below pins that a spoofed header changes nothing.
//! - 25 (locking): there are no session locks to hold, leak or steal:
//!   changes are per-key deltas applied atomically by the store, so
//!   concurrent requests never wait for each other (items 16 and 17).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_sessions::cookie::CookieSigner;
use redis_sessions::id::IdGenerator;
use redis_sessions::session::Reason;
use redis_sessions::{Builder, RedisSessionFactory};

use crate::app;
use crate::support::{
    Backend, Client, RedisServer, SECRET, app_client, key_of, on_actix_too, on_every_backend,
};

fn client_with(backend: &Backend, configure: impl FnOnce(Builder) -> Builder) -> Client {
    app_client(backend.factory(configure))
}

/// Events seen by the factory's hook, by reason.
fn recorded(factory: &RedisSessionFactory) -> Arc<Mutex<Vec<Reason>>> {
    let seen: Arc<Mutex<Vec<Reason>>> = Arc::default();
    let sink = Arc::clone(&seen);
    factory.on_event(move |event| sink.lock().unwrap().push(event.reason));
    seen
}

on_every_backend!(
    checklist_02_signed_unknown_id_is_never_adopted,
    checklist_05_old_secrets_are_accepted_and_re_signed_removed_ones_rejected,
    checklist_04_malformed_signatures_are_treated_as_absent,
    checklist_06_tokens_for_another_purpose_are_rejected,
    checklist_07_oversized_and_duplicated_cookies_are_bounded,
    checklist_08_ids_outside_the_alphabet_are_rejected_before_the_store,
    checklist_09_the_first_valid_cookie_of_several_wins,
    checklist_12_garbage_in_the_store_starts_a_fresh_session,
    checklist_14_regenerate_stops_fixation_and_rotates_csrf,
    checklist_15_revoke_others_kills_every_other_session,
    checklist_17_concurrent_requests_on_distinct_keys_both_survive,
    checklist_18_idle_timeout_is_checked_on_the_server,
    checklist_20_a_refresh_never_recreates_a_deleted_session,
    checklist_19_absolute_lifetime_ends_an_active_session,
    checklist_21_cookies_carry_their_attributes,
    checklist_22_forwarded_proto_is_ignored,
    checklist_26_5xx_honours_cookie_on_exception_but_logout_always_lands,
    checklist_27_setting_responses_vary_and_are_not_stored,
    checklist_30_id_collisions_mint_another_id,
    oversized_sessions_answer_413_and_store_nothing,
    huge_timeouts_are_refused_and_leave_the_session_as_it_was,
    non_ascii_cookies_elsewhere_do_not_hide_the_session,
);

// The same items on the actix-web app.
on_actix_too!(
    checklist_02_signed_unknown_id_is_never_adopted,
    checklist_05_old_secrets_are_accepted_and_re_signed_removed_ones_rejected,
    checklist_04_malformed_signatures_are_treated_as_absent,
    checklist_06_tokens_for_another_purpose_are_rejected,
    checklist_07_oversized_and_duplicated_cookies_are_bounded,
    checklist_08_ids_outside_the_alphabet_are_rejected_before_the_store,
    checklist_09_the_first_valid_cookie_of_several_wins,
    checklist_12_garbage_in_the_store_starts_a_fresh_session,
    checklist_14_regenerate_stops_fixation_and_rotates_csrf,
    checklist_15_revoke_others_kills_every_other_session,
    checklist_17_concurrent_requests_on_distinct_keys_both_survive,
    checklist_18_idle_timeout_is_checked_on_the_server,
    checklist_20_a_refresh_never_recreates_a_deleted_session,
    checklist_19_absolute_lifetime_ends_an_active_session,
    checklist_21_cookies_carry_their_attributes,
    checklist_22_forwarded_proto_is_ignored,
    checklist_26_5xx_honours_cookie_on_exception_but_logout_always_lands,
    checklist_27_setting_responses_vary_and_are_not_stored,
    checklist_30_id_collisions_mint_another_id,
    oversized_sessions_answer_413_and_store_nothing,
    huge_timeouts_are_refused_and_leave_the_session_as_it_was,
    non_ascii_cookies_elsewhere_do_not_hide_the_session,
);

async fn checklist_02_signed_unknown_id_is_never_adopted(backend: Backend) {
    let factory = backend.factory(|b| b);
    let seen = recorded(&factory);
    let mut c = app_client(factory.clone());
    let forged_id = "attacker-chosen-session-id-0001";
    let cookie = CookieSigner::new(SECRET)
        .unwrap()
        .sign("session", forged_id);
    c.cookie = Some(cookie);
    let r = c.get("/incr").await;
    assert_eq!(r.body, "1");
    assert_ne!(c.id(), forged_id, "a fresh id is minted");
    assert!(!backend.exists(forged_id).await);
    assert_eq!(*seen.lock().unwrap(), [Reason::UnknownId]);
}

async fn checklist_04_malformed_signatures_are_treated_as_absent(backend: Backend) {
    let factory = backend.factory(|b| b);
    let seen = recorded(&factory);
    let mut c = app_client(factory.clone());
    c.get("/incr").await;
    let good = c.cookie.clone().unwrap();
    let (id, mac) = good.rsplit_once('.').unwrap();
    let mut flipped = mac.as_bytes().to_vec();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let bad = [
        format!("{id}.{}", String::from_utf8(flipped).unwrap()),
        format!("{id}.{}", &mac[..20]),
        format!("{id}."),
        format!("{id}.{mac}{mac}"),
        id.to_owned(),
        format!("{id}.!!!!not~base64!!!!!!!!!!!!!!!!!!!!!!!!!!!"),
        String::new(),
        ".".into(),
        "x".repeat(5000),
    ];
    for value in &bad {
        let r = c.send("/read", Some(value.clone())).await;
        assert_eq!(
            (r.status.as_u16(), r.body.as_str()),
            (200, "0"),
            "{value:?}"
        );
        assert!(r.set_cookie.is_empty());
    }
    // Every cookie with our name that fails verification raises one event.
    let events = seen.lock().unwrap().clone();
    assert!(
        events.iter().all(|r| *r == Reason::BadSignature),
        "{events:?}"
    );
    assert!(events.len() >= bad.len() - 2, "{events:?}");
    assert_eq!(
        c.get("/read").await.body,
        "1",
        "the real cookie still works"
    );
}

async fn checklist_05_old_secrets_are_accepted_and_re_signed_removed_ones_rejected(
    backend: Backend,
) {
    const OLD: &str = "the-previous-secret-of-this-app-0123456789";
    let before = backend.factory(|b| b);
    let mut c = Client::new(app::router(&before));
    c.get("/incr").await;
    let signed_with_old = c.cookie.clone().unwrap();
    // The secret rotates: what was current becomes an old secret.
    let rotated = backend.builder(OLD).old_secrets([SECRET]).build().unwrap();
    let seen = recorded(&rotated);
    let mut after = Client::new(app::router(&rotated));
    after.cookie = Some(signed_with_old.clone());
    let r = after.get("/read").await;
    assert_eq!(r.body, "1", "accepted");
    let resigned = r.cookie("session").expect("re-signed in the response");
    assert_ne!(resigned, signed_with_old);
    assert_eq!(
        CookieSigner::new(OLD).unwrap().verify("session", &resigned),
        Some(signed_with_old.rsplit_once('.').unwrap().0),
        "signed with the current secret"
    );
    assert_eq!(*seen.lock().unwrap(), [Reason::OldSecret]);
    let r = after.get("/read").await;
    assert!(
        r.set_cookie.is_empty(),
        "once re-signed, nothing more to send"
    );
    // The old secret is removed from the configuration: rejected.
    let removed = backend.builder(OLD).build().unwrap();
    let c = Client::new(app::router(&removed));
    assert_eq!(c.send("/read", Some(signed_with_old)).await.body, "0");
}

async fn checklist_06_tokens_for_another_purpose_are_rejected(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    let id = c.id();
    // A CSRF token pasted as the session cookie.
    let token = c.get("/csrf").await.body;
    assert_eq!(c.send("/read", Some(token)).await.body, "0");
    // The same id signed for another cookie name.
    let other = CookieSigner::new(SECRET).unwrap().sign("other", &id);
    assert_eq!(c.send("/read", Some(other)).await.body, "0");
}

async fn checklist_07_oversized_and_duplicated_cookies_are_bounded(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    let good = c.cookie.clone().unwrap();
    let huge = format!("session={}", "a".repeat(8 * 1024));
    let r = c.send_headers("/read", &[("cookie", huge)]).await;
    assert_eq!(r.body, "0");
    // In-process, the layer parses a 1 MB header; actix-web's HTTP server
    // refuses heads past 32 KiB itself (431, then it drops the connection),
    // so the actix-web app gets the largest it accepts.
    let junk = if crate::support::on_actix() {
        24 * 1024
    } else {
        1 << 20
    };
    let mega = format!("junk={}; session={good}", "b".repeat(junk));
    let r = c.send_headers("/read", &[("cookie", mega)]).await;
    assert_eq!(
        r.status, 200,
        "a {junk}-byte header is parsed without failing"
    );
    assert_eq!(r.body, "1", "and the session behind it is found");
    let many: Vec<String> = (0..100).map(|i| format!("session=forged{i}.x")).collect();
    let header = format!("{}; session={good}", many.join("; "));
    let r = c.send_headers("/read", &[("cookie", header)]).await;
    assert_eq!(r.status, 200);
}

async fn checklist_08_ids_outside_the_alphabet_are_rejected_before_the_store(backend: Backend) {
    let factory = backend.factory(|b| b);
    let c = app_client(factory.clone());
    let signer = CookieSigner::new(SECRET).unwrap();
    for id in [
        "aaaaaaaaaaaaaaaa*",
        "aaaaaaaaaaaaaaaa?",
        "aaaaaaaaaaaaaaaa[",
        "aaaaaaaaaaaaaaaa{}",
        "aaaaaaaaaaaaaaaa:",
        "aaaaaaaaaaaaaaaa/..",
        "aaaaaaaaaaaaaaaa b",
        "aaaaaaaaaaaaaaaa\0",
        "aaaaaaaaaaaaaaaa\r\n",
        "aaaaaaaaaaaaaaaaé",
        "short",
    ] {
        let value = signer.sign("session", id);
        let Ok(header) = http::HeaderValue::from_bytes(format!("session={value}").as_bytes())
        else {
            continue; // not even sendable as a header
        };
        let r = c.send_header_value("/read", header).await;
        assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "0"), "{id:?}");
        assert!(r.set_cookie.is_empty(), "never echoed: {id:?}");
    }
}

async fn checklist_09_the_first_valid_cookie_of_several_wins(backend: Backend) {
    let mut a = client_with(&backend, |b| b);
    a.get("/set?key=who&value=a").await;
    let mut b = client_with(&backend, |b| b);
    b.get("/set?key=who&value=b").await;
    let (ca, cb) = (a.cookie.clone().unwrap(), b.cookie.clone().unwrap());
    // A tossed invalid cookie first, then two valid ones: the first valid wins.
    let header = format!("session=tossed.x; session={ca}; session={cb}");
    let r = a.send_headers("/get?key=who", &[("cookie", header)]).await;
    assert_eq!(r.body, "\"a\"");
    let header = format!("session={cb}; session={ca}");
    let r = a.send_headers("/get?key=who", &[("cookie", header)]).await;
    assert_eq!(r.body, "\"b\"");
}

async fn checklist_12_garbage_in_the_store_starts_a_fresh_session(backend: Backend) {
    let factory = backend.factory(|b| b);
    let seen = recorded(&factory);
    let mut c = app_client(factory.clone());
    c.get("/incr").await;
    let id = c.id();
    let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    backend.put_raw(&id, b"counter", bomb.as_bytes()).await;
    let r = c.get("/read").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "0"));
    assert!(!backend.exists(&id).await, "a corrupt session is deleted");
    assert_eq!(*seen.lock().unwrap(), [Reason::Corrupt]);
}

async fn checklist_14_regenerate_stops_fixation_and_rotates_csrf(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    c.get("/set?key=cart&value=3").await;
    let planted = c.id();
    let token = c.get("/csrf").await.body;
    c.get("/regenerate").await;
    assert_ne!(c.id(), planted);
    assert!(!backend.exists(&planted).await, "the old key is deleted");
    assert_eq!(c.get("/get?key=cart").await.body, "\"3\"");
    let rotated = c.get("/csrf").await.body;
    assert_ne!(rotated, token, "the CSRF token is rotated");
    // Login does the same.
    c.get("/login?user=ivan").await;
    assert_eq!(c.get("/whoami").await.body, "ivan");
    assert_ne!(c.get("/csrf").await.body, rotated);
}

async fn checklist_15_revoke_others_kills_every_other_session(backend: Backend) {
    let factory = backend.factory(|b| b);
    let router = app::router(&factory);
    let mut phone = Client::new(router.clone());
    let mut laptop = Client::new(router.clone());
    let mut other_user = Client::new(router);
    phone.get("/login?user=judy").await;
    laptop.get("/login?user=judy").await;
    other_user.get("/login?user=bob").await;
    let listed = laptop.get("/my_sessions").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(laptop.get("/revoke_others").await.body, "1");
    assert_eq!(phone.get("/whoami").await.body, "", "revoked at once");
    assert_eq!(laptop.get("/whoami").await.body, "judy");
    assert_eq!(other_user.get("/whoami").await.body, "bob");
    let listed = laptop.get("/my_sessions").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["current"], true);
}

async fn checklist_17_concurrent_requests_on_distinct_keys_both_survive(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    c.get("/set?key=base&value=0").await;
    let slow = {
        let c = c.clone();
        let cookie = c.cookie.clone();
        tokio::spawn(async move { c.send("/slow_set?key=a&value=1&ms=300", cookie).await })
    };
    let fast = c.send("/set?key=b&value=2", c.cookie.clone()).await;
    assert_eq!(fast.status, 200);
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(
        c.get("/keys").await.body,
        r#"["a","b","base"]"#,
        "no lost update"
    );
}

async fn checklist_20_a_refresh_never_recreates_a_deleted_session(backend: Backend) {
    use redis_sessions::store::{Change, Write, Written};
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    let id = c.id();
    let key = key_of(&id);
    let store = backend.store();
    assert_eq!(
        store.write(vec![Write::delete(key.clone())]).await.unwrap(),
        [Written::Deleted]
    );
    let written = store
        .write(vec![Write::update(
            key.clone(),
            Change::default().with_refresh(now(), now()),
            1200,
        )])
        .await
        .unwrap();
    assert_eq!(written, [Written::Missing]);
    assert!(!backend.exists(&id).await, "nothing was recreated");
    assert_eq!(c.get("/read").await.body, "0");
}

async fn checklist_18_idle_timeout_is_checked_on_the_server(backend: Backend) {
    let factory = backend.factory(|b| b.timeout(600));
    let seen = recorded(&factory);
    let mut c = app_client(factory.clone());
    c.get("/incr").await;
    let id = c.id();
    // As if another path had kept the key alive for an hour since its last
    // refresh (the field holds "created refreshed").
    let an_hour_ago = now() - 3600;
    backend.put_times(&id, an_hour_ago, an_hour_ago).await;
    assert_eq!(c.get("/read").await.body, "0");
    assert!(!backend.exists(&id).await);
    assert_eq!(*seen.lock().unwrap(), [Reason::IdleExpired]);
}

async fn checklist_19_absolute_lifetime_ends_an_active_session(backend: Backend) {
    let factory = backend.factory(|b| b.max_lifetime(Some(3600)));
    let seen = recorded(&factory);
    let mut c = app_client(factory.clone());
    c.get("/incr").await;
    assert_eq!(c.get("/incr").await.body, "2");
    let id = c.id();
    backend.put_times(&id, now() - 3601, now()).await;
    assert_eq!(c.get("/read").await.body, "0", "rejected however active");
    assert!(!backend.exists(&id).await, "and deleted");
    assert_eq!(*seen.lock().unwrap(), [Reason::LifetimeExpired]);
}

async fn checklist_21_cookies_carry_their_attributes(backend: Backend) {
    let mut c = client_with(&backend, |b| {
        b.cookie_secure(true)
            .cookie_domain(Some("example.com".into()))
    });
    let r = c.get("/incr").await;
    let set = &r.set_cookie[0];
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Secure",
        "Domain=example.com",
    ] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let r = c.get("/invalidate").await;
    let deletion = &r.set_cookie[0];
    for attribute in ["Max-Age=0", "Path=/", "Domain=example.com"] {
        assert!(deletion.contains(attribute), "{attribute} in {deletion}");
    }
}

async fn checklist_22_forwarded_proto_is_ignored(backend: Backend) {
    let c = client_with(&backend, |b| b);
    let r = c
        .send_headers("/incr", &[("x-forwarded-proto", "https".into())])
        .await;
    assert!(!r.set_cookie[0].contains("Secure"), "{:?}", r.set_cookie);
}

async fn checklist_26_5xx_honours_cookie_on_exception_but_logout_always_lands(backend: Backend) {
    let mut c = client_with(&backend, |b| b.cookie_on_exception(false));
    c.get("/incr").await;
    let id = c.id();
    let r = c.get("/fail?key=x&value=1").await;
    assert_eq!(r.status, 500);
    assert!(r.set_cookie.is_empty());
    assert_eq!(c.get("/get?key=x").await.body, "null", "not persisted");
    let r = c.get("/invalidate_then_fail").await;
    assert_eq!(r.status, 500);
    assert!(!backend.exists(&id).await, "the logout landed");
}

async fn checklist_27_setting_responses_vary_and_are_not_stored(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    let r = c.get("/incr").await;
    assert_eq!(r.vary, ["Cookie"]);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let r = c.get("/read").await;
    assert_eq!(r.vary, ["Cookie"], "reading depends on the cookie too");
    let mut none = client_with(&backend, |b| {
        b.cache_control(redis_sessions::CacheControl::None)
    });
    let r = none.get("/incr").await;
    assert_eq!(r.header("cache-control"), None);
}

async fn checklist_30_id_collisions_mint_another_id(backend: Backend) {
    struct Repeating(AtomicUsize);
    impl IdGenerator for Repeating {
        fn generate(&self) -> Result<String, redis_sessions::id::Error> {
            // The first two ids are the same: the second create collides.
            let n = self.0.fetch_add(1, Ordering::SeqCst).max(1);
            Ok(format!("fixed-session-id-number-{n:04}"))
        }
    }
    let mut a = client_with(&backend, |b| b.id_generator(Repeating(AtomicUsize::new(0))));
    a.get("/incr").await;
    let mut b = a.clone();
    b.cookie = None;
    b.get("/set?key=mine&value=b").await;
    assert_ne!(a.id(), b.id());
    assert_eq!(
        a.get("/read").await.body,
        "1",
        "the first session is untouched"
    );
    assert_eq!(b.get("/get?key=counter").await.body, "null");
}

async fn oversized_sessions_answer_413_and_store_nothing(backend: Backend) {
    let mut c = client_with(&backend, |b| b.max_session_bytes(1024));
    c.get("/set?key=a&value=small").await;
    let big = "x".repeat(2000);
    let r = c.get(&format!("/set?key=b&value={big}")).await;
    assert_eq!(r.status, 413);
    assert_eq!(c.get("/keys").await.body, r#"["a"]"#);
}

async fn huge_timeouts_are_refused_and_leave_the_session_as_it_was(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    let r = c.get(&format!("/timeout?seconds={}", u64::MAX)).await;
    assert_eq!(r.status, 400);
    assert_eq!(c.get("/info").await.json()["timeout"], 1200);
    assert_eq!(c.get("/incr").await.body, "2");
}

async fn non_ascii_cookies_elsewhere_do_not_hide_the_session(backend: Backend) {
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    let good = c.cookie.clone().unwrap();
    let header =
        http::HeaderValue::from_bytes(format!("pref=café; session={good}").as_bytes()).unwrap();
    let r = c.send_header_value("/incr", header).await;
    assert_eq!(r.body, "2");
    assert!(r.set_cookie.is_empty(), "no new session was minted: {r:?}");
}

// Redis-only items: commands counted on the server, dumps, outages.

#[tokio::test]
async fn checklist_01_untouched_requests_cost_nothing() {
    let backend = Backend::redis();
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    for cookie in [None, c.cookie.clone()] {
        let (r, commands) = server.commands_during(c.send("/plain", cookie)).await;
        assert!(commands.is_empty(), "{commands:?}");
        assert!(r.set_cookie.is_empty() && r.vary.is_empty(), "{r:?}");
    }
}

#[tokio::test]
async fn checklist_03_bad_mac_costs_zero_commands() {
    let backend = Backend::redis();
    let mut c = client_with(&backend, |b| b);
    c.get("/incr").await;
    c.get("/incr").await;
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    let cookie = c.cookie.clone().unwrap();
    let (r, none) = server
        .commands_during(c.send("/plain", Some(cookie.clone())))
        .await;
    assert!(
        none.is_empty() && r.set_cookie.is_empty(),
        "untouched: {none:?}"
    );
    let tampered = format!("{}x", &cookie[..cookie.len() - 1]);
    let (r, commands) = server
        .commands_during(c.send("/incr", Some(tampered)))
        .await;
    assert_eq!(r.body, "1");
    assert!(
        !commands.contains_key("hgetall"),
        "a bad MAC is never looked up: {commands:?}"
    );
}

#[tokio::test]
async fn checklist_11_a_keyspace_dump_yields_no_cookie() {
    let backend = Backend::redis();
    let mut c = client_with(&backend, |b| b);
    c.get("/login?user=alice").await;
    c.get("/set?key=note&value=hello").await;
    let id = c.id();
    let cookie = c.cookie.clone().unwrap();
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    let mut conn = server.conn();
    for key in server.keys() {
        assert!(!key.contains(&id) && !key.contains("alice"), "{key}");
        let kind: String = ::redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
        let dump: Vec<Vec<u8>> = match kind.as_str() {
            // A user's index: session keys by expiry.
            "zset" => ::redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(&mut conn)
                .unwrap(),
            _ => ::redis::cmd("HGETALL").arg(&key).query(&mut conn).unwrap(),
        };
        for item in dump {
            let text = String::from_utf8_lossy(&item);
            assert!(
                !text.contains(&id) && !text.contains(&cookie),
                "{key}: a value holds the id"
            );
        }
        assert!(server.ttl(&key) > 0, "{key} has no TTL");
    }
    assert_eq!(
        server.keys().iter().filter(|k| **k == key_of(&id)).count(),
        1
    );
}

#[tokio::test]
async fn checklist_16_a_slow_write_never_resurrects_a_logged_out_session() {
    let backend = Backend::redis();
    let probe = crate::support::ProbeStore::new(backend.store());
    let factory = RedisSessionFactory::builder(SECRET)
        .store(probe.clone())
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("/login?user=carol").await;
    let id = c.id();
    let slow = probe
        .spawn_after_load(&c, "/slow_set?key=late&value=1&ms=1500")
        .await;
    c.get("/logout").await;
    assert!(
        !slow.is_finished(),
        "the logout lands inside the slow request"
    );
    let slow = slow.await.unwrap();
    assert!(
        slow.set_cookie.is_empty(),
        "no cookie for the dead id: {slow:?}"
    );
    assert!(!backend.exists(&id).await, "the key stays absent");
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    assert!(
        server.keys().iter().all(|k| server.ttl(k) > 0),
        "no key without a TTL"
    );
}

#[tokio::test]
async fn checklist_23_redis_down_answers_503_without_a_cookie() {
    let mut server = RedisServer::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(server.url()))
        .socket_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("/incr").await;
    server.stop();
    for path in ["/read", "/incr", "/login?user=x"] {
        let r = c.send(path, c.cookie.clone()).await;
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.body, "503 session store unavailable");
        assert!(r.set_cookie.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn checklist_24_a_stalled_redis_fails_within_socket_timeout() {
    let server = RedisServer::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(server.url()))
        .socket_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("/incr").await;
    let _paused = server.pause();
    let r = c.send("/read", c.cookie.clone()).await;
    assert_eq!(r.status, 503);
    assert!(r.set_cookie.is_empty());
}

#[tokio::test]
async fn checklist_28_logs_and_debug_never_show_ids_secrets_or_values() {
    let backend = Backend::redis();
    let factory = backend.factory(|b| b);
    let debug = format!("{factory:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    let logs = crate::support::capture_logs(async {
        let mut c = Client::new(app::router(&factory));
        c.get("/set?key=card&value=4111111111111111").await;
        let id = c.id();
        backend.put_raw(&id, b"card", b"\xc1 broken").await;
        c.get("/read").await;
        c.send("/read", Some(format!("{id}.forged"))).await;
        id
    })
    .await;
    let (output, id) = logs;
    assert!(
        output.contains("not adopted") || output.contains("cannot be read"),
        "{output}"
    );
    for secret in [id.as_str(), SECRET, "4111111111111111"] {
        assert!(!output.contains(secret), "{secret} in logs:\n{output}");
    }
}

#[tokio::test]
async fn checklist_36_a_flood_of_forged_cookies_costs_a_counter_not_a_line_each() {
    let backend = Backend::memory();
    let factory = backend.factory(|b| b);
    let seen = recorded(&factory);
    let (output, ()) = crate::support::capture_logs(async {
        let c = Client::new(app::router(&factory));
        for i in 0..20_000 {
            let r = c.send("/read", Some(format!("forged-{i}.AAAA"))).await;
            assert_eq!(r.status, 200);
        }
    })
    .await;
    let lines = output.lines().filter(|l| l.contains("not adopted")).count();
    assert!((1..=100).contains(&lines), "{lines} lines:\n{output}");
    assert!(
        output.contains("occurrences=1"),
        "a line says how many it stands for: {output}"
    );
    assert_eq!(seen.lock().unwrap().len(), 20_000, "every event is counted");
}

#[tokio::test]
async fn checklist_36_an_outage_logs_a_line_per_interval_not_per_request() {
    let mut server = RedisServer::start();
    let factory = RedisSessionFactory::builder(SECRET)
        .url(Some(server.url()))
        .socket_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let mut c = Client::new(app::router(&factory));
    c.get("/incr").await;
    server.stop();
    let (output, ()) = crate::support::capture_logs(async {
        for _ in 0..200 {
            assert_eq!(c.send("/read", c.cookie.clone()).await.status, 503);
        }
    })
    .await;
    // The throttle of these lines is shared by the whole process (other
    // tests may have used this interval's line).
    let lines = output.lines().filter(|l| l.contains("unavailable")).count();
    assert!(lines <= 2, "{lines} lines:\n{output}");
}

#[tokio::test]
async fn checklist_29_weak_secrets_stop_start_up_or_warn() {
    for secret in ["", "short", "your_cookie_signing_secret"] {
        let e = RedisSessionFactory::builder(secret)
            .url("memory://")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("secret"), "{e}");
    }
    // Long enough but guessable, and an insecure cookie: warnings.
    let factory = RedisSessionFactory::builder("a".repeat(40))
        .url("memory://")
        .build()
        .unwrap();
    let warnings: Vec<String> = factory.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings.iter().any(|w| w.contains("secret")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("cookie_secure")),
        "{warnings:?}"
    );
    let quiet = RedisSessionFactory::builder(SECRET)
        .url("memory://")
        .cookie_secure(true)
        .build()
        .unwrap();
    assert!(quiet.warnings().is_empty(), "{:?}", quiet.warnings());
    // An unknown dotted name stops start-up.
    let settings = redis_sessions::Settings::new()
        .with("redis.sessions.secret", SECRET)
        .with("redis.sessions.url", "memory://")
        .with("redis.sessions.serialize", "nosuchpackage.dumps");
    assert!(redis_sessions::session_factory_from_settings(&settings).is_err());
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_key_of_another_type_is_replaced_by_a_fresh_session() {
    let backend = Backend::redis();
    let factory = backend.factory(|b| b);
    let mut c = Client::new(app::router(&factory));
    let seen = recorded(&factory);
    c.get("/incr").await;
    let key = key_of(&c.id());
    let Backend::Redis(server) = &backend else {
        unreachable!()
    };
    let mut conn = server.conn();
    let _: () = ::redis::cmd("DEL").arg(&key).query(&mut conn).unwrap();
    let _: () = ::redis::cmd("SET")
        .arg(&key)
        .arg("hello")
        .query(&mut conn)
        .unwrap();
    let r = c.get("/read").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "0"));
    assert!(
        !server.keys().contains(&key),
        "the foreign value is deleted"
    );
    assert_eq!(*seen.lock().unwrap(), [Reason::Corrupt]);
    assert_eq!(c.get("/incr").await.body, "1", "a fresh session works");
}
