//! Configuration the Paste way: `redis.sessions.*` settings from an INI file,
//! a [`Configurator`] with `include`, dotted names resolved from a registry or
//! from plugin libraries, and the errors that stop start-up.
//!
//! Every problem found is reported, not just the first, each as
//! `file:line: key = "value": what was wrong, what is expected`.
//!
//! # Differences from pyramid_redis_sessions
//!
//! - Keys match by their full name (`redis.sessions.timeout`), not by their
//!   last segment; an unknown `redis.sessions.*` key is an error with a
//!   suggestion instead of a `TypeError`. Keys with a second dot
//!   (`redis.sessions.<package>.<key>`) belong to the package that declares
//!   them and are checked against its declarations.
//! - `cookie_secure = maybe` is an error, not `false`.
//! - Dotted names resolve to registered objects or to plugin libraries
//!   (`libpkg.so` on `redis.sessions.plugin_path`), not to Python imports.
//! - `session_factory_from_settings` resolves names too.
//!
//! ```
//! use redis_sessions::config::Configurator;
//!
//! let dir = std::env::temp_dir().join(format!("rs-config-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let ini = dir.join("app.ini");
//! std::fs::write(&ini, "[app:main]\npyramid.includes = redis_sessions\n\
//!     redis.sessions.secret = a secret of at least thirty-two bytes!\n\
//!     redis.sessions.url = memory://\nredis.sessions.timeout = 60\n").unwrap();
//! let registry = Configurator::from_ini(&ini)?.commit()?;
//! assert_eq!(registry.session_factory().unwrap().timeout(), 60);
//! # Ok::<(), redis_sessions::config::Error>(())
//! ```

mod configurator;
mod ini;
mod names;
pub mod settings;

pub use crate::problem::{Error, ErrorKind, Problem};
pub use configurator::{
    Checked, Configurator, INCLUDES_KEYS, Includeme, Registry, includeme,
    session_factory_from_settings,
};
pub use names::{BUILTIN_NAMES, NameRegistry, Validator};
pub use settings::Settings;

/// The closest of `options` to `word`, if it is a likely typo of it.
pub(crate) fn suggest<'a>(word: &str, options: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    options
        .map(|option| (distance(word, option), option))
        .filter(|(d, option)| *d <= 3 && *d < option.len().max(2) / 2 + 1)
        .min()
        .map(|(_, option)| option)
}

/// The edit distance between two strings.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("timout", "timeout"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn suggestions_are_close_or_absent() {
        let options = ["aead.encrypt", "aead.decrypt", "json"];
        assert_eq!(
            suggest("aead.encrpyt", options.into_iter()),
            Some("aead.encrypt")
        );
        assert_eq!(suggest("jsno", options.into_iter()), Some("json"));
        assert_eq!(suggest("pickle", options.into_iter()), None);
    }
}
