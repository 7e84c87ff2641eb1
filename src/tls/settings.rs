//! The node's TLS settings, validated (`src/config/tls.rs` reads the `[tls]` section):
//! where its certificate and key are, and how long a client may take over its handshake.
//!
//! ```toml
//! [tls]
//! cert_file = "/etc/letsencrypt/live/node.example/fullchain.pem"
//! key_file = "/etc/letsencrypt/live/node.example/privkey.pem"
//! handshake_secs = 10
//! ```
//!
//! Without the two files the node generates a self-signed pair at first start (see
//! [`self_signed_paths`]); members check its pin, not a CA.

use super::cert::CertSource;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The admin's certificate and key; None: self-signed (see [`TlsSettings::source`]).
    pub files: Option<(PathBuf, PathBuf)>,
    pub handshake_timeout: Duration,
}

impl TlsSettings {
    /// Relative file names taken from `dir`, the config file's directory.
    pub fn relative_to(mut self, dir: &Path) -> TlsSettings {
        let under = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
        self.files = self.files.map(|(c, k)| (under(c), under(k)));
        self
    }

    /// Where the identity comes from for the node whose config file is `config_path`:
    /// the self-signed pair lives next to it without a StateDirectory.
    pub fn source(&self, config_path: &Path) -> CertSource {
        match &self.files {
            Some((cert, key)) => CertSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            None => {
                let (cert, key) = self_signed_paths(config_path);
                CertSource::SelfSigned { cert, key }
            }
        }
    }
}

/// The self-signed pair's files without `[tls]` paths: systemd's StateDirectory when
/// set, else next to the config file (as the chain state is).
pub fn self_signed_paths(config_path: &Path) -> (PathBuf, PathBuf) {
    match crate::systemd::state_directory() {
        Some(dir) => (dir.join("tls-cert.pem"), dir.join("tls-key.pem")),
        None => {
            let name = config_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "aqueduct".into());
            (
                config_path.with_file_name(format!("{name}.tls-cert.pem")),
                config_path.with_file_name(format!("{name}.tls-key.pem")),
            )
        }
    }
}
