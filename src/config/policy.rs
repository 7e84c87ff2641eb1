//! `[policy]`: where sessions may go (private ranges, CIDR, port and name lists, and the
//! deny files, one entry per line).

use super::values::parse_list;
use super::{under, ConfigError};
use crate::proxy::domains::DomainPattern;
use crate::proxy::policy::{Cidr, PolicyConfig, PortRange};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A deny file larger than this is refused rather than read into memory.
const MAX_DENY_FILE: u64 = 64 << 20;

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
    /// Exact names and `*.suffix` patterns.
    #[serde(default)]
    pub deny_domains: Vec<String>,
    /// More of the same, one per line, `#` comments (relative to the config file).
    pub deny_domains_file: Option<PathBuf>,
    pub deny_cidrs_file: Option<PathBuf>,
}

impl RawPolicy {
    /// `dir`: where relative deny files are, the config file's directory.
    pub fn validate(self, dir: &Path) -> Result<PolicyConfig, ConfigError> {
        let raw = self;
        let mut deny_cidrs = parse_list::<Cidr>("policy.deny_cidrs", raw.deny_cidrs)?;
        let mut deny_domains =
            parse_list::<DomainPattern>("policy.deny_domains", raw.deny_domains)?;
        if let Some(file) = raw.deny_cidrs_file {
            deny_cidrs.extend(read_list::<Cidr>(
                "policy.deny_cidrs_file",
                &under(dir, file),
            )?);
        }
        if let Some(file) = raw.deny_domains_file {
            deny_domains.extend(read_list::<DomainPattern>(
                "policy.deny_domains_file",
                &under(dir, file),
            )?);
        }
        Ok(PolicyConfig {
            allow_private: raw.allow_private.unwrap_or(false),
            allow_cidrs: parse_list::<Cidr>("policy.allow_cidrs", raw.allow_cidrs)?,
            deny_cidrs,
            allow_ports: parse_list::<PortRange>("policy.allow_ports", raw.allow_ports)?,
            deny_ports: parse_list::<PortRange>("policy.deny_ports", raw.deny_ports)?,
            deny_domains,
        })
    }
}

/// One entry per line; `#` starts a comment; blank lines are skipped. An entry that does
/// not parse is an error naming the file and line, so a typo never opens a hole.
fn read_list<T: std::str::FromStr>(key: &str, path: &Path) -> Result<Vec<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let fail = |why: String| ConfigError::new(key, format!("{}: {why}", path.display()));
    let len = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if len > MAX_DENY_FILE {
        return Err(fail(format!("larger than {} MiB", MAX_DENY_FILE >> 20)));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let value = entry
            .parse::<T>()
            .map_err(|e| fail(format!("line {}: `{entry}`: {e}", i + 1)))?;
        out.push(value);
    }
    Ok(out)
}
