//! The checks of [`Builder::build`](super::Builder::build) that are more
//! than a range: cookie names and their prefixes, weak secrets, readable
//! files; and [`Findings`], where problems and warnings are collected.

use std::path::Path;

use super::values::PREFIX;
use crate::problem::{Error, ErrorKind, Problem};

/// Problems (which stop the build) and warnings (which do not), in the
/// order found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

impl Findings {
    /// Records a problem about `redis.sessions.{name}`.
    pub(crate) fn problem(
        &mut self,
        kind: ErrorKind,
        name: &str,
        message: impl Into<String>,
    ) -> &mut Problem {
        self.problems
            .push(Problem::new(kind, message).with_key(format!("{PREFIX}{name}")));
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    /// Records a warning about `redis.sessions.{name}`.
    pub(super) fn warning(&mut self, name: &str, message: impl Into<String>) {
        self.warnings
            .push(Problem::new(ErrorKind::Warning, message).with_key(format!("{PREFIX}{name}")));
    }

    /// The first problem, if any.
    pub(super) fn error(&self) -> Option<&Problem> {
        self.problems.first()
    }

    /// Every problem as one error.
    pub(super) fn into_error(self) -> Error {
        Error::new(self.problems)
    }
}

/// Secrets published in manuals, examples and templates, lower case.
const PLACEHOLDERS: &[&str] = &[
    "your_cookie_signing_secret",
    "changeme",
    "change_me",
    "change-me",
    "changethis",
    "replaceme",
    "replace_me",
    "replace-me",
    "placeholder",
    "your_secret",
    "your-secret",
    "yoursecret",
    "not a secret",
    "notasecret",
    "a secret of at least thirty-two bytes",
    "do-not-use-in-production",
    "do_not_use_in_production",
];

/// Fewer distinct bytes than this in a secret is a sign it was typed, not
/// generated (32 random bytes in base64 have about 25).
const MIN_DISTINCT_BYTES: usize = 8;

/// What makes `secret` weak, if anything.
pub(super) fn weak_secret(secret: &str) -> Option<String> {
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return Some("the secret is a published placeholder".into());
    }
    let mut seen = [false; 256];
    for b in secret.bytes() {
        seen[usize::from(b)] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    (distinct < MIN_DISTINCT_BYTES)
        .then(|| format!("the secret has only {distinct} distinct bytes"))
}

/// A cookie name must be an RFC 6265 token.
pub(super) fn cookie_name(found: &mut Findings, key: &str, name: &str) {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        found
            .problem(
                ErrorKind::Invalid,
                key,
                "expected a cookie name of letters, digits and !#$%&'*+-.^_`|~, e.g. session",
            )
            .seen(name);
    }
}

/// The rules browsers enforce for `__Host-` and `__Secure-` names, checked
/// here so that a cookie the browser would drop is never configured.
pub(super) fn cookie_prefix(
    found: &mut Findings,
    name: &str,
    secure: bool,
    path: &str,
    domain: Option<&str>,
) {
    let lower = name.to_ascii_lowercase();
    let (prefix, rules) = if lower.starts_with("__host-") {
        ("__Host-", [!secure, path != "/", domain.is_some()])
    } else if lower.starts_with("__secure-") {
        ("__Secure-", [!secure, false, false])
    } else {
        return;
    };
    let fixes = [
        "set redis.sessions.cookie_secure = true",
        "set redis.sessions.cookie_path = /",
        "remove redis.sessions.cookie_domain",
    ];
    for (_, fix) in rules.iter().zip(fixes).filter(|(broken, _)| **broken) {
        found
            .problem(
                ErrorKind::Conflict,
                "cookie_name",
                format!("browsers drop a {prefix} cookie unless its settings allow it: {fix}"),
            )
            .seen(name);
    }
}

/// A file named by a setting must be a readable file.
pub(super) fn readable_file(found: &mut Findings, name: &str, path: &Path) {
    let error = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Some("it is not a file".to_owned()),
        Ok(_) => std::fs::File::open(path).err().map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(error) = error {
        found
            .problem(
                ErrorKind::Invalid,
                name,
                format!("cannot read it ({error}): expected a readable PEM file, e.g. /etc/redis/tls/ca.crt"),
            )
            .seen(path.display().to_string());
    }
}

/// Reports a Redis client error under the setting its message starts with
/// (`tls_ca_file = "…": …`), or under `default`.
pub(super) fn redis_problem(found: &mut Findings, text: &str, default: &str) {
    const NAMED: [&str; 7] = [
        "url",
        "host",
        "port",
        "unix_socket_path",
        "tls_ca_file",
        "tls_cert_file",
        "tls_key_file",
    ];
    let (name, message) = NAMED
        .into_iter()
        .find_map(|name| {
            let rest = text.strip_prefix(name)?.strip_prefix(" = ")?;
            let (_, message) = rest.split_once(": ")?;
            Some((name, message))
        })
        .unwrap_or((default, text));
    found.problem(ErrorKind::Invalid, name, message.to_owned());
}

/// A cookie path starts with `/`; neither it nor a domain may hold
/// separators or control characters (an indented INI continuation line
/// would otherwise make every `Set-Cookie` header invalid, silently).
pub(super) fn cookie_path_and_domain(found: &mut Findings, path: &str, domain: Option<&str>) {
    if !path.starts_with('/') || path.contains([';', ',']) || path.chars().any(char::is_control) {
        found
            .problem(
                ErrorKind::Invalid,
                "cookie_path",
                "expected a path starting with /, without ; or ,, e.g. /",
            )
            .seen(path);
    }
    if let Some(domain) = domain
        && (domain.is_empty()
            || domain.contains([';', ',', ' ', '/'])
            || domain.chars().any(char::is_control))
    {
        found
            .problem(
                ErrorKind::Invalid,
                "cookie_domain",
                "expected a domain name, e.g. example.com",
            )
            .seen(domain);
    }
}

/// Warns when the cookie would outlive the session it carries.
pub(super) fn cookie_max_age(found: &mut Findings, max_age: Option<u64>, timeout: u64) {
    if let Some(max_age) = max_age
        && timeout > 0
        && max_age > timeout
    {
        found.warning(
            "cookie_max_age",
            format!(
                "the cookie outlives the session: browsers keep it {max_age} s, the session ends after {timeout} s idle; set it to at most redis.sessions.timeout"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_typed_secrets_are_weak_random_ones_are_not() {
        for weak in [
            "your_cookie_signing_secret",
            "ChangeMe-ChangeMe-ChangeMe-ChangeMe!!",
            "a secret of at least thirty-two bytes!",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababababab",
        ] {
            assert!(weak_secret(weak).is_some(), "{weak}");
        }
        for strong in [
            "q3Vd8J0m2yPZkQ5x7fLrT1sWnB4cH6gA9eUoIiKjM0pR",
            "test-secret-test-secret-test-secret-0123",
        ] {
            assert_eq!(weak_secret(strong), None, "{strong}");
        }
    }

    #[test]
    fn a_missing_or_unreadable_file_is_a_problem() {
        let mut found = Findings::default();
        readable_file(&mut found, "tls_ca_file", Path::new("/nonexistent/ca.pem"));
        readable_file(&mut found, "tls_cert_file", &std::env::temp_dir());
        readable_file(
            &mut found,
            "tls_key_file",
            Path::new(file!()).parent().unwrap_or(Path::new(".")),
        );
        assert_eq!(found.problems.len(), 3, "{:?}", found.problems);
        assert!(found.problems[1].message().contains("not a file"));
    }
}
