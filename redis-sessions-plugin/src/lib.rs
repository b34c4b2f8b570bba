//! The plugin ABI of `redis-sessions`: what a plugin library links instead
//! of the host crate. A plugin depends on this crate alone (never on
//! `redis-sessions`, `redis` or `tokio`), implements [`PluginCodec`],
//! [`PluginClientCallable`] or [`PluginIdGenerator`] in safe Rust, and
//! exports its includeme with [`export_plugin!`]:
//!
//! ```
//! use redis_sessions_plugin::{PluginIdGenerator, PluginSettings, Registrar};
//!
//! /// Ids with a fixed prefix (for illustration: real ids need 128 random bits).
//! struct Prefixed(String);
//!
//! impl PluginIdGenerator for Prefixed {
//!     fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String> {
//!         Ok(Prefixed(settings.get("redis.sessions.myids.prefix").unwrap_or_default()))
//!     }
//!     fn generate(&self) -> Result<String, String> {
//!         Ok(format!("{}0123456789abcdef0123456789abcdef", self.0))
//!     }
//! }
//!
//! fn prefix_is_short(value: &str) -> Result<(), String> {
//!     match value.trim().len() {
//!         0..=8 => Ok(()),
//!         n => Err(format!("the prefix is {n} characters: expected at most 8, e.g. app-")),
//!     }
//! }
//!
//! fn includeme(registrar: &mut Registrar<'_>) -> Result<(), String> {
//!     registrar.declare_validated_setting("redis.sessions.myids.prefix", false, prefix_is_short)?;
//!     registrar.id_generator::<Prefixed>("myids.prefixed")
//! }
//!
//! redis_sessions_plugin::export_plugin!(includeme);
//! ```
//!
//! Built as a `cdylib` named `myids`, this is `libmyids.so`. The host loads
//! it from `redis.sessions.plugin_path` when a setting names `myids.prefixed`
//! or when `pyramid.includes` (or `config.include`) names `myids`, checks its
//! stamp, and then calls its includeme once per configuration.
//!
//! # The boundary
//!
//! Rust has no stable ABI, so the boundary is narrow and safe by
//! construction:
//!
//! - **Stamp first.** A plugin exports `redis_sessions_plugin_stamp`, a
//!   function that takes nothing and returns the address and length of
//!   [`STAMP`]. The host calls it (the only call made before the check),
//!   compares the text with the [`STAMP`] of its own build of this crate, and
//!   refuses the library on any difference; only then is anything else called.
//! - **Never unloaded.** A loaded library stays mapped until the process
//!   ends, so no function pointer or state it handed out can dangle.
//! - **No unwinding across the boundary.** Every function a plugin exports
//!   goes through a trampoline of this crate that catches panics and returns
//!   [`wire::PANICKED`] instead.
//! - **Each side frees what it allocated.** Only `#[repr(C)]` structs, plain
//!   `unsafe extern "C"` function pointers and borrowed byte strings cross.
//!   Output goes through a [`wire::RawSink`] whose owner copies the bytes
//!   into its own memory, and plugin state is dropped by the plugin's own
//!   drop function, so a host with its own `#[global_allocator]` works.
//!
//! # What the stamp covers, and why the host's features are not in it
//!
//! The stamp reads, for example,
//! `redis-sessions plugin abi 2; redis-sessions-plugin 0.1.0 (source 1f…); rustc 1.89.0 (…); x86_64-unknown-linux-gnu, panic=unwind; features []`:
//!
//! - the plugin ABI number (bumped when a crossing type changes meaning);
//! - this crate's version and a digest of its source, so an edit to a wire
//!   type that forgets the bump still changes the stamp;
//! - the rustc that compiled this crate (into the plugin, and into the host);
//! - the target, and the panic strategy (a plugin built with
//!   `panic = "abort"` could not catch its panics);
//! - the cargo features enabled on this crate.
//!
//! Both sides compute it the same way, each from its own build of this crate:
//! the host compares the plugin's stamp with the one compiled into itself, so
//! whatever the host's build changes in the types that cross shows up as a
//! difference. The host's own cargo features (`axum`, `bincode`, …) are not
//! in it on purpose: no type that crosses depends on them (plugins never see
//! the host's types; a plugin codec only seals and opens bytes that the host
//! encodes itself), so one plugin build serves hosts built with any
//! features. A feature that changed a crossing layout would have to live in
//! this crate, and would then be in the stamp.

#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod author;
mod registrar;
mod trampolines;
pub mod wire;

pub use author::{
    PluginClientCallable, PluginCodec, PluginIdGenerator, PluginRequest, PluginSettings, Validator,
};
#[doc(hidden)]
pub use registrar::__includeme;
pub use registrar::Registrar;

/// The stamp of this build: a plugin and its host must carry the same one.
pub const STAMP: &str = env!("REDIS_SESSIONS_PLUGIN_STAMP");

/// The stamp function [`export_plugin!`] exports.
#[doc(hidden)]
pub extern "C" fn __stamp() -> wire::RawBytes {
    wire::RawBytes::from_static(STAMP)
}

/// Exports a plugin: its stamp function and its includeme
/// `fn(&mut Registrar<'_>) -> Result<(), String>`. Use it once, in a crate
/// built as a `cdylib`.
#[macro_export]
macro_rules! export_plugin {
    ($includeme:path) => {
        /// The stamp of the plugin ABI this library was built with.
        #[unsafe(no_mangle)]
        pub extern "C" fn redis_sessions_plugin_stamp() -> $crate::wire::RawBytes {
            $crate::__stamp()
        }

        /// Runs this plugin's includeme.
        ///
        /// # Safety
        ///
        /// `registrar` must point at a live registrar made by the host.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn redis_sessions_plugin_includeme(
            registrar: *const $crate::wire::RawRegistrar,
        ) -> i32 {
            // SAFETY: the host calls this only after checking the stamp, with
            // a registrar that lives for the whole call.
            unsafe { $crate::__includeme(registrar, $includeme) }
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stamp_names_abi_version_rustc_and_features() {
        assert!(super::STAMP.starts_with("redis-sessions plugin abi "));
        assert!(super::STAMP.contains(&format!(
            "; redis-sessions-plugin {} (source ",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(super::STAMP.contains("; rustc "));
        assert!(super::STAMP.contains(", panic=unwind; "));
        assert!(super::STAMP.ends_with("; features []"));
    }

    #[test]
    fn the_exported_stamp_function_returns_the_stamp() {
        let raw = super::__stamp();
        // SAFETY: a static string.
        assert_eq!(unsafe { raw.as_slice() }, super::STAMP.as_bytes());
    }
}
