use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use super::names::NameRegistry;
use super::settings::{Settings, build_factory};
use super::{Error, ErrorKind, Problem};
use crate::codec::Codec;
use crate::id::IdGenerator;
use crate::{ClientCallable, RedisSessionFactory};

/// The keys whose values list includes, as in Pyramid.
pub const INCLUDES_KEYS: &[&str] = &["pyramid.includes", "includes"];

/// The application registry: one value per type, the built
/// [`RedisSessionFactory`] among them (Pyramid's `config.registry`).
///
/// ```
/// use redis_sessions::config::Registry;
///
/// let mut registry = Registry::new();
/// registry.insert(42u32);
/// assert_eq!(registry.get::<u32>(), Some(&42));
/// ```
#[derive(Default)]
pub struct Registry {
    values: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("values", &self.values.len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing any value of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) -> &mut Self {
        self.values.insert(TypeId::of::<T>(), Box::new(value));
        self
    }

    /// The value of type `T`, if stored.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.values.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The session factory stored by `include("redis_sessions")`.
    pub fn session_factory(&self) -> Option<&RedisSessionFactory> {
        self.get()
    }
}

/// Pyramid's `Configurator`: settings, a name registry, an application
/// registry, and `include`.
///
/// ```no_run
/// use redis_sessions::config::Configurator;
///
/// let mut config = Configurator::from_ini("settings.ini")?;
/// config.register_codec("myapp.codecs.json", redis_sessions::codec::Json);
/// config.include("redis_sessions")?;
/// let registry = config.commit()?; // also runs the INI's `pyramid.includes`
/// let factory = registry.session_factory().expect("included above").clone();
/// let app: axum::Router = axum::Router::new().layer(factory.layer());
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
pub struct Configurator {
    settings: Settings,
    names: NameRegistry,
    registry: Registry,
    included: BTreeSet<String>,
}

impl fmt::Debug for Configurator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Configurator")
            .field("settings", &self.settings)
            .field("included", &self.included)
            .finish_non_exhaustive()
    }
}

impl Configurator {
    /// A configurator over `settings`, with the built-in names.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            names: NameRegistry::new(),
            registry: Registry::new(),
            included: BTreeSet::new(),
        }
    }

    /// A configurator over section `[app:main]` of the INI file at `path`.
    ///
    /// # Errors
    ///
    /// See [`Settings::from_ini`].
    pub fn from_ini(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self::new(Settings::from_ini(path)?))
    }

    /// A configurator over section `[section]` of the INI file at `path`.
    ///
    /// # Errors
    ///
    /// See [`Settings::from_ini_section`].
    pub fn from_ini_section(path: impl AsRef<Path>, section: &str) -> Result<Self, Error> {
        Ok(Self::new(Settings::from_ini_section(path, section)?))
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, to change before including.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The dotted-name registry.
    pub fn names(&self) -> &NameRegistry {
        &self.names
    }

    /// The dotted-name registry, to register names.
    pub fn names_mut(&mut self) -> &mut NameRegistry {
        &mut self.names
    }

    /// The application registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The application registry, to store values.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Registers a codec under a dotted name.
    pub fn register_codec(&mut self, name: impl Into<String>, codec: impl Codec) -> &mut Self {
        self.names.register_codec(name, codec);
        self
    }

    /// Registers a client callable under a dotted name.
    pub fn register_client_callable(
        &mut self,
        name: impl Into<String>,
        callable: impl ClientCallable,
    ) -> &mut Self {
        self.names.register_client_callable(name, callable);
        self
    }

    /// Registers an id generator under a dotted name.
    pub fn register_id_generator(
        &mut self,
        name: impl Into<String>,
        generator: impl IdGenerator,
    ) -> &mut Self {
        self.names.register_id_generator(name, generator);
        self
    }

    /// Registers an includeme under a name, for [`Configurator::include`].
    pub fn register_includeme(
        &mut self,
        name: impl Into<String>,
        includeme: super::Includeme,
    ) -> &mut Self {
        self.names.register_includeme(name, includeme);
        self
    }

    /// Runs the includeme registered as `name`; `"redis_sessions"` builds the
    /// session factory from the settings and stores it in the registry.
    /// Including a name again does nothing.
    ///
    /// # Errors
    ///
    /// When no include has that name, or the includeme fails (for
    /// `redis_sessions`: every settings problem, with file and line).
    pub fn include(&mut self, name: &str) -> Result<(), Error> {
        if self.included.contains(name) {
            return Ok(());
        }
        let Some(includeme) = self.names.includeme(name) else {
            let mut problem = Problem::new(
                ErrorKind::Name,
                format!(
                    "no include is named {name:?}: expected redis_sessions or a name given to register_includeme"
                ),
            );
            for key in INCLUDES_KEYS {
                if self
                    .settings
                    .get(key)
                    .is_some_and(|v| v.split_whitespace().any(|n| n == name))
                {
                    problem = self
                        .settings
                        .problem(ErrorKind::Name, key, problem.message());
                }
            }
            return Err(problem.into());
        };
        self.included.insert(name.to_owned());
        if let Err(e) = includeme(self) {
            self.included.remove(name);
            return Err(e);
        }
        Ok(())
    }

    /// Runs the includes listed in the settings (`pyramid.includes` or
    /// `includes`, separated by spaces or new lines) and returns the
    /// application registry.
    ///
    /// # Errors
    ///
    /// The first include that fails.
    pub fn commit(mut self) -> Result<Registry, Error> {
        let listed: Vec<String> = INCLUDES_KEYS
            .iter()
            .filter_map(|key| self.settings.get(key))
            .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        for name in listed {
            self.include(&name)?;
        }
        Ok(self.registry)
    }
}

/// The includeme of this library: builds a [`RedisSessionFactory`] from the
/// `redis.sessions.*` settings, resolving dotted names (loading plugins), and
/// stores it in the application registry.
///
/// # Errors
///
/// Every problem with the settings, with file and line.
pub fn includeme(config: &mut Configurator) -> Result<(), Error> {
    let factory = build_factory(&config.settings, &mut config.names)?;
    config.registry.insert(factory);
    Ok(())
}

/// Builds a [`RedisSessionFactory`] from settings, for code-only set-ups.
///
/// Text values name built-in codecs and id generators, or plugin names found
/// on `redis.sessions.plugin_path`; objects set with
/// [`Settings::with_codec`] and friends are used as they are.
///
/// # Errors
///
/// Every problem with the settings.
pub fn session_factory_from_settings(settings: &Settings) -> Result<RedisSessionFactory, Error> {
    build_factory(settings, &mut NameRegistry::new())
}
