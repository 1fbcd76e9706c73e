//! How a worker treats its connections: how many it serves at once, how long a client
//! may leave a response unread or a request body unfinished, and TLS.
//!
//! The certificate and key are read here, when the settings are loaded (at start-up and
//! on every HUP), so a worker serves the bytes the master checked, never a file that
//! changed between the check and the fork.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::api;
use crate::error::ConfigError;
use crate::layers::Source;
use crate::resolver::{Resolver, number, seconds};
use crate::spec::{self, Spec};

/// Connection limits and timeouts of every worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Connections one worker serves at once (gunicorn's `worker_connections`).
    pub worker_connections: usize,
    /// Longest a response may wait for the client to accept more of it.
    pub send_timeout: Duration,
    /// Longest a request body may pause; also its grace before the minimum rate applies.
    pub body_timeout: Duration,
    /// HTTPS, when SSL is on.
    pub tls: Option<TlsFiles>,
}

/// The certificate chain and private key, as read from their files.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// The key stays out of every log and error message.
impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFiles")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

pub(crate) fn connections(r: &Resolver<'_>) -> Result<ConnectionSettings, ConfigError> {
    Ok(ConnectionSettings {
        worker_connections: r.get(&spec::WORKER_CONNECTIONS, number::<usize>(1, 1_000_000))?,
        send_timeout: Duration::from_secs(r.get(&spec::SEND_TIMEOUT, seconds(1))?),
        body_timeout: Duration::from_secs(r.get(&spec::BODY_TIMEOUT, seconds(1))?),
        tls: tls(r)?,
    })
}

/// LightRAG's rule: with SSL on, both files must be given and exist.
fn tls(r: &Resolver<'_>) -> Result<Option<TlsFiles>, ConfigError> {
    if !r.get(&spec::SSL, api::boolean)? {
        return Ok(None);
    }
    let (cert_file, cert_pem) = read(r, &spec::SSL_CERTFILE)?;
    let (key_file, key_pem) = read(r, &spec::SSL_KEYFILE)?;
    Ok(Some(TlsFiles {
        cert_file,
        key_file,
        cert_pem,
        key_pem,
    }))
}

fn read(r: &Resolver<'_>, spec: &Spec) -> Result<(PathBuf, Vec<u8>), ConfigError> {
    let Some((value, origin)) = r.raw(spec).filter(|(v, _)| !v.trim().is_empty()) else {
        return Err(ConfigError::Invalid {
            setting: spec.env,
            origin: Source::Default,
            value: String::new(),
            reason: "must be set when SSL is on".to_owned(),
        });
    };
    let file = PathBuf::from(value.trim());
    match std::fs::read(&file) {
        Ok(bytes) => Ok((file, bytes)),
        Err(e) => Err(ConfigError::Invalid {
            setting: spec.env,
            origin,
            value,
            reason: format!("cannot read the file: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::{Environment, Settings};

    fn load(args: &[&str]) -> Result<Settings, String> {
        let env = Environment::from_maps(HashMap::new(), HashMap::new());
        Settings::load(std::iter::once("x").chain(args.iter().copied()), &env)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_gunicorns_cap_and_bounded_timeouts() {
        let c = load(&[]).unwrap().connections;
        assert_eq!(c.worker_connections, 1000);
        assert_eq!(c.send_timeout.as_secs(), 30);
        assert_eq!(c.body_timeout.as_secs(), 30);
        assert_eq!(c.tls, None);
    }

    #[test]
    fn ssl_needs_both_files_readable() {
        let e = load(&["--ssl"]).unwrap_err();
        assert!(
            e.contains("SSL_CERTFILE") && e.contains("must be set when SSL is on"),
            "{e}"
        );
        let e = load(&["--ssl", "--ssl-certfile", "/nonexistent/cert.pem"]).unwrap_err();
        assert!(
            e.contains("SSL_CERTFILE") && e.contains("cannot read the file"),
            "{e}"
        );
        assert!(load(&["--ssl", "false", "--ssl-certfile", "/nonexistent"]).is_ok());
    }

    #[test]
    fn the_files_are_read_and_the_key_is_not_shown() {
        let dir = std::env::temp_dir().join(format!("lrm-tls-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cert, "CERT").unwrap();
        std::fs::write(&key, "SECRET").unwrap();
        let s = load(&[
            "--ssl",
            "--ssl-certfile",
            cert.to_str().unwrap(),
            "--ssl-keyfile",
            key.to_str().unwrap(),
        ])
        .unwrap();
        let tls = s.connections.tls.unwrap();
        assert_eq!(
            (tls.cert_pem.as_slice(), tls.key_pem.as_slice()),
            (&b"CERT"[..], &b"SECRET"[..])
        );
        assert!(!format!("{tls:?}").contains("SECRET"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
