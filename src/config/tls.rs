//! `[tls]`: the node's certificate and key (or a self-signed pair), and the TLS
//! handshake's timeout.

use super::{dir_of, load_section, ConfigError};
use crate::tls::cert::CertSource;
use crate::tls::settings::TlsSettings;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_HANDSHAKE_SECS: u64 = 10;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// From accept until the TLS handshake is done; the proxy protocol's own handshake
    /// timeout starts after it.
    pub handshake_secs: Option<u64>,
}

impl RawTls {
    pub fn validate(self) -> Result<TlsSettings, ConfigError> {
        let files = match (self.cert_file, self.key_file) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "tls.key_file",
                    "cert_file needs key_file (or leave both unset for a self-signed pair)",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls.cert_file",
                    "key_file needs cert_file (or leave both unset for a self-signed pair)",
                ))
            }
        };
        let secs = self.handshake_secs.unwrap_or(DEFAULT_HANDSHAKE_SECS);
        if secs == 0 {
            return Err(ConfigError::new("tls.handshake_secs", "must be at least 1"));
        }
        Ok(TlsSettings {
            files,
            handshake_timeout: Duration::from_secs(secs),
        })
    }
}

/// Reads only the `[tls]` section of the node's config file (an absent section means
/// the defaults), for `aqueduct set-endpoint --tls`; returns where its identity is.
pub fn load_tls_section(path: &Path) -> Result<CertSource, ConfigError> {
    let raw: RawTls = load_section(path, "tls")?;
    Ok(raw.validate()?.relative_to(dir_of(path)).source(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TlsSettings, ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        let raw = match table.get("tls") {
            Some(v) => v.clone().try_into::<RawTls>().unwrap(),
            None => RawTls::default(),
        };
        raw.validate()
            .map(|t| t.relative_to(Path::new("/etc/aqueduct")))
    }

    #[test]
    fn files_are_taken_from_the_config_directory_or_self_signed_beside_it() {
        let config = Path::new("/etc/aqueduct/node.toml");
        let s = parse("[tls]\ncert_file = \"c.pem\"\nkey_file = \"/k.pem\"\n").unwrap();
        assert_eq!(
            s.source(config),
            CertSource::Files {
                cert: "/etc/aqueduct/c.pem".into(),
                key: "/k.pem".into()
            }
        );
        assert_eq!(
            s.handshake_timeout,
            Duration::from_secs(DEFAULT_HANDSHAKE_SECS)
        );
        if std::env::var_os("STATE_DIRECTORY").is_none() {
            assert_eq!(
                parse("").unwrap().source(config),
                CertSource::SelfSigned {
                    cert: "/etc/aqueduct/node.toml.tls-cert.pem".into(),
                    key: "/etc/aqueduct/node.toml.tls-key.pem".into()
                }
            );
        }
        assert_eq!(
            parse("[tls]\ncert_file = \"c\"\n").unwrap_err().key,
            "tls.key_file"
        );
        assert_eq!(
            parse("[tls]\nkey_file = \"k\"\n").unwrap_err().key,
            "tls.cert_file"
        );
        assert_eq!(
            parse("[tls]\nhandshake_secs = 0\n").unwrap_err().key,
            "tls.handshake_secs"
        );
    }
}
