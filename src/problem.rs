//! Start-up problems: [`Error`], [`ErrorKind`] and [`Problem`], each with
//! the file, line and key it is about. They are the crate's
//! [`config::Error`](crate::config::Error) and friends; this module sits
//! below `config` and `factory` so that both report through it.

use std::fmt;
use std::path::PathBuf;

/// What kind of configuration problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required setting is absent.
    Missing,
    /// A value has the wrong form or is out of range.
    Invalid,
    /// A setting name is not known.
    Unknown,
    /// Two settings cannot be used together.
    Conflict,
    /// A line of the INI file cannot be read.
    Syntax,
    /// The INI file cannot be opened or read.
    Io,
    /// A dotted name cannot be resolved (no such name, or a plugin library
    /// is missing, was built differently, or failed).
    Name,
    /// Not an error: a setting that works but weakens security or has no
    /// effect (a published secret, `cookie_secure = false`, …). Found in
    /// `RedisSessionFactory::warnings`, never in an [`Error`].
    Warning,
}

/// One configuration problem: where it is, which key, the value seen, and
/// what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    kind: ErrorKind,
    file: Option<PathBuf>,
    line: Option<usize>,
    key: Option<String>,
    value: Option<String>,
    message: String,
}

impl Problem {
    /// A problem of `kind` with `message` (what was wrong and what is expected).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: None,
            line: None,
            key: None,
            value: None,
            message: message.into(),
        }
    }

    /// Names the setting the problem is about.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Records the value seen (pass a masked value for secrets).
    pub fn with_value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Records the value seen, in place (pass a masked value for secrets).
    pub fn seen(&mut self, value: impl Into<String>) -> &mut Self {
        self.value = Some(value.into());
        self
    }

    /// Records where the setting was read.
    pub fn at(mut self, file: impl Into<PathBuf>, line: usize) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self
    }

    /// Records the file the problem is in, without a line.
    pub fn at_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// The kind of problem.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The setting concerned, if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The value seen, if any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// The file the setting came from, if it came from one.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// The 1-based line of the setting in [`Problem::file`].
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What was wrong and what is expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `problems` without those that only repeat another one as their cause:
/// a codec that a plugin cannot make because of a bad plugin setting says
/// `...: redis.sessions.aead.key: <what is wrong>`, and the setting itself is
/// already reported on its own line.
fn without_knock_ons(problems: Vec<Problem>) -> Vec<Problem> {
    let causes: Vec<String> = problems
        .iter()
        .filter_map(|p| Some(format!("{}: {}", p.key()?, p.message())))
        .collect();
    problems
        .into_iter()
        .filter(|p| {
            !causes.iter().any(|cause| {
                p.message().len() > cause.len() && p.message().ends_with(cause.as_str())
            })
        })
        .collect()
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        match (&self.key, &self.value) {
            (Some(key), Some(value)) => write!(f, "{key} = {value:?}: ")?,
            (Some(key), None) => write!(f, "{key}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// Every problem that stopped a factory or configuration from being built.
///
/// ```
/// use redis_sessions::RedisSessionFactory;
/// use redis_sessions::config::ErrorKind;
///
/// let err = RedisSessionFactory::builder("too short").timeout(1).build().unwrap_err();
/// assert_eq!(err.problems()[0].kind(), ErrorKind::Invalid);
/// assert_eq!(err.problems()[0].key(), Some("redis.sessions.secret"));
/// assert!(err.to_string().contains("expected at least 32"));
/// ```
///
/// `Debug` prints the same lines as `Display`, so `?` in `main` reads well:
///
/// ```text
/// Error: app.ini:14: redis.sessions.timeout = "ten": expected whole seconds, e.g. 1200
/// app.ini:15: redis.sessions.cookie_secure = "maybe": expected true or false (also yes/no, on/off, y/n, t/f, 1/0)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    problems: Vec<Problem>,
}

impl Error {
    /// An error made of `problems` (there must be at least one). A problem
    /// that only repeats another one as its cause is left out (a codec a
    /// plugin cannot make because of a bad plugin setting, which is itself
    /// reported).
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        Self {
            problems: without_knock_ons(problems),
        }
    }

    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The kind of the first problem.
    pub fn kind(&self) -> ErrorKind {
        self.problems
            .first()
            .map_or(ErrorKind::Invalid, Problem::kind)
    }
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Self::new(vec![problem])
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_where_then_key_then_what() {
        let p = Problem::new(ErrorKind::Invalid, "expected whole seconds, e.g. 1200")
            .with_key("redis.sessions.timeout")
            .with_value("ten")
            .at("app.ini", 14);
        assert_eq!(
            p.to_string(),
            "app.ini:14: redis.sessions.timeout = \"ten\": expected whole seconds, e.g. 1200"
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let e = Error::new(vec![
            Problem::new(ErrorKind::Missing, "required").with_key("a"),
            Problem::new(ErrorKind::Unknown, "unknown").with_key("b"),
        ]);
        assert_eq!(e.to_string(), "a: required\nb: unknown");
        assert_eq!(format!("{e:?}"), e.to_string());
        assert_eq!(e.kind(), ErrorKind::Missing);
    }
}
