//! What crosses the boundary: `#[repr(C)]` structs, plain function pointers
//! and borrowed byte strings. Nothing here owns memory of the other side.
//!
//! Every function pointer is `unsafe extern "C" fn`: the side that calls it
//! relies on the other side having been built from this very source (the
//! stamp), which the type system cannot check.

use std::ffi::c_void;

/// A call succeeded.
pub const OK: i32 = 0;
/// A call failed; its error sink holds the message.
pub const FAILED: i32 = 1;
/// A call panicked on the plugin's side (the panic was caught there).
pub const PANICKED: i32 = 2;
/// A lookup found its value and wrote it to the sink.
pub const FOUND: i32 = 1;
/// A lookup found nothing.
pub const NOT_FOUND: i32 = 0;

/// The name of the stamp function every plugin exports ([`StampFn`]).
pub const STAMP_SYMBOL: &[u8] = b"redis_sessions_plugin_stamp\0";
/// The name of the includeme every plugin exports ([`IncludemeFn`]).
pub const INCLUDEME_SYMBOL: &[u8] = b"redis_sessions_plugin_includeme\0";

/// A borrowed byte string: valid for the duration of the call it is passed
/// to, or, when it points at a `'static`, for as long as its library is
/// loaded (plugins are never unloaded).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawBytes {
    /// The first byte (may dangle when `len` is 0).
    pub ptr: *const u8,
    /// The number of bytes.
    pub len: usize,
}

impl RawBytes {
    /// Borrows `bytes`; the caller keeps them alive while the other side may
    /// read them.
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// Borrows a static string.
    pub const fn from_static(text: &'static str) -> Self {
        Self {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// The bytes.
    ///
    /// # Safety
    ///
    /// Unless `len` is 0, `ptr` must point at `len` initialised bytes that
    /// stay alive and unchanged for `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            return &[];
        }
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A place owned by one side that the other side writes bytes into: the
/// bytes are copied into the owner's memory by the owner's own code, so each
/// side frees only what it allocated.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSink {
    /// The owner's buffer.
    pub sink: *mut c_void,
    /// Appends bytes to `sink`; runs on the owner's side.
    pub write: unsafe extern "C" fn(*mut c_void, RawBytes),
}

impl RawSink {
    /// A sink appending to `buf`. The sink may be used only while `buf` is
    /// alive and not otherwise borrowed.
    pub fn for_vec(buf: &mut Vec<u8>) -> Self {
        Self {
            sink: (buf as *mut Vec<u8>).cast(),
            write: write_vec,
        }
    }

    /// Appends `bytes` to the sink.
    ///
    /// # Safety
    ///
    /// The sink must be live: made by [`RawSink::for_vec`] over a buffer that
    /// is still alive and unborrowed, or received from the other side as an
    /// argument of the call that is running now.
    pub unsafe fn put(self, bytes: &[u8]) {
        // SAFETY: the sink is live (guaranteed by the caller) and `bytes` is
        // a live slice for the whole call.
        unsafe { (self.write)(self.sink, RawBytes::new(bytes)) }
    }
}

/// The `write` of [`RawSink::for_vec`].
///
/// # Safety
///
/// `sink` must come from [`RawSink::for_vec`] over a live, unborrowed
/// `Vec<u8>`, and `bytes` must be readable for the call.
unsafe extern "C" fn write_vec(sink: *mut c_void, bytes: RawBytes) {
    // SAFETY: guaranteed by the caller. The Vec belongs to this side, so it
    // grows in this side's allocator.
    let (buf, bytes) = unsafe { (&mut *sink.cast::<Vec<u8>>(), bytes.as_slice()) };
    // Growing can only fail by aborting; nothing here unwinds.
    buf.extend_from_slice(bytes);
}

/// The host's settings, for a plugin to read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSettings {
    /// The host's lookup state.
    pub ctx: *const c_void,
    /// Writes the value of setting `name` to the sink: [`FOUND`] or
    /// [`NOT_FOUND`].
    pub get: unsafe extern "C" fn(ctx: *const c_void, name: RawBytes, out: RawSink) -> i32,
}

/// The request a client callable chooses a server for.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawRequest {
    /// The host's request.
    pub ctx: *const c_void,
    /// The request's host name, without a port (empty when there is none).
    pub host: RawBytes,
    /// Writes the value of header `name` to the sink: [`FOUND`] or
    /// [`NOT_FOUND`].
    pub header: unsafe extern "C" fn(ctx: *const c_void, name: RawBytes, out: RawSink) -> i32,
}

/// Seals or opens one value: `(state, session key, field, input, out, error)`.
pub type CodecFn = unsafe extern "C" fn(
    state: *mut c_void,
    key: RawBytes,
    field: RawBytes,
    input: RawBytes,
    out: RawSink,
    err: RawSink,
) -> i32;

/// Drops a plugin object's state, on the plugin's side.
pub type DropFn = unsafe extern "C" fn(state: *mut c_void);

/// A codec stage made by a plugin: its state and what can be done with it.
#[repr(C)]
#[derive(Debug)]
pub struct RawCodec {
    /// The plugin's codec, boxed by the plugin.
    pub state: *mut c_void,
    /// Seals an encoded value.
    pub seal: CodecFn,
    /// Opens a stored value.
    pub open: CodecFn,
    /// Drops `state`; called once, by the host, when it is done with it.
    pub drop: DropFn,
}

/// A client callable made by a plugin.
#[repr(C)]
#[derive(Debug)]
pub struct RawClientCallable {
    /// The plugin's callable, boxed by the plugin.
    pub state: *mut c_void,
    /// Writes the Redis URL for a request to `out`.
    pub select: unsafe extern "C" fn(
        state: *mut c_void,
        request: RawRequest,
        out: RawSink,
        err: RawSink,
    ) -> i32,
    /// Drops `state`; called once, by the host.
    pub drop: DropFn,
}

/// An id generator made by a plugin.
#[repr(C)]
#[derive(Debug)]
pub struct RawIdGenerator {
    /// The plugin's generator, boxed by the plugin.
    pub state: *mut c_void,
    /// Writes a fresh id to `out`.
    pub generate: unsafe extern "C" fn(state: *mut c_void, out: RawSink, err: RawSink) -> i32,
    /// Drops `state`; called once, by the host.
    pub drop: DropFn,
}

/// Makes a plugin object from the settings and writes it to `out`, which it
/// must have done when it returns [`OK`] (and must not have done otherwise).
pub type MakeFn<T> = unsafe extern "C" fn(settings: RawSettings, out: *mut T, err: RawSink) -> i32;

/// Checks the value of a declared setting: [`OK`], or [`FAILED`] with a
/// message (never containing the value) in `err`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawValidator {
    /// The plugin's validator state.
    pub ctx: *const c_void,
    /// The check; `None` accepts every value.
    pub validate:
        Option<unsafe extern "C" fn(ctx: *const c_void, value: RawBytes, err: RawSink) -> i32>,
}

/// What the host hands a plugin's includeme.
#[repr(C)]
#[derive(Debug)]
pub struct RawRegistrar {
    /// The host's registration state.
    pub ctx: *mut c_void,
    /// The settings, to read.
    pub settings: RawSettings,
    /// Registers a codec under a dotted name.
    pub codec:
        unsafe extern "C" fn(ctx: *mut c_void, name: RawBytes, make: MakeFn<RawCodec>) -> i32,
    /// Registers a client callable under a dotted name.
    pub client_callable: unsafe extern "C" fn(
        ctx: *mut c_void,
        name: RawBytes,
        make: MakeFn<RawClientCallable>,
    ) -> i32,
    /// Registers an id generator under a dotted name.
    pub id_generator:
        unsafe extern "C" fn(ctx: *mut c_void, name: RawBytes, make: MakeFn<RawIdGenerator>) -> i32,
    /// Declares a `redis.sessions.<pkg>.<key>` setting: its name, whether it
    /// is secret (1) or not (0), and its validator.
    pub declare_setting: unsafe extern "C" fn(
        ctx: *mut c_void,
        name: RawBytes,
        secret: u8,
        validator: RawValidator,
    ) -> i32,
    /// Where the includeme writes why it failed.
    pub error: RawSink,
}

/// The stamp function a plugin exports as `redis_sessions_plugin_stamp`: it
/// takes nothing and returns the address and length of a static string.
pub type StampFn = unsafe extern "C" fn() -> RawBytes;

/// The includeme a plugin exports as `redis_sessions_plugin_includeme`.
pub type IncludemeFn = unsafe extern "C" fn(registrar: *const RawRegistrar) -> i32;
