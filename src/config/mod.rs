//! The TOML config file: each section is read into a raw serde struct (unknown keys are
//! errors) and validated into a typed struct; errors name the offending key.

use std::fmt;

pub mod chain;
pub mod logging;
pub mod relay;

/// A config problem, naming the key (`section.key`) it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------
// The whole file
// ---------------------------------------------------------------------------

use crate::proxy::policy::{Cidr, PolicyConfig, PortRange};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The node's config file as written: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub node: RawNode,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub relay: relay::RawRelay,
    pub chain: Option<chain::RawChain>,
    #[serde(default)]
    pub heartbeat: RawHeartbeat,
    #[serde(default)]
    pub log: logging::RawLog,
}

/// A `listen` key: one `IP:port` string or a list of them, in every section.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Listen {
    One(String),
    Many(Vec<String>),
}

impl Listen {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Listen::One(s) => vec![s],
            Listen::Many(list) => list,
        }
    }

    /// The addresses, each checked; `key` names the setting in errors.
    pub fn parse(self, key: &str) -> Result<Vec<SocketAddr>, ConfigError> {
        self.into_vec()
            .into_iter()
            .map(|s| {
                s.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::new(key, format!("`{s}` is not an IP:port address")))
            })
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub listen: Option<Listen>,
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub mode: Option<String>,
    #[serde(default)]
    pub users: Vec<RawUser>,
    /// Mode "chain": longest credential lifetime accepted, in seconds.
    pub max_credential_lifetime_secs: Option<u64>,
    /// Mode "chain": concurrent sessions one member may hold at this node.
    pub max_sessions_per_member: Option<u32>,
    /// Mode "chain": how long "not a member" answers are remembered.
    pub negative_cache_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    pub password: String,
}

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub handshake_secs: Option<u64>,
    pub connect_secs: Option<u64>,
    pub idle_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_sessions: Option<usize>,
    pub max_handshake_bytes: Option<usize>,
    pub buffer_bytes: Option<usize>,
    pub max_handshakes_per_client: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub nameservers: Option<Vec<String>>,
    pub resolv_conf: Option<PathBuf>,
    pub hosts_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Listen>,
}

/// The validated config the node runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub node: NodeConfig,
    pub auth: AuthConfig,
    pub policy: PolicyConfig,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub dns: DnsConfig,
    pub metrics: MetricsConfig,
    pub relay: relay::RelayConfig,
    pub chain: Option<chain::ChainConfig>,
    pub heartbeat: HeartbeatConfig,
    pub log: crate::logging::LogSettings,
}

/// `[heartbeat]`: the node's `imOnline` transactions (mode "chain" only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatConfig {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Where `GET /metrics` (Prometheus text) is served; off when unset.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub listen: Vec<SocketAddr>,
    /// Written once every listener is bound: one bound address per line. Lets scripts and
    /// tests that listen on port 0 learn the port.
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Anyone may connect; only allowed when every listen address is loopback.
    None,
    /// Username/password pairs from `[[auth.users]]`.
    Static,
    /// Member credentials signed by paying members' wallets (issue 5, `src/node/`).
    Chain,
}

#[derive(Clone)]
pub struct User {
    pub name: String,
    pub password: String,
}

impl fmt::Debug for User {
    // Never print the password, not even in a debug dump of the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub users: Vec<User>,
    pub chain: ChainAuthConfig,
}

/// The `[auth]` keys of mode "chain".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainAuthConfig {
    pub max_credential_lifetime: Duration,
    pub max_sessions_per_member: u32,
    pub negative_cache: Duration,
}

pub const DEFAULT_CHAIN_AUTH: ChainAuthConfig = ChainAuthConfig {
    max_credential_lifetime: Duration::from_secs(30 * 24 * 3600),
    max_sessions_per_member: 64,
    negative_cache: Duration::from_secs(30),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accept until the session is connecting upstream (greeting, auth, request, DNS).
    pub handshake: Duration,
    /// Per upstream address tried.
    pub connect: Duration,
    /// A relaying session with no bytes moving either way for this long is closed.
    pub idle: Duration,
    /// After SIGTERM/SIGINT, how long live sessions may go on before the node exits.
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_sessions: usize,
    pub max_handshake_bytes: usize,
    /// Capacity of each of a session's two relay buffers.
    pub buffer_bytes: usize,
    /// Connections one client address (IPv6: one /64) may have in their handshake at
    /// once; more are closed at accept.
    pub max_handshakes_per_client: usize,
}

#[derive(Debug, Clone, Default)]
pub struct DnsConfig {
    /// Replaces the nameservers of resolv.conf when set.
    pub nameservers: Option<Vec<SocketAddr>>,
    pub resolv_conf: PathBuf,
    pub hosts_file: PathBuf,
}

pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1080);
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    handshake: Duration::from_secs(10),
    connect: Duration::from_secs(10),
    idle: Duration::from_secs(300),
    shutdown_grace: Duration::from_secs(30),
};
pub const DEFAULT_LIMITS: Limits = Limits {
    max_sessions: 4096,
    max_handshake_bytes: 8192,
    buffer_bytes: 32 * 1024,
    max_handshakes_per_client: 64,
};
/// The engine's reserved token range leaves room for this many listeners.
pub const MAX_LISTENERS: usize = 32;

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    parse(&text).map(|c| c.relative_to(dir_of(path)))
}

/// The directory relative paths in the config file at `path` are taken from.
pub fn dir_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// `p` as written if absolute, else under `dir`.
pub(crate) fn under(dir: &Path, p: PathBuf) -> PathBuf {
    if p.is_relative() {
        dir.join(p)
    } else {
        p
    }
}

impl Config {
    /// Every file the config names, relative ones taken from `dir` (the config file's
    /// directory), so the node reads the same files wherever it is started from.
    pub fn relative_to(mut self, dir: &Path) -> Config {
        self.node.ready_file = self.node.ready_file.map(|p| under(dir, p));
        self.dns.resolv_conf = under(dir, std::mem::take(&mut self.dns.resolv_conf));
        self.dns.hosts_file = under(dir, std::mem::take(&mut self.dns.hosts_file));
        self.chain = self.chain.map(|c| c.relative_to(dir));
        self
    }
}

/// Parses and validates config text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    raw.validate()
}

/// Syntax and type errors, with the key named as `section.key` where toml points at one,
/// and the line number.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let Some(span) = e.span() else {
        return ConfigError::new("", e.message());
    };
    let before = text.get(..span.start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let section = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    // The span covers the key itself for an unknown key, the value for a bad value: either
    // way the key is what precedes `=` on that line.
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let key = (text.get(line_start..).and_then(|l| l.lines().next()))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or("");
    let key = match (section, key) {
        (_, "") => String::new(),
        (Some(section), key) => format!("{section}.{key}"),
        (None, key) => key.to_string(),
    };
    ConfigError::new(key, format!("line {line}: {}", e.message()))
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let listen = match self.node.listen {
            None => vec![DEFAULT_LISTEN],
            Some(list) => list.parse("node.listen")?,
        };
        if listen.is_empty() {
            return Err(ConfigError::new(
                "node.listen",
                "needs at least one address",
            ));
        }
        if listen.len() > MAX_LISTENERS {
            return Err(ConfigError::new(
                "node.listen",
                format!("at most {MAX_LISTENERS} addresses"),
            ));
        }
        let auth = validate_auth(self.auth, &listen)?;
        let policy = validate_policy(self.policy)?;
        let timeouts = validate_timeouts(self.timeouts)?;
        let limits = validate_limits(self.limits)?;
        let dns = validate_dns(self.dns)?;
        let metrics = validate_metrics(self.metrics)?;
        let relay = self.relay.validate()?;
        let log = self.log.validate()?;
        let chain = self.chain.map(chain::RawChain::validate).transpose()?;
        if auth.mode == AuthMode::Chain {
            validate_chain_mode(chain.as_ref())?;
        }
        Ok(Config {
            node: NodeConfig {
                listen,
                ready_file: self.node.ready_file,
            },
            auth,
            policy,
            timeouts,
            limits,
            dns,
            metrics,
            relay,
            chain,
            heartbeat: HeartbeatConfig {
                enabled: self.heartbeat.enabled.unwrap_or(true),
            },
            log,
        })
    }
}

/// Mode "chain" needs to know where the chain is, which contract, and the node's key.
fn validate_chain_mode(chain: Option<&chain::ChainConfig>) -> Result<(), ConfigError> {
    let Some(chain) = chain else {
        return Err(ConfigError::new(
            "chain",
            "auth.mode \"chain\" needs a [chain] section with rpc, contract and key",
        ));
    };
    if chain.rpc.is_empty() {
        return Err(ConfigError::new(
            "chain.rpc",
            "auth.mode \"chain\" needs an RPC URL",
        ));
    }
    if chain.contract.is_none() {
        return Err(ConfigError::new(
            "chain.contract",
            "auth.mode \"chain\" needs the contract address",
        ));
    }
    if chain.key.is_none() {
        return Err(ConfigError::new(
            "chain.key",
            "auth.mode \"chain\" needs the node's key file (it signs heartbeats and is the node's address)",
        ));
    }
    Ok(())
}

fn validate_auth(raw: RawAuth, listen: &[SocketAddr]) -> Result<AuthConfig, ConfigError> {
    let mode = match raw.mode.as_deref() {
        None | Some("static") => AuthMode::Static,
        Some("none") => AuthMode::None,
        Some("chain") => AuthMode::Chain,
        Some(other) => {
            return Err(ConfigError::new(
                "auth.mode",
                format!("`{other}` is not one of \"none\", \"static\", \"chain\""),
            ))
        }
    };
    let chain = validate_chain_auth(&raw, mode)?;
    let mut users: Vec<User> = Vec::with_capacity(raw.users.len());
    for u in raw.users {
        // RFC 1929 carries each in a one-byte length field.
        if u.name.is_empty() || u.name.len() > 255 {
            return Err(ConfigError::new(
                "auth.users.name",
                "must be 1 to 255 bytes",
            ));
        }
        if u.password.is_empty() || u.password.len() > 255 {
            return Err(ConfigError::new(
                "auth.users.password",
                format!("password of `{}` must be 1 to 255 bytes", u.name),
            ));
        }
        if u.name.contains(':') {
            // HTTP Basic splits user and password at the first colon.
            return Err(ConfigError::new(
                "auth.users.name",
                format!("`{}` contains ':'", u.name),
            ));
        }
        if users.iter().any(|x| x.name == u.name) {
            return Err(ConfigError::new(
                "auth.users.name",
                format!("`{}` appears twice", u.name),
            ));
        }
        users.push(User {
            name: u.name,
            password: u.password,
        });
    }
    match mode {
        AuthMode::Chain if !users.is_empty() => Err(ConfigError::new(
            "auth.users",
            "users are only used with mode \"static\"",
        )),
        AuthMode::Chain => Ok(AuthConfig { mode, users, chain }),
        AuthMode::Static if users.is_empty() => Err(ConfigError::new(
            "auth.users",
            "mode \"static\" needs at least one [[auth.users]] entry",
        )),
        AuthMode::None if !users.is_empty() => Err(ConfigError::new(
            "auth.users",
            "users are only used with mode \"static\"",
        )),
        AuthMode::None => match listen.iter().find(|a| !a.ip().is_loopback()) {
            Some(a) => Err(ConfigError::new(
                "auth.mode",
                format!(
                    "\"none\" would make an open proxy on {a}; it is only allowed when every node.listen address is loopback"
                ),
            )),
            None => Ok(AuthConfig { mode, users, chain }),
        },
        AuthMode::Static => Ok(AuthConfig { mode, users, chain }),
    }
}

fn validate_chain_auth(raw: &RawAuth, mode: AuthMode) -> Result<ChainAuthConfig, ConfigError> {
    let d = DEFAULT_CHAIN_AUTH;
    let set = raw.max_credential_lifetime_secs.is_some()
        || raw.max_sessions_per_member.is_some()
        || raw.negative_cache_secs.is_some();
    if set && mode != AuthMode::Chain {
        return Err(ConfigError::new(
            "auth.mode",
            "max_credential_lifetime_secs, max_sessions_per_member and negative_cache_secs only apply to mode \"chain\"",
        ));
    }
    let max_sessions_per_member = raw
        .max_sessions_per_member
        .unwrap_or(d.max_sessions_per_member);
    if max_sessions_per_member == 0 {
        return Err(ConfigError::new(
            "auth.max_sessions_per_member",
            "must be at least 1",
        ));
    }
    Ok(ChainAuthConfig {
        max_credential_lifetime: secs(
            "auth.max_credential_lifetime_secs",
            raw.max_credential_lifetime_secs,
            d.max_credential_lifetime,
        )?,
        max_sessions_per_member,
        negative_cache: secs(
            "auth.negative_cache_secs",
            raw.negative_cache_secs,
            d.negative_cache,
        )?,
    })
}

fn parse_list<T: std::str::FromStr>(key: &str, list: Vec<String>) -> Result<Vec<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    list.iter()
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| ConfigError::new(key, format!("`{s}`: {e}")))
        })
        .collect()
}

fn validate_policy(raw: RawPolicy) -> Result<PolicyConfig, ConfigError> {
    Ok(PolicyConfig {
        allow_private: raw.allow_private.unwrap_or(false),
        allow_cidrs: parse_list::<Cidr>("policy.allow_cidrs", raw.allow_cidrs)?,
        deny_cidrs: parse_list::<Cidr>("policy.deny_cidrs", raw.deny_cidrs)?,
        allow_ports: parse_list::<PortRange>("policy.allow_ports", raw.allow_ports)?,
        deny_ports: parse_list::<PortRange>("policy.deny_ports", raw.deny_ports)?,
    })
}

/// A `*_secs` key: `default` when absent, else 1 to a year (so that `now + timeout` can
/// never overflow an Instant).
fn secs(key: &str, value: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
    secs_at_most(key, value, default, YEAR)
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// A `*_secs` key of 1 to `max` seconds, `default` when absent.
pub fn secs_at_most(
    key: &str,
    value: Option<u64>,
    default: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    match value.map(Duration::from_secs) {
        None => Ok(default),
        Some(Duration::ZERO) => Err(ConfigError::new(key, "must be at least 1")),
        Some(d) if d > max && max == YEAR => Err(ConfigError::new(key, "must be at most a year")),
        Some(d) if d > max => Err(ConfigError::new(
            key,
            format!("must be at most {}", max.as_secs()),
        )),
        Some(d) => Ok(d),
    }
}

fn validate_timeouts(raw: RawTimeouts) -> Result<Timeouts, ConfigError> {
    let d = DEFAULT_TIMEOUTS;
    Ok(Timeouts {
        handshake: secs("timeouts.handshake_secs", raw.handshake_secs, d.handshake)?,
        connect: secs("timeouts.connect_secs", raw.connect_secs, d.connect)?,
        idle: secs("timeouts.idle_secs", raw.idle_secs, d.idle)?,
        shutdown_grace: match raw.shutdown_grace_secs {
            // Zero is meaningful here: exit at once.
            Some(s) if s <= 24 * 3600 => Duration::from_secs(s),
            Some(_) => {
                return Err(ConfigError::new(
                    "timeouts.shutdown_grace_secs",
                    "must be at most a day",
                ))
            }
            None => d.shutdown_grace,
        },
    })
}

fn validate_limits(raw: RawLimits) -> Result<Limits, ConfigError> {
    let d = DEFAULT_LIMITS;
    let max_sessions = raw.max_sessions.unwrap_or(d.max_sessions);
    if !(1..=1_000_000).contains(&max_sessions) {
        return Err(ConfigError::new(
            "limits.max_sessions",
            "must be 1 to 1000000",
        ));
    }
    let buffer_bytes = raw.buffer_bytes.unwrap_or(d.buffer_bytes);
    if !(1024..=16 * 1024 * 1024).contains(&buffer_bytes) {
        return Err(ConfigError::new(
            "limits.buffer_bytes",
            "must be 1024 to 16777216",
        ));
    }
    let max_handshake_bytes = raw.max_handshake_bytes.unwrap_or(d.max_handshake_bytes);
    // A SOCKS5 greeting + auth + request can take 257 + 513 + 262 bytes.
    if !(1100..=buffer_bytes).contains(&max_handshake_bytes) {
        return Err(ConfigError::new(
            "limits.max_handshake_bytes",
            format!("must be 1100 to limits.buffer_bytes ({buffer_bytes})"),
        ));
    }
    let max_handshakes_per_client = raw
        .max_handshakes_per_client
        .unwrap_or(d.max_handshakes_per_client);
    if !(1..=1_000_000).contains(&max_handshakes_per_client) {
        return Err(ConfigError::new(
            "limits.max_handshakes_per_client",
            "must be 1 to 1000000",
        ));
    }
    Ok(Limits {
        max_sessions,
        max_handshake_bytes,
        buffer_bytes,
        max_handshakes_per_client,
    })
}

fn validate_metrics(raw: RawMetrics) -> Result<MetricsConfig, ConfigError> {
    let listen = match raw.listen.map(|l| l.parse("metrics.listen")).transpose()? {
        None => None,
        Some(list) => match list.as_slice() {
            [one] => Some(*one),
            _ => {
                return Err(ConfigError::new(
                    "metrics.listen",
                    "takes one address (a string or a list of one)",
                ))
            }
        },
    };
    Ok(MetricsConfig { listen })
}

fn validate_dns(raw: RawDns) -> Result<DnsConfig, ConfigError> {
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
                        ConfigError::new("dns.nameservers", format!("`{s}` is not an IP address"))
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
    Ok(DnsConfig {
        nameservers,
        resolv_conf: raw
            .resolv_conf
            .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf")),
        hosts_file: raw
            .hosts_file
            .unwrap_or_else(|| PathBuf::from("/etc/hosts")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: &str = "[[auth.users]]\nname = \"alice\"\npassword = \"secret\"\n";

    fn err(text: &str) -> ConfigError {
        parse(text).expect_err("config should be rejected")
    }

    #[test]
    fn example_file_parses_with_the_documented_defaults() {
        let text = include_str!("../../aqueduct.example.toml");
        let cfg = parse(text).expect("aqueduct.example.toml must be valid");
        assert_eq!(cfg.node.listen, vec![DEFAULT_LISTEN]);
        assert_eq!(cfg.auth.mode, AuthMode::Static);
        assert_eq!(cfg.timeouts, DEFAULT_TIMEOUTS);
        assert_eq!(cfg.limits, DEFAULT_LIMITS);
        assert!(!cfg.policy.allow_private);
        assert_eq!(cfg.metrics.listen, None);
    }

    #[test]
    fn listen_is_a_string_or_a_list_in_every_section() {
        for node in [
            "listen = \"127.0.0.1:1081\"",
            "listen = [\"127.0.0.1:1081\"]",
        ] {
            for metrics in [
                "listen = \"127.0.0.1:9464\"",
                "listen = [\"127.0.0.1:9464\"]",
            ] {
                let cfg = parse(&format!("[node]\n{node}\n[metrics]\n{metrics}\n{USERS}"))
                    .unwrap_or_else(|e| panic!("{node} / {metrics}: {e}"));
                assert_eq!(cfg.node.listen, vec!["127.0.0.1:1081".parse().unwrap()]);
                assert_eq!(cfg.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
            }
        }
        let two = parse(&format!(
            "[metrics]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n{USERS}"
        ));
        assert_eq!(two.unwrap_err().key, "metrics.listen");
        let bad = parse(&format!("[node]\nlisten = \"nowhere\"\n{USERS}"));
        assert_eq!(bad.unwrap_err().key, "node.listen");
    }

    #[test]
    fn minimal_static_config_gets_defaults() {
        let cfg = parse(USERS).unwrap();
        assert_eq!(cfg.node.listen.len(), 1);
        assert!(cfg.node.listen[0].ip().is_loopback());
        assert_eq!(cfg.auth.users[0].name, "alice");
        assert_eq!(cfg.dns.hosts_file, PathBuf::from("/etc/hosts"));
        assert!(cfg.chain.is_none());
    }

    #[test]
    fn unknown_keys_are_errors_in_every_section() {
        for section in [
            "node", "auth", "policy", "timeouts", "limits", "dns", "metrics", "relay", "chain",
        ] {
            let e = err(&format!("{USERS}[{section}]\nbogus_key = 1\n"));
            assert!(e.message.contains("bogus_key"), "{section}: {e}");
        }
        assert!(
            err("[[auth.users]]\nname=\"a\"\npassword=\"b\"\nrole=\"x\"\n")
                .message
                .contains("role")
        );
        assert!(err("[nodes]\n").message.contains("nodes"));
    }

    #[test]
    fn syntax_and_type_errors_name_the_key_and_line() {
        let e = err(&format!("{USERS}[timeouts]\nhandshake = 5\n"));
        assert_eq!(e.key, "timeouts.handshake");
        assert!(
            e.message.starts_with("line 5: unknown field `handshake`"),
            "{e}"
        );
        let e = err("[node]\nready_file = 5\n");
        assert_eq!(e.key, "node.ready_file");
        assert!(e.message.starts_with("line 2: invalid type"), "{e}");
        let e = err("[node]\nlisten = 5\n");
        assert_eq!(e.key, "node.listen");
        assert!(e.message.starts_with("line 2: "), "{e}");
        let e = err("[limits]\nmax_sessions = -1\n");
        assert_eq!(e.key, "limits.max_sessions", "{e}");
    }

    #[test]
    fn open_proxy_only_on_loopback() {
        let ok = parse("[node]\nlisten=[\"127.0.0.1:0\",\"[::1]:0\"]\n[auth]\nmode=\"none\"\n");
        assert_eq!(ok.unwrap().auth.mode, AuthMode::None);
        let e = err("[node]\nlisten=[\"127.0.0.1:0\",\"0.0.0.0:1080\"]\n[auth]\nmode=\"none\"\n");
        assert_eq!(e.key, "auth.mode");
        assert!(e.message.contains("0.0.0.0:1080"), "{e}");
    }

    #[test]
    fn auth_mode_errors_name_the_key() {
        assert_eq!(err("[auth]\nmode=\"chain\"\n").key, "chain");
        assert_eq!(err("[auth]\nmode=\"ldap\"\n").key, "auth.mode");
        assert_eq!(err("[auth]\nmode=\"static\"\n").key, "auth.users");
        let twice = format!("{USERS}{USERS}");
        assert_eq!(err(&twice).key, "auth.users.name");
        let e = err("[[auth.users]]\nname=\"bob\"\npassword=\"\"\n");
        assert_eq!(e.key, "auth.users.password");
    }

    #[test]
    fn chain_mode_needs_the_chain_section_and_takes_its_own_keys() {
        let chain = "[chain]\nrpc=[\"http://127.0.0.1:8545\"]\ncontract=\"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"\nkey=\"node.key\"\n";
        let cfg = parse(&format!("[auth]\nmode=\"chain\"\n{chain}")).unwrap();
        assert_eq!(cfg.auth.mode, AuthMode::Chain);
        assert_eq!(cfg.auth.chain, DEFAULT_CHAIN_AUTH);
        assert_eq!(cfg.auth.chain.max_sessions_per_member, 64);
        assert!(cfg.heartbeat.enabled);
        let c = cfg.chain.unwrap();
        assert_eq!(c.reorg_depth, chain::DEFAULT_REORG_DEPTH);
        assert_eq!(c.state_file, None);
        let cfg = parse(&format!(
            "[auth]\nmode=\"chain\"\nmax_sessions_per_member=3\nmax_credential_lifetime_secs=60\nnegative_cache_secs=5\n[heartbeat]\nenabled=false\n{chain}reorg_depth=2\npoll_secs=1\nstate_file=\"/tmp/s.json\"\n"
        ))
        .unwrap();
        assert_eq!(cfg.auth.chain.max_sessions_per_member, 3);
        assert_eq!(
            cfg.auth.chain.max_credential_lifetime,
            Duration::from_secs(60)
        );
        assert_eq!(cfg.auth.chain.negative_cache, Duration::from_secs(5));
        assert!(!cfg.heartbeat.enabled);
        let c = cfg.chain.unwrap();
        assert_eq!(
            (c.reorg_depth, c.poll_interval),
            (2, Duration::from_secs(1))
        );
        let no_key = chain.replace("key=\"node.key\"\n", "");
        assert_eq!(
            err(&format!("[auth]\nmode=\"chain\"\n{no_key}")).key,
            "chain.key"
        );
        let e = err(&format!(
            "[auth]\nmode=\"chain\"\nmax_sessions_per_member=0\n{chain}"
        ));
        assert_eq!(e.key, "auth.max_sessions_per_member");
        assert_eq!(
            err(&format!("{USERS}[auth]\nmax_sessions_per_member=3\n")).key,
            "auth.mode"
        );
        assert_eq!(
            err(&format!("{USERS}{chain}poll_secs=0\n")).key,
            "chain.poll_secs"
        );
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let cfg = parse(USERS).unwrap();
        let dump = format!("{cfg:?}");
        assert!(dump.contains("alice") && !dump.contains("secret"), "{dump}");
    }

    #[test]
    fn values_are_validated_with_the_key_named() {
        let cases = [
            ("[node]\nlisten=[\"localhost:80\"]\n", "node.listen"),
            ("[node]\nlisten=[]\n", "node.listen"),
            ("[timeouts]\nidle_secs=0\n", "timeouts.idle_secs"),
            ("[limits]\nbuffer_bytes=10\n", "limits.buffer_bytes"),
            (
                "[limits]\nmax_handshake_bytes=100000\n",
                "limits.max_handshake_bytes",
            ),
            ("[limits]\nmax_sessions=0\n", "limits.max_sessions"),
            (
                "[limits]\nmax_handshakes_per_client=0\n",
                "limits.max_handshakes_per_client",
            ),
            ("[dns]\nnameservers=[\"ns.example\"]\n", "dns.nameservers"),
            (
                "[policy]\ndeny_cidrs=[\"10.0.0.0/x\"]\n",
                "policy.deny_cidrs",
            ),
            ("[policy]\nallow_ports=[\"http\"]\n", "policy.allow_ports"),
            ("[chain]\nrpc=[\"ftp://x\"]\n", "chain.rpc"),
            ("[metrics]\nlisten=\"localhost:9464\"\n", "metrics.listen"),
        ];
        for (text, key) in cases {
            assert_eq!(err(&format!("{USERS}{text}")).key, key, "{text}");
        }
    }

    #[test]
    fn nameserver_without_port_means_53() {
        let cfg = parse(&format!(
            "{USERS}[dns]\nnameservers=[\"127.0.0.1\", \"[::1]:5353\"]\n"
        ))
        .unwrap();
        let ns = cfg.dns.nameservers.unwrap();
        assert_eq!(ns[0], "127.0.0.1:53".parse().unwrap());
        assert_eq!(ns[1], "[::1]:5353".parse().unwrap());
    }
}
