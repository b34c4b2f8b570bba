//! The store contract, run against every store: the memory store, Redis with
//! one pipeline per batch, and Redis with one pipeline per key (as on
//! Cluster). Then what only Redis can show: TTLs, scripts flushed by a
//! restart, replies of the wrong type, a stalled server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis_sessions::store::{
    Change, Entry, Error, IndexEntry, Loaded, MAX_TIMEOUT, Meta, Record, Write, Written,
};
use redis_sessions::{MemoryStore, RedisClient, RedisOptions, RedisStore, SessionStore};

use crate::support::RedisServer;

/// A store under test, and the server behind it (for Redis).
struct Subject {
    store: Arc<dyn SessionStore>,
    server: Option<RedisServer>,
}

impl Subject {
    fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            server: None,
        }
    }

    fn redis(per_key: bool) -> Self {
        let server = RedisServer::start();
        let store = redis_store(&server, Duration::from_secs(2)).pipeline_per_key(per_key);
        Self {
            store: Arc::new(store),
            server: Some(server),
        }
    }

    /// The key's TTL in seconds as Redis reports it (-1: none, -2: no key).
    fn ttl(&self, key: &str) -> Option<i64> {
        self.server.as_ref().map(|s| s.ttl(key))
    }

    /// Every key in Redis (None for the memory store).
    fn keys(&self) -> Option<Vec<String>> {
        self.server.as_ref().map(RedisServer::keys)
    }
}

fn redis_store(server: &RedisServer, timeout: Duration) -> RedisStore {
    let options = RedisOptions {
        url: Some(server.url()),
        socket_timeout: Some(timeout),
        ..RedisOptions::default()
    };
    RedisStore::new(RedisClient::open(&options).unwrap())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn f(name: &[u8], value: &[u8]) -> Entry {
    (name.to_vec(), value.to_vec())
}

/// The creation time of the sessions these tests make.
const CREATED: u64 = 1_700_000_000;

/// A session's entries as a map, for comparisons that ignore order.
async fn fields(store: &dyn SessionStore, key: &str) -> Option<HashMap<Vec<u8>, Vec<u8>>> {
    snapshot(store, key).await.map(|(_, entries)| entries)
}

/// A session's metadata.
async fn meta(store: &dyn SessionStore, key: &str) -> Option<Meta> {
    snapshot(store, key).await.map(|(meta, _)| meta)
}

/// A session as loaded, its entries as a map.
async fn snapshot(
    store: &dyn SessionStore,
    key: &str,
) -> Option<(Meta, HashMap<Vec<u8>, Vec<u8>>)> {
    let record = store.load(key).await.unwrap()?.unwrap();
    Some((record.meta, record.entries.into_iter().collect()))
}

fn new_session(key: &str, entries: &[Entry], ttl: u64) -> Write {
    Write::create(
        key,
        Record::new(Meta::new(CREATED, CREATED), entries.to_vec()),
        ttl,
    )
}

/// An update that sets `set` and deletes `delete`.
fn update(key: &str, set: Vec<Entry>, delete: Vec<Vec<u8>>, ttl: u64) -> Write {
    Write::update(key, Change::entries(set, delete), ttl)
}

/// An update that records a refresh at `at` (as a due refresh does).
fn refresh(key: &str, at: u64, ttl: u64) -> Write {
    Write::update(key, Change::default().with_refresh(CREATED, at), ttl)
}

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Subject::memory()).await;
            })*
        }
        mod on_redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Subject::redis(false)).await;
            })*
        }
        mod on_redis_pipeline_per_key {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Subject::redis(true)).await;
            })*
        }
    };
}

on_every_store!(
    create_stores_every_field_and_never_overwrites,
    load_of_an_unknown_key_is_none,
    update_changes_only_its_fields_and_always_sets_the_ttl,
    update_never_brings_back_a_missing_session,
    update_that_leaves_no_user_field_deletes_the_session,
    a_metadata_update_sets_the_ttl_only_if_the_session_exists,
    delete_removes_the_session,
    each_write_of_a_batch_gets_its_own_result_in_order,
    a_timeout_above_the_maximum_is_refused_and_nothing_is_written,
    user_keys_starting_with_nul_stay_user_keys,
    thousands_of_fields_fit_in_one_write,
    index_lists_what_was_put_and_prunes_what_expired,
    index_puts_arriving_out_of_order_keep_the_newest,
    index_removed_members_stay_removed_even_if_a_put_comes_late,
    index_of_sessions_that_never_expire_has_no_ttl,
    index_refuses_entries_it_cannot_keep,
    index_past_its_cap_removes_the_sessions_that_end_first,
    index_listing_is_bounded_to_those_that_end_last,
    index_tombstones_end_and_free_their_member,
    index_tombstones_are_bounded,
);

async fn create_stores_every_field_and_never_overwrites(s: Subject) {
    let store = &*s.store;
    let written = store
        .write(vec![new_session("k", &[f(b"a", b"1")], 100)])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored]);
    let stored = fields(store, "k").await.unwrap();
    assert_eq!(stored.get(b"a".as_slice()), Some(&b"1".to_vec()));
    assert_eq!(stored.len(), 1);
    assert_eq!(meta(store, "k").await, Some(Meta::new(CREATED, CREATED)));
    if let Some(ttl) = s.ttl("k") {
        assert!((95..=100).contains(&ttl), "{ttl}");
    }

    let again = store
        .write(vec![new_session("k", &[f(b"a", b"2"), f(b"b", b"3")], 100)])
        .await
        .unwrap();
    assert_eq!(again, [Written::Collision]);
    assert_eq!(fields(store, "k").await.unwrap(), stored, "nothing written");
}

async fn load_of_an_unknown_key_is_none(s: Subject) {
    assert_eq!(s.store.load("nobody").await.unwrap(), None);
    assert_eq!(s.keys().unwrap_or_default(), Vec::<String>::new());
}

async fn update_changes_only_its_fields_and_always_sets_the_ttl(s: Subject) {
    let store = &*s.store;
    store
        .write(vec![new_session("k", &[f(b"a", b"1"), f(b"b", b"2")], 100)])
        .await
        .unwrap();
    let written = store
        .write(vec![Write::update(
            "k",
            Change::entries(vec![f(b"c", b"3")], vec![b"a".to_vec()])
                .with_refresh(CREATED, 1_700_000_100),
            500,
        )])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored]);
    let stored = fields(store, "k").await.unwrap();
    let mut names: Vec<_> = stored.keys().cloned().collect();
    names.sort();
    assert_eq!(names, [b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(
        meta(store, "k").await,
        Some(Meta::new(CREATED, 1_700_000_100))
    );
    if let Some(ttl) = s.ttl("k") {
        assert!((495..=500).contains(&ttl), "the update set the TTL: {ttl}");
    }
    let written = store
        .write(vec![update("k", vec![f(b"b", b"9")], vec![], 0)])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored]);
    if let Some(ttl) = s.ttl("k") {
        assert_eq!(ttl, -1, "timeout 0: no expiry");
    }
    assert_eq!(
        fields(store, "k").await.unwrap().get(b"b".as_slice()),
        Some(&b"9".to_vec())
    );
}

async fn update_never_brings_back_a_missing_session(s: Subject) {
    let store = &*s.store;
    for timeout in [0, 100] {
        let written = store
            .write(vec![update(
                "gone",
                vec![f(b"a", b"1")],
                vec![b"b".to_vec()],
                timeout,
            )])
            .await
            .unwrap();
        assert_eq!(written, [Written::Missing]);
        assert_eq!(store.load("gone").await.unwrap(), None);
        assert_eq!(s.keys().unwrap_or_default(), Vec::<String>::new());
    }
}

async fn update_that_leaves_no_user_field_deletes_the_session(s: Subject) {
    let store = &*s.store;
    store
        .write(vec![
            new_session("one", &[f(b"a", b"1")], 100),
            new_session("two", &[f(b"a", b"1"), f(b"b", b"2")], 100),
        ])
        .await
        .unwrap();
    let written = store
        .write(vec![
            Write::update(
                "one",
                Change::entries(vec![], vec![b"a".to_vec()]).with_timeout(50),
                50,
            ),
            update("two", vec![], vec![b"a".to_vec()], 100),
        ])
        .await
        .unwrap();
    assert_eq!(written, [Written::Emptied, Written::Stored]);
    assert_eq!(store.load("one").await.unwrap(), None);
    assert!(store.load("two").await.unwrap().is_some());
    if let Some(keys) = s.keys() {
        assert_eq!(keys, ["two"]);
    }
}

async fn a_metadata_update_sets_the_ttl_only_if_the_session_exists(s: Subject) {
    let store = &*s.store;
    store
        .write(vec![new_session("k", &[f(b"a", b"1")], 100)])
        .await
        .unwrap();
    let written = store
        .write(vec![
            refresh("k", 1_700_000_123, 700),
            refresh("absent", 1_700_000_123, 700),
        ])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored, Written::Missing]);
    let stored = fields(store, "k").await.unwrap();
    assert_eq!(meta(store, "k").await.unwrap().refreshed, 1_700_000_123);
    assert_eq!(stored.get(b"a".as_slice()), Some(&b"1".to_vec()));
    if let Some(ttl) = s.ttl("k") {
        assert!((695..=700).contains(&ttl), "{ttl}");
        assert_eq!(s.keys().unwrap(), ["k"], "no key for the absent session");
    }
}

async fn delete_removes_the_session(s: Subject) {
    let store = &*s.store;
    store
        .write(vec![new_session("k", &[f(b"a", b"1")], 100)])
        .await
        .unwrap();
    let written = store
        .write(vec![Write::delete("k"), Write::delete("never-there")])
        .await
        .unwrap();
    assert_eq!(written, [Written::Deleted, Written::Deleted]);
    assert_eq!(store.load("k").await.unwrap(), None);
}

async fn each_write_of_a_batch_gets_its_own_result_in_order(s: Subject) {
    let store = &*s.store;
    store
        .write(vec![
            new_session("a", &[f(b"x", b"1")], 100),
            new_session("b", &[f(b"x", b"1")], 100),
        ])
        .await
        .unwrap();
    let written = store
        .write(vec![
            update("missing", vec![f(b"x", b"2")], vec![], 100),
            Write::delete("a"),
            new_session("b", &[f(b"x", b"3")], 100),
            update("b", vec![f(b"x", b"4")], vec![], 100),
            refresh("a", 5, 100),
            new_session("c", &[f(b"x", b"5")], 100),
            update("b", vec![], vec![b"x".to_vec()], 100),
        ])
        .await
        .unwrap();
    assert_eq!(
        written,
        [
            Written::Missing,
            Written::Deleted,
            Written::Collision,
            Written::Stored,
            Written::Missing,
            Written::Stored,
            Written::Emptied,
        ],
        "writes to one key apply in batch order"
    );
    assert!(store.write(vec![]).await.unwrap().is_empty());
}

async fn a_timeout_above_the_maximum_is_refused_and_nothing_is_written(s: Subject) {
    let store = &*s.store;
    store
        .write(vec![new_session("k", &[f(b"a", b"1")], MAX_TIMEOUT)])
        .await
        .unwrap();
    for huge in [MAX_TIMEOUT + 1, u64::MAX] {
        for write in [
            update("k", vec![f(b"a", b"2")], vec![], huge),
            new_session("other", &[f(b"a", b"1")], huge),
        ] {
            let result = store
                .write(vec![new_session("first", &[f(b"a", b"1")], 100), write])
                .await;
            assert_eq!(result, Err(Error::TimeoutTooLong(huge)));
        }
    }
    assert_eq!(
        store.load("first").await.unwrap(),
        None,
        "nothing of the batch"
    );
    assert_eq!(
        fields(store, "k").await.unwrap().get(b"a".as_slice()),
        Some(&b"1".to_vec())
    );
    // The session is still usable afterwards.
    let written = store
        .write(vec![update("k", vec![f(b"a", b"3")], vec![], 60)])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored]);
}

async fn user_keys_starting_with_nul_stay_user_keys(s: Subject) {
    let store = &*s.store;
    // Keys that look like a store's metadata are entries like any other.
    let odd = [f(b"\0c", b"v"), f(b"\0", b"w"), f(b"\0\0t", b"x")];
    store
        .write(vec![new_session("k", &odd, 100)])
        .await
        .unwrap();
    let (meta, entries) = snapshot(store, "k").await.unwrap();
    assert_eq!(meta, Meta::new(CREATED, CREATED), "the metadata are whole");
    assert_eq!(entries, odd.iter().cloned().collect());
    let delete = odd.iter().map(|(key, _)| key.clone()).collect();
    let written = store
        .write(vec![Write::update(
            "k",
            Change::entries(vec![], delete).with_refresh(CREATED, 1),
            100,
        )])
        .await
        .unwrap();
    assert_eq!(written, [Written::Emptied], "they were its only entries");
}

async fn thousands_of_fields_fit_in_one_write(s: Subject) {
    let store = &*s.store;
    let many: Vec<Entry> = (0..5000)
        .map(|i| f(format!("k{i}").as_bytes(), b"v"))
        .collect();
    let written = store
        .write(vec![new_session("k", &many, 100)])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored]);
    assert_eq!(fields(store, "k").await.unwrap().len(), 5000);
    let delete: Vec<Vec<u8>> = (0..5000).map(|i| format!("k{i}").into_bytes()).collect();
    let set: Vec<Entry> = (0..5000)
        .map(|i| f(format!("n{i}").as_bytes(), b"w"))
        .collect();
    let written = store
        .write(vec![update("k", set, delete, 100)])
        .await
        .unwrap();
    assert_eq!(written, [Written::Stored]);
    let stored = fields(store, "k").await.unwrap();
    assert_eq!(stored.len(), 5000);
    assert!(stored.contains_key(b"n4999".as_slice()) && !stored.contains_key(b"k0".as_slice()));
}

fn entry(
    member: &str,
    expires: u64,
    created: u64,
    last_seen: u64,
    agent: Option<&str>,
) -> IndexEntry {
    IndexEntry {
        member: member.into(),
        expires,
        created,
        last_seen,
        agent: agent.map(str::to_owned),
    }
}

async fn listed(store: &dyn SessionStore, index: &str, now: u64) -> Vec<IndexEntry> {
    let mut entries = store.index_list(index, now).await.unwrap();
    entries.sort_by(|a, b| a.member.cmp(&b.member));
    entries
}

async fn index_lists_what_was_put_and_prunes_what_expired(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    let a = entry(
        "a",
        now + 100,
        now - 50,
        now - 10,
        Some(" Mozilla/5.0 (X11;  Linux) "),
    );
    let b = entry("b", now + 300, now - 60, now - 5, None);
    store.index_put("u:1", a.clone(), 0).await.unwrap();
    store.index_put("u:1", b.clone(), 0).await.unwrap();
    assert_eq!(listed(store, "u:1", now).await, [a.clone(), b.clone()]);
    assert_eq!(listed(store, "u:2", now).await, []);
    if let Some(ttl) = s.ttl("{u:1}:z") {
        assert!(
            (295..=300).contains(&ttl),
            "the index lives as long as b: {ttl}"
        );
    }
    // As of now + 100, a has expired: it is pruned, for good.
    assert_eq!(
        listed(store, "u:1", now + 100).await,
        std::slice::from_ref(&b)
    );
    assert_eq!(listed(store, "u:1", now).await, [b], "a was pruned");
    assert_eq!(listed(store, "u:1", now + 300).await, []);
    if let Some(keys) = s.keys() {
        assert!(keys.is_empty(), "an empty index is no key: {keys:?}");
    }
}

async fn index_puts_arriving_out_of_order_keep_the_newest(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    let first = entry("m", now + 100, now - 100, now - 20, Some("Chrome"));
    let second = entry("m", now + 120, 0, now, None);
    // Newer first, older second: the older one changes nothing.
    store.index_put("u:1", second.clone(), 0).await.unwrap();
    store.index_put("u:1", first.clone(), 0).await.unwrap();
    let expected = entry("m", now + 120, now - 100, now, Some("Chrome"));
    assert_eq!(
        listed(store, "u:1", now).await,
        std::slice::from_ref(&expected)
    );
    // In order, the same result; repeating a put changes nothing.
    store.index_put("u:2", first.clone(), 0).await.unwrap();
    store.index_put("u:2", second.clone(), 0).await.unwrap();
    store.index_put("u:2", second, 0).await.unwrap();
    assert_eq!(listed(store, "u:2", now).await, [expected]);
    if let Some(ttl) = s.ttl("{u:1}:z") {
        assert!((115..=120).contains(&ttl), "{ttl}");
    }
}

async fn index_removed_members_stay_removed_even_if_a_put_comes_late(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    store
        .index_put("u:1", entry("a", now + 100, now, now, None), 0)
        .await
        .unwrap();
    store
        .index_put("u:1", entry("b", now + 100, now, now, None), 0)
        .await
        .unwrap();
    store
        .index_remove("u:1", &["a".to_owned(), "never-put".to_owned()], now + 200)
        .await
        .unwrap();
    // A refresh of a that was in flight when it was revoked arrives now.
    store
        .index_put("u:1", entry("a", now + 150, now, now + 1, None), 0)
        .await
        .unwrap();
    store
        .index_put("u:1", entry("never-put", now + 150, now, now + 1, None), 0)
        .await
        .unwrap();
    let members: Vec<String> = listed(store, "u:1", now)
        .await
        .into_iter()
        .map(|e| e.member)
        .collect();
    assert_eq!(members, ["b"]);
    if let Some(ttl) = s.ttl("{u:1}:z") {
        assert!(
            (195..=200).contains(&ttl),
            "the removal is remembered until `until`: {ttl}"
        );
    }
    store.index_remove("u:1", &[], now).await.unwrap();
    assert_eq!(listed(store, "u:1", now + 200).await, []);
    if let Some(keys) = s.keys() {
        assert!(keys.is_empty(), "{keys:?}");
    }
}

async fn index_of_sessions_that_never_expire_has_no_ttl(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    store
        .index_put("u:1", entry("a", now + 100, now, now, None), 0)
        .await
        .unwrap();
    store
        .index_put("u:1", entry("forever", 0, now, now, None), 0)
        .await
        .unwrap();
    assert_eq!(listed(store, "u:1", now + 1_000_000).await.len(), 1);
    if let Some(ttl) = s.ttl("{u:1}:z") {
        assert_eq!(ttl, -1, "a session without expiry keeps its index");
    }
    store
        .index_remove("u:1", &["forever".to_owned()], now + 10)
        .await
        .unwrap();
    assert_eq!(listed(store, "u:1", now).await, []);
}

async fn index_refuses_entries_it_cannot_keep(s: Subject) {
    let store = &*s.store;
    for bad in [
        entry("", 1, 1, 1, None),
        entry("m", 1 << 53, 1, 1, None),
        entry("m", 1, u64::MAX, 1, None),
    ] {
        assert!(matches!(
            store.index_put("u:1", bad, 0).await,
            Err(Error::BadIndexEntry(_))
        ));
    }
    assert!(matches!(
        store.index_remove("u:1", &["m".to_owned()], u64::MAX).await,
        Err(Error::BadIndexEntry(_))
    ));
    assert_eq!(listed(store, "u:1", 0).await, []);
}

// ---- Redis only ------------------------------------------------------------

/// The process id of a test server, from `INFO server`.
fn pid_of(server: &RedisServer) -> String {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut server.conn())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap()
        .trim()
        .to_owned()
}

fn signal(pid: &str, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// Every key and its TTL.
fn ttls(server: &RedisServer) -> Vec<(String, i64)> {
    server
        .keys()
        .into_iter()
        .map(|k| {
            let ttl = server.ttl(&k);
            (k, ttl)
        })
        .collect()
}

#[tokio::test]
async fn an_update_racing_a_delete_on_a_stalled_redis_leaves_no_key_without_ttl() {
    let server = RedisServer::start();
    let pid = pid_of(&server);
    for round in 0..6 {
        let store = Arc::new(redis_store(&server, Duration::from_millis(300)));
        let deleter = Arc::new(redis_store(&server, Duration::from_millis(300)));
        let key = format!("race{round}");
        store
            .write(vec![new_session(&key, &[f(b"a", b"1")], 100)])
            .await
            .unwrap();
        deleter.load(&key).await.unwrap(); // both connections are up
        let calls = |name: &str| server.command_calls().get(name).copied().unwrap_or(0);
        let (evalsha, del) = (calls("evalsha"), calls("del"));

        signal(&pid, "-STOP");
        let update = update(&key, vec![f(b"b", b"2")], vec![b"a".to_vec()], 100);
        let (u, d) = if round % 2 == 0 {
            let u = store.write(vec![update]);
            let d = deleter.write(vec![Write::delete(&key)]);
            tokio::join!(u, d)
        } else {
            let d = deleter.write(vec![Write::delete(&key)]);
            let u = store.write(vec![update]);
            let (d, u) = tokio::join!(d, u);
            (u, d)
        };
        assert_eq!(u, Err(Error::Timeout(Duration::from_millis(300))));
        assert_eq!(d, Err(Error::Timeout(Duration::from_millis(300))));
        signal(&pid, "-CONT");

        // Redis now runs what was queued: wait until it has.
        let deadline = Instant::now() + Duration::from_secs(10);
        while calls("evalsha") < evalsha + 1 || calls("del") < del + 1 {
            assert!(Instant::now() < deadline, "the queued writes never ran");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for (key, ttl) in ttls(&server) {
            assert!(ttl > 0, "round {round}: {key} has TTL {ttl}");
        }
        assert!(
            !server.keys().contains(&key),
            "round {round}: the update left the deleted session's fields behind"
        );
    }
}

#[tokio::test]
async fn redis_forgetting_its_scripts_replays_exactly_the_writes_that_did_not_run() {
    for per_key in [false, true] {
        forgotten_scripts_are_loaded_and_replayed(per_key).await;
    }
}

async fn forgotten_scripts_are_loaded_and_replayed(per_key: bool) {
    let server = RedisServer::start();
    let store = redis_store(&server, Duration::from_secs(2)).pipeline_per_key(per_key);
    store
        .write(vec![new_session("k", &[f(b"n", b"0")], 100)])
        .await
        .unwrap();
    let now = unix_now();
    store
        .index_put("u:1", entry("k", now + 100, now, now, None), 0)
        .await
        .unwrap();
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut server.conn())
        .unwrap();
    let (written, calls) = server
        .commands_during(store.write(vec![
            Write::delete("old"),
            update("k", vec![f(b"n", b"1")], vec![], 100),
            new_session("new", &[f(b"n", b"1")], 100),
            refresh("absent", now, 100),
        ]))
        .await;
    assert_eq!(
        written.unwrap(),
        [
            Written::Deleted,
            Written::Stored,
            Written::Stored,
            Written::Missing
        ]
    );
    assert_eq!(calls.get("del"), Some(&1), "the DEL ran once: {calls:?}");
    assert_eq!(calls.get("evalsha"), Some(&3), "3 refused: {calls:?}");
    assert_eq!(
        calls.get("eval"),
        Some(&3),
        "3 replayed with their source: {calls:?}"
    );
    assert_eq!(
        fields(&store, "k").await.unwrap().get(b"n".as_slice()),
        Some(&b"1".to_vec())
    );
    // A key named twice: its writes still apply in order.
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut server.conn())
        .unwrap();
    let written = store
        .write(vec![
            new_session("twice", &[f(b"n", b"1")], 100),
            Write::delete("twice"),
            update("k", vec![f(b"n", b"2")], vec![], 100),
            Write::delete("k"),
        ])
        .await
        .unwrap();
    assert_eq!(
        written,
        [
            Written::Stored,
            Written::Deleted,
            Written::Stored,
            Written::Deleted
        ]
    );
    let mut keys = server.keys();
    keys.sort();
    assert_eq!(keys, ["new", "{u:1}:h", "{u:1}:z"], "twice and k are gone");
    store
        .write(vec![new_session("k", &[f(b"n", b"1")], 100)])
        .await
        .unwrap();
    let (_, cached) = server
        .commands_during(store.write(vec![update("k", vec![], vec![], 100)]))
        .await;
    assert_eq!(cached.get("evalsha"), Some(&1), "cached again: {cached:?}");
    assert_eq!(cached.get("eval"), None, "{cached:?}");
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut server.conn())
        .unwrap();
    assert_eq!(store.index_list("u:1", now).await.unwrap().len(), 1);
}

#[tokio::test]
async fn budgets_load_one_command_update_and_refresh_five_create_four() {
    let server = RedisServer::start();
    let store = redis_store(&server, Duration::from_secs(2));
    // Warm up: the first use of each script on a server loads it.
    store
        .write(vec![
            new_session("k", &[f(b"n", b"0")], 100),
            refresh("k", 1, 100),
            new_session("k2", &[f(b"n", b"0")], 100),
            Write::delete("k2"),
        ])
        .await
        .unwrap();
    let counts = |pairs: &[(&str, u64)]| -> HashMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let (_, load) = server.commands_during(store.load("k")).await;
    assert_eq!(load, counts(&[("hgetall", 1)]));
    let (_, update) = server
        .commands_during(store.write(vec![Write::update(
            "k",
            Change::entries(vec![f(b"n", b"1")], vec![]).with_refresh(CREATED, 5),
            100,
        )]))
        .await;
    assert_eq!(
        update,
        counts(&[
            ("evalsha", 1),
            ("hexists", 1),
            ("hdel", 1),
            ("expire", 1),
            ("hset", 1)
        ])
    );
    // A due refresh is an update of the refresh time alone.
    let (_, refresh) = server
        .commands_during(store.write(vec![refresh("k", 6, 100)]))
        .await;
    assert_eq!(
        refresh,
        counts(&[
            ("evalsha", 1),
            ("hexists", 1),
            ("hdel", 1),
            ("expire", 1),
            ("hset", 1)
        ])
    );
    let (_, create) = server
        .commands_during(store.write(vec![new_session("k2", &[f(b"n", b"0")], 100)]))
        .await;
    assert_eq!(
        create,
        counts(&[("evalsha", 1), ("exists", 1), ("hset", 1), ("expire", 1)])
    );
    let (_, delete) = server
        .commands_during(store.write(vec![Write::delete("k2")]))
        .await;
    assert_eq!(delete, counts(&[("del", 1)]));
}

#[tokio::test]
async fn a_key_of_another_type_gives_typed_errors_not_panics() {
    let server = RedisServer::start();
    let store = redis_store(&server, Duration::from_secs(2));
    redis::cmd("SET")
        .arg("k")
        .arg("a string")
        .query::<()>(&mut server.conn())
        .unwrap();
    assert!(matches!(store.load("k").await, Err(Error::WrongType)));
    for write in [
        update("k", vec![f(b"a", b"1")], vec![], 100),
        refresh("k", 1, 100),
    ] {
        let result = store.write(vec![write]).await;
        assert!(
            matches!(result, Err(Error::Backend(_) | Error::WrongType)),
            "{result:?}"
        );
    }
    assert_eq!(
        store
            .write(vec![new_session("k", &[f(b"a", b"1")], 100)])
            .await
            .unwrap(),
        [Written::Collision]
    );
    redis::cmd("SET")
        .arg("{u:1}:z")
        .arg("a string")
        .query::<()>(&mut server.conn())
        .unwrap();
    assert!(matches!(
        store.index_list("u:1", 1).await,
        Err(Error::Backend(_) | Error::WrongType)
    ));
    // A hash without the creation field is not a session.
    redis::cmd("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .query::<()>(&mut server.conn())
        .unwrap();
    assert_eq!(store.load("h").await.unwrap(), None);
}

#[tokio::test]
async fn a_stray_index_detail_is_never_listed_and_never_keeps_the_index_alive() {
    let server = RedisServer::start();
    let store = redis_store(&server, Duration::from_secs(2));
    let now = unix_now();
    store
        .index_put("u:1", entry("a", now + 100, now, now, None), 0)
        .await
        .unwrap();
    redis::cmd("HSET")
        .arg("{u:1}:h")
        .arg("mangled")
        .arg("not an entry")
        .query::<()>(&mut server.conn())
        .unwrap();
    let members: Vec<String> = listed(&store, "u:1", now)
        .await
        .into_iter()
        .map(|e| e.member)
        .collect();
    assert_eq!(members, ["a"]);
    for key in ["{u:1}:h", "{u:1}:z"] {
        let ttl = server.ttl(key);
        assert!((1..=100).contains(&ttl), "{key}: {ttl}");
    }
}

#[tokio::test(start_paused = true)]
async fn memory_sessions_expire_by_their_ttl_and_refresh_extends_it() {
    let store = MemoryStore::new();
    store
        .write(vec![new_session("k", &[f(b"a", b"1")], 60)])
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(store.load("k").await.unwrap().is_some());
    assert_eq!(
        store.write(vec![refresh("k", 1, 60)]).await.unwrap(),
        [Written::Stored]
    );
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(store.load("k").await.unwrap().is_some(), "refreshed");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(store.load("k").await.unwrap(), None);
    assert_eq!(
        store
            .write(vec![update("k", vec![f(b"a", b"2")], vec![], 60)])
            .await
            .unwrap(),
        [Written::Missing],
        "an expired session is not brought back"
    );
    assert!(store.is_empty());
    // The longest timeout allowed works on tokio's clock, without overflow.
    store
        .write(vec![new_session("long", &[f(b"a", b"1")], MAX_TIMEOUT)])
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(MAX_TIMEOUT - 1)).await;
    assert!(store.load("long").await.unwrap().is_some());
}

#[tokio::test]
async fn a_slow_write_and_an_invalidate_queued_on_a_stopped_redis_leave_no_key_without_ttl() {
    use crate::support::{Client, ProbeStore, SECRET, key_of};
    use std::sync::atomic::Ordering;

    let server = RedisServer::start();
    let pid = pid_of(&server);
    let probe = ProbeStore::new(Arc::new(redis_store(&server, Duration::from_millis(300))));
    let factory = redis_sessions::RedisSessionFactory::builder(SECRET)
        .store(probe.clone())
        .build()
        .unwrap();
    let mut c = Client::new(crate::app::router(&factory));
    assert_eq!(c.get("/incr").await.body, "1");
    let key = key_of(&c.id());
    let calls = |name: &str| server.command_calls().get(name).copied().unwrap_or(0);
    let (evalsha, del) = (calls("evalsha"), calls("del"));

    // The slow request loads, then waits 200 ms before writing.
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            c.send("/slow_set?key=a&value=b&ms=200", c.cookie.clone())
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while probe.loads.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline, "the slow request never loaded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(&pid, "-STOP");
    // The invalidate's DEL is queued first, the slow update after it.
    let invalidate = c.send("/invalidate", c.cookie.clone()).await;
    let slow = slow.await.unwrap();
    signal(&pid, "-CONT");
    assert_eq!(invalidate.status, 503, "{invalidate:?}");
    assert_eq!(slow.status, 503, "{slow:?}");
    assert!(invalidate.set_cookie.is_empty() && slow.set_cookie.is_empty());

    let deadline = Instant::now() + Duration::from_secs(10);
    while calls("evalsha") < evalsha + 1 || calls("del") < del + 1 {
        assert!(Instant::now() < deadline, "the queued writes never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ttls(&server), [], "the session is gone and nothing is left");
    assert!(!server.keys().contains(&key));
}

/// A write over a few keys and entry names (some that look like a store's
/// metadata), with or without metadata, as the lifecycle could send.
fn any_write() -> impl proptest::strategy::Strategy<Value = Write> {
    use proptest::collection::vec;
    use proptest::prelude::*;
    let key = prop::sample::select(vec!["a", "b", "c"]);
    let name = prop::sample::select(vec![
        b"x".to_vec(),
        b"y".to_vec(),
        b"\0z".to_vec(),
        b"\0r".to_vec(),
        b"\0t".to_vec(),
    ]);
    let value = vec(any::<u8>(), 0..4);
    let ttl = prop::sample::select(vec![0u64, 100, 5000]);
    let own = proptest::option::of(prop::sample::select(vec![0u64, 60, 3600]));
    let refreshed = proptest::option::of(prop::sample::select(vec![1u64, 1_700_000_050]));
    prop_oneof![
        (
            key.clone(),
            vec((name.clone(), value.clone()), 0..4),
            own.clone(),
            ttl.clone()
        )
            .prop_map(|(k, entries, own, t)| {
                let mut meta = Meta::new(CREATED, CREATED);
                meta.timeout = own;
                Write::create(k, Record::new(meta, entries), t)
            }),
        (
            key.clone(),
            vec((name.clone(), value), 0..3),
            vec(name, 0..3),
            own,
            refreshed,
            ttl
        )
            .prop_map(|(k, set, delete, own, refreshed, t)| {
                let mut change = Change::entries(set, delete);
                change.timeout = own;
                change.times = refreshed.map(|at| (CREATED, at));
                Write::update(k, change, t)
            }),
        key.prop_map(Write::delete),
    ]
}

#[test]
fn memory_and_redis_agree_on_any_sequence_of_writes() {
    use proptest::collection::vec;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let redis = redis_store(&server, Duration::from_secs(2));
    runner
        .run(&vec(vec(any_write(), 1..5), 1..6), |batches| {
            runtime.block_on(async {
                ::redis::cmd("FLUSHALL")
                    .query::<()>(&mut server.conn())
                    .unwrap();
                let memory = MemoryStore::new();
                for batch in batches {
                    let m = memory.write(batch.clone()).await;
                    let r = redis.write(batch).await;
                    proptest::prop_assert_eq!(m, r);
                }
                for key in ["a", "b", "c"] {
                    let m = snapshot(&memory, key).await;
                    let r = snapshot(&redis, key).await;
                    proptest::prop_assert_eq!(m, r, "key {}", key);
                }
                for (key, ttl) in ttls(&server) {
                    proptest::prop_assert!(ttl > 0 || ttl == -1, "{} {}", key, ttl);
                }
                Ok::<(), TestCaseError>(())
            })
        })
        .unwrap();
}

/// A TCP proxy to Redis that, once armed, forwards only so many more bytes
/// from the client and then cuts the connection: a connection dropped in
/// the middle of a batch, at any byte.
struct CutProxy {
    port: u16,
    /// Bytes the client may still send (`usize::MAX`: no limit).
    budget: Arc<std::sync::atomic::AtomicUsize>,
    /// Local ports of the proxy's connections to Redis.
    upstream_ports: Arc<std::sync::Mutex<Vec<u16>>>,
}

impl CutProxy {
    async fn start(redis_port: u16) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let budget = Arc::new(AtomicUsize::new(usize::MAX));
        let upstream_ports = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (b, ports) = (budget.clone(), upstream_ports.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", redis_port)).await
                else {
                    continue;
                };
                ports
                    .lock()
                    .unwrap()
                    .push(server.local_addr().unwrap().port());
                let budget = b.clone();
                tokio::spawn(async move {
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    });
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = match from_client.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut allowed = n;
                        let _ = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                            if b == usize::MAX {
                                return None;
                            }
                            allowed = n.min(b);
                            Some(b - allowed)
                        });
                        if to_server.write_all(&buf[..allowed]).await.is_err() || allowed < n {
                            break;
                        }
                    }
                    // Dropping both halves closes both connections.
                    down.abort();
                });
            }
        });
        Self {
            port,
            budget,
            upstream_ports,
        }
    }

    fn arm(&self, bytes: usize) {
        self.budget
            .store(bytes, std::sync::atomic::Ordering::SeqCst);
    }

    fn ports(&self) -> Vec<u16> {
        self.upstream_ports.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_connection_cut_at_any_byte_of_a_batch_leaves_every_key_with_its_ttl_and_each_write_whole()
 {
    let server = RedisServer::start();
    let direct = redis_store(&server, Duration::from_secs(2));
    let proxy = CutProxy::start(server.port).await;
    let options = RedisOptions {
        url: Some(format!("redis://127.0.0.1:{}/0", proxy.port)),
        socket_timeout: Some(Duration::from_secs(2)),
        ..RedisOptions::default()
    };
    let store = RedisStore::new(RedisClient::open(&options).unwrap());
    let batch = || {
        vec![
            update("a", vec![f(b"x", b"new")], vec![b"y".to_vec()], 100),
            Write::delete("b"),
            new_session("c", &[f(b"x", b"new")], 100),
            refresh("d", 42, 100),
            update("e", vec![], vec![b"x".to_vec()], 100),
        ]
    };
    let mut cut_at = 0;
    loop {
        ::redis::cmd("FLUSHALL")
            .query::<()>(&mut server.conn())
            .unwrap();
        let old = [f(b"x", b"old"), f(b"y", b"old")];
        direct
            .write(
                ["a", "b", "d", "e"]
                    .map(|k| new_session(k, &old[..1 + usize::from(k == "a")], 100))
                    .to_vec(),
            )
            .await
            .unwrap();
        proxy.arm(usize::MAX);
        // Connected (again) and the scripts known, before the cut is armed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.load("a").await.is_err() {
            assert!(Instant::now() < deadline, "never reconnected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before = proxy.ports();
        proxy.arm(cut_at);
        let result = store.write(batch()).await;
        if let Ok(written) = result {
            assert_eq!(
                written,
                [
                    Written::Stored,
                    Written::Deleted,
                    Written::Stored,
                    Written::Stored,
                    Written::Emptied
                ]
            );
            assert!(cut_at > 0, "a cut before the first byte must fail");
            break;
        }
        // Wait until Redis has dropped the cut connection: it has then run
        // every command that reached it whole.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let clients: String = ::redis::cmd("CLIENT")
                .arg("LIST")
                .query(&mut server.conn())
                .unwrap();
            let open = before
                .iter()
                .any(|p| clients.contains(&format!("addr=127.0.0.1:{p} ")));
            if !open {
                break;
            }
            assert!(Instant::now() < deadline, "the cut connection stayed open");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for (key, ttl) in ttls(&server) {
            assert!(ttl > 0, "cut at byte {cut_at}: {key} has TTL {ttl}");
        }
        let a = fields(&direct, "a").await.unwrap();
        assert!(
            a.get(b"x".as_slice()) == Some(&b"old".to_vec()) && a.contains_key(b"y".as_slice())
                || a.get(b"x".as_slice()) == Some(&b"new".to_vec())
                    && !a.contains_key(b"y".as_slice()),
            "cut at byte {cut_at}: the update of a is half applied"
        );
        let c = direct.load("c").await.unwrap();
        assert!(
            c.is_none() || c.is_some_and(|c| c.unwrap().entries.len() == 1),
            "cut at byte {cut_at}"
        );
        cut_at += 7;
        assert!(cut_at < 10_000, "the batch never went through");
    }
}

async fn index_past_its_cap_removes_the_sessions_that_end_first(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    for (i, member) in ["a", "b", "c"].into_iter().enumerate() {
        let revoked = store
            .index_put(
                "u:1",
                entry(member, now + 100 + i as u64, now, now, None),
                3,
            )
            .await
            .unwrap();
        assert!(revoked.is_empty(), "{member}: {revoked:?}");
    }
    let revoked = store
        .index_put("u:1", entry("d", now + 200, now, now, None), 3)
        .await
        .unwrap();
    assert_eq!(revoked, ["a"], "the one that ends first goes");
    let revoked = store
        .index_put("u:1", entry("e", 0, now, now, None), 2)
        .await
        .unwrap();
    assert_eq!(revoked, ["b", "c"]);
    let members: Vec<String> = listed(store, "u:1", now)
        .await
        .into_iter()
        .map(|e| e.member)
        .collect();
    assert_eq!(members, ["d", "e"]);
    // A late put of a revoked member does not bring it back.
    store
        .index_put("u:1", entry("a", now + 300, now, now + 1, None), 0)
        .await
        .unwrap();
    assert_eq!(listed(store, "u:1", now).await.len(), 2);
}

async fn index_listing_is_bounded_to_those_that_end_last(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    let n = redis_sessions::store::MAX_LISTED + 5;
    for i in 0..n {
        store
            .index_put(
                "u:1",
                entry(&format!("m{i:05}"), now + 100 + i as u64, now, now, None),
                0,
            )
            .await
            .unwrap();
    }
    let listed = listed(store, "u:1", now).await;
    assert_eq!(listed.len(), redis_sessions::store::MAX_LISTED);
    assert!(
        listed.iter().all(|e| e.member.as_str() >= "m00005"),
        "the ones that end last are listed"
    );
}

async fn index_tombstones_end_and_free_their_member(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    store
        .index_put("u:1", entry("a", now + 100, now, now, None), 0)
        .await
        .unwrap();
    store
        .index_remove("u:1", &["a".into(), "b".into()], now + 50)
        .await
        .unwrap();
    assert_eq!(listed(store, "u:1", now).await, []);
    // The tombstone of a lasts until a's own expiry (the later time).
    store
        .index_put("u:1", entry("a", now + 400, now, now + 60, None), 0)
        .await
        .unwrap();
    assert_eq!(listed(store, "u:1", now + 60).await, [], "still removed");
    // Past it, the tombstones are pruned: the member may be listed again,
    // and nothing is left of the removals.
    store
        .index_put("u:1", entry("a", now + 400, now, now + 101, None), 0)
        .await
        .unwrap();
    let members: Vec<String> = listed(store, "u:1", now + 101)
        .await
        .into_iter()
        .map(|e| e.member)
        .collect();
    assert_eq!(members, ["a"]);
    if let Some(server) = &s.server {
        let card: u64 = redis::cmd("ZCARD")
            .arg("{u:1}:z")
            .query(&mut server.conn())
            .unwrap();
        assert_eq!(card, 1, "the tombstones are gone");
    }
}

#[tokio::test]
async fn an_index_put_costs_the_same_commands_at_any_size() {
    let server = RedisServer::start();
    let store = redis_store(&server, Duration::from_secs(5));
    let now = unix_now();
    let mut per_put = Vec::new();
    for size in [100u64, 3000] {
        let index = format!("u:{size}");
        for i in 0..size {
            store
                .index_put(
                    &index,
                    entry(&format!("m{i}"), now + 1000 + i, now, now, None),
                    0,
                )
                .await
                .unwrap();
        }
        let before = server.command_calls();
        store
            .index_put(&index, entry("new", now + 5000, now, now, None), 0)
            .await
            .unwrap();
        let after = server.command_calls();
        let calls: u64 = after
            .iter()
            .filter(|(name, _)| name.as_str() != "info")
            .map(|(name, n)| n - before.get(name).copied().unwrap_or(0))
            .sum();
        assert_eq!(after.get("hgetall"), before.get("hgetall"), "no scan");
        per_put.push(calls);
    }
    assert_eq!(
        per_put[0], per_put[1],
        "commands per put at 100 and 3000 entries"
    );
}

async fn index_tombstones_are_bounded(s: Subject) {
    let store = &*s.store;
    let now = unix_now();
    let members: Vec<String> = (0..1_100).map(|i| format!("gone{i:04}")).collect();
    store
        .index_remove("u:1", &members, now + 100)
        .await
        .unwrap();
    store
        .index_put("u:1", entry("live", now + 100, now, now, None), 0)
        .await
        .unwrap();
    let members: Vec<String> = listed(store, "u:1", now)
        .await
        .into_iter()
        .map(|e| e.member)
        .collect();
    assert_eq!(members, ["live"]);
    if let Some(server) = &s.server {
        let card: u64 = redis::cmd("ZCARD")
            .arg("{u:1}:z")
            .query(&mut server.conn())
            .unwrap();
        assert_eq!(card, 1_001, "1000 tombstones and the live entry");
    }
}

/// A store whose loads say each session has its own timeout past the
/// maximum (as a buggy or hostile custom store could).
struct Overlong(MemoryStore);

impl SessionStore for Overlong {
    fn load<'a>(&'a self, key: &'a str) -> redis_sessions::store::StoreFuture<'a, Loaded> {
        Box::pin(async move {
            let loaded = self.0.load(key).await?;
            Ok(loaded.map(|record| {
                record.map(|mut record| {
                    record.meta.timeout = Some(MAX_TIMEOUT + 1);
                    record
                })
            }))
        })
    }

    fn write(&self, writes: Vec<Write>) -> redis_sessions::store::StoreFuture<'_, Vec<Written>> {
        self.0.write(writes)
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> redis_sessions::store::StoreFuture<'_, Vec<String>> {
        self.0.index_put(index_key, entry, cap)
    }

    fn index_list<'a>(
        &'a self,
        index_key: &'a str,
        now: u64,
    ) -> redis_sessions::store::StoreFuture<'a, Vec<IndexEntry>> {
        self.0.index_list(index_key, now)
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> redis_sessions::store::StoreFuture<'a, ()> {
        self.0.index_remove(index_key, members, until)
    }
}

/// The session layer checks a stored timeout against the maximum whatever
/// the store: past it, the session is corrupt (deleted, a fresh one
/// instead), never a session every write of would fail.
#[tokio::test]
async fn a_stored_timeout_past_the_maximum_is_a_corrupt_session_whatever_the_store() {
    use crate::support::{Client, SECRET, key_of};
    use redis_sessions::session::Reason;
    use std::sync::Mutex;

    let store = Arc::new(Overlong(MemoryStore::new()));
    let factory = redis_sessions::RedisSessionFactory::builder(SECRET)
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    let seen: Arc<Mutex<Vec<Reason>>> = Arc::default();
    let sink = Arc::clone(&seen);
    factory.on_event(move |event| sink.lock().unwrap().push(event.reason));
    let mut c = Client::new(crate::app::router(&factory));
    c.get("/set?key=a&value=1").await;
    let key = key_of(&c.id());
    assert!(store.0.load(&key).await.unwrap().is_some());
    let r = c.get("/read").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "0"));
    assert_eq!(store.0.load(&key).await.unwrap(), None, "deleted");
    assert_eq!(*seen.lock().unwrap(), [Reason::Corrupt]);
}
