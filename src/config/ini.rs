//! Paste-style INI files, read as Python's `configparser` reads them (with
//! PasteDeploy's `here` and `__file__`), with a file and line on every error.
//!
//! - `[section]` headers; a `[DEFAULT]` section whose keys every section
//!   inherits; duplicate sections or keys are errors;
//! - `key = value` or `key: value`; key names are case-insensitive (lowered);
//!   values are taken as written: no quotes, no escapes;
//! - lines starting with `#` or `;` are comments (there are no inline comments);
//! - an indented line continues the value above it (joined with a newline);
//! - `%(name)s` is replaced by the value of `name` from the section or
//!   `[DEFAULT]`, including `%(here)s` (the file's folder) and `%(__file__)s`;
//!   `%%` is a literal `%`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Error, ErrorKind, Problem};

/// The deepest chain of `%(name)s` references followed, as in Python.
const MAX_INTERPOLATION_DEPTH: usize = 10;
/// The most `%(name)s` references expanded for one value, nested ones
/// included: a file of references to references cannot make start-up
/// do exponential work.
const MAX_INTERPOLATIONS: usize = 1000;
/// The longest value interpolation may produce.
const MAX_INTERPOLATED_LEN: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    line: usize,
}

/// A parsed INI file.
#[derive(Debug, Clone)]
pub(crate) struct Ini {
    path: PathBuf,
    defaults: BTreeMap<String, Entry>,
    sections: Vec<(String, BTreeMap<String, Entry>)>,
}

/// One setting of a section, after interpolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IniValue {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) line: usize,
}

impl Ini {
    /// Reads and parses `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problem::new(ErrorKind::Io, format!("cannot read the settings file: {e}")).at_file(path)
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text` read from `path`; every bad line is reported.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let mut ini = Self {
            path: path.to_path_buf(),
            defaults: BTreeMap::new(),
            sections: Vec::new(),
        };
        let mut problems = Vec::new();
        // Where the current section's entries go: None before any header.
        let mut section: Option<Option<usize>> = None;
        // The key a continuation line would extend, its indentation, and
        // whether it was taken (the continuation of a refused duplicate is
        // part of it, not a line of its own).
        let mut open: Option<(String, usize, bool)> = None;
        let mut pending_blank = 0usize;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim_end_matches('\r');
            let trimmed = line.trim();
            let indent = line.len() - line.trim_start().len();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if trimmed.is_empty() {
                if open.is_some() {
                    pending_blank += 1;
                }
                continue;
            }
            if let (Some((key, key_indent, taken)), Some(target)) = (&open, section)
                && indent > *key_indent
            {
                let entries = ini.entries_mut(target);
                if let Some(entry) = entries.get_mut(key).filter(|_| *taken) {
                    for _ in 0..pending_blank {
                        entry.value.push('\n');
                    }
                    if !entry.value.is_empty() || pending_blank > 0 {
                        entry.value.push('\n');
                    }
                    entry.value.push_str(trimmed);
                }
                pending_blank = 0;
                continue;
            }
            open = None;
            pending_blank = 0;
            if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                if name.is_empty() {
                    problems.push(
                        Problem::new(
                            ErrorKind::Syntax,
                            "empty section name: expected e.g. [app:main]",
                        )
                        .at(path, line_no),
                    );
                    section = Some(None);
                    continue;
                }
                if name == "DEFAULT" {
                    section = Some(None);
                    continue;
                }
                if ini.sections.iter().any(|(n, _)| n == name) {
                    problems.push(
                        Problem::new(
                            ErrorKind::Syntax,
                            format!("section [{name}] appears twice: expected each section once"),
                        )
                        .at(path, line_no),
                    );
                }
                ini.sections.push((name.to_owned(), BTreeMap::new()));
                section = Some(Some(ini.sections.len() - 1));
                continue;
            }
            let Some(target) = section else {
                problems.push(
                    Problem::new(
                        ErrorKind::Syntax,
                        "a setting before any [section] header: expected a header such as [app:main] first",
                    )
                    .at(path, line_no),
                );
                continue;
            };
            let split = trimmed.find(['=', ':']);
            let Some(at) = split.filter(|&at| at > 0) else {
                problems.push(
                    Problem::new(
                        ErrorKind::Syntax,
                        format!(
                            "cannot read {trimmed:?}: expected `key = value`, e.g. redis.sessions.timeout = 1200"
                        ),
                    )
                    .at(path, line_no),
                );
                continue;
            };
            let key = trimmed[..at].trim_end().to_lowercase();
            let value = trimmed[at + 1..].trim().to_owned();
            let entries = ini.entries_mut(target);
            if let Some(first) = entries.get(&key) {
                problems.push(
                    Problem::new(
                        ErrorKind::Syntax,
                        format!(
                            "set twice (first on line {}): expected each key once per section",
                            first.line
                        ),
                    )
                    .with_key(&key)
                    .at(path, line_no),
                );
                open = Some((key, indent, false));
                continue;
            }
            entries.insert(
                key.clone(),
                Entry {
                    value,
                    line: line_no,
                },
            );
            open = Some((key, indent, true));
        }
        if problems.is_empty() {
            Ok(ini)
        } else {
            Err(Error::new(problems))
        }
    }

    fn entries_mut(&mut self, target: Option<usize>) -> &mut BTreeMap<String, Entry> {
        match target {
            None => &mut self.defaults,
            Some(i) => &mut self.sections[i].1,
        }
    }

    /// The section names, in file order.
    pub(crate) fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(n, _)| n.as_str())
    }

    /// The settings of `name` (with `[DEFAULT]` inherited), interpolated.
    pub(crate) fn section(&self, name: &str) -> Result<Vec<IniValue>, Error> {
        let Some((_, own)) = self.sections.iter().find(|(n, _)| n == name) else {
            let known: Vec<String> = self.section_names().map(|n| format!("[{n}]")).collect();
            return Err(Problem::new(
                ErrorKind::Missing,
                format!(
                    "no section [{name}]: expected one of {}",
                    if known.is_empty() {
                        "(none: the file has no sections)".into()
                    } else {
                        known.join(", ")
                    }
                ),
            )
            .at_file(&self.path)
            .into());
        };
        let here = self
            .path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
            .unwrap_or_default();
        let file = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        let builtins = [
            (
                "here".to_owned(),
                Entry {
                    value: here.display().to_string().replace('%', "%%"),
                    line: 0,
                },
            ),
            (
                "__file__".to_owned(),
                Entry {
                    value: file.display().to_string().replace('%', "%%"),
                    line: 0,
                },
            ),
        ];
        // The section's own keys win over [DEFAULT], which wins over the built-ins.
        let mut merged: BTreeMap<&str, &Entry> = BTreeMap::new();
        merged.extend(self.defaults.iter().map(|(k, v)| (k.as_str(), v)));
        merged.extend(own.iter().map(|(k, v)| (k.as_str(), v)));
        let mut scope = merged.clone();
        for (k, v) in &builtins {
            scope.entry(k.as_str()).or_insert(v);
        }
        let mut values = Vec::new();
        let mut problems = Vec::new();
        for (key, entry) in merged {
            match interpolate(&entry.value, &scope, 0, &mut 0) {
                Ok(value) => values.push(IniValue {
                    key: key.to_owned(),
                    value,
                    line: entry.line,
                }),
                Err(message) => problems.push(
                    Problem::new(ErrorKind::Syntax, message)
                        .with_key(key)
                        .with_value(&entry.value)
                        .at(&self.path, entry.line),
                ),
            }
        }
        problems.sort_by_key(|p| p.line());
        if problems.is_empty() {
            values.sort_by_key(|v| v.line);
            Ok(values)
        } else {
            Err(Error::new(problems))
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Expands `%(name)s` references; `expanded` counts the references
/// expanded so far for the value being read.
fn interpolate(
    value: &str,
    scope: &BTreeMap<&str, &Entry>,
    depth: usize,
    expanded: &mut usize,
) -> Result<String, String> {
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(format!(
            "%(…)s references nest deeper than {MAX_INTERPOLATION_DEPTH} levels: expected no reference cycle"
        ));
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let Some(inner) = rest.strip_prefix('(') else {
            return Err("a lone '%': expected %(name)s, or %% for a literal %".into());
        };
        let Some(close) = inner.find(")s") else {
            return Err("an unfinished reference: expected %(name)s".into());
        };
        let name = inner[..close].to_lowercase();
        let Some(target) = scope.get(name.as_str()) else {
            let known: Vec<&str> = scope.keys().copied().collect();
            return Err(format!(
                "%({name})s names no setting of this section or [DEFAULT]: expected one of {}",
                known.join(", ")
            ));
        };
        *expanded += 1;
        if *expanded > MAX_INTERPOLATIONS {
            return Err(format!(
                "more than {MAX_INTERPOLATIONS} %(…)s references to expand: expected a few references, each to a plain value"
            ));
        }
        out.push_str(&interpolate(&target.value, scope, depth + 1, expanded)?);
        if out.len() > MAX_INTERPOLATED_LEN {
            return Err(format!(
                "%(…)s references expand to more than {MAX_INTERPOLATED_LEN} bytes: expected a value of reasonable size"
            ));
        }
        rest = &inner[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Ini, Error> {
        Ini::parse(text, Path::new("/srv/app/app.ini"))
    }

    fn section(text: &str, name: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .section(name)
            .unwrap()
            .into_iter()
            .map(|v| (v.key, v.value))
            .collect()
    }

    fn kinds(text: &str) -> Vec<(ErrorKind, Option<usize>)> {
        let err = match parse(text) {
            Ok(ini) => ini.section("app:main").unwrap_err(),
            Err(e) => e,
        };
        err.problems()
            .iter()
            .map(|p| (p.kind(), p.line()))
            .collect()
    }

    macro_rules! settings {
        ($($name:ident: $text:expr => [$(($k:expr, $v:expr)),* $(,)?];)*) => {$(
            #[test]
            fn $name() {
                let expected: Vec<(String, String)> = vec![$(($k.to_string(), $v.to_string())),*];
                assert_eq!(section($text, "app:main"), expected);
            }
        )*};
    }

    settings! {
        plain_pairs: "[app:main]\na = 1\nb: two\n" => [("a", "1"), ("b", "two")];
        keys_are_lowered_and_values_kept_verbatim: "[app:main]\nKey = \"quoted\" \\n ; not a comment\n" => [("key", "\"quoted\" \\n ; not a comment")];
        comments_are_skipped: "# top\n[app:main]\n; note\n  # indented comment\na = 1\n" => [("a", "1")];
        defaults_are_inherited_and_overridden: "[DEFAULT]\na = d\nb = d\n[app:main]\nb = own\n" => [("a", "d"), ("b", "own")];
        continuation_lines_join_with_newlines: "[app:main]\nlist =\n    one\n    two\n\n    three\nnext = x\n" => [("list", "one\ntwo\n\nthree"), ("next", "x")];
        continuation_after_a_value: "[app:main]\na = first\n  second\n" => [("a", "first\nsecond")];
        interpolation_from_section_and_defaults: "[DEFAULT]\nroot = /srv\n[app:main]\nname = app\npath = %(root)s/%(name)s/%%d\n" => [("root", "/srv"), ("name", "app"), ("path", "/srv/app/%d")];
        here_and_file_are_known: "[app:main]\nplugins = %(here)s/plugins\nme = %(__file__)s\n" => [("plugins", "/srv/app/plugins"), ("me", "/srv/app/app.ini")];
        empty_values_are_empty: "[app:main]\na =\n" => [("a", "")];
        other_sections_are_separate: "[server:main]\nport = 1\n[app:main]\na = 1\n" => [("a", "1")];
    }

    #[test]
    fn named_sections_are_chosen() {
        assert_eq!(
            section("[app:main]\na = 1\n[app:other]\na = 2\n", "app:other"),
            [("a".to_string(), "2".to_string())]
        );
    }

    #[test]
    fn bad_lines_are_all_reported_with_their_line() {
        assert_eq!(
            kinds("a = 1\n[app:main]\nno delimiter here\nb = 1\nb = 2\n[app:main]\n= value\n"),
            [
                (ErrorKind::Syntax, Some(1)),
                (ErrorKind::Syntax, Some(3)),
                (ErrorKind::Syntax, Some(5)),
                (ErrorKind::Syntax, Some(6)),
                (ErrorKind::Syntax, Some(7)),
            ]
        );
    }

    #[test]
    fn interpolation_errors_name_key_and_line() {
        assert_eq!(
            kinds("[app:main]\nok = 1\nbad = %(missing)s\n"),
            [(ErrorKind::Syntax, Some(3))]
        );
        assert_eq!(
            kinds("[app:main]\nbad = 100%\n"),
            [(ErrorKind::Syntax, Some(2))]
        );
        assert_eq!(
            kinds("[app:main]\na = %(b)s\nb = %(a)s\n"),
            [(ErrorKind::Syntax, Some(2)), (ErrorKind::Syntax, Some(3))]
        );
        let err = parse("[app:main]\nbad = %(missing)s\n")
            .unwrap()
            .section("app:main")
            .unwrap_err();
        assert_eq!(err.problems()[0].key(), Some("bad"));
        assert!(
            err.to_string().starts_with(
                "/srv/app/app.ini:2: bad = \"%(missing)s\": %(missing)s names no setting"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_missing_section_lists_the_others() {
        let err = parse("[app:one]\n[app:two]\n")
            .unwrap()
            .section("app:main")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Missing);
        assert!(
            err.to_string()
                .contains("expected one of [app:one], [app:two]"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_are_an_error_even_in_different_case() {
        let err = parse("[app:main]\nTimeout = 1\ntimeout = 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/srv/app/app.ini:3: timeout: set twice (first on line 2): expected each key once per section"
        );
    }

    #[test]
    fn a_duplicate_keys_continuation_lines_are_part_of_it() {
        let err =
            parse("[app:main]\ntimeout = 1\ntimeout = 2\n    3\n  4\nnext = x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/srv/app/app.ini:3: timeout: set twice (first on line 2): expected each key once per section",
            "one problem, no knock-on error for its continuation"
        );
    }

    #[test]
    fn reference_bombs_are_refused_without_expanding_them() {
        // Each level doubles the text ten times over: 10^9 copies if expanded.
        let mut text = String::from("[app:main]\nl0 = lol\n");
        for level in 1..=9 {
            let prev = format!("%(l{})s", level - 1);
            text.push_str(&format!("l{level} = {}\n", prev.repeat(10)));
        }
        let err = parse(&text).unwrap().section("app:main").unwrap_err();
        assert!(err.problems().iter().all(|p| p.kind() == ErrorKind::Syntax));
        assert!(err.to_string().contains("l9 = "), "{err}");
        // Empty expansions cost work, not memory: also bounded.
        let mut text = String::from("[app:main]\ne0 =\n");
        for level in 1..=9 {
            let prev = format!("%(e{})s", level - 1);
            text.push_str(&format!("e{level} = {}\n", prev.repeat(50)));
        }
        let err = parse(&text).unwrap().section("app:main").unwrap_err();
        assert!(
            err.to_string().contains("more than 1000 %(…)s references"),
            "{err}"
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn any_text_parses_or_fails_without_panic(pieces in proptest::collection::vec(
                prop::sample::select(&[
                    "[", "]", "app:main", "DEFAULT", "key", "é", " ", "\t", "\n", "=", ":",
                    "%", "%%", "%(", ")s", "%(key)s", "%(here)s", "#", ";", "\r\n",
                ][..]),
                0..200,
            )) {
                let text = pieces.concat();
                if let Ok(ini) = parse(&text) {
                    let names: Vec<String> = ini.section_names().map(str::to_owned).collect();
                    for name in names {
                        let _ = ini.section(&name);
                    }
                }
            }
        }
    }
}
