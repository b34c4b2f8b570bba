//! Property tests over everything that parses hostile input: cookie headers
//! and values, INI files, and stored values. A small number of cases runs
//! in the test suite (`PROPTEST_CASES` raises it); `scripts/fuzz.sh
//! [minutes]` runs them for as long as asked. Each property: no panic, no
//! unbounded work, and nothing adopted that was not issued.

use std::io::Write as _;

use proptest::prelude::*;
use redis_sessions::codec::{self, Json, MsgPack};
use redis_sessions::cookie::CookieSigner;
use redis_sessions::{RedisSessionFactory, Settings};

use crate::support::SECRET;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn factory() -> RedisSessionFactory {
    RedisSessionFactory::builder(SECRET)
        .url("memory://")
        .build()
        .unwrap()
}

/// Cookie header texts: plausible pairs, separators, quotes, huge runs.
fn cookie_header() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z]{0,8}=[ -~]{0,40}",
        Just("session=".to_owned()),
        "session=[A-Za-z0-9_.-]{0,90}",
        "[;, =\"\\\\]{1,4}",
        "[\u{80}-\u{10ffff}]{1,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.join("; "))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_cookie_headers_never_panic_nor_adopt_a_session(header in cookie_header()) {
        let factory = factory();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let session = factory.new_session(Some(&header));
            // Nothing was ever issued: whatever the header says, the session is new.
            prop_assert!(session.is_new().await.unwrap());
            prop_assert_eq!(session.len().await.unwrap(), 0);
            Ok(())
        })?;
    }

    #[test]
    fn a_changed_cookie_value_never_verifies(
        id in "[A-Za-z0-9_-]{16,64}",
        at in any::<prop::sample::Index>(),
        with in any::<char>(),
    ) {
        let signer = CookieSigner::new(SECRET).unwrap();
        let value = signer.sign("session", &id);
        prop_assert_eq!(signer.verify("session", &value), Some(id.as_str()));
        let mut chars: Vec<char> = value.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != with);
        chars[i] = with;
        let changed: String = chars.into_iter().collect();
        prop_assert_eq!(signer.verify("session", &changed), None);
    }

    #[test]
    fn arbitrary_cookie_values_never_verify(value in "[ -~]{0,200}") {
        let signer = CookieSigner::new(SECRET).unwrap();
        prop_assert_eq!(signer.verify("session", &value), None);
    }

    #[test]
    fn arbitrary_ini_files_give_settings_or_located_errors(
        lines in prop::collection::vec(
            prop_oneof![
                "\\[[a-z:]{0,10}\\]",
                "redis\\.sessions\\.[a-z_]{1,16} ?[=:] ?[ -~]{0,30}",
                "[a-z._]{1,12} ?= ?%\\([a-z]{0,6}\\)s?",
                "[ \t]+[ -~]{0,20}",
                "[#;][ -~]{0,20}",
                "[ -~]{0,30}",
            ],
            0..20,
        )
    ) {
        let mut file = tempfile_in_target();
        file.1.write_all(lines.join("\n").as_bytes()).unwrap();
        match Settings::from_ini(&file.0) {
            Ok(_) => {}
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.is_empty());
                prop_assert!(text.lines().all(|l| l.contains(file.0.to_str().unwrap())), "{}", text);
            }
        }
        let _ = std::fs::remove_file(&file.0);
    }

    #[test]
    fn arbitrary_stored_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode::<serde_json::Value>(&MsgPack, &bytes);
        let _ = codec::decode::<serde_json::Value>(&Json, &bytes);
    }

    #[test]
    fn encoding_then_decoding_is_the_identity(value in json_value()) {
        for codec in [&MsgPack as &dyn codec::Codec, &Json] {
            let bytes = codec::encode(codec, &value).unwrap();
            let back: serde_json::Value = codec::decode(codec, &bytes).unwrap();
            prop_assert_eq!(&back, &value);
        }
    }
}

#[test]
fn deeply_nested_values_are_refused_without_overflowing_the_stack() {
    // A MessagePack array nested a million deep, and the same in JSON.
    let msgpack = vec![0x91u8; 1_000_000];
    assert!(codec::decode::<serde_json::Value>(&MsgPack, &msgpack).is_err());
    let json = "[".repeat(1_000_000);
    assert!(codec::decode::<serde_json::Value>(&Json, json.as_bytes()).is_err());
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~]{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A fresh file under the target directory (tests never write elsewhere).
fn tempfile_in_target() -> (std::path::PathBuf, std::fs::File) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("redis-sessions-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("case-{}.ini", N.fetch_add(1, Ordering::SeqCst)));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}
