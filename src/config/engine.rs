//! The sections the proxy engine reads (`[auth]`, `[policy]`, `[timeouts]`, `[limits]`, `[dns]`,
//! `[metrics]`, `[relay]`), validated into its [`Settings`]: the node's file and `aqueduct
//! local`'s both have them.

use super::auth::{ChainAuthConfig, RawAuth};
use super::dns::RawDns;
use super::limits::RawLimits;
use super::metrics::RawMetrics;
use super::policy::RawPolicy;
use super::relay::RawRelay;
use super::timeouts::RawTimeouts;
use super::ConfigError;
use crate::proxy::Settings;
use std::net::SocketAddr;
use std::path::Path;

/// The engine's sections as written.
#[derive(Debug, Default)]
pub struct EngineSections {
    pub auth: RawAuth,
    pub policy: RawPolicy,
    pub timeouts: RawTimeouts,
    pub limits: RawLimits,
    pub dns: RawDns,
    pub metrics: RawMetrics,
    pub relay: RawRelay,
}

impl EngineSections {
    /// The engine's settings for `listen` and `tls_listen` (checked by the caller), and
    /// mode "chain"'s own `[auth]` keys, which the engine does not read. The TLS identity
    /// is the embedder's to load (`Settings::tls`).
    /// `dir`: where relative paths in these sections are (the config file's directory).
    pub fn validate(
        self,
        listen: Vec<SocketAddr>,
        tls_listen: Vec<SocketAddr>,
        dir: &Path,
    ) -> Result<(Settings, ChainAuthConfig), ConfigError> {
        let all: Vec<SocketAddr> = listen.iter().chain(&tls_listen).copied().collect();
        let (auth, chain_auth) = self.auth.validate(&all)?;
        let (limits, operator) = self.limits.validate()?;
        let settings = Settings {
            tls_listen,
            tls: None,
            auth,
            policy: self.policy.validate(dir)?,
            timeouts: self.timeouts.validate()?,
            limits,
            operator,
            dns: self.dns.validate()?,
            metrics_listen: self.metrics.validate()?,
            relay: self.relay.validate()?,
            listen,
        };
        Ok((settings, chain_auth))
    }
}
