//! Where the sessions live: a Redis URL (or the separate host settings) and
//! the TLS files, checked and turned into one of three targets: one server,
//! a master found through Sentinels, or a Cluster.

use std::path::Path;

use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};

use super::{RedisOptions, redact_url};
use crate::store::Error;

/// The URL forms accepted, for error messages.
pub(super) const URL_FORMS: &str = "redis://[user:password@]host[:port][/db], rediss://… (TLS), \
     redis+unix:///path[?db=N], redis+sentinel://[user:password@]host:port[,host:port…]/MASTER[/db], \
     redis+cluster://[user:password@]host:port[,host:port…] (rediss+sentinel:// and rediss+cluster:// for TLS) \
     or memory://";

/// A checked connection target.
#[derive(Clone)]
pub(super) enum Target {
    /// One server (TCP, TLS or Unix socket).
    Single(redis::ConnectionInfo),
    /// The master named `master`, found through the Sentinels at `nodes`.
    #[cfg_attr(not(feature = "sentinel"), allow(dead_code))]
    Sentinel {
        nodes: Vec<(String, u16)>,
        master: String,
        auth: Auth,
        db: i64,
        tls: bool,
    },
    /// A Redis Cluster reached first through `nodes`.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    Cluster {
        nodes: Vec<(String, u16)>,
        auth: Auth,
        tls: bool,
    },
}

/// A user name and password from a URL (never shown).
#[derive(Clone, Default)]
pub(super) struct Auth {
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
}

/// The address of `host:port`, over TLS (always verified) or plain TCP.
#[cfg(any(feature = "cluster", feature = "sentinel"))]
pub(super) fn tcp_addr(host: &str, port: u16, tls: bool) -> ConnectionAddr {
    if tls {
        ConnectionAddr::TcpTls {
            host: host.to_owned(),
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host.to_owned(), port)
    }
}

impl Auth {
    #[cfg(feature = "cluster")]
    pub(super) fn apply(&self, mut info: RedisConnectionInfo) -> RedisConnectionInfo {
        if let Some(username) = &self.username {
            info = info.set_username(username);
        }
        if let Some(password) = &self.password {
            info = info.set_password(password);
        }
        info
    }
}

impl Target {
    /// True when the connections use TLS.
    pub(super) fn is_tls(&self) -> bool {
        match self {
            Self::Single(info) => matches!(info.addr(), ConnectionAddr::TcpTls { .. }),
            Self::Sentinel { tls, .. } | Self::Cluster { tls, .. } => *tls,
        }
    }
}

fn url_error(url: &str, what: &str) -> Error {
    Error::Config(format!(
        "url = {:?}: {what}: expected {URL_FORMS}",
        redact_url(url)
    ))
}

fn missing_feature(url: &str, scheme: &str, feature: &str) -> Error {
    Error::Config(format!(
        "url = {:?}: {scheme}:// URLs need the `{feature}` Cargo feature of redis-sessions, which this build leaves out: expected a build with features = [\"{feature}\"] (on by default)",
        redact_url(url)
    ))
}

/// Checks `options` and returns its target (no I/O but reading nothing).
pub(super) fn target(options: &RedisOptions) -> Result<Target, Error> {
    let Some(url) = &options.url else {
        let addr = match &options.unix_socket_path {
            Some(path) => ConnectionAddr::Unix(path.clone()),
            None => ConnectionAddr::Tcp(options.host.clone(), options.port),
        };
        let mut redis = RedisConnectionInfo::default().set_db(options.db);
        if let Some(password) = &options.password {
            redis = redis.set_password(password);
        }
        return addr
            .into_connection_info()
            .map(|info| Target::Single(info.set_redis_settings(redis)))
            .map_err(|e| {
                Error::Config(format!(
                    "host = {:?}: {e}: expected a host name or address, e.g. 127.0.0.1",
                    options.host
                ))
            });
    };
    parse_url(url)
}

/// Parses a Redis URL of any supported form.
pub(super) fn parse_url(url: &str) -> Result<Target, Error> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(url_error(url, "no scheme"));
    };
    if url.contains('#') {
        // redis-rs reads `#insecure` as "skip certificate verification":
        // never offered here.
        return Err(url_error(
            url,
            "a URL fragment (#…) is not accepted, and certificate verification cannot be turned off",
        ));
    }
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "redis" | "rediss" | "redis+unix" | "unix" | "valkey" | "valkeys" => {
            if (scheme == "rediss" || scheme == "valkeys") && !cfg!(feature = "tls") {
                return Err(missing_feature(url, &scheme, "tls"));
            }
            url.into_connection_info()
                .map(Target::Single)
                .map_err(|e| url_error(url, &e.to_string()))
        }
        "redis+sentinel" | "rediss+sentinel" => {
            if !cfg!(feature = "sentinel") {
                return Err(missing_feature(url, &scheme, "sentinel"));
            }
            let tls = scheme.starts_with("rediss");
            if tls && !cfg!(feature = "tls") {
                return Err(missing_feature(url, &scheme, "tls"));
            }
            let (auth, nodes, path) = split_multi_host(url, rest, 26379)?;
            let mut parts = path.split('/').filter(|p| !p.is_empty());
            let master = parts
                .next()
                .ok_or_else(|| url_error(url, "no master name after the Sentinel addresses"))?;
            let master = percent_decode(master).map_err(|e| url_error(url, &e))?;
            let db = match parts.next() {
                Some(db) => db
                    .parse::<i64>()
                    .ok()
                    .filter(|db| *db >= 0)
                    .ok_or_else(|| {
                        url_error(url, &format!("database {db:?} is not a whole number"))
                    })?,
                None => 0,
            };
            if parts.next().is_some() {
                return Err(url_error(url, "more than /MASTER/db after the addresses"));
            }
            Ok(Target::Sentinel {
                nodes,
                master,
                auth,
                db,
                tls,
            })
        }
        "redis+cluster" | "rediss+cluster" => {
            if !cfg!(feature = "cluster") {
                return Err(missing_feature(url, &scheme, "cluster"));
            }
            let tls = scheme.starts_with("rediss");
            if tls && !cfg!(feature = "tls") {
                return Err(missing_feature(url, &scheme, "tls"));
            }
            let (auth, nodes, path) = split_multi_host(url, rest, 6379)?;
            if !path.trim_matches('/').is_empty() && path.trim_matches('/') != "0" {
                return Err(url_error(
                    url,
                    "a Cluster has only database 0, so no /db may follow the addresses",
                ));
            }
            Ok(Target::Cluster { nodes, auth, tls })
        }
        _ => Err(url_error(url, &format!("unknown scheme {scheme:?}"))),
    }
}

/// Credentials, addresses and the path of a multi-host URL.
type MultiHost = (Auth, Vec<(String, u16)>, String);

/// Splits `[user:password@]host:port[,host:port…][/path]` (the part after
/// `scheme://`) into credentials, addresses and the path.
fn split_multi_host(url: &str, rest: &str, default_port: u16) -> Result<MultiHost, Error> {
    let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, String::new()),
    };
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let mut auth = Auth::default();
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        let decode = |s: &str| percent_decode(s).map_err(|e| url_error(url, &e));
        if !user.is_empty() {
            auth.username = Some(decode(user)?);
        }
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            auth.password = Some(decode(password)?);
        }
    }
    let mut nodes = Vec::new();
    for host in hosts.split(',') {
        nodes.push(parse_host_port(host, default_port).map_err(|e| url_error(url, &e))?);
    }
    Ok((auth, nodes, path))
}

fn parse_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    if text.is_empty() {
        return Err("an empty address in the host list".into());
    }
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("address {text:?} opens [ without closing it"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("address {text:?} has no host"));
    }
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("address {text:?} has a bad port"))?,
        None => default_port,
    };
    Ok((host.to_owned(), port))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-escapes that are not UTF-8".into())
}

/// Which TLS file a message is about.
#[derive(Clone, Copy)]
pub(super) enum TlsFile {
    Ca,
    Cert,
    Key,
}

impl TlsFile {
    fn setting(self) -> &'static str {
        match self {
            Self::Ca => "tls_ca_file",
            Self::Cert => "tls_cert_file",
            Self::Key => "tls_key_file",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Ca => {
                "a PEM file with the certificate(s) of the authority that signed the server's certificate (-----BEGIN CERTIFICATE-----)"
            }
            Self::Cert => "a PEM file with the client certificate (-----BEGIN CERTIFICATE-----)",
            Self::Key => {
                "a PEM file with the client certificate's private key (-----BEGIN PRIVATE KEY----- or an RSA/EC key)"
            }
        }
    }
}

/// Reads one TLS file and checks that it holds what it should.
pub(super) fn read_tls_file(kind: TlsFile, path: &Path) -> Result<Vec<u8>, Error> {
    let fail = |what: String| {
        Error::Config(format!(
            "{} = {:?}: {what}: expected {}",
            kind.setting(),
            path.display().to_string(),
            kind.expected()
        ))
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it ({e})")))?;
    let text = String::from_utf8_lossy(&bytes);
    let found = match kind {
        TlsFile::Ca | TlsFile::Cert => text.contains("-----BEGIN CERTIFICATE-----"),
        TlsFile::Key => ["PRIVATE KEY-----"].iter().any(|m| text.contains(m)),
    };
    if !found {
        return Err(fail("it holds no PEM block of the right kind".into()));
    }
    #[cfg(feature = "tls")]
    check_pem(kind, &bytes).map_err(fail)?;
    Ok(bytes)
}

#[cfg(feature = "tls")]
fn check_pem(kind: TlsFile, bytes: &[u8]) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    match kind {
        TlsFile::Ca | TlsFile::Cert => {
            let certs = CertificateDer::pem_slice_iter(bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("its PEM is malformed ({e})"))?;
            if certs.is_empty() {
                return Err("it holds no certificate".into());
            }
            if let TlsFile::Ca = kind {
                let mut roots = rustls::RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err("none of its certificates can serve as a trust anchor".into());
                }
            }
            Ok(())
        }
        TlsFile::Key => PrivateKeyDer::from_pem_slice(bytes)
            .map(|_| ())
            .map_err(|e| format!("it holds no usable private key ({e})")),
    }
}

/// The certificates to use for a TLS target, read from the TLS files.
#[cfg(feature = "tls")]
pub(super) fn certificates(options: &RedisOptions) -> Result<redis::TlsCertificates, Error> {
    let root_cert = match &options.tls_ca_file {
        Some(path) => Some(read_tls_file(TlsFile::Ca, path)?),
        None => None,
    };
    let client_tls = match (&options.tls_cert_file, &options.tls_key_file) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read_tls_file(TlsFile::Cert, cert)?,
            client_key: read_tls_file(TlsFile::Key, key)?,
        }),
        _ => None,
    };
    Ok(redis::TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// The rustls settings that match `certificates`, for connections opened
/// outside redis-rs: verified against the CA file, or the system's roots;
/// with the client certificate for mutual TLS.
#[cfg(feature = "tls")]
pub(super) fn rustls_config(
    certificates: &redis::TlsCertificates,
) -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let fail = |what: String| Error::Config(format!("tls: {what}"));
    let mut roots = rustls::RootCertStore::empty();
    match &certificates.root_cert {
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("tls_ca_file: its PEM is malformed ({e})")))?;
            roots.add_parsable_certificates(certs);
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match &certificates.client_tls {
        Some(client) => {
            let chain = CertificateDer::pem_slice_iter(&client.client_cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("tls_cert_file: its PEM is malformed ({e})")))?;
            let key = PrivateKeyDer::from_pem_slice(&client.client_key)
                .map_err(|e| fail(format!("tls_key_file: no usable private key ({e})")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                fail(format!(
                    "tls_cert_file and tls_key_file do not go together ({e})"
                ))
            })?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(std::sync::Arc::new(config))
}

/// Checks everything about `options` that can be checked without a server:
/// the URL (or host), and the TLS files (readable, PEM of the right kind,
/// set only with a TLS URL, certificate and key together).
pub(super) fn validate(options: &RedisOptions) -> Result<Target, Error> {
    let target = target(options)?;
    let files = [
        (TlsFile::Ca, &options.tls_ca_file),
        (TlsFile::Cert, &options.tls_cert_file),
        (TlsFile::Key, &options.tls_key_file),
    ];
    for (kind, path) in files {
        if let Some(path) = path {
            if !target.is_tls() {
                return Err(Error::Config(format!(
                    "{} = {:?}: set, but the connection does not use TLS: expected a rediss://, rediss+sentinel:// or rediss+cluster:// url with it",
                    kind.setting(),
                    path.display().to_string()
                )));
            }
            read_tls_file(kind, path)?;
        }
    }
    match (&options.tls_cert_file, &options.tls_key_file) {
        (Some(cert), None) => Err(Error::Config(format!(
            "tls_cert_file = {:?}: set without tls_key_file: expected both (mutual TLS) or neither",
            cert.display().to_string()
        ))),
        (None, Some(key)) => Err(Error::Config(format!(
            "tls_key_file = {:?}: set without tls_cert_file: expected both (mutual TLS) or neither",
            key.display().to_string()
        ))),
        _ => Ok(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Target, String> {
        parse_url(url).map_err(|e| e.to_string())
    }

    #[cfg(feature = "sentinel")]
    #[test]
    fn sentinel_urls_name_hosts_master_and_db() {
        let Ok(Target::Sentinel {
            nodes,
            master,
            auth,
            db,
            tls,
        }) = parse("redis+sentinel://u:p%40ss@10.0.0.1:26380,[::1],h/mymaster/3")
        else {
            panic!("not a sentinel target")
        };
        assert_eq!(
            nodes,
            [
                ("10.0.0.1".to_owned(), 26380),
                ("::1".to_owned(), 26379),
                ("h".to_owned(), 26379)
            ]
        );
        assert_eq!((master.as_str(), db, tls), ("mymaster", 3, false));
        assert_eq!(auth.username.as_deref(), Some("u"));
        assert_eq!(auth.password.as_deref(), Some("p@ss"));
        let e = parse("redis+sentinel://:secret@h:1")
            .err()
            .unwrap_or_default();
        assert!(e.contains("no master name") && !e.contains("secret"), "{e}");
        let e = parse("redis+sentinel://h:1/m/x").err().unwrap_or_default();
        assert!(e.contains("\"x\" is not a whole number"), "{e}");
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_urls_name_hosts_and_refuse_a_db() {
        let Ok(Target::Cluster { nodes, tls, .. }) = parse("rediss+cluster://a:7000,b:7001") else {
            panic!("not a cluster target")
        };
        assert_eq!(nodes, [("a".to_owned(), 7000), ("b".to_owned(), 7001)]);
        assert!(tls);
        assert!(parse("redis+cluster://a:7000/2").is_err());
        assert!(parse("redis+cluster://a:x").is_err());
        assert!(parse("redis+cluster://a:1,,b:2").is_err());
    }

    #[test]
    fn skipping_certificate_checks_is_refused() {
        let e = parse("rediss://127.0.0.1:6380/#insecure")
            .err()
            .unwrap_or_default();
        assert!(e.contains("cannot be turned off"), "{e}");
    }

    #[test]
    fn tls_files_need_a_tls_url() {
        let options = RedisOptions {
            url: Some("redis://127.0.0.1/0".into()),
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..RedisOptions::default()
        };
        let e = validate(&options).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("does not use TLS"));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn unreadable_tls_files_are_named() {
        let options = RedisOptions {
            url: Some("rediss://127.0.0.1/0".into()),
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..RedisOptions::default()
        };
        let e = validate(&options).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.starts_with("tls_ca_file = \"/nonexistent/ca.pem\": cannot read it"),
            "{e}"
        );
    }
}
