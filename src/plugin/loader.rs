//! Finding, checking and including plugin libraries. A library is loaded at
//! most once per process and never unloaded; its stamp is checked before any
//! function of it other than the stamp function is called.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use redis_sessions_plugin::STAMP;
use redis_sessions_plugin::wire::{
    FAILED, INCLUDEME_SYMBOL, IncludemeFn, MakeFn, OK, PANICKED, RawBytes, RawClientCallable,
    RawCodec, RawIdGenerator, RawRegistrar, RawSink, RawValidator, STAMP_SYMBOL, StampFn,
};

use super::adapters::{
    Lookup, Maker, SettingValidator, client_callable_maker, codec_maker, id_generator_maker,
    name_of, raw_settings, validator,
};
use crate::codec::Codec;
use crate::id::IdGenerator;
use crate::store::ClientCallable;

/// The longest stamp read: anything longer is not a stamp.
const MAX_STAMP_LEN: usize = 4096;

/// Where a plugin's registrations land (the host's name registry).
pub(crate) trait PluginSink {
    /// A codec named `name`.
    fn add_codec(&mut self, name: String, make: Maker<dyn Codec>);
    /// A client callable named `name`.
    fn add_client_callable(&mut self, name: String, make: Maker<dyn ClientCallable>);
    /// An id generator named `name`.
    fn add_id_generator(&mut self, name: String, make: Maker<dyn IdGenerator>);
    /// A setting `name` the plugin reads; `false` refuses it.
    fn add_setting(
        &mut self,
        name: String,
        secret: bool,
        validator: Option<SettingValidator>,
    ) -> bool;
}

/// Why a plugin library could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The package name cannot name a library file.
    #[error(
        "{package:?} is not a plugin package name: expected letters, digits and _, e.g. hostroute"
    )]
    BadName {
        /// The name given.
        package: String,
    },
    /// No `lib{pkg}.so` in any plugin folder.
    #[error(
        "no plugin library {file} in redis.sessions.plugin_path ({searched}): expected a cdylib made with redis_sessions_plugin::export_plugin!, e.g. built by `cargo build -p <plugin crate>`, and its folder on plugin_path"
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
        /// What the system loader said.
        reason: String,
    },
    /// The file is not a plugin library: it is not a shared library this
    /// system can load, or its `redis_sessions_plugin_stamp` is missing or
    /// is not a function. Found by reading the file, before any of its code
    /// could run.
    #[error(
        "{path} is not a plugin library: {reason}; expected a cdylib made with redis_sessions_plugin::export_plugin!"
    )]
    NotAPlugin {
        /// The library's path.
        path: String,
        /// What the file holds instead.
        reason: String,
    },
    /// A required symbol is missing.
    #[error(
        "{path} exports no `{symbol}`: expected a plugin made with redis_sessions_plugin::export_plugin!"
    )]
    MissingSymbol {
        /// The library's path.
        path: String,
        /// The symbol looked for.
        symbol: &'static str,
    },
    /// The stamp does not match this build.
    #[error(
        "{path} was built as \"{found}\" but this program is \"{expected}\": rebuild the plugin with the same rustc and redis-sessions-plugin as this program"
    )]
    Stamp {
        /// The library's path.
        path: String,
        /// The plugin's stamp.
        found: String,
        /// This build's stamp.
        expected: String,
    },
    /// The plugin's includeme failed (or panicked, on its side).
    #[error("{path}: includeme failed: {message}")]
    Includeme {
        /// The library's path.
        path: String,
        /// What the plugin said.
        message: String,
    },
}

/// A checked library: where it is and its includeme. The library itself is
/// never unloaded, so the function pointer stays valid.
#[derive(Clone, Debug)]
pub(crate) struct Library {
    path: PathBuf,
    includeme: IncludemeFn,
}

/// Every library opened so far, by canonical path, with the outcome of its
/// check (a refused library stays mapped, and is not opened twice).
static LOADED: OnceLock<Mutex<HashMap<PathBuf, Result<Library, PluginError>>>> = OnceLock::new();

fn symbol_name(symbol: &[u8]) -> &'static str {
    if symbol == STAMP_SYMBOL {
        "redis_sessions_plugin_stamp"
    } else {
        "redis_sessions_plugin_includeme"
    }
}

/// Loads `lib{package}.so` from the first folder of `dirs` that has it and
/// checks its stamp. Loading the same file again returns the same library.
pub(crate) fn load(package: &str, dirs: &[PathBuf]) -> Result<Library, PluginError> {
    if package.is_empty()
        || !package
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(PluginError::BadName {
            package: package.to_owned(),
        });
    }
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
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    loaded
        .entry(path)
        .or_insert_with_key(|path| open_checked(path))
        .clone()
}

fn open_checked(path: &Path) -> Result<Library, PluginError> {
    let shown = path.display().to_string();
    inspect(path)?;
    // SAFETY: loading runs the library's initialisers. A plugin is a Rust
    // cdylib, which has none of its own; `inspect` above refused every file
    // that does not export the stamp as a function, and the stamp check
    // below refuses a library of another build before anything else in it
    // runs. A file on `plugin_path` is trusted code (see the README).
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| PluginError::Load {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    // The handle is never closed: unloading would leave dangling every
    // function pointer and vtable the library hands out, and unloading a
    // library that failed the check is no safer than keeping it mapped.
    let library = &*Box::leak(Box::new(library));
    let missing = |symbol: &[u8]| PluginError::MissingSymbol {
        path: shown.clone(),
        symbol: symbol_name(symbol),
    };
    // SAFETY: a library exporting `redis_sessions_plugin_stamp` declares it
    // as `StampFn` (that is the contract of the name; export_plugin! makes
    // it so); the symbol's address stays valid as the library is never
    // unloaded.
    let stamp_fn = unsafe { library.get::<StampFn>(STAMP_SYMBOL) }
        .map(|symbol| *symbol)
        .map_err(|_| missing(STAMP_SYMBOL))?;
    // SAFETY: the one call made before the check: the stamp function takes
    // nothing and returns the address and length of a static string.
    let raw = unsafe { stamp_fn() };
    let found = if raw.ptr.is_null() || raw.len > MAX_STAMP_LEN {
        format!("(not a stamp: {} bytes)", raw.len)
    } else {
        // SAFETY: a static string of the library, which stays mapped; the
        // length was bounded above.
        String::from_utf8_lossy(unsafe { raw.as_slice() }).into_owned()
    };
    if found != STAMP {
        return Err(PluginError::Stamp {
            path: shown,
            found,
            expected: STAMP.to_owned(),
        });
    }
    // SAFETY: the stamp matched, so the library was made by this very
    // source's `export_plugin!`, whose includeme has exactly the
    // `IncludemeFn` signature.
    let includeme = unsafe { library.get::<IncludemeFn>(INCLUDEME_SYMBOL) }
        .map(|symbol| *symbol)
        .map_err(|_| missing(INCLUDEME_SYMBOL))?;
    Ok(Library {
        path: path.to_path_buf(),
        includeme,
    })
}

/// Reads the file's dynamic symbol table, without loading it: the stamp
/// and includeme must be functions the library defines, so that no code of
/// a file that is not a plugin ever runs (not even its constructors). On
/// systems whose libraries are not ELF, the stamp check is all there is.
fn inspect(path: &Path) -> Result<(), PluginError> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    use object::{Object, ObjectSymbol, SymbolKind};
    let shown = || path.display().to_string();
    let refuse = |reason: String| PluginError::NotAPlugin {
        path: shown(),
        reason,
    };
    let data = std::fs::read(path).map_err(|e| refuse(format!("it cannot be read ({e})")))?;
    let file = object::File::parse(&*data)
        .map_err(|e| refuse(format!("it is not an ELF shared library ({e})")))?;
    for symbol in [STAMP_SYMBOL, INCLUDEME_SYMBOL] {
        let name = symbol_name(symbol);
        let found = file
            .dynamic_symbols()
            .find(|s| s.name_bytes().is_ok_and(|n| n == name.as_bytes()));
        let what = match found {
            None => {
                return Err(PluginError::MissingSymbol {
                    path: shown(),
                    symbol: name,
                });
            }
            Some(s) if s.is_undefined() => "only imported, not defined",
            Some(s) => match s.kind() {
                SymbolKind::Text => continue,
                SymbolKind::Data => "a data object, not a function",
                SymbolKind::Tls => "a thread-local variable, not a function",
                _ => "a symbol of another kind, not a function",
            },
        };
        return Err(refuse(format!("`{name}` is {what}")));
    }
    Ok(())
}

impl Library {
    /// The library's file name, e.g. `libhostroute.so`.
    pub(crate) fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Runs the library's includeme: its registrations land in `sink`, and
    /// it reads settings through `lookup`.
    pub(crate) fn include(
        &self,
        sink: &mut dyn PluginSink,
        lookup: Lookup<'_>,
    ) -> Result<(), PluginError> {
        let mut ctx = SinkCtx {
            sink,
            library: self.file_name(),
        };
        let mut error = Vec::new();
        let raw = RawRegistrar {
            ctx: (&mut ctx as *mut SinkCtx<'_>).cast(),
            settings: raw_settings(&lookup),
            codec: host_codec,
            client_callable: host_client_callable,
            id_generator: host_id_generator,
            declare_setting: host_declare_setting,
            error: RawSink::for_vec(&mut error),
        };
        // SAFETY: `includeme` comes from a stamp-checked library that is never
        // unloaded; `raw` and everything it points at (the context, the
        // lookup, the error buffer) live until it returns, and nothing else
        // touches them meanwhile.
        let code = unsafe { (self.includeme)(&raw) };
        if code == OK {
            Ok(())
        } else {
            Err(PluginError::Includeme {
                path: self.path.display().to_string(),
                message: String::from_utf8_lossy(&error).into_owned(),
            })
        }
    }
}

/// What the registrar's context points at during an includeme.
struct SinkCtx<'a> {
    sink: &'a mut dyn PluginSink,
    library: String,
}

/// # Safety
///
/// `ctx` must be the `SinkCtx` that [`Library::include`] passed, during the
/// includeme it passed it to.
unsafe fn sink_ctx<'a>(ctx: *mut c_void) -> &'a mut SinkCtx<'a> {
    // SAFETY: guaranteed by the caller; `include` keeps the context alive and
    // exclusively lent to the plugin for the whole call.
    unsafe { &mut *ctx.cast::<SinkCtx<'a>>() }
}

/// Runs a registration on the host's side, turning a host panic into a code
/// instead of unwinding into the plugin.
///
/// # Safety
///
/// As for [`sink_ctx`]; `name` must be lent by the plugin for the call.
unsafe fn register(
    ctx: *mut c_void,
    name: RawBytes,
    add: impl FnOnce(&mut SinkCtx<'_>, String) -> bool,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let Some(name) = (unsafe { name_of(name) }) else {
        return FAILED;
    };
    // SAFETY: guaranteed by the caller.
    let ctx = unsafe { sink_ctx(ctx) };
    match catch_unwind(AssertUnwindSafe(|| add(ctx, name))) {
        Ok(true) => OK,
        Ok(false) => FAILED,
        Err(_) => PANICKED,
    }
}

/// # Safety
///
/// As for [`register`]; `make` must be a `make_codec` trampoline.
unsafe extern "C" fn host_codec(ctx: *mut c_void, name: RawBytes, make: MakeFn<RawCodec>) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        register(ctx, name, |ctx, name| {
            let maker = codec_maker(name.clone(), ctx.library.clone(), make);
            ctx.sink.add_codec(name, maker);
            true
        })
    }
}

/// # Safety
///
/// As for [`register`]; `make` must be a `make_client_callable` trampoline.
unsafe extern "C" fn host_client_callable(
    ctx: *mut c_void,
    name: RawBytes,
    make: MakeFn<RawClientCallable>,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        register(ctx, name, |ctx, name| {
            let maker = client_callable_maker(ctx.library.clone(), make);
            ctx.sink.add_client_callable(name, maker);
            true
        })
    }
}

/// # Safety
///
/// As for [`register`]; `make` must be a `make_id_generator` trampoline.
unsafe extern "C" fn host_id_generator(
    ctx: *mut c_void,
    name: RawBytes,
    make: MakeFn<RawIdGenerator>,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        register(ctx, name, |ctx, name| {
            let maker = id_generator_maker(ctx.library.clone(), make);
            ctx.sink.add_id_generator(name, maker);
            true
        })
    }
}

/// # Safety
///
/// As for [`register`]; `check` must come from the plugin's
/// `declare_setting`/`declare_validated_setting`.
unsafe extern "C" fn host_declare_setting(
    ctx: *mut c_void,
    name: RawBytes,
    secret: u8,
    check: RawValidator,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        register(ctx, name, |ctx, name| {
            let check = validator(ctx.library.clone(), check);
            ctx.sink.add_setting(name, secret != 0, check)
        })
    }
}
