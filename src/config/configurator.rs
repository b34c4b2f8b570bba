use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::names::{NameRegistry, PackageError};
use super::settings::{PREFIX, Settings, build_factory};
use crate::codec::Codec;
use crate::factory::RedisSessionFactory;
use crate::id::IdGenerator;
use crate::problem::{Error, ErrorKind, Problem};
use crate::store::ClientCallable;

/// The function an include runs (Pyramid's `includeme`).
pub type Includeme = fn(&mut Configurator) -> Result<(), Error>;

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
    includemes: BTreeMap<String, Includeme>,
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
            includemes: BTreeMap::from([("redis_sessions".to_owned(), includeme as Includeme)]),
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
        includeme: Includeme,
    ) -> &mut Self {
        let name = name.into();
        self.names.provide_in_code(&name);
        self.includemes.insert(name, includeme);
        self
    }

    /// The registered include names (plugin packages are not among them).
    pub fn includeme_names(&self) -> impl Iterator<Item = &str> {
        self.includemes.keys().map(String::as_str)
    }

    /// Runs the includeme registered as `name`: `"redis_sessions"` builds
    /// the session factory from the settings and stores it in the registry;
    /// a name registered with [`Configurator::register_includeme`] runs that
    /// function; any other name is a plugin package, whose library
    /// `lib{name}.so` is loaded from `redis.sessions.plugin_path`, checked,
    /// and whose includeme registers its names and declares its settings.
    /// Including a name again does nothing.
    ///
    /// # Errors
    ///
    /// When no include has that name (with a suggestion when one is close),
    /// its library cannot be used, or the includeme fails (for
    /// `redis_sessions`: every settings problem, with file and line).
    pub fn include(&mut self, name: &str) -> Result<(), Error> {
        if self.included.contains(name) {
            return Ok(());
        }
        let Some(&includeme) = self.includemes.get(name) else {
            self.include_package(name)?;
            self.included.insert(name.to_owned());
            return Ok(());
        };
        self.included.insert(name.to_owned());
        if let Err(e) = includeme(self) {
            self.included.remove(name);
            return Err(e);
        }
        Ok(())
    }

    /// Includes plugin package `name`; when it has no library and a
    /// registered include is close, suggests that instead.
    fn include_package(&mut self, name: &str) -> Result<(), Error> {
        let dirs = plugin_path(&self.settings);
        let message = match self.names.include_package(name, &dirs, &self.settings) {
            Ok(()) => return Ok(()),
            Err(PackageError::NotFound(why)) => {
                match super::suggest(name, self.includeme_names()) {
                    Some(close) => format!("no include is named {name:?}: did you mean {close}?"),
                    None => format!(
                        "no include is named {name:?}: expected redis_sessions, a name given to register_includeme, or a plugin package: {why}"
                    ),
                }
            }
            Err(PackageError::Failed(why)) => format!("cannot include {name}: {why}"),
        };
        let mut problem = Problem::new(ErrorKind::Name, message.clone());
        for key in INCLUDES_KEYS {
            if self
                .settings
                .get(key)
                .is_some_and(|v| v.split_whitespace().any(|n| n == name))
            {
                problem = self.settings.problem(ErrorKind::Name, key, message.clone());
            }
        }
        Err(problem.into())
    }

    /// Runs the includes listed in the settings, in order.
    fn include_listed(&mut self) -> Result<(), Error> {
        let listed: Vec<String> = INCLUDES_KEYS
            .iter()
            .filter_map(|key| self.settings.get(key))
            .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        for name in listed {
            self.include(&name)?;
        }
        Ok(())
    }

    /// Checks every `redis.sessions.<pkg>.<key>` setting against what the
    /// included packages declared.
    fn check_package_settings(&self) -> Result<(), Error> {
        let problems = package_setting_problems(&self.settings, &self.names, false);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::new(problems))
        }
    }

    /// Runs the includes listed in the settings (`pyramid.includes` or
    /// `includes`, separated by spaces or new lines), checks the settings of
    /// the included packages (`redis.sessions.<pkg>.<key>`: undeclared keys
    /// are unknown, declared ones pass their validator), and returns the
    /// application registry.
    ///
    /// # Errors
    ///
    /// The first include that fails, else every problem with package settings.
    pub fn commit(mut self) -> Result<Registry, Error> {
        self.include_listed()?;
        self.check_package_settings()?;
        Ok(self.registry)
    }

    /// What `redis-sessions check` does, with this configurator's
    /// registrations: runs the listed includes, includes `redis_sessions`
    /// (if no listed include did), checks the package settings, and returns
    /// the effective settings (secrets masked) with the factory and the
    /// registry. Pinging the store is left to the caller (it needs a runtime);
    /// [`crate::cli::run`] does it all.
    ///
    /// # Errors
    ///
    /// Every problem found, as [`Configurator::commit`].
    pub fn check(mut self) -> Result<Checked, Error> {
        self.include_listed()?;
        self.include("redis_sessions")?;
        self.check_package_settings()?;
        let factory = self.registry.session_factory().cloned().ok_or_else(|| {
            Problem::new(
                ErrorKind::Missing,
                "include(\"redis_sessions\") stored no session factory: expected an includeme that calls config.include(\"redis_sessions\")",
            )
        })?;
        Ok(Checked {
            settings: self.settings.describe(&self.names),
            factory,
            registry: self.registry,
        })
    }
}

/// The outcome of [`Configurator::check`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// `key = value` lines of every setting in effect, secrets masked.
    pub settings: Vec<String>,
    /// The session factory built.
    pub factory: RedisSessionFactory,
    /// The application registry.
    pub registry: Registry,
}

/// The folders of `redis.sessions.plugin_path` (separated by spaces or new
/// lines), relative ones taken from the settings file's folder.
pub(crate) fn plugin_path(settings: &Settings) -> Vec<PathBuf> {
    let Some(text) = settings.get(&format!("{PREFIX}plugin_path")) else {
        return Vec::new();
    };
    if text.trim().eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    let base = settings.file().and_then(Path::parent);
    text.split_whitespace()
        .map(|p| match base {
            Some(base) if Path::new(p).is_relative() => base.join(p),
            _ => PathBuf::from(p),
        })
        .collect()
}

/// Problems with `redis.sessions.<pkg>.<key>` settings (keys with a second
/// dot): undeclared keys are unknown (with a suggestion among the declared
/// ones), declared keys must pass their validator. With `defer`, undeclared
/// keys of packages not known yet are left for a later check (an include
/// still to run may declare them).
fn package_setting_problems(
    settings: &Settings,
    names: &NameRegistry,
    defer: bool,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in settings.keys() {
        let Some((package, _)) = key.strip_prefix(PREFIX).and_then(|k| k.split_once('.')) else {
            continue;
        };
        let Some(value) = settings.get(key) else {
            continue;
        };
        if let Some(declared) = names.declared(key) {
            let Some(Err(message)) = declared.validator.as_ref().map(|check| check(value)) else {
                continue;
            };
            problems.push(if declared.secret {
                locate(
                    settings,
                    key,
                    Problem::new(ErrorKind::Invalid, message).with_key(key),
                )
            } else {
                settings.problem(ErrorKind::Invalid, key, message)
            });
            continue;
        }
        let known = names.knows_package(package);
        if defer && !known {
            continue;
        }
        let declared: Vec<&str> = names.declared_settings().map(|(k, _)| k).collect();
        let hint = match super::suggest(key, declared.iter().copied()) {
            Some(close) => format!("did you mean {close}?"),
            None if known => {
                let own: Vec<&str> = declared
                    .iter()
                    .copied()
                    .filter(|k| {
                        k.strip_prefix(PREFIX)
                            .is_some_and(|k| k.starts_with(&format!("{package}.")))
                    })
                    .collect();
                if own.is_empty() {
                    format!("{package} declares no settings")
                } else {
                    format!("expected one of {}", own.join(", "))
                }
            }
            None => format!(
                "no included package declares it: expected a setting of a loaded plugin (name one of its objects, or list {package} in pyramid.includes)"
            ),
        };
        // The value of an unknown key may be a secret with a typo in its name.
        let problem =
            Problem::new(ErrorKind::Unknown, format!("unknown setting: {hint}")).with_key(key);
        problems.push(locate(settings, key, problem));
    }
    problems.sort_by_key(|p| p.line().unwrap_or(usize::MAX));
    problems
}

/// `problem` at the file and line of `key`.
fn locate(settings: &Settings, key: &str, problem: Problem) -> Problem {
    match (settings.file(), settings.line(key)) {
        (Some(file), Some(line)) => problem.at(file, line),
        (Some(file), None) => problem.at_file(file),
        _ => problem,
    }
}

/// The outcome of building a factory, with `more` problems found besides:
/// one problem per key and kind, sorted by line.
fn combined<T>(built: Result<T, Error>, more: Vec<Problem>) -> Result<T, Error> {
    let mut problems = match built {
        Ok(value) if more.is_empty() => return Ok(value),
        Ok(_) => Vec::new(),
        Err(e) => e.problems().to_vec(),
    };
    for problem in more {
        let seen = problems
            .iter()
            .any(|p| p.key().is_some() && p.key() == problem.key() && p.kind() == problem.kind());
        if !seen {
            problems.push(problem);
        }
    }
    problems.sort_by_key(|p| p.line().unwrap_or(usize::MAX));
    Err(Error::new(problems))
}

/// The includeme of this library: builds a [`RedisSessionFactory`] from the
/// `redis.sessions.*` settings, resolving dotted names (loading plugins), and
/// stores it in the application registry. Settings of packages loaded so far
/// are checked too; those of packages still to be included are checked by
/// [`Configurator::commit`].
///
/// # Errors
///
/// Every problem with the settings, with file and line.
pub fn includeme(config: &mut Configurator) -> Result<(), Error> {
    let built = build_factory(&config.settings, &mut config.names);
    let more = package_setting_problems(&config.settings, &config.names, true);
    config.registry.insert(combined(built, more)?);
    Ok(())
}

/// Builds a [`RedisSessionFactory`] from settings, for code-only set-ups.
///
/// Text values name built-in codecs and id generators, or plugin names found
/// on `redis.sessions.plugin_path`; objects set with
/// [`Settings::with_codec`] and friends are used as they are. Settings of
/// plugins (`redis.sessions.<pkg>.<key>`) are checked as
/// [`Configurator::commit`] checks them.
///
/// # Errors
///
/// Every problem with the settings.
pub fn session_factory_from_settings(settings: &Settings) -> Result<RedisSessionFactory, Error> {
    let mut names = NameRegistry::new();
    let built = build_factory(settings, &mut names);
    let more = package_setting_problems(settings, &names, false);
    combined(built, more)
}
