//! The one table of `redis.sessions.*` settings: one row per key with the
//! text of its default, how that text is read, which builder setter takes
//! it, and the line `docs/settings.md` shows for it.
//!
//! Reading text only turns it into the setter's type; ranges and the rules
//! between settings are checked once, by [`Builder::build`], so that code
//! and INI files get the same checks.

use std::path::PathBuf;
use std::time::Duration;

use super::builder::Builder;
use crate::cookie::SameSite;
use crate::session::context::{CacheControl, Compat};

/// Python Paste's `asbool`.
pub(crate) fn asbool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "t" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// True for an empty value or `None`: an optional setting left unset.
pub(crate) fn is_unset(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("none")
}

/// Reads a value's text (trimmed) into a builder; gives the builder back,
/// with what was expected when the text could not be read.
pub(crate) type Apply = fn(Builder, &str) -> (Builder, Result<(), &'static str>);

/// How a row's value is read.
pub(crate) enum Read {
    /// Parsed, then given to the builder setter of the same name.
    Value(Apply),
    /// A file: `None` or a path, relative to the INI file's folder.
    File(fn(Builder, Option<PathBuf>) -> Builder),
    /// The signing secret, given to `RedisSessionFactory::builder`.
    Secret,
    /// A dotted name (or an object set in code), resolved by the name
    /// registry, loading plugins as needed.
    Named,
    /// Folders searched for plugin libraries.
    PluginPath,
}

/// One `redis.sessions.*` key.
pub(crate) struct Row {
    /// The key without `redis.sessions.`; also the builder setter's name.
    pub(crate) name: &'static str,
    /// The INI text that means the default.
    pub(crate) default: &'static str,
    /// What the value is (markdown, for `docs/settings.md`).
    #[cfg_attr(not(test), allow(dead_code))] // read by the docs test
    pub(crate) value: &'static str,
    /// The value is never shown.
    pub(crate) secret: bool,
    pub(crate) read: Read,
}

impl Row {
    /// The default as people read it.
    pub(crate) fn shown_default(&self) -> &'static str {
        match (&self.read, self.default) {
            (Read::Secret, _) => "(required)",
            (_, "") => "(empty)",
            (_, default) => default,
        }
    }
}

const WHOLE: &str = "expected whole seconds, e.g. 1200";
const WHOLE_OR_NONE: &str = "expected whole seconds or None, e.g. 86400";
const BOOL: &str = "expected true or false (also yes/no, on/off, y/n, t/f, 1/0)";

/// Hands `parsed` to `setter`, or the builder back with `expected`.
fn set<T>(
    b: Builder,
    parsed: Option<T>,
    expected: &'static str,
    setter: impl FnOnce(Builder, T) -> Builder,
) -> (Builder, Result<(), &'static str>) {
    match parsed {
        Some(value) => (setter(b, value), Ok(())),
        None => (b, Err(expected)),
    }
}

/// `None` (or empty) for unset, else what `parse` makes of the text.
fn optional<T>(text: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<Option<T>> {
    if is_unset(text) {
        Some(None)
    } else {
        parse(text).map(Some)
    }
}

fn whole(text: &str) -> Option<u64> {
    text.parse().ok()
}

fn text(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn optional_text(text: &str) -> Option<Option<String>> {
    Some((!is_unset(text)).then(|| text.to_owned()))
}

/// Seconds with fractions; whether zero is allowed is the builder's call.
fn seconds(text: &str) -> Option<Duration> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

/// Every `redis.sessions.*` key of this library, in the order of the docs.
pub(crate) static TABLE: &[Row] = &[
    Row {
        name: "secret",
        default: "",
        value: "at least 32 bytes; signs cookies",
        secret: true,
        read: Read::Secret,
    },
    Row {
        name: "old_secrets",
        default: "None",
        value: "former secrets, separated by spaces or new lines, each at least 32 bytes; still accepted, re-signed with `secret`",
        secret: true,
        read: Read::Value(|b, t| {
            let secrets = (!is_unset(t)).then(|| t.split_whitespace().map(str::to_owned));
            set(
                b,
                Some(secrets.into_iter().flatten()),
                "",
                Builder::old_secrets,
            )
        }),
    },
    Row {
        name: "timeout",
        default: "1200",
        value: "idle seconds; `0` = never expire; at most 315360000 (10 years)",
        secret: false,
        read: Read::Value(|b, t| set(b, whole(t), WHOLE, Builder::timeout)),
    },
    Row {
        name: "max_lifetime",
        default: "None",
        value: "seconds after creation past which a session is rejected however active; or `None`",
        secret: false,
        read: Read::Value(|b, t| set(b, optional(t, whole), WHOLE_OR_NONE, Builder::max_lifetime)),
    },
    Row {
        name: "max_session_bytes",
        default: "1048576",
        value: "largest encoded size of all values of a session, in bytes (1 to 536870912)",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                t.parse().ok(),
                "expected a number of bytes, e.g. 1048576",
                Builder::max_session_bytes,
            )
        }),
    },
    Row {
        name: "max_sessions_per_user",
        default: "100",
        value: "most live sessions of one user; past it the ones that end first are revoked (0: no limit)",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                t.parse().ok(),
                "expected a number of sessions, or 0 for no limit, e.g. 100",
                Builder::max_sessions_per_user,
            )
        }),
    },
    Row {
        name: "memory_max_sessions",
        default: "100000",
        value: "most sessions the embedded store (`memory://`) keeps; past it the least recently used go first (1 to 100000000)",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                t.parse().ok(),
                "expected a number of sessions, e.g. 100000",
                Builder::memory_max_sessions,
            )
        }),
    },
    Row {
        name: "client_cache_size",
        default: "10000",
        value: "most sessions kept decoded in the process, kept true by Redis's client tracking; reading a cached one costs no Redis command (0: off; at most 100000000)",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                t.parse().ok(),
                "expected a number of sessions, or 0 for no cache, e.g. 10000",
                Builder::client_cache_size,
            )
        }),
    },
    Row {
        name: "client_cache_bytes",
        default: "67108864",
        value: "most bytes of keys and values the process cache keeps (1024 to 68719476736)",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                t.parse().ok(),
                "expected a number of bytes, e.g. 67108864",
                Builder::client_cache_bytes,
            )
        }),
    },
    Row {
        name: "cookie_name",
        default: "session",
        value: "cookie name; `__Host-` and `__Secure-` names are held to their rules",
        secret: false,
        read: Read::Value(|b, t| set(b, text(t), "", |b, v| b.cookie_name(v))),
    },
    Row {
        name: "cookie_max_age",
        default: "None",
        value: "seconds, or `None` for a browser-session cookie",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                optional(t, whole),
                WHOLE_OR_NONE,
                Builder::cookie_max_age,
            )
        }),
    },
    Row {
        name: "cookie_path",
        default: "/",
        value: "path starting with `/`",
        secret: false,
        read: Read::Value(|b, t| set(b, text(t), "", |b, v| b.cookie_path(v))),
    },
    Row {
        name: "cookie_domain",
        default: "None",
        value: "domain, or `None`",
        secret: false,
        read: Read::Value(|b, t| set(b, optional_text(t), "", Builder::cookie_domain)),
    },
    Row {
        name: "cookie_secure",
        default: "false",
        value: "boolean (`false` gives a warning)",
        secret: false,
        read: Read::Value(|b, t| set(b, asbool(t), BOOL, Builder::cookie_secure)),
    },
    Row {
        name: "cookie_httponly",
        default: "true",
        value: "boolean",
        secret: false,
        read: Read::Value(|b, t| set(b, asbool(t), BOOL, Builder::cookie_httponly)),
    },
    Row {
        name: "cookie_samesite",
        default: "Lax",
        value: "`Strict`, `Lax` or `None`",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                SameSite::parse(t),
                "expected Strict, Lax or None",
                Builder::cookie_samesite,
            )
        }),
    },
    Row {
        name: "cookie_on_exception",
        default: "true",
        value: "boolean: save and set the cookie on 5xx",
        secret: false,
        read: Read::Value(|b, t| set(b, asbool(t), BOOL, Builder::cookie_on_exception)),
    },
    Row {
        name: "cache_control",
        default: "no-store",
        value: "`no-store` (on responses that set or delete the cookie, unless the app set its own) or `none`",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                CacheControl::parse(t),
                "expected no-store or none",
                Builder::cache_control,
            )
        }),
    },
    Row {
        name: "url",
        default: "None",
        value: "`redis://[user:password@]host[:port][/db]`, `redis+unix:///path`, or `memory://`",
        secret: false,
        read: Read::Value(|b, t| set(b, optional_text(t), "", |b, v| b.url(v))),
    },
    Row {
        name: "host",
        default: "localhost",
        value: "host name or address",
        secret: false,
        read: Read::Value(|b, t| set(b, text(t), "", |b, v| b.host(v))),
    },
    Row {
        name: "port",
        default: "6379",
        value: "1–65535",
        secret: false,
        read: Read::Value(|b, t| {
            let port = t.parse().ok();
            set(
                b,
                port,
                "expected a port number from 1 to 65535, e.g. 6379",
                Builder::port,
            )
        }),
    },
    Row {
        name: "db",
        default: "0",
        value: "database number",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                t.parse().ok(),
                "expected a database number, e.g. 0",
                Builder::db,
            )
        }),
    },
    Row {
        name: "password",
        default: "None",
        value: "password, or `None`",
        secret: true,
        read: Read::Value(|b, t| set(b, optional_text(t), "", Builder::password)),
    },
    Row {
        name: "socket_timeout",
        default: "None",
        value: "seconds (fractions allowed), or `None` for 5 s",
        secret: false,
        read: Read::Value(|b, t| {
            let expected = "expected a positive number of seconds or None, e.g. 1.5";
            set(b, optional(t, seconds), expected, Builder::socket_timeout)
        }),
    },
    Row {
        name: "connection_pool",
        default: "None",
        value: "number of multiplexed connections (1–64), or `None` for 1",
        secret: false,
        read: Read::Value(|b, t| {
            let expected = "expected a number of connections or None, e.g. 4";
            set(
                b,
                optional(t, |t| t.parse().ok()),
                expected,
                Builder::connection_pool,
            )
        }),
    },
    Row {
        name: "charset",
        default: "utf-8",
        value: "`utf-8` only",
        secret: false,
        read: Read::Value(|b, t| set(b, text(t), "", |b, v| b.charset(v))),
    },
    Row {
        name: "errors",
        default: "strict",
        value: "`strict`, `replace` or `ignore`: reading stored key names that are not UTF-8",
        secret: false,
        read: Read::Value(|b, t| set(b, text(t), "", |b, v| b.errors(v))),
    },
    Row {
        name: "unix_socket_path",
        default: "None",
        value: "path to Redis's socket, or `None`",
        secret: false,
        read: Read::Value(|b, t| {
            set(b, optional_text(t), "", |b, v| {
                b.unix_socket_path(v.map(PathBuf::from))
            })
        }),
    },
    Row {
        name: "tls_ca_file",
        default: "None",
        value: "readable PEM file of the authority that signed Redis's certificate, or `None` for the system's roots",
        secret: false,
        read: Read::File(Builder::tls_ca_file),
    },
    Row {
        name: "tls_cert_file",
        default: "None",
        value: "readable PEM client certificate (needs `tls_key_file`), or `None`",
        secret: false,
        read: Read::File(Builder::tls_cert_file),
    },
    Row {
        name: "tls_key_file",
        default: "None",
        value: "readable PEM private key of `tls_cert_file`, or `None`",
        secret: false,
        read: Read::File(Builder::tls_key_file),
    },
    Row {
        name: "client_callable",
        default: "None",
        value: "dotted name of a client callable",
        secret: false,
        read: Read::Named,
    },
    Row {
        name: "serialize",
        default: "msgpack",
        value: "dotted name of a codec",
        secret: false,
        read: Read::Named,
    },
    Row {
        name: "deserialize",
        default: "msgpack",
        value: "dotted name of a codec",
        secret: false,
        read: Read::Named,
    },
    Row {
        name: "id_generator",
        default: "generate_session_id",
        value: "dotted name of an id generator",
        secret: false,
        read: Read::Named,
    },
    Row {
        name: "prefix",
        default: "",
        value: "text in front of every Redis key",
        secret: false,
        read: Read::Value(|b, t| set(b, text(t), "", |b, v| b.prefix(v))),
    },
    Row {
        name: "plugin_path",
        default: "None",
        value: "folders holding plugin libraries, separated by spaces or new lines; relative ones are relative to the INI file's folder. Libraries there are trusted code: name only folders that only the app's owner can write",
        secret: false,
        read: Read::PluginPath,
    },
    Row {
        name: "compat",
        default: "none",
        value: "`none` or `pyramid_redis_sessions`: also read and write the Python library's sessions (cargo feature `compat`)",
        secret: false,
        read: Read::Value(|b, t| {
            set(
                b,
                Compat::parse(t),
                "expected none or pyramid_redis_sessions",
                Builder::compat,
            )
        }),
    },
    Row {
        name: "legacy_secret",
        default: "None",
        value: "the Python app's secret, or `None` for `secret`",
        secret: true,
        read: Read::Value(|b, t| set(b, optional_text(t), "", Builder::legacy_secret)),
    },
    Row {
        name: "legacy_prefix",
        default: "None",
        value: "the Python app's key prefix, or `None` for `prefix`",
        secret: false,
        read: Read::Value(|b, t| set(b, optional_text(t), "", Builder::legacy_prefix)),
    },
    Row {
        name: "legacy_cookie_name",
        default: "None",
        value: "the Python app's cookie name, or `None` for `cookie_name`",
        secret: false,
        read: Read::Value(|b, t| set(b, optional_text(t), "", Builder::legacy_cookie_name)),
    },
];

/// The row of `name` (without `redis.sessions.`).
pub(crate) fn row(name: &str) -> Option<&'static Row> {
    TABLE.iter().find(|row| row.name == name)
}

/// The markdown table of `docs/settings.md`.
#[cfg(test)]
fn markdown() -> String {
    let mut text = String::from("| key | value | default |\n|---|---|---|\n");
    for row in TABLE {
        let default = match (&row.read, row.default) {
            (Read::Secret, _) => "required".to_owned(),
            (_, "") => "empty".to_owned(),
            (_, default) => format!("`{default}`"),
        };
        text.push_str(&format!(
            "| `redis.sessions.{}` | {} | {default} |\n",
            row.name, row.value
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asbool_takes_pastes_words_and_nothing_else() {
        for t in ["true", "Yes", "ON", "y", "t", "1", " true "] {
            assert_eq!(asbool(t), Some(true), "{t}");
        }
        for f in ["false", "No", "off", "N", "f", "0"] {
            assert_eq!(asbool(f), Some(false), "{f}");
        }
        for bad in ["maybe", "", "2", "truthy"] {
            assert_eq!(asbool(bad), None, "{bad}");
        }
    }

    #[test]
    fn docs_settings_md_shows_the_table() {
        let docs = include_str!("../../docs/settings.md");
        let table = markdown();
        assert!(
            docs.contains(&table),
            "docs/settings.md and the table of settings disagree; the table reads:\n{table}"
        );
    }

    #[test]
    fn every_builder_setter_names_its_key_and_default() {
        let source = include_str!("builder/mod.rs");
        for row in TABLE {
            if matches!(row.read, Read::Secret | Read::PluginPath) {
                continue;
            }
            let key = format!("/// `redis.sessions.{}`", row.name);
            let start = source
                .find(&key)
                .unwrap_or_else(|| panic!("no setter documents {key}"));
            let doc: String = source[start..]
                .lines()
                .take_while(|line| line.trim_start().starts_with("///"))
                .collect::<Vec<_>>()
                .join(" ");
            let default = match row.default {
                "" => "Default: empty".to_owned(),
                d => format!("Default: `{d}`"),
            };
            assert!(doc.contains(&default), "{key}: {doc:?} lacks {default:?}");
            let setter = format!("{}:", row.name);
            let method = format!("fn {}(", row.name);
            assert!(
                source[start..].contains(&setter) || source[start..].contains(&method),
                "no setter named {}",
                row.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_defaults_read_back() {
        let mut names: Vec<_> = TABLE.iter().map(|row| row.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
        for row in TABLE {
            if let Read::Value(apply) = row.read {
                let builder = super::super::RedisSessionFactory::builder("x");
                assert!(apply(builder, row.default).1.is_ok(), "{}", row.name);
            }
        }
    }
}
