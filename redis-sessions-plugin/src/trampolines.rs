//! The plugin's side of every call: `extern "C"` functions, monomorphised
//! per plugin type, that turn raw arguments back into safe views, call the
//! author's code, and catch its panics so that none unwinds into the host.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::author::{
    PluginClientCallable, PluginCodec, PluginIdGenerator, PluginRequest, PluginSettings, Validator,
};
use crate::wire::{
    FAILED, OK, PANICKED, RawBytes, RawClientCallable, RawCodec, RawIdGenerator, RawRequest,
    RawSettings, RawSink,
};

/// Runs `f`, turning an `Err` or a panic into a code and a message in `err`.
///
/// # Safety
///
/// `err` must be a live sink lent by the host for the running call.
pub(crate) unsafe fn guarded(err: RawSink, f: impl FnOnce() -> Result<(), String>) -> i32 {
    let (code, message) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return OK,
        Ok(Err(message)) => (FAILED, message),
        Err(_) => (PANICKED, "the plugin panicked".to_owned()),
    };
    // SAFETY: guaranteed by the caller.
    unsafe { err.put(message.as_bytes()) };
    code
}

fn boxed<T>(value: T) -> *mut c_void {
    Box::into_raw(Box::new(value)).cast()
}

/// Drops a state made by `boxed::<T>`.
///
/// # Safety
///
/// `state` must come from `boxed::<T>` in this library and not have been
/// dropped; the host calls this exactly once per object, when it is done.
unsafe extern "C" fn drop_state<T>(state: *mut c_void) {
    // SAFETY: guaranteed by the caller.
    let state = unsafe { Box::from_raw(state.cast::<T>()) };
    // A panicking destructor must not unwind into the host.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
}

/// # Safety
///
/// `state` must come from `boxed::<T>` and not have been dropped, and stay
/// so for `'a`.
unsafe fn state_ref<'a, T>(state: *mut c_void) -> &'a T {
    // SAFETY: guaranteed by the caller.
    unsafe { &*state.cast::<T>() }
}

/// Builds a plugin object from the settings and writes it to the host's
/// slot: the common part of every `make_*` trampoline.
///
/// # Safety
///
/// `settings` and `err` must be lent by the host for the running call, and
/// `out` must point at a writable slot of type `R` that holds nothing to drop.
unsafe fn construct_into<R>(
    settings: RawSettings,
    out: *mut R,
    err: RawSink,
    build: impl FnOnce(&PluginSettings<'_>) -> Result<R, String>,
) -> i32 {
    let run = || {
        let raw = build(&PluginSettings::new(settings))?;
        // SAFETY: guaranteed by the caller; written only on success, as
        // `MakeFn` promises.
        unsafe { out.write(raw) };
        Ok(())
    };
    // SAFETY: `err` is lent for this call (guaranteed by the caller).
    unsafe { guarded(err, run) }
}

/// The [`MakeFn`](crate::wire::MakeFn) of codec `T`.
///
/// # Safety
///
/// As for [`construct_into`].
pub(crate) unsafe extern "C" fn make_codec<T: PluginCodec>(
    settings: RawSettings,
    out: *mut RawCodec,
    err: RawSink,
) -> i32 {
    // SAFETY: the host's arguments, as the caller guarantees.
    unsafe {
        construct_into(settings, out, err, |settings| {
            Ok(RawCodec {
                state: boxed(T::from_settings(settings)?),
                seal: codec_call::<T, true>,
                open: codec_call::<T, false>,
                drop: drop_state::<T>,
            })
        })
    }
}

/// Seals (`SEAL`) or opens a value with codec `T`.
///
/// # Safety
///
/// `state` must be the state `make_codec::<T>` made, still alive; the byte
/// strings and sinks must be lent by the host for the call.
unsafe extern "C" fn codec_call<T: PluginCodec, const SEAL: bool>(
    state: *mut c_void,
    key: RawBytes,
    field: RawBytes,
    input: RawBytes,
    out: RawSink,
    err: RawSink,
) -> i32 {
    let run = || {
        // SAFETY: guaranteed by the caller.
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
        // SAFETY: `out` is lent by the host for this call.
        unsafe { out.put(&result) };
        Ok(())
    };
    // SAFETY: `err` is lent by the host for this call.
    unsafe { guarded(err, run) }
}

/// The [`MakeFn`](crate::wire::MakeFn) of client callable `T`.
///
/// # Safety
///
/// As for [`construct_into`].
pub(crate) unsafe extern "C" fn make_client_callable<T: PluginClientCallable>(
    settings: RawSettings,
    out: *mut RawClientCallable,
    err: RawSink,
) -> i32 {
    // SAFETY: the host's arguments, as the caller guarantees.
    unsafe {
        construct_into(settings, out, err, |settings| {
            Ok(RawClientCallable {
                state: boxed(T::from_settings(settings)?),
                select: select_call::<T>,
                drop: drop_state::<T>,
            })
        })
    }
}

/// Asks client callable `T` for a URL.
///
/// # Safety
///
/// `state` must be the state `make_client_callable::<T>` made, still alive;
/// the request and sinks must be lent by the host for the call.
unsafe extern "C" fn select_call<T: PluginClientCallable>(
    state: *mut c_void,
    request: RawRequest,
    out: RawSink,
    err: RawSink,
) -> i32 {
    let run = || {
        // SAFETY: guaranteed by the caller.
        let callable = unsafe { state_ref::<T>(state) };
        let url = callable.select(&PluginRequest::new(request))?;
        // SAFETY: `out` is lent by the host for this call.
        unsafe { out.put(url.as_bytes()) };
        Ok(())
    };
    // SAFETY: `err` is lent by the host for this call.
    unsafe { guarded(err, run) }
}

/// The [`MakeFn`](crate::wire::MakeFn) of id generator `T`.
///
/// # Safety
///
/// As for [`construct_into`].
pub(crate) unsafe extern "C" fn make_id_generator<T: PluginIdGenerator>(
    settings: RawSettings,
    out: *mut RawIdGenerator,
    err: RawSink,
) -> i32 {
    // SAFETY: the host's arguments, as the caller guarantees.
    unsafe {
        construct_into(settings, out, err, |settings| {
            Ok(RawIdGenerator {
                state: boxed(T::from_settings(settings)?),
                generate: generate_call::<T>,
                drop: drop_state::<T>,
            })
        })
    }
}

/// Asks id generator `T` for an id.
///
/// # Safety
///
/// `state` must be the state `make_id_generator::<T>` made, still alive; the
/// sinks must be lent by the host for the call.
unsafe extern "C" fn generate_call<T: PluginIdGenerator>(
    state: *mut c_void,
    out: RawSink,
    err: RawSink,
) -> i32 {
    let run = || {
        // SAFETY: guaranteed by the caller.
        let generator = unsafe { state_ref::<T>(state) };
        let id = generator.generate()?;
        // SAFETY: `out` is lent by the host for this call.
        unsafe { out.put(id.as_bytes()) };
        Ok(())
    };
    // SAFETY: `err` is lent by the host for this call.
    unsafe { guarded(err, run) }
}

/// The context of a [`RawValidator`](crate::wire::RawValidator): the
/// validator itself. It stays in this library and is only ever called by
/// [`validate_call`], here.
pub(crate) fn validator_ctx(validator: Validator) -> *const c_void {
    (validator as *const ()).cast()
}

/// Runs the validator in `ctx` on a value.
///
/// # Safety
///
/// `ctx` must come from `validator_ctx` in this library; `value` and `err`
/// must be lent by the host for the call.
pub(crate) unsafe extern "C" fn validate_call(
    ctx: *const c_void,
    value: RawBytes,
    err: RawSink,
) -> i32 {
    let run = || {
        // SAFETY: `ctx` was made from a `Validator` by `validator_ctx`, and
        // function and data pointers have the same size on every target a
        // cdylib loads on (checked by `transmute` at compile time).
        let validator = unsafe { std::mem::transmute::<*const c_void, Validator>(ctx) };
        // SAFETY: lent by the host for this call.
        let value = unsafe { value.as_slice() };
        let text = std::str::from_utf8(value).map_err(|_| "the value is not UTF-8".to_owned())?;
        validator(text)
    };
    // SAFETY: `err` is lent by the host for this call.
    unsafe { guarded(err, run) }
}

#[cfg(test)]
mod tests;
