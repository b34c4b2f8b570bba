//! Certificates made at test time with the `openssl` command (a private CA,
//! a server certificate for 127.0.0.1, a client certificate, and a second,
//! unrelated CA), and `redis-server` processes that speak TLS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::redis_server::{RedisServer, free_port};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A directory of PEM files, removed on drop.
pub struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): run scripts/test.sh, which installs it")
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Pki {
    /// Makes the CA, the server and client certificates, and a second CA.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "redis-sessions-pki-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let key = format!("{ca}.key");
            let crt = format!("{ca}.crt");
            let subject = format!("/CN=redis-sessions test {ca}");
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &crt,
                "-days",
                "2",
                "-subj",
                &subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&dir, &args);
        }
        for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let crt = format!("{name}.crt");
            let ext = format!("{name}.ext");
            std::fs::write(
                dir.join(&ext),
                format!(
                    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
                     keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"
                ),
            )
            .expect("temp dir is writable");
            let subject = format!("/CN=redis-sessions test {name}");
            let mut args = vec!["req"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
            openssl(&dir, &args);
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                ],
            );
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `redis-server` with a TLS port (and its plain port, used only to see
/// that it started).
pub struct TlsServer {
    pub server: RedisServer,
    pub tls_port: u16,
}

impl TlsServer {
    /// Starts a server with the certificate of `pki`; with `client_auth`,
    /// clients must show a certificate signed by the CA.
    pub fn start(pki: &Pki, client_auth: bool) -> Self {
        let tls_port = free_port().to_string();
        let cert = pki.path("server.crt").display().to_string();
        let key = pki.path("server.key").display().to_string();
        let ca = pki.path("ca.crt").display().to_string();
        let server = RedisServer::start_with(
            &[
                "--tls-port",
                &tls_port,
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-auth-clients",
                if client_auth { "yes" } else { "no" },
            ],
            None,
        );
        Self {
            server,
            tls_port: tls_port.parse().expect("a port number"),
        }
    }

    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/0", self.tls_port)
    }
}

/// `redis-server` arguments for a TLS port with the server certificate of
/// `pki`, the client certificate for its own outgoing connections
/// (replication, cluster bus, Sentinel) and `pki`'s CA for both sides.
pub fn server_tls_args(pki: &Pki, tls_port: u16) -> Vec<String> {
    let path = |name: &str| pki.path(name).display().to_string();
    vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        path("server.crt"),
        "--tls-key-file".into(),
        path("server.key"),
        "--tls-client-cert-file".into(),
        path("client.crt"),
        "--tls-client-key-file".into(),
        path("client.key"),
        "--tls-ca-cert-file".into(),
        path("ca.crt"),
        "--tls-replication".into(),
        "yes".into(),
    ]
}
