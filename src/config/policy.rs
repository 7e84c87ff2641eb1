//! `[policy]`: where sessions may go (private ranges, CIDR and port lists).

use super::values::parse_list;
use super::ConfigError;
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
        })
    }
}
