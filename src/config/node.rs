//! `[node]` (where the proxy listens, the ready file) and `[heartbeat]`.

use super::values::Listen;
use super::ConfigError;
use crate::proxy::settings::MAX_LISTENERS;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1080);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub listen: Option<Listen>,
    /// The same protocols inside TLS (issue 15); `[tls]` says with which certificate.
    pub tls_listen: Option<Listen>,
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    pub enabled: Option<bool>,
}

/// `[heartbeat]`: the node's `imOnline` transactions (mode "chain" only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatConfig {
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Written once every listener is bound: one bound address per line. Lets scripts and
    /// tests that listen on port 0 learn the port.
    pub ready_file: Option<PathBuf>,
}

impl RawNode {
    /// The listen addresses (default loopback:1080, none when only `tls_listen` is
    /// given), the TLS ones, and the rest of the section.
    pub fn validate(self) -> Result<(Vec<SocketAddr>, Vec<SocketAddr>, NodeConfig), ConfigError> {
        let tls_listen = match self.tls_listen {
            None => Vec::new(),
            Some(list) => list.parse("node.tls_listen")?,
        };
        let listen = match self.listen {
            None if !tls_listen.is_empty() => Vec::new(),
            None => vec![DEFAULT_LISTEN],
            Some(list) => list.parse("node.listen")?,
        };
        let all: Vec<SocketAddr> = listen.iter().chain(&tls_listen).copied().collect();
        let key = if tls_listen.is_empty() {
            "node.listen"
        } else {
            "node.tls_listen"
        };
        check_listen(key, &all)?;
        Ok((
            listen,
            tls_listen,
            NodeConfig {
                ready_file: self.ready_file,
            },
        ))
    }
}

impl RawHeartbeat {
    pub fn validate(self) -> HeartbeatConfig {
        HeartbeatConfig {
            enabled: self.enabled.unwrap_or(true),
        }
    }
}

/// The engine takes 1 to [`MAX_LISTENERS`] listeners.
pub fn check_listen(key: &str, listen: &[SocketAddr]) -> Result<(), ConfigError> {
    if listen.is_empty() {
        return Err(ConfigError::new(key, "needs at least one address"));
    }
    if listen.len() > MAX_LISTENERS {
        return Err(ConfigError::new(
            key,
            format!("at most {MAX_LISTENERS} addresses"),
        ));
    }
    Ok(())
}
