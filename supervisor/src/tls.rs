//! TLS as LightRAG offers it (SSL, SSL_CERTFILE, SSL_KEYFILE). The master checks the
//! certificate chain and key the settings read (both parse, the key is one rustls can
//! sign with, and it belongs to the first certificate) before any fork: at start-up a
//! bad pair stops the master with one line; on HUP it refuses the reload, so the serving
//! generation keeps the certificate it has. Each worker builds the same rustls
//! configuration from the same bytes after its fork.
//!
//! The crypto provider is aws-lc-rs, which the HTTP client and the JWT code already
//! link; ring would add a second crypto library to the binary.

use std::sync::Arc;

use lightrag_config::{Settings, TlsFiles};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("SSL_CERTFILE {file}: {reason}")]
    Certificate { file: String, reason: String },
    #[error("SSL_KEYFILE {file}: {reason}")]
    Key { file: String, reason: String },
    #[error("SSL_CERTFILE {cert} with SSL_KEYFILE {key}: {reason}")]
    Pair {
        cert: String,
        key: String,
        reason: String,
    },
}

/// The rustls configuration of `files`: HTTP/1.1 only (announced by ALPN), TLS 1.2
/// and 1.3 with rustls' safe defaults, no client certificates.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_file = files.cert_file.display().to_string();
    let key_file = files.key_file.display().to_string();
    let certificate = |reason: String| TlsError::Certificate {
        file: cert_file.clone(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&files.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(certificate("no PEM certificate in the file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_slice(&files.key_pem).map_err(|e| TlsError::Key {
        file: key_file.clone(),
        reason: e.to_string(),
    })?;
    let pair = |e: rustls::Error| TlsError::Pair {
        cert: cert_file.clone(),
        key: key_file.clone(),
        reason: match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                "the key does not belong to the first certificate".to_owned()
            }
            e => e.to_string(),
        },
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pair)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(pair)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts exactly the end-entity certificate of `files`
/// (for `lightrag-master healthcheck`, which must reach this server whoever signed its
/// certificate, and nothing else).
pub fn pinned_client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let leaf = CertificateDer::pem_slice_iter(&files.cert_pem)
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| TlsError::Certificate {
            file: files.cert_file.display().to_string(),
            reason: "no PEM certificate in the file".to_owned(),
        })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Certificate {
            file: files.cert_file.display().to_string(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { leaf, provider }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts the one certificate it was given; checks the handshake's signatures.
#[derive(Debug)]
struct Pinned {
    leaf: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server does not present the configured certificate".to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The master's check before forking: the error is the one line to print or log.
pub(crate) fn check(settings: &Settings) -> Result<(), String> {
    match &settings.connections.tls {
        Some(files) => server_config(files).map(drop).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(cert: &[u8], key: &[u8]) -> TlsFiles {
        TlsFiles {
            cert_file: "cert.pem".into(),
            key_file: "key.pem".into(),
            cert_pem: cert.to_vec(),
            key_pem: key.to_vec(),
        }
    }

    /// A self-signed certificate and its key, made by openssl.
    fn generated(name: &str) -> (Vec<u8>, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!("lrm-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let pair = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
        std::fs::remove_dir_all(dir).unwrap();
        pair
    }

    #[test]
    fn a_matching_pair_serves_http1_only() {
        let (cert, key) = generated("ok");
        let config = server_config(&files(&cert, &key)).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn each_bad_file_is_named() {
        let (cert, key) = generated("a");
        let (_, other_key) = generated("b");
        let e = server_config(&files(b"not pem", &key)).unwrap_err();
        assert!(matches!(e, TlsError::Certificate { .. }), "{e}");
        let e = server_config(&files(&cert, b"")).unwrap_err();
        assert!(matches!(e, TlsError::Key { .. }), "{e}");
        let e = server_config(&files(&cert, &other_key)).unwrap_err();
        assert!(matches!(e, TlsError::Pair { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("SSL_CERTFILE cert.pem with SSL_KEYFILE key.pem")
        );
    }
}
