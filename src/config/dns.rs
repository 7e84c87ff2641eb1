//! `[dns]`: the nameservers and the files the node's own resolver reads.

use super::ConfigError;
use crate::proxy::settings::DnsSettings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub nameservers: Option<Vec<String>>,
    pub resolv_conf: Option<PathBuf>,
    pub hosts_file: Option<PathBuf>,
}

impl RawDns {
    pub fn validate(self) -> Result<DnsSettings, ConfigError> {
        let raw = self;
        let nameservers = match raw.nameservers {
            None => None,
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for s in list {
                    // A bare IP means port 53.
                    let addr = s
                        .parse::<SocketAddr>()
                        .or_else(|_| {
                            s.parse::<std::net::IpAddr>()
                                .map(|ip| SocketAddr::new(ip, 53))
                        })
                        .map_err(|_| {
                            ConfigError::new(
                                "dns.nameservers",
                                format!("`{s}` is not an IP address"),
                            )
                        })?;
                    out.push(addr);
                }
                if out.is_empty() {
                    return Err(ConfigError::new(
                    "dns.nameservers",
                    "leave the key out to use resolv.conf; an empty list cannot resolve anything",
                ));
                }
                Some(out)
            }
        };
        Ok(DnsSettings {
            nameservers,
            resolv_conf: raw
                .resolv_conf
                .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf")),
            hosts_file: raw
                .hosts_file
                .unwrap_or_else(|| PathBuf::from("/etc/hosts")),
        })
    }
}
