//! The two rustls configurations: the node's server side from its [`Identity`], and the
//! member's client side that trusts one pin instead of any certificate authority. Both on
//! ring, the provider ureq already builds.

use super::cert::{CertError, Identity};
use super::pin::Pin;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, ServerConfig,
    SignatureScheme,
};
use std::fmt;
use std::sync::Arc;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 and 1.2 (for old clients), no client certificates, no ALPN (curl and browsers
/// then speak HTTP/1.1 to the proxy, which is what the node serves).
pub fn server_config(identity: &Identity) -> Result<Arc<ServerConfig>, CertError> {
    let rejected = |e: rustls::Error| CertError::Rejected(e.to_string());
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        // Also checks that the key belongs to the certificate.
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(rejected)?;
    Ok(Arc::new(config))
}

/// A client that accepts exactly the server whose certificate's key hashes to `pin`.
pub fn pinned_client_config(pin: Pin) -> Arc<ClientConfig> {
    let provider = provider();
    let verifier = PinVerifier {
        pin,
        algorithms: provider.signature_verification_algorithms,
    };
    // Infallible: ring's default provider supports the default versions.
    #[allow(clippy::expect_used)] // unreachable, as the comment above says
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Arc::new(config)
}

/// The server presented another key than the registry names: a man in the middle, or a
/// node that changed its key without updating its entry.
#[derive(Debug)]
pub struct PinMismatch {
    pub expected: Pin,
    pub presented: Pin,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pin mismatch: possible interception (registry has {}, the server presented {})",
            self.expected, self.presented
        )
    }
}

impl std::error::Error for PinMismatch {}

/// The mismatch inside a failed handshake's error, if that is why it failed.
pub fn pin_mismatch(e: &rustls::Error) -> Option<&PinMismatch> {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<PinMismatch>()
        }
        _ => None,
    }
}

/// Checks the SPKI pin instead of a chain, name and dates: the registry entry, written by
/// the node's own key, is the only authority. The handshake signature is still verified,
/// which proves the server holds the pinned key.
#[derive(Debug)]
struct PinVerifier {
    pin: Pin,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Pin::of_certificate(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if presented == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch {
            expected: self.pin,
            presented,
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
