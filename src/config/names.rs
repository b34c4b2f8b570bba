//! The dotted-name registry: what `client_callable`, `serialize`,
//! `deserialize` and `id_generator` name, the `redis.sessions.<pkg>.<key>`
//! settings that packages declare, and the plugin packages loaded. (Includes
//! are the [`Configurator`](super::Configurator)'s: an includeme takes the
//! configurator, which holds this registry.)
//!
//! A name resolves honestly, in this order:
//!
//! 1. a registered name (built-in, registered by the application, or by a
//!    plugin already included) is used as it is;
//! 2. a dotted name `pkg.attr` whose package has names registered in code,
//!    or is loaded already, is never searched as a plugin: if it is not
//!    registered, the error suggests the closest registered name;
//! 3. any other dotted name includes the plugin library `libpkg.so` from
//!    `redis.sessions.plugin_path` (see [`plugin`](crate::plugin)), whose
//!    includeme registers its names; then the name is looked up again. When
//!    there is no such library and a registered name is close, the error is
//!    "did you mean …?" rather than "no library".
//!
//! A package counts as loaded only once its library loaded and its includeme
//! succeeded, so "was loaded but does not register it" is only ever said of
//! a library that was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::codec::{Codec, Json, MsgPack};
use crate::id::{DefaultIdGenerator, IdGenerator};
#[cfg(feature = "plugins")]
use crate::plugin::{Maker, PluginSink, SettingValidator};
use crate::store::ClientCallable;

/// Checks the text of a declared setting; the message must not repeat the
/// value (it may be a secret).
pub type Validator = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// A source of setting values by name (the host's settings, as plugin
/// constructors read them).
pub(crate) trait SettingsLookup {
    /// The text of setting `name`, if set.
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    fn lookup(&self, name: &str) -> Option<String>;
}

/// What resolution needs besides the registry.
pub(crate) struct Resolve<'a> {
    /// Folders searched for plugin libraries.
    pub(crate) plugin_path: &'a [PathBuf],
    /// The settings plugin objects are built from.
    pub(crate) settings: &'a dyn SettingsLookup,
}

enum Entry<T: ?Sized> {
    Ready(Arc<T>),
    #[cfg(feature = "plugins")]
    Plugin(Maker<T>),
}

impl<T: ?Sized> Clone for Entry<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Ready(value) => Self::Ready(Arc::clone(value)),
            #[cfg(feature = "plugins")]
            Self::Plugin(maker) => Self::Plugin(Arc::clone(maker)),
        }
    }
}

/// A declared `redis.sessions.<pkg>.<key>` setting.
#[derive(Clone)]
pub(crate) struct Declared {
    /// Masked in output, never shown in messages.
    pub(crate) secret: bool,
    /// Checks its value.
    pub(crate) validator: Option<Validator>,
}

/// Dotted name → client callable, codec or id generator, plus the settings
/// that packages declare.
///
/// ```
/// use redis_sessions::config::NameRegistry;
/// use redis_sessions::codec::Json;
///
/// let mut names = NameRegistry::new();
/// names.register_codec("myapp.codecs.json", Json);
/// names.register_id_generator("myapp.ids.hex", || "0123456789abcdef0123".to_string());
/// names.declare_validated_setting("redis.sessions.myapp.color", false, |v: &str| {
///     if v == "red" || v == "blue" { Ok(()) } else { Err("expected red or blue".into()) }
/// });
/// assert!(names.codec_names().any(|n| n == "myapp.codecs.json"));
/// assert!(names.codec_names().any(|n| n == "msgpack"));
/// ```
#[derive(Clone)]
pub struct NameRegistry {
    codecs: BTreeMap<String, Entry<dyn Codec>>,
    client_callables: BTreeMap<String, Entry<dyn ClientCallable>>,
    id_generators: BTreeMap<String, Entry<dyn IdGenerator>>,
    declared: BTreeMap<String, Declared>,
    /// Packages that the application provides in code (its includes).
    in_code: BTreeSet<String>,
    /// Plugin packages whose library loaded and whose includeme ran here.
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
            .field("declared", &self.declared.keys().collect::<Vec<_>>())
            .field("loaded", &self.loaded)
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

/// The prefix of every setting of this library.
const SETTINGS_PREFIX: &str = "redis.sessions.";

/// Whether a plugin may declare setting `name`: only in its own namespace,
/// `redis.sessions.<pkg>.<key>`, never one of this library's keys.
#[cfg(feature = "plugins")]
fn is_package_setting(name: &str) -> bool {
    name.strip_prefix(SETTINGS_PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(package, key)| !package.is_empty() && !key.is_empty())
}

/// The kinds of named objects, for messages.
const CODEC: &str = "codec";
const CLIENT_CALLABLE: &str = "client callable";
const ID_GENERATOR: &str = "id generator";

impl NameRegistry {
    /// A registry holding the built-in names.
    pub fn new() -> Self {
        let mut names = Self {
            codecs: BTreeMap::new(),
            client_callables: BTreeMap::new(),
            id_generators: BTreeMap::new(),
            declared: BTreeMap::new(),
            in_code: BTreeSet::new(),
            loaded: BTreeSet::new(),
        };
        names.register_codec("msgpack", MsgPack);
        names.register_codec("json", Json);
        #[cfg(feature = "bincode")]
        names.register_codec("bincode", crate::codec::Bincode);
        names.register_id_generator("generate_session_id", DefaultIdGenerator);
        names.register_id_generator("redis_sessions.id.generate_session_id", DefaultIdGenerator);
        names.in_code.insert("redis_sessions".to_owned());
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

    /// Records that package `package` is provided in code (an include
    /// registered by the application): no plugin library is searched for it.
    pub(crate) fn provide_in_code(&mut self, package: &str) {
        self.in_code.insert(package.to_owned());
    }

    /// Declares a setting `redis.sessions.<pkg>.<key>` that the application
    /// reads, so that the configuration check does not report it as unknown;
    /// `secret` settings are masked in output and never shown in messages.
    pub fn declare_setting(&mut self, name: impl Into<String>, secret: bool) -> &mut Self {
        self.declared.insert(
            name.into(),
            Declared {
                secret,
                validator: None,
            },
        );
        self
    }

    /// Declares a setting like [`NameRegistry::declare_setting`], with a
    /// validator whose message the configuration check reports with the
    /// setting's file and line.
    pub fn declare_validated_setting(
        &mut self,
        name: impl Into<String>,
        secret: bool,
        validator: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.declared.insert(
            name.into(),
            Declared {
                secret,
                validator: Some(Arc::new(validator)),
            },
        );
        self
    }

    /// The registered codec names.
    pub fn codec_names(&self) -> impl Iterator<Item = &str> {
        self.codecs.keys().map(String::as_str)
    }

    /// Declared `redis.sessions.<pkg>.<key>` settings, with whether each is
    /// secret.
    pub fn declared_settings(&self) -> impl Iterator<Item = (&str, bool)> {
        self.declared.iter().map(|(k, d)| (k.as_str(), d.secret))
    }

    /// The plugin packages loaded into this registry.
    pub fn loaded_packages(&self) -> impl Iterator<Item = &str> {
        self.loaded.iter().map(String::as_str)
    }

    pub(crate) fn declared(&self, key: &str) -> Option<&Declared> {
        self.declared.get(key)
    }

    /// Whether `package` is loaded from a library, or has names registered
    /// in code (then no library is searched for it).
    pub(crate) fn knows_package(&self, package: &str) -> bool {
        let prefix = format!("{package}.");
        let settings = self
            .declared
            .keys()
            .filter_map(|key| key.strip_prefix(SETTINGS_PREFIX));
        self.loaded.contains(package)
            || self.in_code.contains(package)
            || self
                .codecs
                .keys()
                .chain(self.client_callables.keys())
                .chain(self.id_generators.keys())
                .map(String::as_str)
                .chain(settings)
                .any(|name| name.starts_with(&prefix))
    }

    pub(crate) fn resolve_codec(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
    ) -> Result<Arc<dyn Codec>, NameError> {
        self.resolve(name, ctx, CODEC, |n| &n.codecs)
    }

    pub(crate) fn resolve_client_callable(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
    ) -> Result<Arc<dyn ClientCallable>, NameError> {
        self.resolve(name, ctx, CLIENT_CALLABLE, |n| &n.client_callables)
    }

    pub(crate) fn resolve_id_generator(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
    ) -> Result<Arc<dyn IdGenerator>, NameError> {
        self.resolve(name, ctx, ID_GENERATOR, |n| &n.id_generators)
    }

    /// The object registered as `name`, loading its plugin if it needs one
    /// (see the module docs for the order).
    fn resolve<T: ?Sized>(
        &mut self,
        name: &str,
        ctx: &Resolve<'_>,
        what: &'static str,
        entries: impl Fn(&Self) -> &BTreeMap<String, Entry<T>>,
    ) -> Result<Arc<T>, NameError> {
        let package = name.split_once('.').map(|(package, _)| package);
        if let Some(package) = package
            && !entries(self).contains_key(name)
            && !self.knows_package(package)
        {
            match self.include_package(package, ctx.plugin_path, ctx.settings) {
                Ok(()) => {}
                Err(PackageError::NotFound(why)) => {
                    let keys = entries(self).keys().map(String::as_str);
                    return Err(match super::suggest(name, keys) {
                        Some(close) => NameError::Misspelt {
                            what,
                            name: name.to_owned(),
                            close: close.to_owned(),
                        },
                        None => why,
                    });
                }
                Err(PackageError::Failed(why)) => return Err(why),
            }
        }
        match entries(self).get(name) {
            Some(Entry::Ready(value)) => Ok(Arc::clone(value)),
            #[cfg(feature = "plugins")]
            Some(Entry::Plugin(make)) => {
                let lookup = |key: &str| ctx.settings.lookup(key);
                make(&lookup).map_err(NameError::Refused)
            }
            None => Err(self.unknown(what, name, entries(self).keys())),
        }
    }

    /// Why `name` is not known: a suggestion, or what is known.
    fn unknown<'a>(
        &self,
        what: &'static str,
        name: &str,
        known: impl Iterator<Item = &'a String>,
    ) -> NameError {
        let known: Vec<&str> = known.map(String::as_str).collect();
        if let Some(close) = super::suggest(name, known.iter().copied()) {
            return NameError::Misspelt {
                what,
                name: name.to_owned(),
                close: close.to_owned(),
            };
        }
        let hint = match name.split_once('.') {
            Some((package, _)) if self.loaded.contains(package) => {
                format!(" (lib{package} was loaded but does not register it)")
            }
            Some((package, _)) if self.knows_package(package) => {
                format!(" ({package}.* names are registered in code, and this is not one of them)")
            }
            _ => String::new(),
        };
        NameError::Unknown {
            what,
            name: name.to_owned(),
            hint,
            known: known.join(", "),
        }
    }

    /// Loads plugin library `lib{package}.so` from `dirs` (unless this
    /// registry has it already) and runs its includeme into this registry.
    ///
    /// # Errors
    ///
    /// Why the library could not be found, loaded, checked or included.
    #[cfg(feature = "plugins")]
    pub(crate) fn include_package(
        &mut self,
        package: &str,
        dirs: &[PathBuf],
        settings: &dyn SettingsLookup,
    ) -> Result<(), PackageError> {
        if self.loaded.contains(package) {
            return Ok(());
        }
        let library = crate::plugin::load(package, dirs).map_err(|e| match e {
            crate::plugin::PluginError::NotFound { .. }
            | crate::plugin::PluginError::BadName { .. } => PackageError::NotFound(e.into()),
            e => PackageError::Failed(e.into()),
        })?;
        let lookup = |key: &str| settings.lookup(key);
        // Registrations go to a scratch registry first, so a failed includeme
        // leaves nothing half-registered.
        let mut scratch = Registrations::default();
        library
            .include(&mut scratch, &lookup)
            .map_err(|e| PackageError::Failed(e.into()))?;
        scratch.apply(self);
        self.loaded.insert(package.to_owned());
        Ok(())
    }

    /// Without plugin support, a package that is not registered is an error.
    #[cfg(not(feature = "plugins"))]
    pub(crate) fn include_package(
        &mut self,
        package: &str,
        _dirs: &[PathBuf],
        _settings: &dyn SettingsLookup,
    ) -> Result<(), PackageError> {
        Err(PackageError::NotFound(NameError::NoPluginSupport {
            package: package.to_owned(),
        }))
    }
}

/// Why a plugin package could not be included.
pub(crate) enum PackageError {
    /// There is no library for it: the name may mean something else.
    NotFound(NameError),
    /// Its library exists but cannot be used.
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    Failed(NameError),
}

/// Why a dotted name did not resolve to an object, typed until it becomes
/// a [`Problem`](super::Problem) of the settings (kind
/// [`ErrorKind::Name`](super::ErrorKind::Name)).
#[derive(Debug, thiserror::Error)]
pub(crate) enum NameError {
    /// No object of this kind has the name; one has a close name.
    #[error("no {what} is named {name:?}: did you mean {close}?")]
    Misspelt {
        what: &'static str,
        name: String,
        close: String,
    },
    /// No object of this kind has the name.
    #[error(
        "no {what} is named {name:?}{hint}: expected one of {known}, or a dotted name pkg.attr from a plugin library"
    )]
    Unknown {
        what: &'static str,
        name: String,
        /// Why a package's name did not help, or empty.
        hint: String,
        known: String,
    },
    /// The plugin library could not be found, loaded, checked or included.
    #[cfg(feature = "plugins")]
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
    /// The name needs a plugin library, and plugin support is not built in.
    #[cfg(not(feature = "plugins"))]
    #[error(
        "{package} would come from a plugin library, but plugin support is not compiled in: enable the `plugins` cargo feature"
    )]
    NoPluginSupport { package: String },
    /// The plugin refused to make the object (its message).
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    #[error("{0}")]
    Refused(String),
}

/// What one includeme registered, applied once it succeeded.
#[cfg(feature = "plugins")]
#[derive(Default)]
struct Registrations {
    codecs: Vec<(String, Maker<dyn Codec>)>,
    client_callables: Vec<(String, Maker<dyn ClientCallable>)>,
    id_generators: Vec<(String, Maker<dyn IdGenerator>)>,
    settings: Vec<(String, Declared)>,
}

#[cfg(feature = "plugins")]
impl Registrations {
    fn apply(self, names: &mut NameRegistry) {
        for (name, make) in self.codecs {
            names.codecs.insert(name, Entry::Plugin(make));
        }
        for (name, make) in self.client_callables {
            names.client_callables.insert(name, Entry::Plugin(make));
        }
        for (name, make) in self.id_generators {
            names.id_generators.insert(name, Entry::Plugin(make));
        }
        names.declared.extend(self.settings);
    }
}

#[cfg(feature = "plugins")]
impl PluginSink for Registrations {
    fn add_codec(&mut self, name: String, make: Maker<dyn Codec>) {
        self.codecs.push((name, make));
    }

    fn add_client_callable(&mut self, name: String, make: Maker<dyn ClientCallable>) {
        self.client_callables.push((name, make));
    }

    fn add_id_generator(&mut self, name: String, make: Maker<dyn IdGenerator>) {
        self.id_generators.push((name, make));
    }

    fn add_setting(
        &mut self,
        name: String,
        secret: bool,
        validator: Option<SettingValidator>,
    ) -> bool {
        if !is_package_setting(&name) {
            return false;
        }
        self.settings.push((name, Declared { secret, validator }));
        true
    }
}
