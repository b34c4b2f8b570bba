//! The dotted-name registry: what `client_callable`, `serialize`,
//! `deserialize`, `id_generator` and includes name.
//!
//! A name is looked up here first: the built-ins, then what the application
//! registered. A dotted name `pkg.attr` that is not registered loads plugin
//! library `libpkg.so` from `redis.sessions.plugin_path` (see
//! [`plugins`](crate::plugin)), lets it register its names, and is looked up again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "plugins")]
use super::plugins::PluginSink;
use super::plugins::{
    HostClientCallable, HostCodec, HostIdGenerator, PluginMaker, RawClientCallable, RawCodec,
    RawIdGenerator, SettingsLookup,
};
use super::{Configurator, Error};
use crate::ClientCallable;
use crate::codec::{Codec, Json, MsgPack};
use crate::id::{DefaultIdGenerator, IdGenerator};

/// The function an include runs (Pyramid's `includeme`).
pub type Includeme = fn(&mut Configurator) -> Result<(), Error>;

enum Entry<T: ?Sized, R> {
    Ready(Arc<T>),
    Plugin(PluginMaker<R>),
}

impl<T: ?Sized, R> Clone for Entry<T, R> {
    fn clone(&self) -> Self {
        match self {
            Self::Ready(value) => Self::Ready(Arc::clone(value)),
            Self::Plugin(maker) => Self::Plugin(maker.clone()),
        }
    }
}

/// Dotted name → client callable, codec, id generator or includeme.
///
/// ```
/// use redis_sessions::config::NameRegistry;
/// use redis_sessions::codec::Json;
///
/// let mut names = NameRegistry::new();
/// names.register_codec("myapp.codecs.json", Json);
/// names.register_id_generator("myapp.ids.hex", || "0123456789abcdef0123".to_string());
/// assert!(names.codec_names().any(|n| n == "myapp.codecs.json"));
/// assert!(names.codec_names().any(|n| n == "msgpack"));
/// ```
#[derive(Clone)]
pub struct NameRegistry {
    codecs: BTreeMap<String, Entry<dyn Codec, RawCodec>>,
    client_callables: BTreeMap<String, Entry<dyn ClientCallable, RawClientCallable>>,
    id_generators: BTreeMap<String, Entry<dyn IdGenerator, RawIdGenerator>>,
    includemes: BTreeMap<String, Includeme>,
    declared: BTreeMap<String, bool>,
    loaded: BTreeSet<String>,
}

impl std::fmt::Debug for NameRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameRegistry")
            .field("codecs", &self.codecs.keys().collect::<Vec<_>>())
            .field(
                "client_callables",
                &self.client_callables.keys().collect::<Vec<_>>(),
            )
            .field(
                "id_generators",
                &self.id_generators.keys().collect::<Vec<_>>(),
            )
            .field("includemes", &self.includemes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for NameRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// The built-in names (also listed in the README).
pub const BUILTIN_NAMES: &[(&str, &str)] = &[
    ("msgpack", "codec: MessagePack (the default)"),
    ("json", "codec: JSON"),
    ("bincode", "codec: bincode 1 (cargo feature `bincode`)"),
    (
        "generate_session_id",
        "id generator: 256 bits from the OS CSPRNG (the default)",
    ),
    (
        "redis_sessions",
        "include: builds the session factory from the settings",
    ),
];

impl NameRegistry {
    /// A registry holding the built-in names.
    pub fn new() -> Self {
        let mut names = Self {
            codecs: BTreeMap::new(),
            client_callables: BTreeMap::new(),
            id_generators: BTreeMap::new(),
            includemes: BTreeMap::new(),
            declared: BTreeMap::new(),
            loaded: BTreeSet::new(),
        };
        names.register_codec("msgpack", MsgPack);
        names.register_codec("json", Json);
        #[cfg(feature = "bincode")]
        names.register_codec("bincode", crate::codec::Bincode);
        names.register_id_generator("generate_session_id", DefaultIdGenerator);
        names.register_id_generator("redis_sessions.id.generate_session_id", DefaultIdGenerator);
        names.register_includeme("redis_sessions", super::includeme);
        names
    }

    /// Registers `codec` under `name` (usable for `serialize` and `deserialize`).
    pub fn register_codec(&mut self, name: impl Into<String>, codec: impl Codec) -> &mut Self {
        self.codecs
            .insert(name.into(), Entry::Ready(Arc::new(codec)));
        self
    }

    /// Registers `callable` under `name` (for `client_callable`).
    pub fn register_client_callable(
        &mut self,
        name: impl Into<String>,
        callable: impl ClientCallable,
    ) -> &mut Self {
        self.client_callables
            .insert(name.into(), Entry::Ready(Arc::new(callable)));
        self
    }

    /// Registers `generator` under `name` (for `id_generator`).
    pub fn register_id_generator(
        &mut self,
        name: impl Into<String>,
        generator: impl IdGenerator,
    ) -> &mut Self {
        self.id_generators
            .insert(name.into(), Entry::Ready(Arc::new(generator)));
        self
    }

    /// Registers `includeme` under `name` (for `include` and the includes line).
    pub fn register_includeme(
        &mut self,
        name: impl Into<String>,
        includeme: Includeme,
    ) -> &mut Self {
        self.includemes.insert(name.into(), includeme);
        self
    }

    /// The registered codec names.
    pub fn codec_names(&self) -> impl Iterator<Item = &str> {
        self.codecs.keys().map(String::as_str)
    }

    /// Settings declared by loaded plugins, with whether each is secret.
    pub fn declared_settings(&self) -> impl Iterator<Item = (&str, bool)> {
        self.declared.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub(crate) fn includeme(&self, name: &str) -> Option<Includeme> {
        self.includemes.get(name).copied()
    }

    pub(crate) fn resolve_codec(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
    ) -> Result<Arc<dyn Codec>, String> {
        self.ensure(name, ctx, |n| n.codecs.contains_key(name))?;
        resolve(&self.codecs, "codec", name, |maker| {
            Ok(Arc::new(HostCodec::new(name, maker, ctx.settings)?))
        })
    }

    pub(crate) fn resolve_client_callable(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
    ) -> Result<Arc<dyn ClientCallable>, String> {
        self.ensure(name, ctx, |n| n.client_callables.contains_key(name))?;
        resolve(&self.client_callables, "client callable", name, |maker| {
            Ok(Arc::new(HostClientCallable::new(maker, ctx.settings)?))
        })
    }

    pub(crate) fn resolve_id_generator(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
    ) -> Result<Arc<dyn IdGenerator>, String> {
        self.ensure(name, ctx, |n| n.id_generators.contains_key(name))?;
        resolve(&self.id_generators, "id generator", name, |maker| {
            Ok(Arc::new(HostIdGenerator::new(maker, ctx.settings)?))
        })
    }

    /// Loads the plugin behind a dotted name that is not registered yet.
    fn ensure(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
        known: impl Fn(&Self) -> bool,
    ) -> Result<(), String> {
        if known(self) {
            return Ok(());
        }
        let Some((package, _)) = name.split_once('.') else {
            return Ok(());
        };
        if package == "redis_sessions" || !self.loaded.insert(package.to_owned()) {
            return Ok(());
        }
        self.load_plugin(package, ctx.plugin_path)
    }

    #[cfg(feature = "plugins")]
    fn load_plugin(&mut self, package: &str, dirs: &[PathBuf]) -> Result<(), String> {
        let loaded = super::plugins::load(package, dirs).map_err(|e| e.to_string())?;
        super::plugins::register(&loaded, self).map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "plugins"))]
    fn load_plugin(&mut self, package: &str, _dirs: &[PathBuf]) -> Result<(), String> {
        Err(format!(
            "{package}.* would come from a plugin library, but plugin support is not compiled in: enable the `plugins` cargo feature"
        ))
    }
}

/// The registered object for `name`, made by its plugin if it came from one.
fn resolve<T: ?Sized, R>(
    entries: &BTreeMap<String, Entry<T, R>>,
    what: &str,
    name: &str,
    make: impl FnOnce(&PluginMaker<R>) -> Result<Arc<T>, String>,
) -> Result<Arc<T>, String> {
    match entries.get(name) {
        Some(Entry::Ready(value)) => Ok(Arc::clone(value)),
        Some(Entry::Plugin(maker)) => make(maker),
        None => Err(unknown(what, name, entries.keys())),
    }
}

/// Why `name` is not known, with a suggestion or the names that are.
fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    if let Some(close) = super::suggest(name, known.iter().copied()) {
        return format!("no {what} is named {name:?}: did you mean {close}?");
    }
    let hint = if name.contains('.') {
        let package = name.split('.').next().unwrap_or(name);
        format!(" (lib{package} was loaded but does not register it)")
    } else {
        String::new()
    };
    format!(
        "no {what} is named {name:?}{hint}: expected one of {}, or a dotted name pkg.attr from a plugin library",
        known.join(", ")
    )
}

/// What resolution needs besides the registry.
pub(crate) struct Resolve<'a> {
    pub(crate) plugin_path: &'a [PathBuf],
    pub(crate) settings: &'a dyn SettingsLookup,
}

#[cfg(feature = "plugins")]
impl PluginSink for NameRegistry {
    fn codec(&mut self, name: String, make: PluginMaker<RawCodec>) {
        self.codecs.insert(name, Entry::Plugin(make));
    }

    fn client_callable(&mut self, name: String, make: PluginMaker<RawClientCallable>) {
        self.client_callables.insert(name, Entry::Plugin(make));
    }

    fn id_generator(&mut self, name: String, make: PluginMaker<RawIdGenerator>) {
        self.id_generators.insert(name, Entry::Plugin(make));
    }

    fn declare_setting(&mut self, name: String, secret: bool) {
        self.declared.insert(name, secret);
    }
}
