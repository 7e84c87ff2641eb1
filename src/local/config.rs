//! `aqueduct local`'s config: the `[local]` section, plus the engine's own sections
//! (`[auth]`, `[timeouts]`, `[limits]`, ...) for the local listener. Without an `[auth]`
//! section the listener needs no credentials, which the engine allows only on loopback.

use super::table::Spread;
use crate::config::auth::RawAuth;
use crate::config::dns::RawDns;
use crate::config::engine::EngineSections;
use crate::config::limits::RawLimits;
use crate::config::logging::RawLog;
use crate::config::metrics::RawMetrics;
use crate::config::policy::RawPolicy;
use crate::config::relay::RawRelay;
use crate::config::timeouts::RawTimeouts;
use crate::config::{self, ConfigError};
use crate::credential::{self, NodeScope};
use crate::endpoint::Endpoint;
use crate::eth::Address;
use crate::proxy::Settings;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// A node given in the config or on the command line: `ENDPOINT@0xADDRESS`, the
/// endpoint as in the registry (`host:port`, or with `tls=host:port pin=sha256//...`).
/// The address is needed because each credential is signed for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraNode {
    pub endpoint: Endpoint,
    pub address: Address,
}

impl std::str::FromStr for ExtraNode {
    type Err = String;

    fn from_str(s: &str) -> Result<ExtraNode, String> {
        let (endpoint, address) = s
            .rsplit_once('@')
            .ok_or_else(|| format!("`{s}` is not host:port@0xADDRESS"))?;
        let address: Address = address
            .parse()
            .map_err(|e| format!("`{s}`: node address: {e}"))?;
        let endpoint = endpoint
            .parse::<Endpoint>()
            .map_err(|e| format!("`{s}`: endpoint {e}"))?;
        Ok(ExtraNode { endpoint, address })
    }
}

/// A credential the member signed elsewhere (in the website, with a browser wallet), used
/// as it is instead of signing one per node with a key on this machine.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedLogin {
    pub username: String,
    pub password: String,
    pub member: Address,
    pub expires: u64,
    pub node: NodeScope,
}

/// Shows who and until when, never the password (it is a bearer secret).
impl std::fmt::Debug for SignedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedLogin")
            .field("member", &self.member)
            .field("expires", &self.expires)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl std::str::FromStr for SignedLogin {
    type Err = String;

    /// `0xMEMBER:EXPIRES:NODE:SIGNATURE`: the username, a colon, the password.
    fn from_str(s: &str) -> Result<SignedLogin, String> {
        let (username, password) = s
            .split_once(':')
            .ok_or("is not USERNAME:PASSWORD (as the website prints it)")?;
        let parsed = credential::parse(username.as_bytes(), password.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(SignedLogin {
            username: username.to_string(),
            password: password.to_string(),
            member: parsed.member,
            expires: parsed.expires,
            node: parsed.node,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocal {
    pub listen: Option<config::Listen>,
    /// Extra nodes, `host:port@0xADDRESS`.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// false: use only `nodes`, never the contract's registry.
    pub registry: Option<bool>,
    pub refresh_secs: Option<u64>,
    pub probe_secs: Option<u64>,
    pub probe_timeout_secs: Option<u64>,
    pub credential_ttl_secs: Option<u64>,
    /// A credential signed elsewhere (`USERNAME:PASSWORD`); then no key is needed here.
    pub credential: Option<String>,
    /// true: use only nodes with a TLS endpoint (their pin checked), never one in clear.
    pub require_tls: Option<bool>,
    /// "fastest" (every connection through the best node) or "rotate" (each through
    /// the next node in turn).
    pub spread: Option<String>,
}

/// What the discovery thread and the router run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    pub nodes: Vec<ExtraNode>,
    pub registry: bool,
    /// How often the registry is read again.
    pub refresh: Duration,
    /// How often a healthy node is measured again.
    pub probe_every: Duration,
    /// Connect plus handshake, per probe.
    pub probe_timeout: Duration,
    /// Lifetime of each signed credential; renewed when a quarter of it is left.
    pub credential_ttl: Duration,
    /// Used for every node instead of signing with a key, when set.
    pub credential: Option<SignedLogin>,
    /// Nodes without a TLS endpoint are left out.
    pub require_tls: bool,
    pub spread: Spread,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:1080";

/// Everything `aqueduct local` needs from its config file and flags.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub engine: Settings,
    pub log: crate::logging::LogSettings,
    pub local: LocalSettings,
}

/// `config::secs_at_most` with defaults and bounds in whole seconds.
fn secs(key: &str, v: Option<u64>, default: u64, max: u64) -> Result<Duration, ConfigError> {
    let s = Duration::from_secs;
    config::secs_at_most(key, v, s(default), s(max))
}

impl RawLocal {
    pub fn validate(self, extra: &[String]) -> Result<LocalSettings, ConfigError> {
        let mut nodes = Vec::new();
        for s in self.nodes.iter().chain(extra) {
            let node: ExtraNode = s.parse().map_err(|e| ConfigError::new("local.nodes", e))?;
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        }
        let registry = self.registry.unwrap_or(true);
        if !registry && nodes.is_empty() {
            return Err(ConfigError::new(
                "local.registry",
                "false needs at least one entry in local.nodes (or --node)",
            ));
        }
        let credential_ttl = secs(
            "local.credential_ttl_secs",
            self.credential_ttl_secs,
            3600,
            7 * 86400,
        )?;
        if credential_ttl < Duration::from_secs(60) {
            return Err(ConfigError::new(
                "local.credential_ttl_secs",
                "must be at least 60",
            ));
        }
        Ok(LocalSettings {
            nodes,
            registry,
            refresh: secs("local.refresh_secs", self.refresh_secs, 300, 86400)?,
            probe_every: secs("local.probe_secs", self.probe_secs, 60, 86400)?,
            probe_timeout: secs("local.probe_timeout_secs", self.probe_timeout_secs, 5, 60)?,
            credential_ttl,
            require_tls: self.require_tls.unwrap_or(false),
            spread: self
                .spread
                .map(|s| s.parse::<Spread>())
                .transpose()
                .map_err(|e| ConfigError::new("local.spread", e))?
                .unwrap_or_default(),
            credential: self
                .credential
                .map(|c| c.parse::<SignedLogin>())
                .transpose()
                .map_err(|e| ConfigError::new("local.credential", e))?,
        })
    }
}

/// Reads the config (`path` may be absent: all defaults), with `--listen` and `--node`
/// from the command line taking precedence.
pub fn load(
    path: Option<&Path>,
    listen: Option<&str>,
    extra_nodes: &[String],
) -> Result<LocalConfig, ConfigError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", p.display())))?,
        None => String::new(),
    };
    let dir = path.map_or(Path::new(""), config::dir_of);
    parse_in(&text, dir, listen, extra_nodes)
}

/// `aqueduct local`'s file as written: `[local]`, the engine's sections for the local
/// listener, and `[chain]` and `[log]`, which the chain options and logging read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalFile {
    #[serde(default)]
    local: RawLocal,
    /// Absent: no credentials asked of local clients (loopback only).
    auth: Option<RawAuth>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    relay: RawRelay,
    /// Read by the chain options (`--config`), not here.
    #[serde(rename = "chain")]
    _chain: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    log: RawLog,
    /// The node's section: refused with a pointer to `local.listen`.
    node: Option<serde::de::IgnoredAny>,
}

pub fn parse(
    text: &str,
    listen: Option<&str>,
    extra_nodes: &[String],
) -> Result<LocalConfig, ConfigError> {
    parse_in(text, Path::new(""), listen, extra_nodes)
}

/// As [`parse`], with relative paths in the file under `dir`.
pub fn parse_in(
    text: &str,
    dir: &Path,
    listen: Option<&str>,
    extra_nodes: &[String],
) -> Result<LocalConfig, ConfigError> {
    let raw: RawLocalFile = toml::from_str(text).map_err(|e| config::toml_error(text, &e))?;
    if raw.node.is_some() {
        return Err(ConfigError::new(
            "node",
            "is the node's section; `aqueduct local` listens where local.listen says",
        ));
    }
    let listen = match (listen, raw.local.listen.clone()) {
        (Some(flag), _) => config::Listen::One(flag.to_string()),
        (None, Some(list)) => list,
        (None, None) => config::Listen::One(DEFAULT_LISTEN.to_string()),
    }
    .parse("local.listen")?;
    config::node::check_listen("local.listen", &listen)?;
    let auth = raw.auth.unwrap_or(RawAuth {
        mode: Some("none".into()),
        ..RawAuth::default()
    });
    let sections = EngineSections {
        auth,
        policy: raw.policy,
        timeouts: raw.timeouts,
        limits: raw.limits,
        dns: raw.dns,
        metrics: raw.metrics,
        relay: raw.relay,
    };
    let (engine, _) = sections.validate(listen, Vec::new(), dir).map_err(|e| {
        if e.key == "auth.mode" {
            ConfigError::new(
                "local.listen",
                "a non-loopback address needs an [auth] section (mode = \"static\" with users): \
                 otherwise anyone who can reach it uses your membership",
            )
        } else {
            e
        }
    })?;
    Ok(LocalConfig {
        engine,
        log: raw.log.validate()?,
        local: raw.local.validate(extra_nodes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::settings::AuthMode;

    const NODE_A: &str = "127.0.0.1:4000@0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

    #[test]
    fn defaults_listen_on_loopback_without_auth() {
        let c = parse("", None, &[]).unwrap();
        assert_eq!(c.engine.listen, vec![DEFAULT_LISTEN.parse().unwrap()]);
        assert_eq!(c.engine.auth.mode, AuthMode::None);
        assert!(c.local.registry);
        assert_eq!(c.local.credential_ttl, Duration::from_secs(3600));
        // A list, as in [node] and [metrics].
        let c = parse(
            "[local]\nlisten = [\"127.0.0.1:1\", \"[::1]:2\"]\n",
            None,
            &[],
        )
        .unwrap();
        assert_eq!(c.engine.listen.len(), 2);
    }

    #[test]
    fn non_loopback_listen_needs_auth() {
        let err = parse("", Some("0.0.0.0:1080"), &[]).unwrap_err();
        assert_eq!(err.key, "local.listen");
        let with_auth =
            "[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"me\"\npassword = \"pw\"\n";
        let c = parse(with_auth, Some("0.0.0.0:1080"), &[]).unwrap();
        assert_eq!(c.engine.auth.mode, AuthMode::Static);
    }

    #[test]
    fn nodes_from_file_and_flags_are_merged() {
        let text = format!(
            "[local]\nlisten = \"127.0.0.1:0\"\nnodes = [\"{NODE_A}\"]\nregistry = false\nprobe_secs = 5\n[chain]\nrpc = [\"http://127.0.0.1:8545\"]\n"
        );
        let extra = vec![
            NODE_A.to_string(),
            "[::1]:5000@0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC".to_string(),
        ];
        let c = parse(&text, None, &extra).unwrap();
        assert_eq!(c.local.nodes.len(), 2);
        assert_eq!(c.local.nodes[1].endpoint.to_string(), "[::1]:5000");
        assert!(!c.local.registry);
        assert_eq!(c.local.probe_every, Duration::from_secs(5));
        assert_eq!(c.engine.listen[0].port(), 0);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[local]\nnodes = [\"127.0.0.1:4000\"]", "local.nodes"),
            (
                "[local]\nnodes = [\"127.0.0.1:0@0x70997970C51812dc3A010C7d01b50e0d17dc79C8\"]",
                "local.nodes",
            ),
            (
                "[local]\nnodes = [\":80@0x70997970C51812dc3A010C7d01b50e0d17dc79C8\"]",
                "local.nodes",
            ),
            ("[local]\nregistry = false", "local.registry"),
            ("[local]\nprobe_secs = 0", "local.probe_secs"),
            (
                "[local]\ncredential_ttl_secs = 10",
                "local.credential_ttl_secs",
            ),
            ("[local]\nlisten = \"localhost\"", "local.listen"),
            ("[local]\ntypo = 1", "local.typo"),
            ("[node]\nlisten = []", "node"),
        ] {
            assert_eq!(parse(text, None, &[]).unwrap_err().key, key, "{text}");
        }
    }
}
