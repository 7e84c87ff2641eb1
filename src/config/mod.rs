//! The TOML config file: each section is read into a raw serde struct (unknown keys are
//! errors) and validated into a typed struct; errors name the offending key. A file per
//! section; the engine's sections become [`crate::proxy::Settings`] (see [`engine`]), the
//! rest is the node's own.

pub mod auth;
pub mod chain;
pub mod dns;
pub mod engine;
mod error;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod operator;
pub mod policy;
pub mod relay;
pub mod timeouts;
pub mod tls;
pub mod values;

pub use auth::{ChainAuthConfig, DEFAULT_CHAIN_AUTH};
pub use error::ConfigError;
pub use node::{HeartbeatConfig, NodeConfig, DEFAULT_LISTEN};
pub use values::{secs_at_most, Listen};

use crate::proxy::Settings;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The node's config file as written: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub node: node::RawNode,
    #[serde(default)]
    pub auth: auth::RawAuth,
    #[serde(default)]
    pub policy: policy::RawPolicy,
    #[serde(default)]
    pub timeouts: timeouts::RawTimeouts,
    #[serde(default)]
    pub limits: limits::RawLimits,
    #[serde(default)]
    pub dns: dns::RawDns,
    #[serde(default)]
    pub metrics: metrics::RawMetrics,
    #[serde(default)]
    pub relay: relay::RawRelay,
    pub chain: Option<chain::RawChain>,
    #[serde(default)]
    pub heartbeat: node::RawHeartbeat,
    #[serde(default)]
    pub log: logging::RawLog,
    pub tls: Option<tls::RawTls>,
}

/// The validated config the node runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the proxy engine runs with.
    pub engine: Settings,
    pub node: NodeConfig,
    /// The `[auth]` keys of mode "chain".
    pub chain_auth: ChainAuthConfig,
    pub chain: Option<chain::ChainConfig>,
    pub heartbeat: HeartbeatConfig,
    pub log: crate::logging::LogSettings,
    /// `[tls]` (defaults when absent), for `[node] tls_listen`.
    pub tls: crate::tls::settings::TlsSettings,
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    let dir = dir_of(path);
    let mut config = parse_in(&text, dir)?.relative_to(dir);
    if let Some(m) = config.engine.operator.monthly.as_mut() {
        m.file.get_or_insert_with(|| default_allowance_file(path));
    }
    Ok(config)
}

/// Where the monthly allowance is counted without `limits.allowance_file`.
pub fn default_allowance_file(config_path: &Path) -> PathBuf {
    default_state_path(config_path, "allowance.json", ".allowance.json")
}

/// A file the node keeps across restarts: `name` in systemd's StateDirectory when set,
/// else next to the config file, named after it with `suffix`.
pub fn default_state_path(config_path: &Path, name: &str, suffix: &str) -> PathBuf {
    if let Some(dir) = crate::systemd::state_directory() {
        return dir.join(name);
    }
    let mut file = config_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "aqueduct".into());
    file.push(suffix);
    config_path.with_file_name(file)
}

/// One section of a config file as written (its default when absent), for commands
/// that read only their part of the node's file.
pub fn load_section<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
    name: &str,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ConfigError::new("", format!("{}: {}", path.display(), e.message())))?;
    match table.get(name) {
        None => Ok(T::default()),
        Some(v) => v
            .clone()
            .try_into::<T>()
            .map_err(|e| ConfigError::new(name, e.message().to_string())),
    }
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
        let dns = &mut self.engine.dns;
        dns.resolv_conf = under(dir, std::mem::take(&mut dns.resolv_conf));
        dns.hosts_file = under(dir, std::mem::take(&mut dns.hosts_file));
        self.chain = self.chain.map(|c| c.relative_to(dir));
        if let Some(m) = self.engine.operator.monthly.as_mut() {
            m.file = m.file.take().map(|p| under(dir, p));
        }
        if let Some(y) = self.engine.operator.yield_to_host.as_mut() {
            y.counters_file = under(dir, std::mem::take(&mut y.counters_file));
        }
        self.tls = self.tls.relative_to(dir);
        self
    }
}

/// Parses and validates config text; files it names are taken as written.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_in(text, Path::new(""))
}

/// Parses and validates config text whose relative paths are under `dir`.
pub fn parse_in(text: &str, dir: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    raw.validate(dir)
}

/// Syntax and type errors, with the key named as `section.key` where toml points at one,
/// and the line number.
pub(crate) fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
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
    /// `dir`: where relative paths are (files read while validating, like deny lists).
    pub fn validate(self, dir: &Path) -> Result<Config, ConfigError> {
        let (listen, tls_listen, node) = self.node.validate()?;
        let sections = engine::EngineSections {
            auth: self.auth,
            policy: self.policy,
            timeouts: self.timeouts,
            limits: self.limits,
            dns: self.dns,
            metrics: self.metrics,
            relay: self.relay,
        };
        let (engine, chain_auth) = sections.validate(listen, tls_listen, dir)?;
        let tls = self.tls.unwrap_or_default().validate()?;
        let log = self.log.validate()?;
        let chain = self.chain.map(chain::RawChain::validate).transpose()?;
        if engine.auth.mode == crate::proxy::settings::AuthMode::Chain {
            validate_chain_mode(chain.as_ref())?;
        }
        Ok(Config {
            engine,
            node,
            chain_auth,
            chain,
            heartbeat: self.heartbeat.validate(),
            log,
            tls,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::settings::{AuthMode, DEFAULT_LIMITS, DEFAULT_TIMEOUTS};
    use std::time::Duration;

    const USERS: &str = "[[auth.users]]\nname = \"alice\"\npassword = \"secret\"\n";

    fn err(text: &str) -> ConfigError {
        parse(text).expect_err("config should be rejected")
    }

    #[test]
    fn example_file_parses_with_the_documented_defaults() {
        let text = include_str!("../../aqueduct.example.toml");
        let cfg = parse(text).expect("aqueduct.example.toml must be valid");
        assert_eq!(cfg.engine.listen, vec![DEFAULT_LISTEN]);
        assert_eq!(cfg.engine.auth.mode, AuthMode::Static);
        assert_eq!(cfg.engine.timeouts, DEFAULT_TIMEOUTS);
        assert_eq!(cfg.engine.limits, DEFAULT_LIMITS);
        assert!(!cfg.engine.policy.allow_private);
        assert_eq!(cfg.engine.metrics_listen, None);
        assert_eq!(
            cfg.engine.operator,
            Default::default(),
            "operator limits are off"
        );

        // Each commented-out operator key of [limits], uncommented, is valid as written.
        let operator_keys = [
            "max_mbit",
            "per_member_mbit",
            "per_member_daily_gb",
            "monthly_gb",
            "month_starts_on",
            "allowance_file",
            "yield_to_host",
            "link_mbit",
            "reserve_mbit",
            "interfaces",
        ];
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if operator_keys
                        .iter()
                        .any(|k| rest.starts_with(&format!("{k} ="))) =>
                {
                    format!("{rest}\n")
                }
                _ => format!("{l}\n"),
            })
            .collect();
        let cfg = parse(&uncommented).expect("the example's operator limits must be valid");
        let op = cfg.engine.operator;
        assert_eq!(op.max_rate, Some(12_500_000), "100 Mbit/s");
        assert_eq!(op.per_member_rate, Some(2_500_000));
        assert_eq!(op.per_member_daily, Some(10_000_000_000));
        let monthly = op.monthly.expect("monthly_gb");
        assert_eq!((monthly.bytes, monthly.starts_on), (1_000_000_000_000, 1));
        let y = op.yield_to_host.expect("yield_to_host");
        assert_eq!((y.link, y.reserve), (125_000_000, 12_500_000));
        assert_eq!(y.interfaces, vec!["eth0".to_string()]);
        assert_eq!(y.counters_file, PathBuf::from("/proc/net/dev"));
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
                assert_eq!(cfg.engine.listen, vec!["127.0.0.1:1081".parse().unwrap()]);
                assert_eq!(
                    cfg.engine.metrics_listen,
                    Some("127.0.0.1:9464".parse().unwrap())
                );
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
        assert_eq!(cfg.engine.listen.len(), 1);
        assert!(cfg.engine.listen[0].ip().is_loopback());
        assert_eq!(cfg.engine.auth.users[0].name, "alice");
        assert_eq!(cfg.engine.dns.hosts_file, PathBuf::from("/etc/hosts"));
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
        assert_eq!(ok.unwrap().engine.auth.mode, AuthMode::None);
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
        assert_eq!(cfg.engine.auth.mode, AuthMode::Chain);
        assert_eq!(cfg.chain_auth, DEFAULT_CHAIN_AUTH);
        assert_eq!(cfg.chain_auth.max_sessions_per_member, 64);
        assert!(cfg.heartbeat.enabled);
        let c = cfg.chain.unwrap();
        assert_eq!(c.reorg_depth, chain::DEFAULT_REORG_DEPTH);
        assert_eq!(c.state_file, None);
        let cfg = parse(&format!(
            "[auth]\nmode=\"chain\"\nmax_sessions_per_member=3\nmax_credential_lifetime_secs=60\nnegative_cache_secs=5\n[heartbeat]\nenabled=false\n{chain}reorg_depth=2\npoll_secs=1\nstate_file=\"/tmp/s.json\"\n"
        ))
        .unwrap();
        assert_eq!(cfg.chain_auth.max_sessions_per_member, 3);
        assert_eq!(
            cfg.chain_auth.max_credential_lifetime,
            Duration::from_secs(60)
        );
        assert_eq!(cfg.chain_auth.negative_cache, Duration::from_secs(5));
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
    fn deny_files_are_read_relative_to_the_config_file() {
        let dir = std::env::temp_dir().join(format!("aq-config-deny-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lists")).unwrap();
        std::fs::write(dir.join("lists/domains"), "# ads\n*.ads.example\n").unwrap();
        std::fs::write(dir.join("lists/cidrs"), "192.0.2.0/24 # docs\n").unwrap();
        let path = dir.join("node.toml");
        std::fs::write(
            &path,
            format!("{USERS}[policy]\ndeny_domains_file = \"lists/domains\"\ndeny_cidrs_file = \"lists/cidrs\"\n"),
        )
        .unwrap();
        let cfg = load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let policy = cfg.unwrap().engine.policy;
        assert_eq!(policy.deny_domains.len(), 1);
        assert_eq!(policy.deny_domains[0].to_string(), "*.ads.example");
        assert_eq!(policy.deny_cidrs.len(), 1);
        assert_eq!(
            err(&format!(
                "{USERS}[policy]\ndeny_cidrs_file = \"/nonexistent/aq\"\n"
            ))
            .key,
            "policy.deny_cidrs_file"
        );
    }

    #[test]
    fn nameserver_without_port_means_53() {
        let cfg = parse(&format!(
            "{USERS}[dns]\nnameservers=[\"127.0.0.1\", \"[::1]:5353\"]\n"
        ))
        .unwrap();
        let ns = cfg.engine.dns.nameservers.unwrap();
        assert_eq!(ns[0], "127.0.0.1:53".parse().unwrap());
        assert_eq!(ns[1], "[::1]:5353".parse().unwrap());
    }
}
