#![doc = include_str!("../../docs/settings.md")]

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ini::Ini;
use super::names::{NameError, NameRegistry, Resolve, SettingsLookup};
use super::{Error, ErrorKind, Problem};
use crate::codec::Codec;
use crate::factory::RedisSessionFactory;
use crate::factory::table::{self, Read, TABLE, is_unset};
use crate::id::IdGenerator;
use crate::store::ClientCallable;
use crate::store::redact_url;

pub use crate::factory::values::PREFIX;

/// Every `redis.sessions.*` key this library reads (without the prefix),
/// with its default as people read it, in the order of `docs/settings.md`.
///
/// Keys with a second dot (`redis.sessions.<package>.<key>`) belong to
/// plugins and includemes, which declare them.
pub fn known_keys() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE.iter().map(|row| (row.name, row.shown_default()))
}

/// A setting's value: text (from an INI file or code) or, for code-only
/// set-ups, the object itself.
#[derive(Clone)]
enum Value {
    Text(String),
    Codec(Arc<dyn Codec>),
    ClientCallable(Arc<dyn ClientCallable>),
    IdGenerator(Arc<dyn IdGenerator>),
}

#[derive(Clone)]
struct Setting {
    value: Value,
    line: Option<usize>,
}

/// Application settings: what Pyramid keeps in `registry.settings`.
///
/// Read from an INI section with [`Settings::from_ini`], or built in code.
/// `Debug` masks secrets.
///
/// ```
/// use redis_sessions::config::{Settings, session_factory_from_settings};
/// use redis_sessions::codec::Json;
///
/// let settings = Settings::new()
///     .with("redis.sessions.secret", "a secret of at least thirty-two bytes!")
///     .with("redis.sessions.timeout", "600")
///     .with("redis.sessions.url", "memory://")
///     .with_codec("redis.sessions.serialize", Json)
///     .with_codec("redis.sessions.deserialize", Json);
/// let factory = session_factory_from_settings(&settings)?;
/// assert_eq!(factory.timeout(), 600);
/// # Ok::<(), redis_sessions::config::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Settings {
    entries: BTreeMap<String, Setting>,
    file: Option<PathBuf>,
    section: Option<String>,
}

impl Settings {
    /// No settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The settings of section `[app:main]` of the INI file at `path`.
    ///
    /// # Errors
    ///
    /// Every unreadable line, duplicate key or failed interpolation, with its
    /// file and line.
    pub fn from_ini(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_ini_section(path, "app:main")
    }

    /// The settings of section `[section]` of the INI file at `path`.
    ///
    /// # Errors
    ///
    /// As [`Settings::from_ini`], and when the section does not exist.
    pub fn from_ini_section(path: impl AsRef<Path>, section: &str) -> Result<Self, Error> {
        let ini = Ini::load(path.as_ref())?;
        let values = ini.section(section)?;
        let mut settings = Self {
            entries: BTreeMap::new(),
            file: Some(ini.path().to_path_buf()),
            section: Some(section.to_owned()),
        };
        for v in values {
            settings.entries.insert(
                v.key,
                Setting {
                    value: Value::Text(v.value),
                    line: Some(v.line),
                },
            );
        }
        Ok(settings)
    }

    /// Sets `key` to a text value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.put(key.into(), Value::Text(value.into()))
    }

    /// Sets `key` to a text value (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets `key` (`serialize` or `deserialize`) to a codec object.
    pub fn with_codec(mut self, key: impl Into<String>, codec: impl Codec) -> Self {
        self.put(key.into(), Value::Codec(Arc::new(codec)));
        self
    }

    /// Sets `key` (`client_callable`) to a callable object.
    pub fn with_client_callable(
        mut self,
        key: impl Into<String>,
        callable: impl ClientCallable,
    ) -> Self {
        self.put(key.into(), Value::ClientCallable(Arc::new(callable)));
        self
    }

    /// Sets `key` (`id_generator`) to a generator object.
    pub fn with_id_generator(
        mut self,
        key: impl Into<String>,
        generator: impl IdGenerator,
    ) -> Self {
        self.put(key.into(), Value::IdGenerator(Arc::new(generator)));
        self
    }

    fn put(&mut self, key: String, value: Value) -> &mut Self {
        self.entries.insert(key, Setting { value, line: None });
        self
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.entries.remove(key);
        self
    }

    /// The text value of `key` (`None` if unset or an object).
    pub fn get(&self, key: &str) -> Option<&str> {
        match &self.entries.get(key)?.value {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// Every key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The INI file these settings were read from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The INI section these settings were read from.
    pub fn section(&self) -> Option<&str> {
        self.section.as_deref()
    }

    /// The line `key` was read from.
    pub fn line(&self, key: &str) -> Option<usize> {
        self.entries.get(key)?.line
    }

    /// A problem about `key`, located at its file and line when known.
    pub(crate) fn problem(
        &self,
        kind: ErrorKind,
        key: &str,
        message: impl Into<String>,
    ) -> Problem {
        let mut problem = Problem::new(kind, message).with_key(key);
        if let Some(Value::Text(text)) = self.entries.get(key).map(|s| &s.value) {
            problem = problem.with_value(mask(key, text, &[]));
        }
        match (&self.file, self.line(key)) {
            (Some(file), Some(line)) => problem.at(file, line),
            (Some(file), None) => problem.at_file(file),
            _ => problem,
        }
    }

    /// What the setting `redis.sessions.{name}` names.
    fn named(&self, name: &str) -> Named<'_> {
        self.entries
            .get(&format!("{PREFIX}{name}"))
            .map_or(Named::Unset, |s| s.value.named())
    }

    /// Adds the file and line of its key to a problem found elsewhere.
    fn locate(&self, problem: Problem) -> Problem {
        match (problem.key().and_then(|k| self.line(k)), &self.file) {
            (Some(line), Some(file)) if problem.line().is_none() => problem.at(file, line),
            _ => problem,
        }
    }

    /// Folder that relative paths in these settings are relative to.
    fn base_dir(&self) -> Option<&Path> {
        self.file.as_deref().and_then(Path::parent)
    }

    /// `key = value` lines of every `redis.sessions.*` setting in effect:
    /// set values, then defaults, with secrets masked. The address settings
    /// that a set `url` overrides say so.
    pub fn describe(&self, names: &NameRegistry) -> Vec<String> {
        let declared: Vec<(&str, bool)> = names.declared_settings().collect();
        let url = self.get(&format!("{PREFIX}url"));
        let url_set = url.is_some_and(|url| !is_unset(url));
        let memory = url == Some(crate::MEMORY_URL);
        let mut lines = Vec::new();
        for (name, default) in known_keys() {
            let key = format!("{PREFIX}{name}");
            let mut line = match self.entries.get(&key).map(|s| &s.value) {
                Some(Value::Text(text)) => format!("{key} = {}", mask(&key, text, &declared)),
                Some(_) => format!("{key} = (object set in code)"),
                None => format!("{key} = {default}  (default)"),
            };
            let unused = if url_set && OVERRIDDEN_BY_URL.contains(&name) {
                Some("url is set")
            } else if memory && CACHE_SETTINGS.contains(&name) {
                Some("the embedded store has no process cache")
            } else {
                None
            };
            if let Some(why) = unused {
                line = match line.strip_suffix("  (default)") {
                    Some(value) => format!("{value}  (not used: {why})"),
                    None => format!("{line}  (not used: {why})"),
                };
            }
            lines.push(line);
        }
        for (key, _) in &declared {
            if let Some(text) = self.get(key) {
                lines.push(format!("{key} = {}", mask(key, text, &declared)));
            }
        }
        lines
    }
}

/// The settings of the process cache, which `memory://` does not use.
const CACHE_SETTINGS: [&str; 2] = ["client_cache_size", "client_cache_bytes"];

/// The settings a `url` replaces.
const OVERRIDDEN_BY_URL: [&str; 5] = ["host", "port", "db", "password", "unix_socket_path"];

impl Value {
    /// The object or dotted name this value holds.
    fn named(&self) -> Named<'_> {
        match self {
            Self::Text(name) if is_unset(name) => Named::Unset,
            Self::Text(name) => Named::Name(name.trim()),
            other => Named::Object(other),
        }
    }

    fn codec(&self) -> Option<Arc<dyn Codec>> {
        match self {
            Self::Codec(codec) => Some(Arc::clone(codec)),
            _ => None,
        }
    }

    fn client_callable(&self) -> Option<Arc<dyn ClientCallable>> {
        match self {
            Self::ClientCallable(callable) => Some(Arc::clone(callable)),
            _ => None,
        }
    }

    fn id_generator(&self) -> Option<Arc<dyn IdGenerator>> {
        match self {
            Self::IdGenerator(generator) => Some(Arc::clone(generator)),
            _ => None,
        }
    }
}

/// A setting that names an object (`serialize`, `client_callable`, …).
enum Named<'a> {
    Unset,
    Name(&'a str),
    Object(&'a Value),
}

impl Named<'_> {
    /// The object: set in code, or resolved from its dotted name. `Err`
    /// holds what was wrong (an unknown name, or an object of another kind).
    fn resolve<T: ?Sized>(
        self,
        expected: &str,
        by_name: impl FnOnce(&str) -> Result<Arc<T>, NameError>,
        as_object: impl FnOnce(&Value) -> Option<Arc<T>>,
    ) -> Result<Option<Arc<T>>, String> {
        match self {
            Named::Unset => Ok(None),
            // The message becomes the settings' problem for this key.
            Named::Name(name) => by_name(name).map(Some).map_err(|e| e.to_string()),
            Named::Object(value) => as_object(value)
                .map(Some)
                .ok_or_else(|| format!("holds an object of another kind: expected {expected}")),
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Settings {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut settings = Self::new();
        for (k, v) in iter {
            settings.insert(k, v);
        }
        settings
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, setting) in &self.entries {
            match &setting.value {
                Value::Text(text) => map.entry(key, &mask(key, text, &[])),
                Value::Codec(c) => map.entry(key, &format!("<codec {}>", c.name())),
                Value::ClientCallable(_) => map.entry(key, &"<client callable>"),
                Value::IdGenerator(_) => map.entry(key, &"<id generator>"),
            };
        }
        map.finish()
    }
}

impl SettingsLookup for Settings {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
}

/// True for keys whose values must not be shown.
fn is_secret(key: &str, declared: &[(&str, bool)]) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let ours = key
        .strip_prefix(PREFIX)
        .and_then(table::row)
        .is_some_and(|row| row.secret);
    ours || declared.iter().any(|(k, secret)| *k == key && *secret)
        || last.contains("secret")
        || last.contains("password")
        || last == "key"
        || last.ends_with("_key")
}

/// A value as it may be shown: secrets masked, URL passwords redacted.
fn mask(key: &str, value: &str, declared: &[(&str, bool)]) -> String {
    if is_secret(key, declared) {
        if is_unset(value) {
            value.to_owned()
        } else {
            "********".into()
        }
    } else if value.contains("://") {
        value
            .lines()
            .map(|line| {
                line.split_whitespace()
                    .map(redact_url)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        value.to_owned()
    }
}

impl Settings {
    /// The plugin folders of `plugin_path`, relative ones made relative to
    /// the INI file's folder.
    fn plugin_path(&self) -> Vec<PathBuf> {
        self.get(&format!("{PREFIX}plugin_path"))
            .filter(|t| !is_unset(t))
            .map(|t| t.split_whitespace().map(|p| self.path(p)).collect())
            .unwrap_or_default()
    }

    /// `path` as written in these settings: relative to the INI file's folder.
    fn path(&self, path: &str) -> PathBuf {
        match self.base_dir() {
            Some(base) if Path::new(path).is_relative() => base.join(path),
            _ => PathBuf::from(path),
        }
    }

    /// Gives every text setting of the table to the builder; the problems
    /// are those of the text (ranges are the builder's to check).
    fn apply(
        &self,
        mut builder: crate::factory::Builder,
    ) -> (crate::factory::Builder, Vec<Problem>) {
        let mut problems = Vec::new();
        for row in TABLE {
            let key = format!("{PREFIX}{}", row.name);
            let Some(text) = self.get(&key).map(str::trim) else {
                continue;
            };
            builder = match &row.read {
                Read::Value(apply) => {
                    let (builder, read) = apply(builder, text);
                    if let Err(expected) = read {
                        problems.push(self.problem(ErrorKind::Invalid, &key, expected));
                    }
                    builder
                }
                Read::File(apply) => apply(builder, (!is_unset(text)).then(|| self.path(text))),
                Read::Secret | Read::Named | Read::PluginPath => builder,
            };
        }
        (builder, problems)
    }

    /// A problem for every `redis.sessions.*` key that is not ours.
    /// `redis.sessions.<package>.<key>` keys belong to the package that
    /// declares them, and are checked by the [`Configurator`](super::Configurator).
    fn unknown_keys(&self, declared: &[String]) -> Vec<Problem> {
        let known: Vec<String> = TABLE
            .iter()
            .map(|row| format!("{PREFIX}{}", row.name))
            .chain(declared.iter().cloned())
            .collect();
        self.keys()
            .filter(|key| {
                key.strip_prefix(PREFIX)
                    .is_some_and(|name| !name.contains('.') && table::row(name).is_none())
            })
            .map(|key| {
                let hint = match super::suggest(key, known.iter().map(String::as_str)) {
                    Some(k) => format!("did you mean {k}?"),
                    None => "expected one of the keys listed in docs/settings.md, or one declared by a loaded plugin".into(),
                };
                self.problem(ErrorKind::Unknown, key, format!("unknown setting: {hint}"))
            })
            .collect()
    }
}

/// Builds a factory from `settings`, resolving dotted names with `names`
/// (loading plugins as needed). Every problem is reported at once, and the
/// factory's warnings are located in the settings' file and logged.
pub(crate) fn build_factory(
    settings: &Settings,
    names: &mut NameRegistry,
) -> Result<RedisSessionFactory, Error> {
    let secret = settings
        .get(&format!("{PREFIX}secret"))
        .map(str::trim)
        .unwrap_or_default();
    let (mut b, mut problems) = settings.apply(RedisSessionFactory::builder(secret));
    let plugin_path = settings.plugin_path();
    let resolve = Resolve {
        plugin_path: &plugin_path,
        settings,
    };
    let serialize = settings.named("serialize").resolve(
        "a codec (Settings::with_codec) or its dotted name",
        |n| names.resolve_codec(n, &resolve),
        Value::codec,
    );
    let deserialize = settings.named("deserialize").resolve(
        "a codec (Settings::with_codec) or its dotted name",
        |n| names.resolve_codec(n, &resolve),
        Value::codec,
    );
    let callable = settings.named("client_callable").resolve(
        "a client callable (Settings::with_client_callable) or its dotted name",
        |n| names.resolve_client_callable(n, &resolve),
        Value::client_callable,
    );
    let generator = settings.named("id_generator").resolve(
        "an id generator (Settings::with_id_generator) or its dotted name",
        |n| names.resolve_id_generator(n, &resolve),
        Value::id_generator,
    );
    for (key, error) in [
        ("serialize", serialize.as_ref().err()),
        ("deserialize", deserialize.as_ref().err()),
        ("client_callable", callable.as_ref().err()),
        ("id_generator", generator.as_ref().err()),
    ] {
        if let Some(message) = error {
            problems.push(settings.problem(
                ErrorKind::Name,
                &format!("{PREFIX}{key}"),
                message.clone(),
            ));
        }
    }
    let (serialize, deserialize) = (serialize.ok().flatten(), deserialize.ok().flatten());
    if serialize.is_some() || deserialize.is_some() {
        let default: Arc<dyn Codec> = Arc::new(crate::codec::MsgPack);
        b = b.codecs(
            serialize.unwrap_or_else(|| Arc::clone(&default)),
            deserialize.unwrap_or(default),
        );
    }
    if let Ok(Some(callable)) = callable {
        b = b.client_callable_arc(callable);
    }
    if let Ok(Some(generator)) = generator {
        b = b.id_generator_arc(generator);
    }
    // Only now are plugin-declared settings known (for suggestions).
    let declared: Vec<String> = names
        .declared_settings()
        .map(|(k, _)| k.to_owned())
        .collect();
    problems.extend(settings.unknown_keys(&declared));
    match b.build_unlogged() {
        Ok(mut factory) if problems.is_empty() => {
            factory.locate_warnings(|w| settings.locate(w));
            factory.log_warnings();
            Ok(factory)
        }
        Ok(_) => Err(Error::new(problems)),
        Err(e) => {
            problems.extend(e.problems().iter().cloned().map(|p| settings.locate(p)));
            problems.sort_by_key(|p| p.line().unwrap_or(usize::MAX));
            Err(Error::new(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn build(pairs: &[(&str, &str)]) -> Result<RedisSessionFactory, Error> {
        let settings: Settings = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
            .chain(
                [(format!("{PREFIX}secret"), SECRET.to_string())]
                    .into_iter()
                    .filter(|_| !pairs.iter().any(|(k, _)| *k == "secret")),
            )
            .collect();
        build_factory(&settings, &mut NameRegistry::new())
    }

    fn kinds(pairs: &[(&str, &str)]) -> Vec<(ErrorKind, String)> {
        build(pairs)
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| {
                (
                    p.kind(),
                    p.key()
                        .unwrap_or_default()
                        .trim_start_matches(PREFIX)
                        .to_owned(),
                )
            })
            .collect()
    }

    macro_rules! invalid {
        ($($name:ident: $key:expr => $value:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(kinds(&[($key, $value)]), [(ErrorKind::Invalid, $key.to_string())]);
            }
        )*};
    }

    invalid! {
        bool_that_is_not_a_bool: "cookie_secure" => "maybe";
        timeout_in_words: "timeout" => "ten";
        negative_timeout: "timeout" => "-5";
        port_out_of_range: "port" => "70000";
        port_zero: "port" => "0";
        negative_db: "db" => "-1";
        socket_timeout_zero: "socket_timeout" => "0";
        socket_timeout_text: "socket_timeout" => "soon";
        max_age_text: "cookie_max_age" => "forever";
        samesite_unknown: "cookie_samesite" => "sometimes";
        charset_latin1: "charset" => "latin-1";
        errors_unknown: "errors" => "loud";
        pool_of_zero: "connection_pool" => "0";
        timeout_beyond_ten_years: "timeout" => "315360001";
        lifetime_of_zero: "max_lifetime" => "0";
        lifetime_in_words: "max_lifetime" => "a day";
        session_bytes_of_zero: "max_session_bytes" => "0";
        session_bytes_in_words: "max_session_bytes" => "1 MiB";
        cache_control_unknown: "cache_control" => "private";
        compat_unknown: "compat" => "flask";
        short_old_secret: "old_secrets" => "tooshort";
        missing_ca_file: "tls_ca_file" => "/nonexistent/ca.pem";
    }

    #[test]
    fn every_default_of_the_table_is_the_builders() {
        let defaults = build(&[]).unwrap();
        let pairs: Vec<(&str, &str)> = TABLE
            .iter()
            .filter(|row| !matches!(row.read, Read::Secret))
            .map(|row| (row.name, row.default))
            .collect();
        let written = build(&pairs).unwrap();
        assert_eq!(format!("{written:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn new_settings_are_read() {
        let f = build(&[
            (
                "old_secrets",
                "an-old-secret-that-is-long-enough-1\n  another-old-secret-long-enough-too-2",
            ),
            ("max_lifetime", "86400"),
            ("max_session_bytes", "4096"),
            ("cache_control", "None"),
            ("compat", "pyramid_redis_sessions"),
            ("legacy_prefix", "session:"),
        ])
        .unwrap();
        let c = &f.context;
        assert_eq!(c.signer.old_secrets(), 2);
        assert_eq!(c.max_lifetime, Some(86_400));
        assert_eq!(c.max_session_bytes, 4096);
        assert_eq!(c.cache_control, crate::CacheControl::None);
        assert_eq!(c.compat, crate::Compat::PyramidRedisSessions);
        assert_eq!(c.legacy.as_ref().unwrap().prefix, "session:");
    }

    #[test]
    fn keys_of_packages_are_left_to_their_package() {
        let f = build(&[("aead.kee", "x"), ("myapp.anything", "y")]);
        assert!(f.is_ok(), "{:?}", f.err());
    }

    #[test]
    fn tls_files_are_relative_to_the_ini_file_and_located_when_unreadable() {
        let dir = std::env::temp_dir().join(format!("rs-settings-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), "pem").unwrap();
        let ini = dir.join("app.ini");
        std::fs::write(
            &ini,
            format!("[app:main]\nredis.sessions.secret = {SECRET}\nredis.sessions.tls_ca_file = ca.pem\nredis.sessions.tls_cert_file = client.pem\n"),
        )
        .unwrap();
        let settings = Settings::from_ini(&ini).unwrap();
        let err = build_factory(&settings, &mut NameRegistry::new()).unwrap_err();
        let text = err.to_string();
        // ca.pem was found next to the INI file; client.pem is missing and
        // has no key.
        assert_eq!(err.problems().len(), 2, "{text}");
        assert!(
            text.starts_with(&format!(
                "{}:4: redis.sessions.tls_cert_file = ",
                ini.display()
            )),
            "{text}"
        );
        assert!(text.contains("expected a readable PEM file"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn warnings_carry_their_file_and_line() {
        let dir = std::env::temp_dir().join(format!("rs-settings-warn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ini = dir.join("app.ini");
        std::fs::write(
            &ini,
            "[app:main]\nredis.sessions.url = redis://127.0.0.1:6390/0\nredis.sessions.secret = changeme-changeme-changeme-changeme\n",
        )
        .unwrap();
        let settings = Settings::from_ini(&ini).unwrap();
        let f = build_factory(&settings, &mut NameRegistry::new()).unwrap();
        let first = f.warnings()[0].to_string();
        assert!(
            first.starts_with(&format!("{}:3: redis.sessions.secret", ini.display())),
            "{first}"
        );
        assert!(!first.contains("changeme-"), "{first}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn describe_lists_every_key_of_the_table() {
        let settings: Settings = [(
            "redis.sessions.old_secrets",
            "an-old-secret-that-is-long-enough-1",
        )]
        .into_iter()
        .collect();
        let lines = settings.describe(&NameRegistry::new());
        assert_eq!(lines.len(), TABLE.len());
        assert!(
            lines.contains(&"redis.sessions.old_secrets = ********".to_owned()),
            "{lines:?}"
        );
        assert!(lines.contains(&"redis.sessions.secret = (required)  (default)".to_owned()));
        assert!(
            lines.contains(&"redis.sessions.max_session_bytes = 1048576  (default)".to_owned())
        );
    }

    #[test]
    fn describe_marks_what_a_url_overrides() {
        let settings: Settings = [
            ("redis.sessions.url", "redis://10.0.0.5:6380/2"),
            ("redis.sessions.port", "6390"),
        ]
        .into_iter()
        .collect();
        let lines = settings.describe(&NameRegistry::new());
        for line in [
            "redis.sessions.host = localhost  (not used: url is set)",
            "redis.sessions.port = 6390  (not used: url is set)",
            "redis.sessions.db = 0  (not used: url is set)",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line}: {lines:?}");
        }
        let without: Settings = [("redis.sessions.port", "6390")].into_iter().collect();
        let lines = without.describe(&NameRegistry::new());
        assert!(
            lines.contains(&"redis.sessions.port = 6390".to_owned()),
            "{lines:?}"
        );
    }

    #[test]
    fn values_are_coerced() {
        let f = build(&[
            ("timeout", "60"),
            ("socket_timeout", "1.5"),
            ("cookie_max_age", "None"),
            ("cookie_secure", "yes"),
            ("cookie_samesite", "strict"),
            ("url", "redis://127.0.0.1:6390/0"),
            ("connection_pool", ""),
        ])
        .unwrap();
        assert_eq!(f.timeout(), 60);
        assert_eq!(
            f.redis_options().socket_timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(f.redis_options().connection_pool, None);
    }

    #[test]
    fn a_missing_secret_is_reported() {
        assert_eq!(
            kinds(&[("secret", "")]),
            [(ErrorKind::Missing, "secret".to_string())]
        );
    }

    #[test]
    fn unknown_keys_get_a_suggestion_and_others_are_ignored() {
        let err = build(&[
            ("timout", "5"),
            ("cookie_secrue", "true"),
            ("zzzzzzzzzzzzzzz", "1"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("redis.sessions.timout = \"5\": unknown setting: did you mean redis.sessions.timeout?"), "{text}");
        assert!(
            text.contains("did you mean redis.sessions.cookie_secure?"),
            "{text}"
        );
        assert!(
            text.contains(
                "redis.sessions.zzzzzzzzzzzzzzz = \"1\": unknown setting: expected one of the keys"
            ),
            "{text}"
        );
        assert_eq!(err.problems().len(), 3);
        // Full-name matching: other prefixes are the application's business.
        let settings: Settings = [
            ("redis.sessions.secret", SECRET),
            ("myapp.timeout", "x"),
            ("redis.sessionsX.timeout", "x"),
        ]
        .into_iter()
        .collect();
        assert!(build_factory(&settings, &mut NameRegistry::new()).is_ok());
    }

    #[test]
    fn unknown_names_are_name_errors() {
        let err = build(&[
            ("serialize", "pickle"),
            ("deserialize", "json"),
            ("id_generator", "nope"),
        ])
        .unwrap_err();
        let kinds: Vec<_> = err
            .problems()
            .iter()
            .map(|p| (p.kind(), p.key().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                (ErrorKind::Name, "redis.sessions.serialize"),
                (ErrorKind::Name, "redis.sessions.id_generator")
            ]
        );
        assert!(
            err.to_string().contains("json, msgpack, or a dotted name"),
            "{err}"
        );
    }

    #[test]
    fn an_object_of_the_wrong_kind_says_what_was_expected() {
        let settings = Settings::new()
            .with("redis.sessions.secret", SECRET)
            .with("redis.sessions.url", "redis://127.0.0.1:6390/0")
            .with_codec("redis.sessions.id_generator", crate::codec::Json);
        let err = build_factory(&settings, &mut NameRegistry::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "redis.sessions.id_generator: holds an object of another kind: expected an id generator (Settings::with_id_generator) or its dotted name"
        );
    }

    #[test]
    fn secrets_are_masked_in_messages_and_debug() {
        let err = build(&[
            ("secret", "tooshort"),
            ("password", "hunter2hunter2"),
            ("port", "x"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains("tooshort") && !text.contains("hunter2"),
            "{text}"
        );
        let settings: Settings = [
            ("redis.sessions.secret", "tooshort"),
            ("redis.sessions.url", "redis://:pw@h/0"),
        ]
        .into_iter()
        .collect();
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("tooshort") && !debug.contains(":pw@"),
            "{debug}"
        );
    }
}
