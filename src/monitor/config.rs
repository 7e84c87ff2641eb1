//! monitor.toml: `[chain]` (the same section every command reads; its key is the
//! monitor's own member key) and `[monitor]`, read into an all-`Option` struct and
//! validated into [`MonitorConfig`]. Errors name the key.

use crate::config::chain::{ChainConfig, RawChain};
use crate::config::ConfigError;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    chain: Option<RawChain>,
    #[serde(default)]
    monitor: RawMonitor,
}

/// A duration as written: `"5m"`, `"90s"`, or a bare number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Secs(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitor {
    listen: Option<String>,
    echo_listen: Option<String>,
    echo_url: Option<String>,
    database: Option<PathBuf>,
    probe_every: Option<RawDuration>,
    probe_timeout: Option<RawDuration>,
    parallel: Option<usize>,
    download_bytes: Option<u64>,
    slow_latency_ms: Option<u64>,
    slow_throughput_kbps: Option<u64>,
    registry_refresh: Option<RawDuration>,
    credential_ttl: Option<RawDuration>,
    retention_days: Option<u64>,
    rollup_days: Option<u64>,
    flag_below: Option<f64>,
    remove_below: Option<f64>,
    min_probes: Option<u64>,
    withhold: Option<bool>,
    api_origin: Option<String>,
}

/// Where a probe's request goes: the monitor's echo endpoint as nodes reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoUrl {
    /// Host as written (a name, an IPv4 address, or an IPv6 address without brackets).
    pub host: String,
    pub port: u16,
}

impl EchoUrl {
    /// `http://host[:port]` with an optional trailing `/`; no path, no TLS (the nonce
    /// needs no secrecy, and a node cannot forge the source address the echo records).
    pub fn parse(s: &str) -> Result<EchoUrl, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or("must start with http://")?
            .trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err("must be http://HOST[:PORT] without a path".into());
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| "bad port")?,
                None if after.is_empty() => 80,
                None => return Err("junk after ]".into()),
            };
            h.parse::<std::net::Ipv6Addr>()
                .map_err(|_| "not an IPv6 address in [ ]")?;
            (h.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| "bad port")?),
                None => (rest.to_string(), 80),
            }
        };
        if port == 0 || host.is_empty() || host.len() > 255 {
            return Err("needs a host and a port above 0".into());
        }
        Ok(EchoUrl { host, port })
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// The `[monitor]` section, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSettings {
    /// Dashboard, JSON API and /metrics.
    pub listen: SocketAddr,
    pub echo_listen: SocketAddr,
    pub echo_url: EchoUrl,
    pub database: PathBuf,
    pub probe_every: Duration,
    /// Whole-probe deadline (connect, login, echo, download).
    pub probe_timeout: Duration,
    pub parallel: usize,
    pub download_bytes: u64,
    /// A probe that worked but took longer than this to its echo answer is `slow`.
    pub slow_latency: Duration,
    /// A download below this rate (kbit/s) is `slow`.
    pub slow_throughput_kbps: u64,
    pub registry_refresh: Duration,
    pub credential_ttl: Duration,
    pub retention_days: u64,
    pub rollup_days: u64,
    /// Success share (non-void probes) under which a node that heartbeats is flagged.
    pub flag_below: f64,
    /// Success share under which the report says to remove a node.
    pub remove_below: f64,
    /// Fewer probes than this in the report's window: no verdict beyond "unmeasured".
    pub min_probes: u64,
    /// Send `withhold` for nodes that heartbeated while failing probes (else: dry run).
    pub withhold: bool,
    /// Who may read the JSON API from a browser: `*` or one origin (`https://site.example`).
    pub api_origin: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    pub chain: ChainConfig,
    pub monitor: MonitorSettings,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9470";
pub const DEFAULT_ECHO_LISTEN: &str = "0.0.0.0:9471";

/// Seconds in `45s`, `30m`, `12h`, `7d`, `2w` or a bare number of seconds (above zero).
/// (The chain commands have the same reader in commands/chain/units.rs, private there.)
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (write e.g. 90s, 5m, 24h, 7d)");
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("`{s}` must be longer than zero")),
        Some(v) => Ok(Duration::from_secs(v)),
        None => Err(bad()),
    }
}

fn duration(key: &str, raw: Option<RawDuration>, default: u64) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(Duration::from_secs(default)),
        Some(RawDuration::Secs(0)) => Err(ConfigError::new(key, "must be above zero")),
        Some(RawDuration::Secs(n)) => Ok(Duration::from_secs(n)),
        Some(RawDuration::Text(t)) => parse_duration(&t).map_err(|e| ConfigError::new(key, e)),
    }
}

fn addr(key: &str, raw: Option<String>, default: &str) -> Result<SocketAddr, ConfigError> {
    let s = raw.unwrap_or_else(|| default.to_string());
    s.parse()
        .map_err(|_| ConfigError::new(key, format!("`{s}` is not an IP:PORT address")))
}

fn share(key: &str, raw: Option<f64>, default: f64) -> Result<f64, ConfigError> {
    let v = raw.unwrap_or(default);
    if !(0.0..=1.0).contains(&v) {
        return Err(ConfigError::new(key, "must be between 0 and 1"));
    }
    Ok(v)
}

/// `*`, or an origin: `http(s)://host[:port]`, no path (it goes into a response header).
fn api_origin(raw: Option<String>) -> Result<String, ConfigError> {
    let v = raw.unwrap_or_else(|| "*".into());
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    let ok = v == "*"
        || rest.is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
    if !ok {
        return Err(ConfigError::new(
            "monitor.api_origin",
            format!("`{v}` is not * or an origin like https://site.example"),
        ));
    }
    Ok(v)
}

impl RawMonitor {
    fn validate(self, config_path: &Path) -> Result<MonitorSettings, ConfigError> {
        let listen = addr("monitor.listen", self.listen, DEFAULT_LISTEN)?;
        let echo_listen = addr("monitor.echo_listen", self.echo_listen, DEFAULT_ECHO_LISTEN)?;
        let echo_url = match self.echo_url {
            Some(u) => EchoUrl::parse(&u).map_err(|e| ConfigError::new("monitor.echo_url", e))?,
            None if !echo_listen.ip().is_unspecified() => EchoUrl {
                host: echo_listen.ip().to_string(),
                port: echo_listen.port(),
            },
            None => {
                return Err(ConfigError::new(
                    "monitor.echo_url",
                    "required: the public http://HOST:PORT at which nodes reach echo_listen",
                ))
            }
        };
        let parallel = self.parallel.unwrap_or(64);
        if !(1..=4096).contains(&parallel) {
            return Err(ConfigError::new("monitor.parallel", "must be 1 to 4096"));
        }
        let download_bytes = self.download_bytes.unwrap_or(1 << 20);
        if download_bytes > 1 << 30 {
            return Err(ConfigError::new(
                "monitor.download_bytes",
                "must be at most 1 GiB",
            ));
        }
        let retention_days = self.retention_days.unwrap_or(90);
        let rollup_days = self.rollup_days.unwrap_or(365);
        if retention_days == 0 || rollup_days < retention_days {
            return Err(ConfigError::new(
                "monitor.rollup_days",
                "retention_days must be above 0 and rollup_days at least retention_days",
            ));
        }
        let database = self.database.unwrap_or_else(|| {
            let mut name = config_path
                .file_stem()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "monitor".into());
            name.push(".db");
            config_path.with_file_name(name)
        });
        Ok(MonitorSettings {
            listen,
            echo_listen,
            echo_url,
            database,
            probe_every: duration("monitor.probe_every", self.probe_every, 300)?,
            probe_timeout: duration("monitor.probe_timeout", self.probe_timeout, 30)?,
            parallel,
            download_bytes,
            slow_latency: Duration::from_millis(self.slow_latency_ms.unwrap_or(3000)),
            slow_throughput_kbps: self.slow_throughput_kbps.unwrap_or(1000),
            registry_refresh: duration("monitor.registry_refresh", self.registry_refresh, 180)?,
            credential_ttl: duration("monitor.credential_ttl", self.credential_ttl, 3600)?,
            retention_days,
            rollup_days,
            flag_below: share("monitor.flag_below", self.flag_below, 0.5)?,
            remove_below: share("monitor.remove_below", self.remove_below, 0.5)?,
            min_probes: self.min_probes.unwrap_or(12),
            withhold: self.withhold.unwrap_or(false),
            api_origin: api_origin(self.api_origin)?,
        })
    }
}

/// Reads and validates monitor.toml.
pub fn load(path: &Path) -> Result<MonitorConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<MonitorConfig, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::new("", e.message()))?;
    let chain = raw.chain.unwrap_or_default().validate()?;
    if chain.rpc.is_empty() {
        return Err(ConfigError::new(
            "chain.rpc",
            "the monitor needs an RPC URL",
        ));
    }
    if chain.contract.is_none() {
        return Err(ConfigError::new("chain.contract", "required"));
    }
    if chain.key.is_none() {
        return Err(ConfigError::new(
            "chain.key",
            "required: the monitor's own key, a paying member's",
        ));
    }
    Ok(MonitorConfig {
        chain,
        monitor: raw.monitor.validate(path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = "[chain]\nrpc = [\"http://127.0.0.1:8545\"]\nkey = \"m.key\"\ncontract = \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"\n";

    fn cfg(monitor: &str) -> Result<MonitorConfig, ConfigError> {
        parse(
            &format!("{CHAIN}[monitor]\n{monitor}"),
            Path::new("/etc/aq/monitor.toml"),
        )
    }

    #[test]
    fn defaults() {
        let c = cfg("echo_url = \"http://203.0.113.5:9471\"")
            .unwrap()
            .monitor;
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.probe_every, Duration::from_secs(300));
        assert_eq!(c.parallel, 64);
        assert_eq!(c.download_bytes, 1 << 20);
        assert_eq!(c.database, PathBuf::from("/etc/aq/monitor.db"));
        assert_eq!(c.echo_url.authority(), "203.0.113.5:9471");
        assert_eq!(c.retention_days, 90);
    }

    #[test]
    fn durations_as_text_or_seconds() {
        let c = cfg("echo_listen = \"127.0.0.1:1\"\nprobe_every = \"2m\"\nprobe_timeout = 7")
            .unwrap()
            .monitor;
        assert_eq!(c.probe_every, Duration::from_secs(120));
        assert_eq!(c.probe_timeout, Duration::from_secs(7));
        // Without echo_url, a concrete echo_listen is its own URL.
        assert_eq!(c.echo_url.authority(), "127.0.0.1:1");
        for bad in ["", "0m", "5y", "1.5h", "-1"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |m: &str| cfg(m).unwrap_err().key;
        assert_eq!(key(""), "monitor.echo_url");
        assert_eq!(key("echo_url = \"https://x:1\""), "monitor.echo_url");
        assert_eq!(key("echo_url = \"http://x:1/path\""), "monitor.echo_url");
        assert_eq!(
            key("echo_url = \"http://x:1\"\nparallel = 0"),
            "monitor.parallel"
        );
        assert_eq!(
            key("echo_url = \"http://x:1\"\nflag_below = 2.0"),
            "monitor.flag_below"
        );
        assert_eq!(
            key("echo_url = \"http://x:1\"\nprobe_every = \"soon\""),
            "monitor.probe_every"
        );
        assert!(cfg("echo_url = \"http://x:1\"\ntypo = 1").is_err());
        for bad in ["site.example", "https://a/b", "https://a\r\nX: 1", ""] {
            assert_eq!(
                key(&format!("echo_url = \"http://x:1\"\napi_origin = {bad:?}")),
                "monitor.api_origin",
                "{bad:?}"
            );
        }
        let c = cfg("echo_url = \"http://x:1\"\napi_origin = \"https://aqueduct.example:8443\"")
            .unwrap();
        assert_eq!(c.monitor.api_origin, "https://aqueduct.example:8443");
    }

    #[test]
    fn the_example_file_is_valid_and_says_the_defaults() {
        let text = include_str!("../../monitor.example.toml").replace(
            "contract = \"0x...\"",
            "contract = \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"",
        );
        let example = parse(&text, Path::new("/srv/monitor.toml"))
            .unwrap()
            .monitor;
        // Uncommenting every key gives the same settings as leaving them out.
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.contains(" = "))
                    .unwrap_or(l)
            })
            .filter(|l| !l.starts_with("password_file"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut full = parse(&uncommented, Path::new("/srv/monitor.toml"))
            .unwrap()
            .monitor;
        full.database = example.database.clone();
        assert_eq!(full, example);
        assert_eq!(example.database, PathBuf::from("/srv/monitor.db"));
    }

    #[test]
    fn echo_urls() {
        let u = EchoUrl::parse("http://[::1]:8080/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 8080));
        assert_eq!(u.authority(), "[::1]:8080");
        assert_eq!(EchoUrl::parse("http://echo.example").unwrap().port, 80);
        for bad in [
            "http://",
            "http://x:0",
            "http://[::1",
            "http://u@x:1",
            "x:1",
        ] {
            assert!(EchoUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
