//! Integration tests: one crate (see `support`), real `redis-server`
//! processes on free ports, the conformance app driven in-process.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/conformance/app.rs"]
mod app;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/conformance-actix/app.rs"]
mod actix_app;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/conformance/common.rs"]
mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/quickstart/app/mod.rs"]
mod quickstart;

mod actix;
mod browser;
mod cache;
mod checklist;
mod cli;
mod compat;
mod config;
mod conformance;
mod counter_edges;
mod counters;
mod demo;
mod extractor;
mod fuzz;
mod layers;
mod plugins;
mod redis_only;
mod store;
mod topologies;
mod users;
