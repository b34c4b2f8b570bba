//! The host's side of plugin libraries: dotted names and includes resolved
//! by loading `lib{pkg}.so` at run time, the way Python imports a module.
//!
//! Plugins are written against the small `redis-sessions-plugin` crate (the
//! ABI: `#[repr(C)]` types, the stamp, the author's traits, trampolines and
//! `export_plugin!`), never against this crate: see that crate's docs for
//! how to write one. This module holds the two host roles:
//!
//! - the **loader**: finds the library on `redis.sessions.plugin_path`,
//!   checks its stamp against [`ABI_STAMP`] (the one call made before the
//!   check is to the plugin's stamp function, which returns a pointer and a
//!   length), never unloads it, and runs its includeme;
//! - the **adapters**: a plugin codec, client callable or id generator
//!   wrapped as this crate's [`Codec`](crate::codec::Codec),
//!   [`ClientCallable`](crate::ClientCallable) or
//!   [`IdGenerator`](crate::id::IdGenerator), with one shared Redis client
//!   per URL a plugin client callable names.
//!
//! The stamp covers the plugin ABI number, the version and source digest of
//! `redis-sessions-plugin`, the rustc that built it and its features; the
//! host's own features are not in it because no type that crosses depends on
//! them (the ABI crate's docs explain the choice). A panic in a plugin is
//! caught on the plugin's side; a panic in a host callback is caught on the
//! host's side; memory is freed by the side that allocated it.
//!
//! Every function pointer from a plugin is an `unsafe extern "C" fn`, and
//! every `unsafe` block says why it holds.

#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod adapters;
mod loader;

pub(crate) use adapters::{Maker, SettingValidator};
pub use loader::PluginError;
pub(crate) use loader::{PluginSink, load};
/// The stamp a plugin must carry to be loaded by this program.
pub use redis_sessions_plugin::STAMP as ABI_STAMP;
