//! TLS to PostgreSQL over rustls (no OpenSSL), with LightRAG's POSTGRES_SSL_MODE
//! meanings: `disable` is plain; `allow`, `prefer` and `require` encrypt without
//! checking the certificate (prefer and allow fall back to plain when the server has
//! no TLS); `verify-ca` checks the chain against POSTGRES_SSL_ROOT_CERT (or the system's
//! roots) but not the host name; `verify-full` checks both. A client certificate and a
//! revocation list are used when configured. Unlike LightRAG, a configured file that
//! cannot be read stops the start rather than being skipped with a warning.

use std::path::Path;
use std::sync::Arc;

use postgres::config::SslMode as WireMode;
use postgres::{Client, NoTls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{SslConfig, SslMode};
use crate::storage::{Result, StorageError};

/// What the wire protocol asks for: TLS is negotiated by the connector below.
pub(super) fn ssl_mode(mode: SslMode) -> WireMode {
    match mode {
        SslMode::Disable => WireMode::Disable,
        SslMode::Allow | SslMode::Prefer => WireMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
    }
}

pub(super) enum Connector {
    Plain,
    Tls(MakeRustlsConnect),
}

impl Connector {
    pub(super) fn new(ssl: &SslConfig) -> Result<Connector> {
        if ssl.mode == SslMode::Disable {
            return Ok(Connector::Plain);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match ssl.mode {
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let webpki = webpki_verifier(ssl, provider.clone())?;
                if ssl.mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(AnyName(webpki))
                }
            }
            _ => Arc::new(Unchecked(provider.clone())),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| refused("POSTGRES_SSL_MODE", e))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&ssl.cert, &ssl.key) {
            (Some(cert), Some(key)) => {
                let chain = read_all::<CertificateDer<'static>>(cert, "POSTGRES_SSL_CERT")?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| refused("POSTGRES_SSL_KEY", format!("{}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| refused("POSTGRES_SSL_CERT", e))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(refused(
                    "POSTGRES_SSL_CERT",
                    "POSTGRES_SSL_CERT and POSTGRES_SSL_KEY go together",
                ));
            }
        };
        Ok(Connector::Tls(MakeRustlsConnect::new(config)))
    }

    pub(super) fn connect(
        &self,
        config: &postgres::Config,
    ) -> std::result::Result<Client, postgres::Error> {
        match self {
            Connector::Plain => config.connect(NoTls),
            Connector::Tls(tls) => config.connect(tls.clone()),
        }
    }
}

fn refused(setting: &str, reason: impl std::fmt::Display) -> StorageError {
    StorageError::Refused {
        what: setting.to_owned(),
        reason: reason.to_string(),
    }
}

/// Every PEM item of type `T` in `path` (at least one).
fn read_all<T: PemObject>(path: &Path, setting: &str) -> Result<Vec<T>> {
    let what =
        |e: rustls::pki_types::pem::Error| refused(setting, format!("{}: {e}", path.display()));
    let items = T::pem_file_iter(path)
        .map_err(what)?
        .collect::<std::result::Result<Vec<T>, _>>()
        .map_err(what)?;
    if items.is_empty() {
        return Err(refused(setting, format!("{}: no PEM item", path.display())));
    }
    Ok(items)
}

fn webpki_verifier(
    ssl: &SslConfig,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut roots = RootCertStore::empty();
    match &ssl.root_cert {
        Some(path) => {
            for cert in read_all::<CertificateDer<'static>>(path, "POSTGRES_SSL_ROOT_CERT")? {
                roots
                    .add(cert)
                    .map_err(|e| refused("POSTGRES_SSL_ROOT_CERT", e))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let mut builder = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider);
    if let Some(path) = &ssl.crl {
        let crls = read_all::<CertificateRevocationListDer<'static>>(path, "POSTGRES_SSL_CRL")?;
        builder = builder.with_crls(crls);
    }
    builder
        .build()
        .map_err(|e| refused("POSTGRES_SSL_ROOT_CERT", e))
}

/// verify-ca: the chain must verify, whatever name the certificate is for.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// require/prefer: encrypted, the certificate unchecked (the handshake's signatures
/// still are).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssl(mode: SslMode) -> SslConfig {
        SslConfig {
            mode,
            cert: None,
            key: None,
            root_cert: None,
            crl: None,
        }
    }

    #[test]
    fn modes_map_to_the_wire_and_missing_files_are_refused() {
        assert_eq!(ssl_mode(SslMode::Allow), WireMode::Prefer);
        assert_eq!(ssl_mode(SslMode::VerifyCa), WireMode::Require);
        assert!(matches!(
            Connector::new(&ssl(SslMode::Disable)),
            Ok(Connector::Plain)
        ));
        assert!(matches!(
            Connector::new(&ssl(SslMode::Require)),
            Ok(Connector::Tls(_))
        ));
        let mut missing = ssl(SslMode::VerifyFull);
        missing.root_cert = Some("/nonexistent/ca.pem".into());
        let err = Connector::new(&missing).err().expect("a missing CA file");
        assert!(err.to_string().contains("POSTGRES_SSL_ROOT_CERT"), "{err}");
        let mut half = ssl(SslMode::Require);
        half.cert = Some("/nonexistent/c.pem".into());
        assert!(Connector::new(&half).is_err());
    }
}
