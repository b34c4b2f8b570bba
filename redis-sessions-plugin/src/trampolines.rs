//! The plugin's side of every call: `extern "C"` functions, monomorphised
//! per plugin type, that turn raw arguments back into safe views, call the
//! author's code, and catch its panics so that none unwinds into the host.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::author::{
    PluginClientCallable, PluginCodec, PluginIdGenerator, PluginRequest, PluginSettings, Registrar,
    Validator,
};
use crate::wire::{
    FAILED, OK, PANICKED, RawBytes, RawClientCallable, RawCodec, RawIdGenerator, RawRegistrar,
    RawRequest, RawSettings, RawSink,
};

/// Runs `f`, turning an `Err` or a panic into a code and a message in `err`.
///
/// # Safety
///
/// `err` must be a live sink lent by the host for the running call.
unsafe fn guarded(err: RawSink, f: impl FnOnce() -> Result<(), String>) -> i32 {
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

/// Runs a plugin's includeme behind the boundary (used by
/// [`export_plugin!`](crate::export_plugin)).
///
/// # Safety
///
/// `raw` must point at a live `RawRegistrar` made by the host, valid for the
/// whole call.
#[doc(hidden)]
pub unsafe fn __includeme(
    raw: *const RawRegistrar,
    includeme: fn(&mut Registrar<'_>) -> Result<(), String>,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let raw = unsafe { &*raw };
    // SAFETY: the registrar's error sink is lent for this call.
    unsafe { guarded(raw.error, || includeme(&mut Registrar::new(raw))) }
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;

    use super::*;
    use crate::wire::{FOUND, MakeFn, NOT_FOUND, RawValidator};

    /// What a test host saw during an includeme.
    #[derive(Default)]
    struct Seen {
        codecs: Vec<String>,
        settings: Vec<(String, bool, RawValidator)>,
    }

    /// # Safety
    ///
    /// `ctx` is the test's `Seen`; `name` is lent for the call.
    unsafe extern "C" fn on_codec(ctx: *mut c_void, name: RawBytes, _: MakeFn<RawCodec>) -> i32 {
        // SAFETY: as documented above.
        let (seen, name) = unsafe { (&mut *ctx.cast::<Seen>(), name.as_slice()) };
        seen.codecs.push(String::from_utf8_lossy(name).into_owned());
        OK
    }

    /// # Safety
    ///
    /// Never called by these tests' includemes.
    unsafe extern "C" fn on_other<T>(_: *mut c_void, _: RawBytes, _: MakeFn<T>) -> i32 {
        FAILED
    }

    /// # Safety
    ///
    /// As for `on_codec`.
    unsafe extern "C" fn on_setting(
        ctx: *mut c_void,
        name: RawBytes,
        secret: u8,
        validator: RawValidator,
    ) -> i32 {
        // SAFETY: as documented above.
        let (seen, name) = unsafe { (&mut *ctx.cast::<Seen>(), name.as_slice()) };
        let name = String::from_utf8_lossy(name).into_owned();
        seen.settings.push((name, secret != 0, validator));
        OK
    }

    /// # Safety
    ///
    /// `out` is lent for the call.
    unsafe extern "C" fn get_setting(_: *const c_void, name: RawBytes, out: RawSink) -> i32 {
        // SAFETY: lent for the call.
        if unsafe { name.as_slice() } == b"redis.sessions.t.mode" {
            // SAFETY: lent for the call.
            unsafe { out.put(b"strict") };
            FOUND
        } else {
            NOT_FOUND
        }
    }

    struct Nothing;

    impl PluginCodec for Nothing {
        fn from_settings(_: &PluginSettings<'_>) -> Result<Self, String> {
            Ok(Nothing)
        }
        fn seal(&self, _: &str, _: &[u8], encoded: &[u8]) -> Result<Vec<u8>, String> {
            Ok(encoded.to_vec())
        }
        fn open(&self, _: &str, _: &[u8], stored: &[u8]) -> Result<Vec<u8>, String> {
            Ok(stored.to_vec())
        }
    }

    fn run(includeme: fn(&mut Registrar<'_>) -> Result<(), String>) -> (i32, String, Seen) {
        let mut seen = Seen::default();
        let mut error = Vec::new();
        let raw = RawRegistrar {
            ctx: (&mut seen as *mut Seen).cast(),
            settings: RawSettings {
                ctx: std::ptr::null(),
                get: get_setting,
            },
            codec: on_codec,
            client_callable: on_other::<RawClientCallable>,
            id_generator: on_other::<RawIdGenerator>,
            declare_setting: on_setting,
            error: RawSink::for_vec(&mut error),
        };
        // SAFETY: `raw` and all it points at outlive the call.
        let code = unsafe { __includeme(&raw, includeme) };
        (code, String::from_utf8_lossy(&error).into_owned(), seen)
    }

    fn is_strict(value: &str) -> Result<(), String> {
        (value == "strict")
            .then_some(())
            .ok_or_else(|| "expected strict".to_owned())
    }

    #[test]
    fn an_includeme_registers_reads_settings_and_declares_validators() {
        let (code, error, seen) = run(|r| {
            assert_eq!(
                r.setting("redis.sessions.t.mode").as_deref(),
                Some("strict")
            );
            assert_eq!(r.setting("redis.sessions.t.other"), None);
            r.declare_validated_setting("redis.sessions.t.mode", true, is_strict)?;
            r.declare_setting("redis.sessions.t.free", false)?;
            r.codec::<Nothing>("t.nothing")
        });
        assert_eq!((code, error.as_str()), (OK, ""));
        assert_eq!(seen.codecs, ["t.nothing"]);
        let (name, secret, validator) = &seen.settings[0];
        assert_eq!((name.as_str(), *secret), ("redis.sessions.t.mode", true));
        let check = validator.validate.unwrap();
        for (value, expected, message) in [("strict", OK, ""), ("lax", FAILED, "expected strict")] {
            let mut error = Vec::new();
            // SAFETY: the validator was declared by this library just above;
            // the value and buffer outlive the call.
            let code = unsafe {
                check(
                    validator.ctx,
                    RawBytes::new(value.as_bytes()),
                    RawSink::for_vec(&mut error),
                )
            };
            assert_eq!((code, error.as_slice()), (expected, message.as_bytes()));
        }
        assert!(seen.settings[1].2.validate.is_none());
    }

    #[test]
    fn an_includeme_error_or_panic_becomes_a_code_and_a_message() {
        let (code, error, _) = run(|_| Err("no key: expected one".into()));
        assert_eq!((code, error.as_str()), (FAILED, "no key: expected one"));
        let (code, error, seen) = run(|r| {
            r.codec::<Nothing>("t.before")?;
            panic!("boom")
        });
        assert_eq!((code, error.as_str()), (PANICKED, "the plugin panicked"));
        assert_eq!(seen.codecs, ["t.before"]);
    }

    #[test]
    fn a_refused_registration_is_an_error_for_the_plugin() {
        #[derive(Clone, Copy)]
        struct Ids;
        impl crate::PluginIdGenerator for Ids {
            fn from_settings(_: &PluginSettings<'_>) -> Result<Self, String> {
                Ok(Ids)
            }
            fn generate(&self) -> Result<String, String> {
                Ok(String::new())
            }
        }
        let (code, error, _) = run(|r| r.id_generator::<Ids>("t.ids"));
        assert_eq!((code, error.as_str()), (FAILED, "the host refused t.ids"));
    }
}
