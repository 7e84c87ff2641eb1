//! `[policy]`: where sessions may go (private ranges, CIDR and port lists).

use super::values::parse_list;
use super::ConfigError;
use crate::proxy::deny_names::{list_file_entries, DomainList};
use crate::proxy::policy::{Cidr, PolicyConfig, PortRange};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub allow_private: Option<bool>,
    #[serde(default)]
    pub allow_cidrs: Vec<String>,
    #[serde(default)]
    pub deny_cidrs: Vec<String>,
    #[serde(default)]
    pub allow_ports: Vec<String>,
    #[serde(default)]
    pub deny_ports: Vec<String>,
    #[serde(default)]
    pub deny_domains: Vec<String>,
    pub deny_domains_file: Option<std::path::PathBuf>,
    pub deny_cidrs_file: Option<std::path::PathBuf>,
}

impl RawPolicy {
    pub fn validate(self) -> Result<PolicyConfig, ConfigError> {
        let raw = self;
        Ok(PolicyConfig {
            allow_private: raw.allow_private.unwrap_or(false),
            allow_cidrs: parse_list::<Cidr>("policy.allow_cidrs", raw.allow_cidrs)?,
            deny_cidrs: parse_list::<Cidr>("policy.deny_cidrs", raw.deny_cidrs)?,
            allow_ports: parse_list::<PortRange>("policy.allow_ports", raw.allow_ports)?,
            deny_ports: parse_list::<PortRange>("policy.deny_ports", raw.deny_ports)?,
            deny_domains: {
                let mut list = DomainList::default();
                for entry in &raw.deny_domains {
                    list.add(entry)
                        .map_err(|e| ConfigError::new("policy.deny_domains", e.to_string()))?;
                }
                list
            },
            deny_domains_file: raw.deny_domains_file,
            deny_cidrs_file: raw.deny_cidrs_file,
        })
    }
}

/// Reads the policy's list files (paths already taken from the config's directory) into
/// its lists; an error names the file and line.
pub fn read_list_files(policy: &mut PolicyConfig) -> Result<(), ConfigError> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(key, format!("cannot read {}: {e}", path.display())))
    };
    if let Some(path) = policy.deny_domains_file.clone() {
        let text = read("policy.deny_domains_file", &path)?;
        for (line, entry) in list_file_entries(&text) {
            policy.deny_domains.add(entry).map_err(|e| {
                ConfigError::new(
                    "policy.deny_domains_file",
                    format!("{} line {line}: {e}", path.display()),
                )
            })?;
        }
    }
    if let Some(path) = policy.deny_cidrs_file.clone() {
        let text = read("policy.deny_cidrs_file", &path)?;
        for (line, entry) in list_file_entries(&text) {
            let cidr = entry.parse::<Cidr>().map_err(|e| {
                ConfigError::new(
                    "policy.deny_cidrs_file",
                    format!("{} line {line}: {e}", path.display()),
                )
            })?;
            policy.deny_cidrs.push(cidr);
        }
    }
    Ok(())
}
