//! The `[chain]` section: where the chain is and which key and contract to use.

use super::ConfigError;
use crate::eth::Address;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChain {
    /// JSON-RPC URLs, tried in order with failover.
    #[serde(default)]
    pub rpc: Vec<String>,
    /// Key file: raw hex or a Web3 Secret Storage v3 keystore.
    pub key: Option<PathBuf>,
    /// The Aqueduct contract's address.
    pub contract: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    pub rpc: Vec<String>,
    pub key: Option<PathBuf>,
    pub contract: Option<Address>,
}

impl RawChain {
    pub fn validate(self) -> Result<ChainConfig, ConfigError> {
        for url in &self.rpc {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "chain.rpc",
                    format!("`{url}` is not an http(s) URL"),
                ));
            }
        }
        let contract = match self.contract {
            None => None,
            Some(s) => Some(
                s.parse::<Address>()
                    .map_err(|e| ConfigError::new("chain.contract", e.to_string()))?,
            ),
        };
        Ok(ChainConfig {
            rpc: self.rpc,
            key: self.key,
            contract,
        })
    }
}
