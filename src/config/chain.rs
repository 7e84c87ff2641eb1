//! The `[chain]` section: where the chain is and which key and contract to use.

use super::ConfigError;
use crate::eth::keys::PasswordSource;
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
    /// A keystore's password: a file holding it, or an environment variable naming it.
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    /// The contract's deployment block (printed by `aqueduct deploy`): where a scan of
    /// its events starts.
    pub deploy_block: Option<u64>,
    /// The node's member table and sync progress (default: `$STATE_DIRECTORY` or next
    /// to the config file).
    pub state_file: Option<PathBuf>,
    /// Blocks that may still be reorganised away; re-read on every poll.
    pub reorg_depth: Option<u64>,
    /// Seconds between the node's looks at the chain.
    pub poll_secs: Option<u64>,
    /// Blocks per eth_getLogs request (some providers allow only small ranges).
    pub log_chunk: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    pub rpc: Vec<String>,
    pub key: Option<PathBuf>,
    pub contract: Option<Address>,
    pub password: Option<PasswordSource>,
    /// 0 when not configured: scan from genesis.
    pub deploy_block: u64,
    pub state_file: Option<PathBuf>,
    pub reorg_depth: u64,
    pub poll_interval: std::time::Duration,
    pub log_chunk: u64,
}

impl Default for ChainConfig {
    fn default() -> ChainConfig {
        ChainConfig {
            rpc: Vec::new(),
            key: None,
            contract: None,
            password: None,
            deploy_block: 0,
            state_file: None,
            reorg_depth: DEFAULT_REORG_DEPTH,
            poll_interval: std::time::Duration::from_secs(DEFAULT_POLL_SECS),
            log_chunk: DEFAULT_LOG_CHUNK,
        }
    }
}

/// Base and most L2s finalise far sooner; 12 blocks covers the reorgs seen in practice.
pub const DEFAULT_REORG_DEPTH: u64 = 12;
pub const DEFAULT_POLL_SECS: u64 = 5;
pub const DEFAULT_LOG_CHUNK: u64 = 5_000;

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
        let password = match (self.password_file, self.password_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "chain.password_file",
                    "set password_file or password_env, not both",
                ))
            }
            (Some(f), None) => Some(PasswordSource::File(f)),
            (None, Some(e)) => Some(PasswordSource::Env(e)),
            (None, None) => None,
        };
        let reorg_depth = self.reorg_depth.unwrap_or(DEFAULT_REORG_DEPTH);
        if reorg_depth > 10_000 {
            return Err(ConfigError::new(
                "chain.reorg_depth",
                "must be at most 10000",
            ));
        }
        let poll_secs = self.poll_secs.unwrap_or(DEFAULT_POLL_SECS);
        if !(1..=3600).contains(&poll_secs) {
            return Err(ConfigError::new("chain.poll_secs", "must be 1 to 3600"));
        }
        let log_chunk = self.log_chunk.unwrap_or(DEFAULT_LOG_CHUNK);
        if !(1..=1_000_000).contains(&log_chunk) {
            return Err(ConfigError::new("chain.log_chunk", "must be 1 to 1000000"));
        }
        Ok(ChainConfig {
            rpc: self.rpc,
            key: self.key,
            contract,
            password,
            deploy_block: self.deploy_block.unwrap_or(0),
            state_file: self.state_file,
            reorg_depth,
            poll_interval: std::time::Duration::from_secs(poll_secs),
            log_chunk,
        })
    }
}

impl ChainConfig {
    /// Relative paths (key, password file, state file) taken relative to `dir`, the
    /// config file's directory, not to wherever the command happens to run.
    pub fn relative_to(mut self, dir: &std::path::Path) -> ChainConfig {
        self.key = self.key.map(|p| super::under(dir, p));
        self.state_file = self.state_file.map(|p| super::under(dir, p));
        self.password = self.password.map(|source| match source {
            PasswordSource::File(p) => PasswordSource::File(super::under(dir, p)),
            env @ PasswordSource::Env(_) => env,
        });
        self
    }
}

/// Reads only the `[chain]` section of a config file, for the chain commands (the
/// node reads the whole file through the engine's loader).
pub fn load_chain_section(path: &std::path::Path) -> Result<ChainConfig, ConfigError> {
    let raw: RawChain = super::load_section(path, "chain")?;
    raw.validate().map(|c| c.relative_to(super::dir_of(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ChainConfig, ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        table
            .get("chain")
            .cloned()
            .unwrap()
            .try_into::<RawChain>()
            .map_err(|e| ConfigError::new("chain", e.message().to_string()))?
            .validate()
    }

    #[test]
    fn full_section_validates() {
        let c = parse(
            "[chain]\nrpc = [\"http://127.0.0.1:8545\", \"https://b.example\"]\nkey = \"k.json\"\n\
             contract = \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"\npassword_env = \"PW\"\ndeploy_block = 12\n",
        )
        .unwrap();
        assert_eq!(c.rpc.len(), 2);
        assert_eq!(c.password, Some(PasswordSource::Env("PW".into())));
        assert!(c.contract.is_some());
        assert_eq!(c.deploy_block, 12);
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            parse("[chain]\nrpc = [\"ftp://x\"]").unwrap_err().key,
            "chain.rpc"
        );
        assert_eq!(
            parse("[chain]\ncontract = \"0x12\"").unwrap_err().key,
            "chain.contract"
        );
        assert_eq!(
            parse("[chain]\npassword_env = \"A\"\npassword_file = \"b\"")
                .unwrap_err()
                .key,
            "chain.password_file"
        );
        assert!(parse("[chain]\nrcp = []").is_err());
    }
}
