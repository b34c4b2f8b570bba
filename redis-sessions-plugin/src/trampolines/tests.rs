use std::ffi::c_void;

use super::*;
use crate::registrar::{__includeme, Registrar};
use crate::wire::{FOUND, MakeFn, NOT_FOUND, RawRegistrar, RawValidator};

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
