//! The pin: SHA-256 of a certificate's DER SubjectPublicKeyInfo, written `sha256//BASE64`
//! exactly as curl's `--pinnedpubkey` / `--proxy-pinnedpubkey` take it (and as HPKP did).
//! Hashing the key, not the certificate, lets a node renew its certificate on the same key
//! without touching its registry entry.

use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "sha256//";

/// Length of the written form: the prefix and 44 base64 characters for 32 bytes.
pub const PIN_TEXT_LENGTH: usize = PREFIX.len() + 44;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pin([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinError {
    /// Not `sha256//` followed by the canonical base64 of 32 bytes.
    BadText,
    /// The certificate's DER does not parse as X.509.
    BadCertificate,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinError::BadText => {
                f.write_str("is not sha256// followed by the base64 of a 32-byte SHA-256")
            }
            PinError::BadCertificate => f.write_str("the certificate is not valid X.509 DER"),
        }
    }
}

impl std::error::Error for PinError {}

impl Pin {
    /// The pin of a DER SubjectPublicKeyInfo (with its outer SEQUENCE).
    pub fn of_spki(spki_der: &[u8]) -> Pin {
        Pin(Sha256::digest(spki_der).into())
    }

    /// The pin of a DER certificate's public key.
    pub fn of_certificate(cert: &CertificateDer<'_>) -> Result<Pin, PinError> {
        let parsed = webpki::EndEntityCert::try_from(cert).map_err(|_| PinError::BadCertificate)?;
        Ok(Pin::of_spki(parsed.subject_public_key_info().as_ref()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", crate::base64::encode(&self.0))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(s: &str) -> Result<Pin, PinError> {
        let encoded = s.strip_prefix(PREFIX).ok_or(PinError::BadText)?;
        if encoded.len() != 44 {
            return Err(PinError::BadText);
        }
        let mut out = [0u8; 33];
        match crate::base64::decode(encoded.as_bytes(), &mut out) {
            Some(32) => {
                let mut pin = [0u8; 32];
                pin.copy_from_slice(&out[..32]);
                Ok(Pin(pin))
            }
            _ => Err(PinError::BadText),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_print_as_curl_takes_them_and_parse_back_strictly() {
        // SHA-256 of the empty string, a well-known vector.
        let pin = Pin::of_spki(b"");
        let text = pin.to_string();
        assert_eq!(text, "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(text.len(), PIN_TEXT_LENGTH);
        assert_eq!(text.parse::<Pin>(), Ok(pin));
        for bad in [
            "",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha1//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
            "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU==",
            "sha256//AAAA",
            "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu_U=",
        ] {
            assert_eq!(bad.parse::<Pin>(), Err(PinError::BadText), "{bad}");
        }
        assert_eq!(
            Pin::of_certificate(&CertificateDer::from(vec![0x30, 0x00])),
            Err(PinError::BadCertificate)
        );
    }
}
