//! Plugin objects seen from the host: a plugin codec is a [`Codec`], a plugin
//! client callable a [`ClientCallable`] (with one shared client per URL), a
//! plugin id generator an [`IdGenerator`]. Each wrapper owns the plugin's
//! state and hands it back to the plugin's drop function when dropped.

use std::collections::HashMap;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};

use redis_sessions_plugin::wire::{
    FOUND, MakeFn, NOT_FOUND, OK, RawBytes, RawClientCallable, RawCodec, RawIdGenerator,
    RawRequest, RawSettings, RawSink, RawValidator,
};

use crate::codec::{self, Codec, FieldContext, MsgPack, Visitor};
use crate::id::{self, IdGenerator};
use crate::store::ClientCallable;
use crate::store::{self, RedisClient, RedisOptions};

/// Reads a setting by name (the host's settings, for plugin constructors).
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Makes the object a plugin registered, from the settings.
pub(crate) type Maker<T> = Arc<dyn Fn(Lookup<'_>) -> Result<Arc<T>, String> + Send + Sync>;

/// Checks the value of a declared setting.
pub(crate) type SettingValidator = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The bytes of a name a plugin passed, if non-empty UTF-8.
///
/// # Safety
///
/// `bytes` must be lent by the plugin for the running call.
pub(super) unsafe fn name_of(bytes: RawBytes) -> Option<String> {
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { bytes.as_slice() };
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The settings lookup a plugin calls back into.
///
/// # Safety
///
/// `ctx` must be the `*const Lookup` that [`construct`] or the loader passed,
/// alive for the call; `name` and `out` must be lent for the call.
pub(super) unsafe extern "C" fn host_get_setting(
    ctx: *const c_void,
    name: RawBytes,
    out: RawSink,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let Some(name) = (unsafe { name_of(name) }) else {
        return NOT_FOUND;
    };
    // SAFETY: guaranteed by the caller.
    let lookup = unsafe { &*ctx.cast::<Lookup<'_>>() };
    // A panic in the host's lookup must not unwind into the plugin.
    match catch_unwind(AssertUnwindSafe(|| lookup(&name))) {
        Ok(Some(value)) => {
            // SAFETY: `out` is lent by the plugin for this call.
            unsafe { out.put(value.as_bytes()) };
            FOUND
        }
        _ => NOT_FOUND,
    }
}

/// Settings for a plugin call, borrowing `lookup` (which must outlive every
/// use of the result).
pub(super) fn raw_settings(lookup: &Lookup<'_>) -> RawSettings {
    RawSettings {
        ctx: (lookup as *const Lookup<'_>).cast(),
        get: host_get_setting,
    }
}

/// Calls a plugin constructor with the host's settings.
fn construct<T>(make: MakeFn<T>, library: &str, lookup: Lookup<'_>) -> Result<T, String> {
    let mut out = MaybeUninit::<T>::uninit();
    let mut error = Vec::new();
    // SAFETY: `make` was registered by a library whose stamp matched and that
    // is never unloaded, so it is one of `redis-sessions-plugin`'s `make_*`
    // trampolines with exactly this signature. The settings borrow `lookup`,
    // the slot and the error buffer, all alive until it returns.
    let code = unsafe {
        make(
            raw_settings(&lookup),
            out.as_mut_ptr(),
            RawSink::for_vec(&mut error),
        )
    };
    if code == OK {
        // SAFETY: on `OK` the trampoline has written a complete value.
        Ok(unsafe { out.assume_init() })
    } else {
        Err(format!("{library}: {}", text(&error)))
    }
}

/// The maker of codec `name`, registered by `library`.
pub(super) fn codec_maker(
    name: String,
    library: String,
    make: MakeFn<RawCodec>,
) -> Maker<dyn Codec> {
    Arc::new(move |lookup| {
        let raw = construct(make, &library, lookup)?;
        Ok(Arc::new(HostCodec {
            raw,
            name: name.clone(),
        }) as Arc<dyn Codec>)
    })
}

/// The maker of a client callable registered by `library`.
pub(super) fn client_callable_maker(
    library: String,
    make: MakeFn<RawClientCallable>,
) -> Maker<dyn ClientCallable> {
    Arc::new(move |lookup| {
        let raw = construct(make, &library, lookup)?;
        Ok(Arc::new(HostClientCallable {
            raw,
            clients: RwLock::default(),
        }) as Arc<dyn ClientCallable>)
    })
}

/// The maker of an id generator registered by `library`.
pub(super) fn id_generator_maker(
    library: String,
    make: MakeFn<RawIdGenerator>,
) -> Maker<dyn IdGenerator> {
    Arc::new(move |lookup| {
        let raw = construct(make, &library, lookup)?;
        Ok(Arc::new(HostIdGenerator { raw }) as Arc<dyn IdGenerator>)
    })
}

/// A plugin's validator, callable from the host.
struct HostValidator {
    raw: RawValidator,
    library: String,
}

// SAFETY: the context is a plain function pointer in the plugin's code,
// which is never unloaded and never changes.
unsafe impl Send for HostValidator {}
// SAFETY: as above.
unsafe impl Sync for HostValidator {}

impl HostValidator {
    fn check(&self, value: &str) -> Result<(), String> {
        let Some(check) = self.raw.validate else {
            return Ok(());
        };
        let mut error = Vec::new();
        // SAFETY: `check` and its context come from a stamp-checked library
        // that is never unloaded (the trampoline `validate_call` and the
        // validator it was declared with); the value and the error buffer
        // outlive the call.
        let code = unsafe {
            check(
                self.raw.ctx,
                RawBytes::new(value.as_bytes()),
                RawSink::for_vec(&mut error),
            )
        };
        if code == OK {
            Ok(())
        } else if error.is_empty() {
            Err(format!("{}: the value was refused", self.library))
        } else {
            Err(text(&error))
        }
    }
}

/// The validator of a declared setting, if it has one.
pub(super) fn validator(library: String, raw: RawValidator) -> Option<SettingValidator> {
    raw.validate?;
    let wrapped = HostValidator { raw, library };
    Some(Arc::new(move |value: &str| wrapped.check(value)))
}

/// A plugin codec seen from the host: MessagePack for the format, the plugin
/// for sealing and opening.
struct HostCodec {
    raw: RawCodec,
    name: String,
}

// SAFETY: the state belongs to a `PluginCodec`, which is `Send + Sync`; the
// function pointers are plain code that is never unloaded.
unsafe impl Send for HostCodec {}
// SAFETY: as above; the plugin's methods take `&self`.
unsafe impl Sync for HostCodec {}

impl Drop for HostCodec {
    fn drop(&mut self) {
        // SAFETY: the state came from this plugin's constructor and is
        // dropped here once, by its own drop function.
        unsafe { (self.raw.drop)(self.raw.state) }
    }
}

impl HostCodec {
    fn call(&self, seal: bool, ctx: &FieldContext<'_>, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut error = Vec::new();
        let f = if seal { self.raw.seal } else { self.raw.open };
        // SAFETY: `f` is the plugin's `codec_call` trampoline for the type
        // whose live state this is; every byte string and sink outlives the call.
        let code = unsafe {
            f(
                self.raw.state,
                RawBytes::new(ctx.key.as_bytes()),
                RawBytes::new(ctx.field),
                RawBytes::new(input),
                RawSink::for_vec(&mut out),
                RawSink::for_vec(&mut error),
            )
        };
        if code == OK {
            Ok(out)
        } else {
            Err(text(&error))
        }
    }
}

impl Codec for HostCodec {
    fn name(&self) -> &str {
        &self.name
    }

    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, codec::Error> {
        MsgPack.encode(value)
    }

    fn decode(&self, bytes: &[u8], visitor: Visitor<'_>) -> Result<(), codec::Error> {
        MsgPack.decode(bytes, visitor)
    }

    fn seal(&self, ctx: &FieldContext<'_>, encoded: Vec<u8>) -> Result<Vec<u8>, codec::Error> {
        self.call(true, ctx, &encoded)
            .map_err(|message| codec::Error::Encode {
                codec: self.name.clone(),
                message,
            })
    }

    fn open(&self, ctx: &FieldContext<'_>, stored: Vec<u8>) -> Result<Vec<u8>, codec::Error> {
        self.call(false, ctx, &stored)
            .map_err(|message| codec::decode_error(&self.name, message))
    }
}

/// A plugin id generator seen from the host.
struct HostIdGenerator {
    raw: RawIdGenerator,
}

// SAFETY: the state belongs to a `PluginIdGenerator`: `Send + Sync`.
unsafe impl Send for HostIdGenerator {}
// SAFETY: as above.
unsafe impl Sync for HostIdGenerator {}

impl Drop for HostIdGenerator {
    fn drop(&mut self) {
        // SAFETY: as for `HostCodec`.
        unsafe { (self.raw.drop)(self.raw.state) }
    }
}

impl IdGenerator for HostIdGenerator {
    fn generate(&self) -> Result<String, id::Error> {
        let mut out = Vec::new();
        let mut error = Vec::new();
        // SAFETY: the plugin's `generate_call` trampoline for this live
        // state; both buffers outlive the call.
        let code = unsafe {
            (self.raw.generate)(
                self.raw.state,
                RawSink::for_vec(&mut out),
                RawSink::for_vec(&mut error),
            )
        };
        if code == OK {
            String::from_utf8(out).map_err(|e| id::Error::Invalid {
                len: e.as_bytes().len(),
            })
        } else {
            Err(id::Error::Plugin(text(&error)))
        }
    }
}

/// A plugin client callable seen from the host: the plugin names a URL, the
/// host keeps one shared client per URL.
struct HostClientCallable {
    raw: RawClientCallable,
    clients: RwLock<HashMap<String, RedisClient>>,
}

// SAFETY: the state belongs to a `PluginClientCallable`: `Send + Sync`.
unsafe impl Send for HostClientCallable {}
// SAFETY: as above.
unsafe impl Sync for HostClientCallable {}

impl Drop for HostClientCallable {
    fn drop(&mut self) {
        // SAFETY: as for `HostCodec`.
        unsafe { (self.raw.drop)(self.raw.state) }
    }
}

/// The header lookup a plugin calls back into.
///
/// # Safety
///
/// `ctx` must be the `*const http::request::Parts` that
/// [`HostClientCallable::client`] passed, alive for the call; `name` and `out`
/// must be lent for the call.
unsafe extern "C" fn host_header(ctx: *const c_void, name: RawBytes, out: RawSink) -> i32 {
    // SAFETY: guaranteed by the caller.
    let Some(name) = (unsafe { name_of(name) }) else {
        return NOT_FOUND;
    };
    // SAFETY: guaranteed by the caller.
    let parts = unsafe { &*ctx.cast::<http::request::Parts>() };
    match parts
        .headers
        .get(name.as_str())
        .and_then(|v| v.to_str().ok())
    {
        Some(value) => {
            // SAFETY: `out` is lent by the plugin for this call.
            unsafe { out.put(value.as_bytes()) };
            FOUND
        }
        None => NOT_FOUND,
    }
}

/// The request's host without a port: the URI's, else the `Host` header's.
fn host_of(request: &http::request::Parts) -> String {
    request
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
        .unwrap_or_default()
}

impl HostClientCallable {
    fn select(&self, request: &http::request::Parts) -> Result<String, String> {
        let host = host_of(request);
        let raw_request = RawRequest {
            ctx: (request as *const http::request::Parts).cast(),
            host: RawBytes::new(host.as_bytes()),
            header: host_header,
        };
        let mut out = Vec::new();
        let mut error = Vec::new();
        // SAFETY: the plugin's `select_call` trampoline for this live state;
        // the request, host string and buffers outlive the call.
        let code = unsafe {
            (self.raw.select)(
                self.raw.state,
                raw_request,
                RawSink::for_vec(&mut out),
                RawSink::for_vec(&mut error),
            )
        };
        if code == OK {
            Ok(text(&out))
        } else {
            Err(text(&error))
        }
    }
}

impl ClientCallable for HostClientCallable {
    fn client(
        &self,
        request: &http::request::Parts,
        options: &RedisOptions,
    ) -> Result<RedisClient, store::Error> {
        let url = self
            .select(request)
            .map_err(|message| store::Error::Config(format!("client_callable: {message}")))?;
        let cached = self
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&url)
            .cloned();
        if let Some(client) = cached {
            return Ok(client);
        }
        let client = RedisClient::open(&RedisOptions {
            url: Some(url.clone()),
            ..options.clone()
        })?;
        let mut clients = self.clients.write().unwrap_or_else(PoisonError::into_inner);
        Ok(clients.entry(url).or_insert(client).clone())
    }
}
