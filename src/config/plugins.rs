//! Plugin libraries: dotted names resolved by loading `lib{pkg}.so` at run
//! time, the way Python imports a module to find an attribute.
//!
//! Rust has no stable ABI, so the boundary is kept narrow and safe by
//! construction:
//!
//! - **Stamp first.** A plugin exports `REDIS_SESSIONS_PLUGIN_STAMP`, a static
//!   byte string naming the plugin ABI number, this crate's version, the rustc
//!   that built it, and the cargo features of this crate it was built with.
//!   The host reads it (reading data, calling nothing) and refuses the library
//!   unless it matches its own stamp exactly. Only then is any function called.
//! - **Never unloaded.** A loaded library stays mapped until the process ends,
//!   so no function pointer or state it handed out can dangle.
//! - **No unwinding across the boundary.** Every function a plugin exports
//!   goes through a trampoline in this module that catches panics and returns
//!   an error code instead.
//! - **Each side frees what it allocated.** Only `#[repr(C)]` structs, plain
//!   function pointers and borrowed byte strings cross. A plugin writes its
//!   output through a sink the host owns, and plugin state is dropped by the
//!   plugin's own `drop` function, so a host with its own `#[global_allocator]`
//!   works.
//!
//! Plugin authors implement [`PluginCodec`], [`PluginClientCallable`] or
//! [`PluginIdGenerator`] in safe Rust and export a registration function with
//! [`export_plugin!`](crate::export_plugin):
//!
//! ```
//! use redis_sessions::plugin::{PluginIdGenerator, PluginSettings, Registrar};
//!
//! struct Prefixed(String);
//!
//! impl PluginIdGenerator for Prefixed {
//!     fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String> {
//!         Ok(Prefixed(settings.get("redis.sessions.myids.prefix").unwrap_or_default()))
//!     }
//!     fn generate(&self) -> Result<String, String> {
//!         let id = redis_sessions::id::generate_session_id().map_err(|e| e.to_string())?;
//!         Ok(format!("{}{id}", self.0))
//!     }
//! }
//!
//! fn register(registrar: &mut Registrar<'_>) -> Result<(), String> {
//!     registrar.declare_setting("redis.sessions.myids.prefix", false)?;
//!     registrar.id_generator::<Prefixed>("myids.prefixed")
//! }
//!
//! redis_sessions::export_plugin!(register);
//! ```
//!
//! Built as a `cdylib` named `myids`, this is found as `libmyids.so` on
//! `redis.sessions.plugin_path` when a setting names `myids.prefixed`.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The stamp of this build: a plugin must carry exactly this one.
pub const ABI_STAMP: &str = env!("REDIS_SESSIONS_ABI_STAMP");

/// The size of the exported stamp, NUL padded.
pub const STAMP_LEN: usize = 256;

const OK: i32 = 0;
const FAILED: i32 = 1;
const PANICKED: i32 = 2;

/// The exported stamp: [`ABI_STAMP`], NUL padded.
#[repr(C)]
pub struct PluginStamp {
    /// The stamp text followed by NUL bytes.
    pub bytes: [u8; STAMP_LEN],
}

impl PluginStamp {
    /// The stamp of this build (used by [`export_plugin!`](crate::export_plugin)).
    pub const fn current() -> Self {
        let text = ABI_STAMP.as_bytes();
        let mut bytes = [0u8; STAMP_LEN];
        let mut i = 0;
        while i < text.len() && i < STAMP_LEN - 1 {
            bytes[i] = text[i];
            i += 1;
        }
        Self { bytes }
    }

    #[cfg(feature = "plugins")]
    fn text(&self) -> String {
        let end = self.bytes.iter().position(|&b| b == 0).unwrap_or(STAMP_LEN);
        String::from_utf8_lossy(&self.bytes[..end]).into_owned()
    }
}

/// A borrowed byte string crossing the boundary.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawBytes {
    ptr: *const u8,
    len: usize,
}

impl RawBytes {
    fn new(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// # Safety
    ///
    /// `ptr` must point at `len` readable bytes that outlive `'a`.
    unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: guaranteed by the caller; the other side built this from a
        // live slice that it keeps borrowed for the duration of the call.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A sink owned by one side that the other side writes bytes into.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawSink {
    sink: *mut c_void,
    write: extern "C" fn(*mut c_void, RawBytes),
}

impl RawSink {
    fn for_vec(buf: &mut Vec<u8>) -> Self {
        Self {
            sink: (buf as *mut Vec<u8>).cast(),
            write: write_vec,
        }
    }

    fn put(self, bytes: &[u8]) {
        (self.write)(self.sink, RawBytes::new(bytes));
    }
}

extern "C" fn write_vec(sink: *mut c_void, bytes: RawBytes) {
    // SAFETY: `sink` was made by `RawSink::for_vec` from a `&mut Vec<u8>`
    // that outlives the call that received the sink; `bytes` is a live slice
    // of the writer. Runs on the side that owns the Vec, so the Vec grows in
    // its owner's allocator.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        (*sink.cast::<Vec<u8>>()).extend_from_slice(bytes.as_slice());
    }));
}

/// The host's settings, as seen by a plugin's constructor.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawSettings {
    ctx: *const c_void,
    get: extern "C" fn(*const c_void, RawBytes, RawSink) -> i32,
}

/// The request a client callable chooses for.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawRequest {
    ctx: *const c_void,
    host: RawBytes,
    header: extern "C" fn(*const c_void, RawBytes, RawSink) -> i32,
}

/// A plugin codec: its state and what can be done with it.
#[repr(C)]
pub struct RawCodec {
    state: *mut c_void,
    seal: extern "C" fn(*mut c_void, RawBytes, RawBytes, RawBytes, RawSink, RawSink) -> i32,
    open: extern "C" fn(*mut c_void, RawBytes, RawBytes, RawBytes, RawSink, RawSink) -> i32,
    drop: extern "C" fn(*mut c_void),
}

/// A plugin client callable.
#[repr(C)]
pub struct RawClientCallable {
    state: *mut c_void,
    select: extern "C" fn(*mut c_void, RawRequest, RawSink, RawSink) -> i32,
    drop: extern "C" fn(*mut c_void),
}

/// A plugin id generator.
#[repr(C)]
pub struct RawIdGenerator {
    state: *mut c_void,
    generate: extern "C" fn(*mut c_void, RawSink, RawSink) -> i32,
    drop: extern "C" fn(*mut c_void),
}

/// Makes a plugin object from the settings; writes it to the out pointer.
pub type MakeFn<T> = extern "C" fn(RawSettings, *mut T, RawSink) -> i32;

/// What the host hands a plugin's registration function.
#[repr(C)]
pub struct RawRegistrar {
    ctx: *mut c_void,
    codec: extern "C" fn(*mut c_void, RawBytes, MakeFn<RawCodec>) -> i32,
    client_callable: extern "C" fn(*mut c_void, RawBytes, MakeFn<RawClientCallable>) -> i32,
    id_generator: extern "C" fn(*mut c_void, RawBytes, MakeFn<RawIdGenerator>) -> i32,
    declare_setting: extern "C" fn(*mut c_void, RawBytes, u8) -> i32,
    error: RawSink,
}

/// The registration function a plugin exports.
pub type RegisterFn = unsafe extern "C" fn(*const RawRegistrar) -> i32;

// ---------------------------------------------------------------------------
// The plugin author's side: safe traits and the trampolines that call them.
// ---------------------------------------------------------------------------

/// A plugin's view of the host's settings.
pub struct PluginSettings<'a> {
    raw: RawSettings,
    _life: PhantomData<&'a ()>,
}

impl PluginSettings<'_> {
    /// The value of setting `name` (after INI interpolation), if set.
    pub fn get(&self, name: &str) -> Option<String> {
        let mut buf = Vec::new();
        let found = (self.raw.get)(
            self.raw.ctx,
            RawBytes::new(name.as_bytes()),
            RawSink::for_vec(&mut buf),
        );
        (found == 1).then(|| String::from_utf8_lossy(&buf).into_owned())
    }
}

/// A plugin's view of the request (for [`PluginClientCallable`]).
pub struct PluginRequest<'a> {
    raw: RawRequest,
    _life: PhantomData<&'a ()>,
}

impl PluginRequest<'_> {
    /// The request's host, without a port: the URI's authority, else the
    /// `Host` header. Empty when there is none.
    pub fn host(&self) -> &str {
        // SAFETY: the host keeps the string alive for the whole call.
        let bytes = unsafe { self.raw.host.as_slice() };
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The value of header `name`, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut buf = Vec::new();
        let found = (self.raw.header)(
            self.raw.ctx,
            RawBytes::new(name.as_bytes()),
            RawSink::for_vec(&mut buf),
        );
        (found == 1).then(|| String::from_utf8_lossy(&buf).into_owned())
    }
}

/// A codec stage in a plugin: seals (for example, encrypts) values encoded by
/// the built-in MessagePack codec, and opens them again.
///
/// Both methods get the Redis key and field the value lives under, so a
/// sealed value can be bound to its place.
pub trait PluginCodec: Send + Sync + Sized + 'static {
    /// Builds the codec from the settings.
    ///
    /// # Errors
    ///
    /// A message naming the setting that is missing or wrong.
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String>;
    /// Seals `encoded` for `key`/`field`.
    ///
    /// # Errors
    ///
    /// A message (never containing the value).
    fn seal(&self, key: &str, field: &[u8], encoded: &[u8]) -> Result<Vec<u8>, String>;
    /// Opens `stored`, which must have been sealed for `key`/`field`.
    ///
    /// # Errors
    ///
    /// A message (never containing the value).
    fn open(&self, key: &str, field: &[u8], stored: &[u8]) -> Result<Vec<u8>, String>;
}

/// A client callable in a plugin: picks a Redis URL for each request; the
/// host keeps one shared client per URL.
pub trait PluginClientCallable: Send + Sync + Sized + 'static {
    /// Builds the callable from the settings.
    ///
    /// # Errors
    ///
    /// A message naming the setting that is missing or wrong.
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String>;
    /// The Redis URL for this request.
    ///
    /// # Errors
    ///
    /// A message; the session access fails with it.
    fn select(&self, request: &PluginRequest<'_>) -> Result<String, String>;
}

/// An id generator in a plugin.
pub trait PluginIdGenerator: Send + Sync + Sized + 'static {
    /// Builds the generator from the settings.
    ///
    /// # Errors
    ///
    /// A message naming the setting that is missing or wrong.
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String>;
    /// A new, unpredictable session id.
    ///
    /// # Errors
    ///
    /// A message; the request fails with a 500.
    fn generate(&self) -> Result<String, String>;
}

/// Runs `f`, turning an `Err` or a panic into a code and a message in `err`.
fn guarded(err: RawSink, f: impl FnOnce() -> Result<(), String>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => OK,
        Ok(Err(message)) => {
            err.put(message.as_bytes());
            FAILED
        }
        Err(_) => {
            err.put(b"the plugin panicked");
            PANICKED
        }
    }
}

fn boxed<T>(value: T) -> *mut c_void {
    Box::into_raw(Box::new(value)).cast()
}

extern "C" fn drop_state<T>(state: *mut c_void) {
    // SAFETY: `state` came from `boxed::<T>` in this same library, and the
    // host calls `drop` exactly once, when it drops its wrapper.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        drop(Box::from_raw(state.cast::<T>()))
    }));
}

/// # Safety
///
/// `state` must come from `boxed::<T>` and not have been dropped.
unsafe fn state_ref<'a, T>(state: *mut c_void) -> &'a T {
    // SAFETY: guaranteed by the caller; the host keeps the state alive for
    // as long as it holds the wrapper that calls us.
    unsafe { &*state.cast::<T>() }
}

/// Builds a plugin object from the settings and writes it to the host's
/// slot: the common part of every `make_*` trampoline.
fn construct_into<R>(
    settings: RawSettings,
    out: *mut R,
    err: RawSink,
    build: impl FnOnce(&PluginSettings<'_>) -> Result<R, String>,
) -> i32 {
    guarded(err, || {
        let settings = PluginSettings {
            raw: settings,
            _life: PhantomData,
        };
        let raw = build(&settings)?;
        // SAFETY: `out` points at a host-owned, writable slot of type `R`
        // (see `construct`), initialised, and holding nothing to drop.
        unsafe { out.write(raw) };
        Ok(())
    })
}

extern "C" fn make_codec<T: PluginCodec>(
    settings: RawSettings,
    out: *mut RawCodec,
    err: RawSink,
) -> i32 {
    construct_into(settings, out, err, |settings| {
        Ok(RawCodec {
            state: boxed(T::from_settings(settings)?),
            seal: codec_call::<T, true>,
            open: codec_call::<T, false>,
            drop: drop_state::<T>,
        })
    })
}

extern "C" fn codec_call<T: PluginCodec, const SEAL: bool>(
    state: *mut c_void,
    key: RawBytes,
    field: RawBytes,
    input: RawBytes,
    out: RawSink,
    err: RawSink,
) -> i32 {
    guarded(err, || {
        // SAFETY: the host passes the state it got from `make_codec::<T>`
        // and live byte strings for the duration of the call.
        let (codec, key, field, input) = unsafe {
            (
                state_ref::<T>(state),
                key.as_slice(),
                field.as_slice(),
                input.as_slice(),
            )
        };
        let key =
            std::str::from_utf8(key).map_err(|_| "the session key is not UTF-8".to_owned())?;
        let result = if SEAL {
            codec.seal(key, field, input)?
        } else {
            codec.open(key, field, input)?
        };
        out.put(&result);
        Ok(())
    })
}

extern "C" fn make_client_callable<T: PluginClientCallable>(
    settings: RawSettings,
    out: *mut RawClientCallable,
    err: RawSink,
) -> i32 {
    construct_into(settings, out, err, |settings| {
        Ok(RawClientCallable {
            state: boxed(T::from_settings(settings)?),
            select: select_call::<T>,
            drop: drop_state::<T>,
        })
    })
}

extern "C" fn select_call<T: PluginClientCallable>(
    state: *mut c_void,
    request: RawRequest,
    out: RawSink,
    err: RawSink,
) -> i32 {
    guarded(err, || {
        // SAFETY: the state came from `make_client_callable::<T>`.
        let callable = unsafe { state_ref::<T>(state) };
        let request = PluginRequest {
            raw: request,
            _life: PhantomData,
        };
        out.put(callable.select(&request)?.as_bytes());
        Ok(())
    })
}

extern "C" fn make_id_generator<T: PluginIdGenerator>(
    settings: RawSettings,
    out: *mut RawIdGenerator,
    err: RawSink,
) -> i32 {
    construct_into(settings, out, err, |settings| {
        Ok(RawIdGenerator {
            state: boxed(T::from_settings(settings)?),
            generate: generate_call::<T>,
            drop: drop_state::<T>,
        })
    })
}

extern "C" fn generate_call<T: PluginIdGenerator>(
    state: *mut c_void,
    out: RawSink,
    err: RawSink,
) -> i32 {
    guarded(err, || {
        // SAFETY: the state came from `make_id_generator::<T>`.
        let generator = unsafe { state_ref::<T>(state) };
        out.put(generator.generate()?.as_bytes());
        Ok(())
    })
}

/// What a plugin's registration function uses to register its names.
pub struct Registrar<'a> {
    raw: &'a RawRegistrar,
}

impl Registrar<'_> {
    fn status(&self, code: i32, what: &str) -> Result<(), String> {
        if code == OK {
            Ok(())
        } else {
            Err(format!("the host refused {what}"))
        }
    }

    /// Registers codec `T` under the dotted `name` (for `serialize` and
    /// `deserialize`).
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn codec<T: PluginCodec>(&mut self, name: &str) -> Result<(), String> {
        let code = (self.raw.codec)(
            self.raw.ctx,
            RawBytes::new(name.as_bytes()),
            make_codec::<T>,
        );
        self.status(code, name)
    }

    /// Registers client callable `T` under the dotted `name`.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn client_callable<T: PluginClientCallable>(&mut self, name: &str) -> Result<(), String> {
        let code = (self.raw.client_callable)(
            self.raw.ctx,
            RawBytes::new(name.as_bytes()),
            make_client_callable::<T>,
        );
        self.status(code, name)
    }

    /// Registers id generator `T` under the dotted `name`.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn id_generator<T: PluginIdGenerator>(&mut self, name: &str) -> Result<(), String> {
        let code = (self.raw.id_generator)(
            self.raw.ctx,
            RawBytes::new(name.as_bytes()),
            make_id_generator::<T>,
        );
        self.status(code, name)
    }

    /// Declares a `redis.sessions.*` setting this plugin reads, so that it is
    /// not reported as unknown; `secret` settings are masked in output.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn declare_setting(&mut self, name: &str, secret: bool) -> Result<(), String> {
        let code = (self.raw.declare_setting)(
            self.raw.ctx,
            RawBytes::new(name.as_bytes()),
            u8::from(secret),
        );
        self.status(code, name)
    }
}

/// Runs a plugin's registration function behind the boundary (used by
/// [`export_plugin!`](crate::export_plugin)).
///
/// # Safety
///
/// `raw` must point at a live `RawRegistrar` made by the host.
#[doc(hidden)]
pub unsafe fn __register(
    raw: *const RawRegistrar,
    register: fn(&mut Registrar<'_>) -> Result<(), String>,
) -> i32 {
    // SAFETY: the host passes a pointer to a registrar that lives for the
    // whole call.
    let raw = unsafe { &*raw };
    guarded(raw.error, || register(&mut Registrar { raw }))
}

/// Exports a plugin: its ABI stamp and its registration function
/// `fn(&mut Registrar<'_>) -> Result<(), String>`. Use it once, in a crate
/// built as a `cdylib`.
#[macro_export]
macro_rules! export_plugin {
    ($register:path) => {
        #[unsafe(no_mangle)]
        pub static REDIS_SESSIONS_PLUGIN_STAMP: $crate::plugin::PluginStamp =
            $crate::plugin::PluginStamp::current();

        /// # Safety
        ///
        /// `registrar` must point at a live registrar made by the host.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn redis_sessions_plugin_register(
            registrar: *const $crate::plugin::RawRegistrar,
        ) -> i32 {
            // SAFETY: the host calls this only after checking the stamp, with
            // a registrar that lives for the whole call.
            unsafe { $crate::plugin::__register(registrar, $register) }
        }
    };
}

// ---------------------------------------------------------------------------
// The host's side: loading, checking, registering, and wrapping.
// ---------------------------------------------------------------------------

/// A plugin's registration callbacks land here.
#[cfg(feature = "plugins")]
pub(crate) trait PluginSink {
    fn codec(&mut self, name: String, make: PluginMaker<RawCodec>);
    fn client_callable(&mut self, name: String, make: PluginMaker<RawClientCallable>);
    fn id_generator(&mut self, name: String, make: PluginMaker<RawIdGenerator>);
    fn declare_setting(&mut self, name: String, secret: bool);
}

/// A plugin constructor, with the library it came from for messages.
pub(crate) struct PluginMaker<T> {
    make: MakeFn<T>,
    pub(crate) library: String,
}

impl<T> Clone for PluginMaker<T> {
    fn clone(&self) -> Self {
        Self {
            make: self.make,
            library: self.library.clone(),
        }
    }
}

impl<T> fmt::Debug for PluginMaker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginMaker")
            .field("library", &self.library)
            .finish()
    }
}

fn name_of(bytes: RawBytes) -> Option<String> {
    // SAFETY: the plugin passes a live string for the duration of the call.
    let bytes = unsafe { bytes.as_slice() };
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Why a plugin library could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// No `lib{pkg}.so` in any plugin folder.
    #[error(
        "no plugin library {file} in redis.sessions.plugin_path ({searched}): expected a cdylib built with this crate, e.g. `cargo build -p <plugin crate>`, and its folder on plugin_path"
    )]
    NotFound {
        /// The file name looked for.
        file: String,
        /// The folders searched.
        searched: String,
    },
    /// The library could not be opened.
    #[error("cannot load {path}: {reason}")]
    Load {
        /// The library's path.
        path: String,
        /// What the loader said.
        reason: String,
    },
    /// A required symbol is missing.
    #[error(
        "{path} exports no `{symbol}`: expected a plugin made with redis_sessions::export_plugin!"
    )]
    MissingSymbol {
        /// The library's path.
        path: String,
        /// The symbol looked for.
        symbol: &'static str,
    },
    /// The stamp does not match this build.
    #[error(
        "{path} was built as \"{found}\" but this program is \"{expected}\": rebuild the plugin with the same rustc, redis-sessions version and features"
    )]
    Stamp {
        /// The library's path.
        path: String,
        /// The plugin's stamp.
        found: String,
        /// This build's stamp.
        expected: String,
    },
    /// The plugin's registration function failed.
    #[error("{path}: registration failed: {message}")]
    Register {
        /// The library's path.
        path: String,
        /// What the plugin said.
        message: String,
    },
}

#[cfg(feature = "plugins")]
mod loader {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::{Mutex, OnceLock, PoisonError};

    use super::*;

    struct SinkCtx<'a> {
        sink: &'a mut dyn PluginSink,
        library: String,
    }

    /// # Safety
    ///
    /// `ctx` must be the `SinkCtx` the host passed in `RawRegistrar`.
    unsafe fn sink_ctx<'a>(ctx: *mut c_void) -> &'a mut SinkCtx<'a> {
        // SAFETY: guaranteed by the caller; `register_library` keeps the context
        // alive and exclusively borrowed for the whole registration call.
        unsafe { &mut *ctx.cast::<SinkCtx<'a>>() }
    }

    macro_rules! host_register {
        ($fn_name:ident, $raw:ty, $method:ident) => {
            extern "C" fn $fn_name(ctx: *mut c_void, name: RawBytes, make: MakeFn<$raw>) -> i32 {
                let Some(name) = name_of(name) else {
                    return FAILED;
                };
                // SAFETY: `ctx` is the context `register_library` passed.
                let ctx = unsafe { sink_ctx(ctx) };
                let maker = PluginMaker {
                    make,
                    library: ctx.library.clone(),
                };
                match catch_unwind(AssertUnwindSafe(|| ctx.sink.$method(name, maker))) {
                    Ok(()) => OK,
                    Err(_) => PANICKED,
                }
            }
        };
    }

    host_register!(host_codec, RawCodec, codec);
    host_register!(host_client_callable, RawClientCallable, client_callable);
    host_register!(host_id_generator, RawIdGenerator, id_generator);

    extern "C" fn host_declare_setting(ctx: *mut c_void, name: RawBytes, secret: u8) -> i32 {
        let Some(name) = name_of(name) else {
            return FAILED;
        };
        // SAFETY: `ctx` is the context `register_library` passed.
        let ctx = unsafe { sink_ctx(ctx) };
        match catch_unwind(AssertUnwindSafe(|| {
            ctx.sink.declare_setting(name, secret != 0)
        })) {
            Ok(()) => OK,
            Err(_) => PANICKED,
        }
    }

    /// A checked library: its path and registration function. The library
    /// handle is in `LOADED` and never dropped, so `register` stays valid.
    #[derive(Clone)]
    pub(crate) struct Loaded {
        pub(crate) path: PathBuf,
        register: RegisterFn,
    }

    static LOADED: OnceLock<Mutex<HashMap<PathBuf, (libloading::Library, Loaded)>>> =
        OnceLock::new();

    /// Loads `lib{package}.so` from the first folder of `dirs` that has it,
    /// checking its stamp before anything in it is called.
    pub(crate) fn load(package: &str, dirs: &[PathBuf]) -> Result<Loaded, PluginError> {
        let file = format!(
            "{}{package}{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        let Some(path) = dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()) else {
            let searched = if dirs.is_empty() {
                "no folders: set redis.sessions.plugin_path".to_owned()
            } else {
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(PluginError::NotFound { file, searched });
        };
        let path = path.canonicalize().unwrap_or(path);
        let loaded = LOADED.get_or_init(Default::default);
        let mut loaded = loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, entry)) = loaded.get(&path) {
            return Ok(entry.clone());
        }
        let shown = path.display().to_string();
        // SAFETY: loading runs the library's initialisers. Plugins are cdylibs
        // built from this workspace's sources by the same toolchain (checked by
        // the stamp just below, before any function of it is called); a Rust
        // cdylib has no initialisers of its own.
        let library =
            unsafe { libloading::Library::new(&path) }.map_err(|e| PluginError::Load {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        // SAFETY: the symbol, if present, is a `PluginStamp` static: reading
        // its bytes calls nothing. A foreign symbol of that name is at least
        // STAMP_LEN bytes or fails the comparison at its first byte difference.
        let stamp = unsafe {
            library
                .get::<*const PluginStamp>(b"REDIS_SESSIONS_PLUGIN_STAMP\0")
                .map(|symbol| (**symbol).text())
        }
        .map_err(|_| PluginError::MissingSymbol {
            path: shown.clone(),
            symbol: "REDIS_SESSIONS_PLUGIN_STAMP",
        })?;
        if stamp != ABI_STAMP {
            // The library stays loaded but unused: unloading code we did not
            // vet is no safer than keeping it.
            std::mem::forget(library);
            return Err(PluginError::Stamp {
                path: shown,
                found: stamp,
                expected: ABI_STAMP.to_owned(),
            });
        }
        // SAFETY: the stamp matched, so the library was built by this crate's
        // `export_plugin!`, whose `redis_sessions_plugin_register` has exactly
        // the `RegisterFn` signature.
        let register = unsafe {
            library
                .get::<RegisterFn>(b"redis_sessions_plugin_register\0")
                .map(|s| *s)
        }
        .map_err(|_| PluginError::MissingSymbol {
            path: shown.clone(),
            symbol: "redis_sessions_plugin_register",
        })?;
        let entry = Loaded {
            path: path.clone(),
            register,
        };
        loaded.insert(path, (library, entry.clone()));
        Ok(entry)
    }

    /// Calls the library's registration function with `sink`.
    pub(crate) fn register(loaded: &Loaded, sink: &mut dyn PluginSink) -> Result<(), PluginError> {
        let library = loaded
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut ctx = SinkCtx { sink, library };
        let mut error = Vec::new();
        let raw = RawRegistrar {
            ctx: (&mut ctx as *mut SinkCtx<'_>).cast(),
            codec: host_codec,
            client_callable: host_client_callable,
            id_generator: host_id_generator,
            declare_setting: host_declare_setting,
            error: RawSink::for_vec(&mut error),
        };
        // SAFETY: `register` is the plugin's `redis_sessions_plugin_register`
        // (stamp checked in `load`), and `raw` lives until it returns.
        let code = unsafe { (loaded.register)(&raw) };
        if code == OK {
            Ok(())
        } else {
            Err(PluginError::Register {
                path: loaded.path.display().to_string(),
                message: String::from_utf8_lossy(&error).into_owned(),
            })
        }
    }
}

#[cfg(feature = "plugins")]
pub(crate) use loader::{load, register};

/// Host access to settings for plugin constructors.
pub(crate) trait SettingsLookup {
    fn lookup(&self, name: &str) -> Option<String>;
}

extern "C" fn host_get_setting(ctx: *const c_void, name: RawBytes, out: RawSink) -> i32 {
    let Some(name) = name_of(name) else { return 0 };
    // SAFETY: `ctx` is the `&&dyn SettingsLookup` that `construct` passed and
    // keeps alive for the call.
    let lookup = unsafe { &*ctx.cast::<&dyn SettingsLookup>() };
    match catch_unwind(AssertUnwindSafe(|| lookup.lookup(&name))) {
        Ok(Some(value)) => {
            out.put(value.as_bytes());
            1
        }
        _ => 0,
    }
}

/// Calls a plugin constructor with the host's settings.
fn construct<T>(
    maker: &PluginMaker<T>,
    settings: &dyn SettingsLookup,
    empty: T,
) -> Result<T, String> {
    let ctx: &&dyn SettingsLookup = &settings;
    let raw_settings = RawSettings {
        ctx: (ctx as *const &dyn SettingsLookup).cast(),
        get: host_get_setting,
    };
    let mut out = std::mem::MaybeUninit::new(empty);
    let mut error = Vec::new();
    let code = (maker.make)(raw_settings, out.as_mut_ptr(), RawSink::for_vec(&mut error));
    if code == OK {
        // SAFETY: initialised with `empty` and, on success, overwritten by the
        // plugin with a complete value.
        Ok(unsafe { out.assume_init() })
    } else {
        Err(format!(
            "{}: {}",
            maker.library,
            String::from_utf8_lossy(&error)
        ))
    }
}

extern "C" fn noop_drop(_: *mut c_void) {}
extern "C" fn noop_codec(
    _: *mut c_void,
    _: RawBytes,
    _: RawBytes,
    _: RawBytes,
    _: RawSink,
    err: RawSink,
) -> i32 {
    err.put(b"no codec");
    FAILED
}
extern "C" fn noop_select(_: *mut c_void, _: RawRequest, _: RawSink, err: RawSink) -> i32 {
    err.put(b"no callable");
    FAILED
}
extern "C" fn noop_generate(_: *mut c_void, _: RawSink, err: RawSink) -> i32 {
    err.put(b"no generator");
    FAILED
}

/// A plugin codec seen from the host: MessagePack for the format, the plugin
/// for sealing and opening.
pub(crate) struct HostCodec {
    raw: RawCodec,
    name: String,
    format: crate::codec::MsgPack,
}

// SAFETY: the state belongs to a `PluginCodec`, which is `Send + Sync`; the
// function pointers are plain code that never unloads.
unsafe impl Send for HostCodec {}
// SAFETY: as above; the plugin's methods take `&self`.
unsafe impl Sync for HostCodec {}

impl Drop for HostCodec {
    fn drop(&mut self) {
        (self.raw.drop)(self.raw.state);
    }
}

impl HostCodec {
    pub(crate) fn new(
        name: &str,
        maker: &PluginMaker<RawCodec>,
        settings: &dyn SettingsLookup,
    ) -> Result<Self, String> {
        let empty = RawCodec {
            state: std::ptr::null_mut(),
            seal: noop_codec,
            open: noop_codec,
            drop: noop_drop,
        };
        let raw = construct(maker, settings, empty)?;
        Ok(Self {
            raw,
            name: name.to_owned(),
            format: crate::codec::MsgPack,
        })
    }

    fn call(
        &self,
        seal: bool,
        ctx: &crate::codec::FieldContext<'_>,
        input: &[u8],
    ) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut error = Vec::new();
        let f = if seal { self.raw.seal } else { self.raw.open };
        let code = f(
            self.raw.state,
            RawBytes::new(ctx.key.as_bytes()),
            RawBytes::new(ctx.field),
            RawBytes::new(input),
            RawSink::for_vec(&mut out),
            RawSink::for_vec(&mut error),
        );
        if code == OK {
            Ok(out)
        } else {
            Err(String::from_utf8_lossy(&error).into_owned())
        }
    }
}

impl crate::codec::Codec for HostCodec {
    fn name(&self) -> &str {
        &self.name
    }

    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, crate::codec::Error> {
        self.format.encode(value)
    }

    fn decode(
        &self,
        bytes: &[u8],
        visitor: crate::codec::Visitor<'_>,
    ) -> Result<(), crate::codec::Error> {
        self.format.decode(bytes, visitor)
    }

    fn seal(
        &self,
        ctx: &crate::codec::FieldContext<'_>,
        encoded: Vec<u8>,
    ) -> Result<Vec<u8>, crate::codec::Error> {
        self.call(true, ctx, &encoded)
            .map_err(|message| crate::codec::Error::Encode {
                codec: self.name.clone(),
                message,
            })
    }

    fn open(
        &self,
        ctx: &crate::codec::FieldContext<'_>,
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, crate::codec::Error> {
        self.call(false, ctx, &stored)
            .map_err(|message| crate::codec::decode_error(&self.name, message))
    }
}

/// A plugin id generator seen from the host.
pub(crate) struct HostIdGenerator {
    raw: RawIdGenerator,
}

// SAFETY: the state belongs to a `PluginIdGenerator`: `Send + Sync`.
unsafe impl Send for HostIdGenerator {}
// SAFETY: as above.
unsafe impl Sync for HostIdGenerator {}

impl Drop for HostIdGenerator {
    fn drop(&mut self) {
        (self.raw.drop)(self.raw.state);
    }
}

impl HostIdGenerator {
    pub(crate) fn new(
        maker: &PluginMaker<RawIdGenerator>,
        settings: &dyn SettingsLookup,
    ) -> Result<Self, String> {
        let empty = RawIdGenerator {
            state: std::ptr::null_mut(),
            generate: noop_generate,
            drop: noop_drop,
        };
        Ok(Self {
            raw: construct(maker, settings, empty)?,
        })
    }
}

impl crate::id::IdGenerator for HostIdGenerator {
    fn generate(&self) -> Result<String, crate::id::Error> {
        let mut out = Vec::new();
        let mut error = Vec::new();
        let code = (self.raw.generate)(
            self.raw.state,
            RawSink::for_vec(&mut out),
            RawSink::for_vec(&mut error),
        );
        if code == OK {
            String::from_utf8(out).map_err(|e| crate::id::Error::Invalid {
                len: e.as_bytes().len(),
            })
        } else {
            Err(crate::id::Error::Plugin(
                String::from_utf8_lossy(&error).into_owned(),
            ))
        }
    }
}

/// A plugin client callable seen from the host: the plugin names a URL, the
/// host keeps one shared client per URL.
pub(crate) struct HostClientCallable {
    raw: RawClientCallable,
    clients: std::sync::RwLock<std::collections::HashMap<String, crate::RedisClient>>,
}

// SAFETY: the state belongs to a `PluginClientCallable`: `Send + Sync`.
unsafe impl Send for HostClientCallable {}
// SAFETY: as above.
unsafe impl Sync for HostClientCallable {}

impl Drop for HostClientCallable {
    fn drop(&mut self) {
        (self.raw.drop)(self.raw.state);
    }
}

extern "C" fn host_header(ctx: *const c_void, name: RawBytes, out: RawSink) -> i32 {
    let Some(name) = name_of(name) else { return 0 };
    // SAFETY: `ctx` is the `&http::request::Parts` that `client` passed and
    // keeps alive for the call.
    let parts = unsafe { &*ctx.cast::<http::request::Parts>() };
    match parts
        .headers
        .get(name.as_str())
        .and_then(|v| v.to_str().ok())
    {
        Some(value) => {
            out.put(value.as_bytes());
            1
        }
        None => 0,
    }
}

impl HostClientCallable {
    pub(crate) fn new(
        maker: &PluginMaker<RawClientCallable>,
        settings: &dyn SettingsLookup,
    ) -> Result<Self, String> {
        let empty = RawClientCallable {
            state: std::ptr::null_mut(),
            select: noop_select,
            drop: noop_drop,
        };
        Ok(Self {
            raw: construct(maker, settings, empty)?,
            clients: Default::default(),
        })
    }
}

impl crate::ClientCallable for HostClientCallable {
    fn client(
        &self,
        request: &http::request::Parts,
        options: &crate::RedisOptions,
    ) -> Result<crate::RedisClient, crate::store::Error> {
        let host = request
            .uri
            .host()
            .map(str::to_owned)
            .or_else(|| {
                let header = request.headers.get(http::header::HOST)?.to_str().ok()?;
                Some(
                    header
                        .rsplit_once(':')
                        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                        .map_or(header, |(h, _)| h)
                        .to_owned(),
                )
            })
            .unwrap_or_default();
        let raw_request = RawRequest {
            ctx: (request as *const http::request::Parts).cast(),
            host: RawBytes::new(host.as_bytes()),
            header: host_header,
        };
        let mut out = Vec::new();
        let mut error = Vec::new();
        let code = (self.raw.select)(
            self.raw.state,
            raw_request,
            RawSink::for_vec(&mut out),
            RawSink::for_vec(&mut error),
        );
        if code != OK {
            return Err(crate::store::Error::Config(format!(
                "client_callable: {}",
                String::from_utf8_lossy(&error)
            )));
        }
        let url = String::from_utf8_lossy(&out).into_owned();
        let cached = self
            .clients
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&url)
            .cloned();
        if let Some(client) = cached {
            return Ok(client);
        }
        let client = crate::RedisClient::open(&crate::RedisOptions {
            url: Some(url.clone()),
            ..options.clone()
        })?;
        let mut clients = self
            .clients
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(clients.entry(url).or_insert(client).clone())
    }
}
