//! The compatibility layer against the real thing: Pyramid's own cookie
//! code, and a Pyramid app on the original `pyramid_redis_sessions`
//! (`tests/python/`), sharing a real `redis-server` with [`PyramidStore`].
//! The Python environment comes from `scripts/python-env.sh`, run on first
//! use.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_value::Value as Serde;

use super::*;
use crate::codec::{Codec, decode, encode};
use crate::store::{
    Change, Entry, Meta, Record, RedisClient, RedisOptions, SessionStore, Write, Written,
};

#[allow(dead_code, unreachable_pub)]
#[path = "../../tests/support/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

#[allow(dead_code, unreachable_pub)]
#[path = "../../tests/support/python.rs"]
mod python;
use python::{PY_SECRET as SECRET, PyApp, tool, tool_with_input};

const TIMEOUT: u64 = 1200;

fn client(redis: &RedisServer) -> RedisClient {
    RedisClient::open(&RedisOptions {
        url: Some(redis.url()),
        ..RedisOptions::default()
    })
    .unwrap()
}

fn legacy() -> LegacyFormat {
    LegacyFormat::new(SECRET, "", "session")
}

/// The Redis key of the session a Python-made cookie names.
fn key_of(cookie: &str) -> String {
    let legacy = legacy();
    legacy.store_key(&legacy.verify_cookie(cookie).unwrap())
}

fn value<T: DeserializeOwned>(record: &Record, key: &str) -> Option<T> {
    let (_, bytes) = record.entries.iter().find(|(k, _)| k == key.as_bytes())?;
    Some(decode(&PickleCodec, bytes).unwrap())
}

fn field<T: serde::Serialize>(key: &str, value: T) -> Entry {
    (
        key.as_bytes().to_vec(),
        encode(&PickleCodec, &value).unwrap(),
    )
}

async fn update(store: &PyramidStore, key: &str, change: Change) -> Written {
    store
        .write(vec![Write::update(key, change, TIMEOUT)])
        .await
        .unwrap()[0]
}

/// The session at `key`, which must be there and readable.
async fn load(store: &PyramidStore, key: &str) -> Record {
    store.load(key).await.unwrap().unwrap().unwrap()
}

#[test]
fn cookies_made_by_pyramid_verify_here_and_ours_verify_in_pyramid() {
    let compat = legacy();
    let id = compat.new_id().unwrap();
    assert!(
        id.len() == 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let python_made = tool(&["sign", SECRET, &id]);
    assert_eq!(compat.sign_cookie(&id), python_made, "byte for byte");
    assert_eq!(compat.verify_cookie(&python_made), Some(id.clone()));
    assert_eq!(tool(&["verify", SECRET, &compat.sign_cookie(&id)]), id);

    // Another secret, on either side, is refused.
    let forged = tool(&["sign", "not the secret", &id]);
    assert_eq!(compat.verify_cookie(&forged), None);
    let other = LegacyFormat::new("not the secret", "", "session");
    assert_eq!(
        tool(&["verify", SECRET, &other.sign_cookie(&id)]),
        "invalid"
    );

    // A prefix is part of the id, and ids outside it are not ours.
    let prefixed = LegacyFormat::new(SECRET, "sess:", "session");
    let id = prefixed.new_id().unwrap();
    assert!(id.starts_with("sess:"));
    assert_eq!(prefixed.store_key(&id), id);
    assert_eq!(
        prefixed.verify_cookie(&tool(&["sign", SECRET, &id])),
        Some(id)
    );
    assert_eq!(
        prefixed.verify_cookie(&tool(&["sign", SECRET, "abc"])),
        None
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn python_pickles_of_every_protocol_are_read_and_written_back_equal() {
    let samples = tool(&["samples"]);
    let mut pairs = String::new();
    for (proto, line) in samples.lines().enumerate() {
        let original: Vec<u8> = (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
            .collect();
        let value = pickle::parse(&original).unwrap_or_else(|e| panic!("protocol {proto}: {e}"));
        let blob = store::Blob::parse(&original).unwrap();
        assert_eq!(blob.entries().len(), 28, "protocol {proto}");
        pairs.push_str(&format!("{line} {}\n", hex(&pickle::to_bytes(&value))));
        pairs.push_str(&format!("{line} {}\n", hex(&blob.to_bytes())));
    }
    let same = tool_with_input(&["same"], &pairs);
    assert_eq!(same, ["yes"; 12].join("\n"));
}

#[tokio::test]
async fn a_python_session_is_read_and_changed_here_then_read_back_by_python() {
    let redis = RedisServer::start();
    let app = PyApp::start(&redis.url(), None);
    let (body, cookie) = app.get("/incr", None);
    assert_eq!(body, "1");
    let cookie = cookie.unwrap();
    app.body("/set_datetime?key=when", &cookie);
    app.body("/flash?msg=from%20python", &cookie);
    let token = app.body("/csrf", &cookie);

    let compat = legacy();
    let key = compat.store_key(&compat.verify_cookie(&cookie).unwrap());
    let store = PyramidStore::new(client(&redis));
    let fields = load(&store, &key).await;
    assert_eq!(value::<i64>(&fields, "counter"), Some(1));
    assert_eq!(value::<String>(&fields, "_csrft_"), Some(token.clone()));
    assert_eq!(
        value::<Vec<String>>(&fields, "_f_"),
        Some(vec!["from python".to_string()])
    );
    assert!(fields.meta.created > 1_700_000_000);
    assert_eq!(fields.meta.timeout, Some(TIMEOUT));
    // The datetime is there, valid, but has no serde form.
    let (_, when) = fields.entries.iter().find(|(k, _)| k == b"when").unwrap();
    PickleCodec.validate(when).unwrap();
    assert!(decode::<Serde>(&PickleCodec, when).is_err());

    let set = vec![
        field("counter", 2),
        field("_f_", vec!["from python", "from rust"]),
        field("rust", (1.5, "two", vec![3u8])),
    ];
    let written = update(&store, &key, Change::entries(set, vec![])).await;
    assert_eq!(written, Written::Stored);

    assert_eq!(app.body("/incr", &cookie), "3");
    assert_eq!(app.body("/is_datetime?key=when", &cookie), "yes");
    assert_eq!(app.body("/type?key=when", &cookie), "datetime.datetime");
    assert_eq!(app.body("/csrf", &cookie), token);
    assert_eq!(app.body("/get?key=rust", &cookie), r#"[1.5, "two", [3]]"#);
    assert_eq!(
        app.body("/pop_flash", &cookie),
        r#"["from python", "from rust"]"#
    );
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut conn).unwrap();
    assert!(ttl > 0 && ttl <= TIMEOUT as i64, "{ttl}");
}

#[tokio::test]
async fn a_session_created_here_is_used_by_python() {
    let redis = RedisServer::start();
    let app = PyApp::start(&redis.url(), Some("sess:"));
    let compat = LegacyFormat::new(SECRET, "sess:", "session");
    let store = PyramidStore::new(client(&redis));
    let id = compat.new_id().unwrap();
    let entries = vec![
        field("counter", 41),
        field("_csrft_", "t0ken"),
        field("_f_", vec!["hello"]),
        field("bytes", serde_bytes::ByteBuf::from(vec![0u8, 255])),
        field("big", u64::MAX),
        field(
            "nested",
            [("a".to_string(), Some(vec![1i64, -2]))]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        ),
    ];
    let fields = Record::new(Meta::new(1_700_000_000, 0), entries);
    let key = compat.store_key(&id);
    let created = store
        .write(vec![Write::create(&key, fields.clone(), TIMEOUT)])
        .await
        .unwrap();
    assert_eq!(created, [Written::Stored]);
    let again = store
        .write(vec![Write::create(&key, fields, TIMEOUT)])
        .await
        .unwrap();
    assert_eq!(again, [Written::Collision]);

    let cookie = compat.sign_cookie(&id);
    assert_eq!(app.body("/incr", &cookie), "42");
    assert_eq!(app.body("/csrf", &cookie), "t0ken");
    assert_eq!(app.body("/peek_flash", &cookie), r#"["hello"]"#);
    assert_eq!(app.body("/get?key=bytes", &cookie), r#""b'\\x00\\xff'""#);
    assert_eq!(app.body("/get?key=big", &cookie), u64::MAX.to_string());
    assert_eq!(app.body("/get?key=nested", &cookie), r#"{"a": [1, -2]}"#);
    // Python kept the session: the cookie it would set is ours.
    let (_, set) = app.get("/read", Some(&cookie));
    assert!(set.is_none(), "Python took our session as its own");
    let fields = load(&store, &key).await;
    assert_eq!(value::<i64>(&fields, "counter"), Some(42));
}

#[tokio::test]
async fn our_writes_never_undo_python_writes() {
    let redis = RedisServer::start();
    let app = Arc::new(PyApp::start(&redis.url(), None));
    let (_, cookie) = app.get("/incr", None);
    let cookie = cookie.unwrap();
    let key = key_of(&cookie);
    let store = PyramidStore::new(client(&redis));

    const PYTHON_WRITES: usize = 60;
    let python = {
        let (app, cookie) = (app.clone(), cookie.clone());
        std::thread::spawn(move || {
            for _ in 0..PYTHON_WRITES {
                app.body("/incr", &cookie);
            }
        })
    };
    let mut ours = 0u64;
    while !python.is_finished() {
        ours += 1;
        assert_eq!(
            update(
                &store,
                &key,
                Change::entries(vec![field("rust", ours)], vec![])
            )
            .await,
            Written::Stored
        );
    }
    python.join().unwrap();
    assert!(ours > 1, "the writes did not overlap");
    // Every Python increment is there: ours re-read the blob each time.
    assert_eq!(app.body("/read", &cookie), (PYTHON_WRITES + 1).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_here_to_different_keys_all_survive() {
    let redis = RedisServer::start();
    let app = PyApp::start(&redis.url(), None);
    let (_, cookie) = app.get("/incr", None);
    let cookie = cookie.unwrap();
    let key = key_of(&cookie);
    let store = Arc::new(PyramidStore::new(client(&redis)));

    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                for n in 1..=15u64 {
                    let set = Change::entries(vec![field(&format!("w{w}"), n)], vec![]);
                    assert_eq!(update(&store, &key, set).await, Written::Stored);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    for w in 0..6 {
        assert_eq!(app.body(&format!("/get?key=w{w}"), &cookie), "15");
    }
    assert_eq!(app.body("/read", &cookie), "1");
}

#[tokio::test]
async fn an_original_session_upgrades_once_and_unconvertible_ones_are_kept() {
    let redis = RedisServer::start();
    let app = PyApp::start(&redis.url(), None);
    let (_, cookie) = app.get("/incr", None);
    let cookie = cookie.unwrap();
    app.body("/flash?msg=hi", &cookie);
    let token = app.body("/csrf", &cookie);
    let key = key_of(&cookie);
    let client = client(&redis);

    let taken = take_legacy(&client, &key, crate::compat::pickle::MAX_EXPANDED_BYTES)
        .await
        .unwrap()
        .unwrap();
    let entries: std::collections::BTreeMap<_, _> = taken.entries.into_iter().collect();
    assert_eq!(entries["counter"], Serde::I64(1));
    assert_eq!(entries["_csrft_"], Serde::String(token));
    assert_eq!(entries["_f_"], Serde::Seq(vec![Serde::String("hi".into())]));
    assert_eq!(taken.timeout, Some(TIMEOUT));
    assert!(taken.created > 1_600_000_000);
    // Once: the original is gone, and its cookie starts afresh in Python.
    assert!(
        take_legacy(&client, &key, crate::compat::pickle::MAX_EXPANDED_BYTES)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.body("/read", &cookie), "0");

    // A datetime has no native form: the session is put back as it was.
    let (_, cookie) = app.get("/set_datetime?key=when", None);
    let cookie = cookie.unwrap();
    let key = key_of(&cookie);
    match take_legacy(&client, &key, crate::compat::pickle::MAX_EXPANDED_BYTES).await {
        Err(Error::Unconvertible { key, python_type }) => {
            assert_eq!(
                (key.as_str(), python_type.as_str()),
                ("when", "datetime.datetime")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.body("/is_datetime?key=when", &cookie), "yes");
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut conn).unwrap();
    assert!(ttl > 0, "the TTL came back too: {ttl}");
}

#[tokio::test]
async fn refreshes_and_metadata_ride_in_the_blob_and_empty_python_sessions_stay() {
    let redis = RedisServer::start();
    let app = PyApp::start(&redis.url(), None);
    // The original makes an empty session on first access.
    let (body, cookie) = app.get("/read", None);
    assert_eq!(body, "0");
    let cookie = cookie.unwrap();
    let key = key_of(&cookie);
    let store = PyramidStore::new(client(&redis));
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let ttl =
        |conn: &mut redis::Connection| -> i64 { redis::cmd("TTL").arg(&key).query(conn).unwrap() };

    let created = load(&store, &key).await.meta.created;
    let refreshed = store
        .write(vec![Write::update(
            &key,
            Change::default().with_refresh(created, 1_800_000_000),
            5000,
        )])
        .await
        .unwrap();
    assert_eq!(refreshed, [Written::Stored]);
    assert!(
        ttl(&mut conn) > i64::try_from(TIMEOUT).unwrap(),
        "the TTL was set"
    );
    let bind = Change {
        user: Some("alice".into()),
        ..Change::default()
    };
    let bound = update(&store, &key, bind).await;
    assert_eq!(bound, Written::Stored, "an empty session stays");
    let meta = load(&store, &key).await.meta;
    assert_eq!(meta.user.as_deref(), Some("alice"));
    assert_eq!(meta.refreshed, 1_800_000_000);

    // Python reads and writes it as ever; its write drops our metadata.
    assert_eq!(app.body("/incr", &cookie), "1");
    assert_eq!(load(&store, &key).await.meta.user, None);

    // Deleting the last key deletes the session; missing ones stay missing.
    let emptied = store
        .write(vec![Write::update(
            &key,
            Change::entries(vec![], vec![b"counter".to_vec()]),
            TIMEOUT,
        )])
        .await
        .unwrap();
    assert_eq!(emptied, [Written::Emptied]);
    assert!(store.load(&key).await.unwrap().is_none());
    let missing = store
        .write(vec![
            Write::update(&key, Change::default().with_refresh(1, 1), TIMEOUT),
            Write::update(&key, Change::entries(vec![field("a", 1)], vec![]), TIMEOUT),
        ])
        .await
        .unwrap();
    assert_eq!(missing, [Written::Missing, Written::Missing]);
    assert!(matches!(
        store
            .write(vec![Write::update(
                &key,
                Change::default(),
                crate::store::MAX_TIMEOUT + 1
            )])
            .await,
        Err(crate::store::Error::TimeoutTooLong(_))
    ));
}
