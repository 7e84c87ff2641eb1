//! The node's TLS identity: a certificate chain and its key, either the admin's PEM files
//! (`[tls] cert_file`/`key_file`, for example from Let's Encrypt) or a self-signed pair
//! generated at first start and kept in the state directory, so the pin in the registry
//! stays valid across restarts.

use super::pin::Pin;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// The admin's files; both must exist.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated here at first start, then reused.
    SelfSigned { cert: PathBuf, key: PathBuf },
}

/// How this start got its identity (logged, so a changed pin is never a surprise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Files,
    /// First start: a new key, so a new pin to publish.
    Generated,
    Reused,
    /// The key was there but not its certificate (a crash between the two writes): a new
    /// certificate on the same key, so the pin is unchanged.
    Recertified,
}

pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Of the first certificate in `chain`, the one the node presents.
    pub pin: Pin,
    pub origin: Origin,
}

#[derive(Debug)]
pub enum CertError {
    Read(PathBuf, io::Error),
    Write(PathBuf, io::Error),
    Missing(PathBuf),
    NoCertificate(PathBuf),
    BadCertificate(PathBuf),
    BadKey(PathBuf),
    /// A certificate without its key next to it: generating a new key would change the pin.
    OrphanCertificate(PathBuf),
    Generate(String),
    /// rustls refused the pair (for example the key does not match the certificate).
    Rejected(String),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            CertError::Write(p, e) => write!(f, "cannot write {}: {e}", p.display()),
            CertError::Missing(p) => write!(f, "{} does not exist", p.display()),
            CertError::NoCertificate(p) => {
                write!(f, "{} holds no PEM CERTIFICATE block", p.display())
            }
            CertError::BadCertificate(p) => {
                write!(f, "{}: the first certificate is not valid X.509", p.display())
            }
            CertError::BadKey(p) => write!(
                f,
                "{} holds no PEM private key (PKCS#8, RSA or EC)",
                p.display()
            ),
            CertError::OrphanCertificate(p) => write!(
                f,
                "{} exists but its key does not; restore the key (a new one would change the pin in the registry) or remove the certificate",
                p.display()
            ),
            CertError::Generate(e) => write!(f, "cannot generate a certificate: {e}"),
            CertError::Rejected(e) => write!(f, "certificate and key unusable: {e}"),
        }
    }
}

impl std::error::Error for CertError {}

/// Loads the identity, generating the self-signed pair if this is the first start.
pub fn load_or_generate(source: &CertSource) -> Result<Identity, CertError> {
    match source {
        CertSource::Files { cert, key } => {
            let chain = read_chain(cert)?;
            let key = read_key(key)?;
            identity(chain, key, cert, Origin::Files)
        }
        CertSource::SelfSigned { cert, key } => match (cert.exists(), key.exists()) {
            (true, true) => {
                let chain = read_chain(cert)?;
                identity(chain, read_key(key)?, cert, Origin::Reused)
            }
            (true, false) => Err(CertError::OrphanCertificate(cert.clone())),
            (false, true) => {
                let key_der = read_key(key)?;
                let chain = vec![self_sign(&key_der)?];
                write_private(cert, &pem("CERTIFICATE", &chain[0]))?;
                identity(chain, key_der, cert, Origin::Recertified)
            }
            (false, false) => {
                let pair =
                    rcgen::KeyPair::generate().map_err(|e| CertError::Generate(e.to_string()))?;
                let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der()));
                let chain = vec![self_sign(&key_der)?];
                // The key first: a crash before the certificate is written costs a new
                // certificate on the same key next time, not a new pin.
                write_private(key, &pem("PRIVATE KEY", key_der.secret_der()))?;
                write_private(cert, &pem("CERTIFICATE", &chain[0]))?;
                identity(chain, key_der, cert, Origin::Generated)
            }
        },
    }
}

/// Only reads: for `aqueduct set-endpoint`, which may run as another user than the node
/// and must never create the node's key.
pub fn load_existing(source: &CertSource) -> Result<Identity, CertError> {
    let (cert, key) = match source {
        CertSource::Files { cert, key } | CertSource::SelfSigned { cert, key } => (cert, key),
    };
    let chain = read_chain(cert)?;
    identity(chain, read_key(key)?, cert, Origin::Reused)
}

fn identity(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: &Path,
    origin: Origin,
) -> Result<Identity, CertError> {
    let first = chain
        .first()
        .ok_or_else(|| CertError::NoCertificate(cert_path.to_path_buf()))?;
    let pin = Pin::of_certificate(first)
        .map_err(|_| CertError::BadCertificate(cert_path.to_path_buf()))?;
    Ok(Identity {
        chain,
        key,
        pin,
        origin,
    })
}

fn self_sign(key_der: &PrivateKeyDer<'_>) -> Result<CertificateDer<'static>, CertError> {
    let generate = |e: rcgen::Error| CertError::Generate(e.to_string());
    let pair = rcgen::KeyPair::try_from(key_der).map_err(generate)?;
    // The name does not matter: members check the pin, not a name or a CA chain.
    let mut params = rcgen::CertificateParams::new(vec!["aqueduct-node.invalid".to_string()])
        .map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "aqueduct node");
    Ok(params.self_signed(&pair).map_err(generate)?.der().clone())
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CertError::Missing(path.to_path_buf()),
        _ => CertError::Read(path.to_path_buf(), e),
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let bytes = read(path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|_| CertError::NoCertificate(path.to_path_buf()))?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate(path.to_path_buf()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertError> {
    let bytes = read(path)?;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                "{} is readable by other users; chmod 600 it",
                path.display()
            );
        }
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| CertError::BadKey(path.to_path_buf()))
}

/// RFC 7468 text: the label's BEGIN line, base64 in 64-character lines, the END line.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = crate::base64::encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Writes `text` to `path` with mode 0600 through a temporary file and a rename, so a
/// crash leaves either the old file or the whole new one.
fn write_private(path: &Path, text: &str) -> Result<(), CertError> {
    let err = |e| CertError::Write(path.to_path_buf(), e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(err)?;
    }
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    // A stale temporary file keeps its old mode through open(): set it again.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aqueduct-cert-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn self_signed_pair_is_generated_private_and_reused_with_the_same_pin() {
        let dir = temp_dir("reuse");
        let source = CertSource::SelfSigned {
            cert: dir.join("c.pem"),
            key: dir.join("k.pem"),
        };
        let first = load_or_generate(&source).unwrap();
        assert_eq!(first.origin, Origin::Generated);
        for f in ["c.pem", "k.pem"] {
            let mode = fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let again = load_or_generate(&source).unwrap();
        assert_eq!(again.origin, Origin::Reused);
        assert_eq!(again.pin, first.pin);
        assert_eq!(again.chain, first.chain);

        // The certificate lost, the key kept: a new certificate, the same pin.
        fs::remove_file(dir.join("c.pem")).unwrap();
        let re = load_or_generate(&source).unwrap();
        assert_eq!(re.origin, Origin::Recertified);
        assert_eq!(re.pin, first.pin);

        // The key lost: refused rather than a silent new pin.
        fs::remove_file(dir.join("k.pem")).unwrap();
        assert!(matches!(
            load_or_generate(&source),
            Err(CertError::OrphanCertificate(_))
        ));
        assert!(matches!(load_existing(&source), Err(CertError::Missing(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn admin_files_must_exist_and_hold_pem() {
        let dir = temp_dir("files");
        let source = CertSource::Files {
            cert: dir.join("c.pem"),
            key: dir.join("k.pem"),
        };
        assert!(matches!(
            load_or_generate(&source),
            Err(CertError::Missing(_))
        ));
        fs::write(dir.join("c.pem"), "not pem").unwrap();
        fs::write(dir.join("k.pem"), "not pem").unwrap();
        assert!(matches!(
            load_or_generate(&source),
            Err(CertError::NoCertificate(_))
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
