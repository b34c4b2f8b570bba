//! Micro-benchmarks: the pieces of a request, and one whole request through
//! the layer on the embedded store (the layer's own overhead).
//!
//! `cargo bench --bench micro` (scripts/bench.sh runs it with short times).

use std::collections::BTreeMap;
use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use redis_sessions::codec::{self, Codec, Json, MsgPack};
use redis_sessions::cookie::CookieSigner;
use redis_sessions::id::generate_session_id;
use redis_sessions::{MemoryStore, RedisSessionFactory, Session};
use serde::{Deserialize, Serialize};
use tower::ServiceExt as _;

const SECRET: &str = "benchmark-secret-benchmark-secret-0123456789";

fn cookies(c: &mut Criterion) {
    let signer = CookieSigner::new(SECRET).unwrap();
    let id = generate_session_id().unwrap();
    let value = signer.sign("session", &id);
    c.bench_function("cookie/sign", |b| {
        b.iter(|| signer.sign(black_box("session"), black_box(&id)))
    });
    c.bench_function("cookie/verify", |b| {
        b.iter(|| {
            signer
                .verify(black_box("session"), black_box(&value))
                .is_some()
        })
    });
    c.bench_function("id/generate", |b| b.iter(|| generate_session_id().unwrap()));
}

#[derive(Serialize, Deserialize)]
struct Cart {
    items: Vec<(u32, u16)>,
    coupon: Option<String>,
}

/// A typical session: ten keys of the usual kinds.
fn typical_session() -> Vec<(&'static str, Box<dyn erased_serde_value::Value>)> {
    vec![
        ("user_id", Box::new(123_456_789u64)),
        ("name", Box::new("Ada Lovelace".to_string())),
        ("email", Box::new("ada@example.com".to_string())),
        (
            "roles",
            Box::new(vec!["admin".to_string(), "editor".to_string()]),
        ),
        ("counter", Box::new(42i64)),
        ("locale", Box::new("en-GB".to_string())),
        ("last_seen", Box::new(1_795_000_000u64)),
        (
            "cart",
            Box::new(Cart {
                items: vec![(1, 2), (7, 1), (9, 4)],
                coupon: None,
            }),
        ),
        (
            "prefs",
            Box::new(BTreeMap::from([("theme".to_string(), "dark".to_string())])),
        ),
        ("_csrft_", Box::new(generate_session_id().unwrap())),
    ]
}

mod erased_serde_value {
    /// A value of any serializable type.
    pub trait Value: erased_serde::Serialize {}
    impl<T: serde::Serialize> Value for T {}
    erased_serde::serialize_trait_object!(Value);
}

fn codecs(c: &mut Criterion) {
    let session = typical_session();
    let list: Vec<Box<dyn Codec>> = vec![
        Box::new(MsgPack),
        Box::new(Json),
        #[cfg(feature = "bincode")]
        Box::new(codec::Bincode),
    ];
    for codec in list {
        let codec = &*codec;
        c.bench_function(&format!("codec/{}/encode 10 keys", codec.name()), |b| {
            b.iter(|| {
                session
                    .iter()
                    .map(|(_, v)| codec::encode(codec, &**v).unwrap().len())
                    .sum::<usize>()
            })
        });
        let encoded: Vec<Vec<u8>> = session
            .iter()
            .map(|(_, v)| codec::encode(codec, &**v).unwrap())
            .collect();
        c.bench_function(&format!("codec/{}/decode 10 keys", codec.name()), |b| {
            b.iter(|| {
                let user: u64 = codec::decode(codec, &encoded[0]).unwrap();
                let name: String = codec::decode(codec, &encoded[1]).unwrap();
                let email: String = codec::decode(codec, &encoded[2]).unwrap();
                let roles: Vec<String> = codec::decode(codec, &encoded[3]).unwrap();
                let counter: i64 = codec::decode(codec, &encoded[4]).unwrap();
                let locale: String = codec::decode(codec, &encoded[5]).unwrap();
                let seen: u64 = codec::decode(codec, &encoded[6]).unwrap();
                let cart: Cart = codec::decode(codec, &encoded[7]).unwrap();
                let prefs: BTreeMap<String, String> = codec::decode(codec, &encoded[8]).unwrap();
                let csrf: String = codec::decode(codec, &encoded[9]).unwrap();
                black_box((
                    user,
                    name,
                    email,
                    roles,
                    counter,
                    locale,
                    seen,
                    cart.items.len(),
                    prefs,
                    csrf,
                ))
            })
        });
    }
}

fn layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let factory = RedisSessionFactory::builder(SECRET)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route(
            "/read",
            get(|s: Session| async move {
                s.get::<i64>("counter")
                    .await
                    .map(|n| n.unwrap_or(0).to_string())
            }),
        )
        .route(
            "/incr",
            get(|s: Session| async move {
                let n = s.get::<i64>("counter").await?.unwrap_or(0) + 1;
                s.insert("counter", n).await?;
                Ok::<_, redis_sessions::session::Error>(n.to_string())
            }),
        )
        .layer(factory.layer());
    let bare = Router::new().route("/plain", get(|| async { "ok" }));
    let request = |path: &str, cookie: Option<&str>| {
        let mut r = Request::get(path);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.body(Body::empty()).unwrap()
    };
    let response = runtime
        .block_on(app.clone().oneshot(request("/incr", None)))
        .unwrap();
    let set = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    c.bench_function("request/no layer /plain", |b| {
        b.iter(|| {
            runtime
                .block_on(bare.clone().oneshot(request("/plain", None)))
                .unwrap()
        })
    });
    c.bench_function("request/layer /plain (session untouched)", |b| {
        b.iter(|| {
            runtime
                .block_on(app.clone().oneshot(request("/plain", Some(&cookie))))
                .unwrap()
        })
    });
    c.bench_function("request/layer /read (memory store)", |b| {
        b.iter(|| {
            runtime
                .block_on(app.clone().oneshot(request("/read", Some(&cookie))))
                .unwrap()
        })
    });
    c.bench_function("request/layer /incr (memory store)", |b| {
        b.iter(|| {
            runtime
                .block_on(app.clone().oneshot(request("/incr", Some(&cookie))))
                .unwrap()
        })
    });
}

criterion_group!(benches, cookies, codecs, layer);
criterion_main!(benches);
