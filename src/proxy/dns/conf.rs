//! The resolver's settings, read from `/etc/resolv.conf` and `/etc/hosts` the way glibc reads
//! them, with defaults that suit a proxy.
//!
//! From resolv.conf only `nameserver` lines (IPv4 or IPv6, with an optional `%scope` on
//! link-local IPv6) and `options timeout:N attempts:N` are used. `search`, `domain` and `ndots`
//! are ignored on purpose: members send fully qualified names, and completing `intranet` to
//! `intranet.corp.example` would hand them the node's private namespace.
//!
//! Defaults (when resolv.conf does not say): timeout 2 s and 2 attempts, not glibc's 5 s and 2,
//! because a member's client is waiting and gives up long before 10 s per server; with no
//! nameserver line, 127.0.0.1:53 as glibc does. Like glibc, at most 3 nameservers are used,
//! `timeout` is capped at 30 s and `attempts` at 5.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::path::Path;
use std::time::Duration;

use super::wire::Name;
use super::Addrs;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_ATTEMPTS: u32 = 2;
pub const DEFAULT_CACHE_ENTRIES: usize = 4096;
/// How long "no such name" and "no addresses" answers are kept.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Longer TTLs are cut to this, so a moved site is followed within minutes.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(600);
/// glibc's MAXNS.
pub const MAX_NAMESERVERS: usize = 3;
const MAX_TIMEOUT_SECS: u64 = 30;
const MAX_ATTEMPTS: u32 = 5;

/// Names from a hosts file and their addresses, IPv4 first (see [`Addrs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    names: HashMap<Box<str>, Addrs>,
}

impl Hosts {
    /// Parses hosts(5) text: `address name [aliases...]`, `#` comments. Lines that do not
    /// parse are skipped, like glibc does. A name on several lines gets all their addresses.
    pub fn parse(text: &str) -> Hosts {
        let mut hosts = Hosts::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(addr) = fields.next() else { continue };
            let Some(ip) = parse_ip(addr) else { continue };
            for name in fields {
                hosts.insert(name, ip);
            }
        }
        hosts
    }

    /// Adds `ip` to `name`; invalid names are ignored.
    pub fn insert(&mut self, name: &str, ip: IpAddr) {
        let Some(key) = normalise(name) else { return };
        let entry = self.names.entry(key.into()).or_default();
        entry.push(ip);
        *entry = entry.v4_first();
    }

    /// The addresses of `name` (any case, trailing dot or not).
    pub fn get(&self, name: &str) -> Option<&Addrs> {
        self.names.get(normalise(name)?.as_str())
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The lowercase, dotless-at-the-end form used as a key, if `name` is a valid hostname.
pub(crate) fn normalise(name: &str) -> Option<String> {
    Name::from_text(name).ok()?;
    let bare = name.strip_suffix('.').unwrap_or(name);
    Some(bare.to_ascii_lowercase())
}

/// An address as resolv.conf and hosts write it: IPv4, IPv6, IPv6 with `%scope`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text.split('%').next().unwrap_or(text);
    bare.parse().ok()
}

/// Everything the [`Resolver`](super::Resolver) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    pub nameservers: Vec<SocketAddr>,
    pub hosts: Hosts,
    /// How long to wait for each server before trying the next.
    pub timeout: Duration,
    /// Rounds over all the nameservers.
    pub attempts: u32,
    pub cache_entries: usize,
    pub negative_ttl: Duration,
    pub max_ttl: Duration,
}

impl ResolverConfig {
    /// `/etc/resolv.conf` and `/etc/hosts`.
    pub fn from_system() -> io::Result<ResolverConfig> {
        ResolverConfig::from_files(Path::new("/etc/resolv.conf"), Path::new("/etc/hosts"))
    }

    /// A missing file reads as an empty one (glibc does the same); other read errors fail.
    pub fn from_files(resolv_conf: &Path, hosts: &Path) -> io::Result<ResolverConfig> {
        let resolv = read_optional(resolv_conf)?;
        let hosts = read_optional(hosts)?;
        let mut config = ResolverConfig::from_resolv_conf(&resolv);
        config.hosts = Hosts::parse(&hosts);
        Ok(config)
    }

    /// Parses resolv.conf(5) text; the hosts table is left empty.
    pub fn from_resolv_conf(text: &str) -> ResolverConfig {
        let mut config = ResolverConfig {
            nameservers: Vec::new(),
            hosts: Hosts::default(),
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            cache_entries: DEFAULT_CACHE_ENTRIES,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            max_ttl: DEFAULT_MAX_TTL,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut fields = line.split_whitespace();
            match fields.next() {
                Some("nameserver") => {
                    let Some(server) = fields.next().and_then(nameserver) else {
                        log::warn!("resolv.conf: ignoring unusable line {line:?}");
                        continue;
                    };
                    if config.nameservers.len() == MAX_NAMESERVERS {
                        log::warn!(
                            "resolv.conf: only the first {MAX_NAMESERVERS} nameservers are used"
                        );
                    } else if !config.nameservers.contains(&server) {
                        config.nameservers.push(server);
                    }
                }
                Some("options") => {
                    for option in fields {
                        if let Some(n) = option.strip_prefix("timeout:").and_then(number) {
                            let secs = u64::from(n).clamp(1, MAX_TIMEOUT_SECS);
                            config.timeout = Duration::from_secs(secs);
                        } else if let Some(n) = option.strip_prefix("attempts:").and_then(number) {
                            config.attempts = n.clamp(1, MAX_ATTEMPTS);
                        }
                    }
                }
                _ => {}
            }
        }
        if config.nameservers.is_empty() {
            config
                .nameservers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        config
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Huge values are clamped by the caller, not refused.
    Some(text.parse().unwrap_or(u32::MAX))
}

/// A nameserver address on port 53; `fe80::1%eth0` keeps its interface as the scope id.
fn nameserver(text: &str) -> Option<SocketAddr> {
    let (addr, scope) = match text.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (text, None),
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) if scope.is_none() => Some(SocketAddr::new(IpAddr::V4(v4), 53)),
        IpAddr::V4(_) => None,
        IpAddr::V6(v6) => {
            let scope_id = match scope {
                None => 0,
                Some(s) => scope_id(s)?,
            };
            Some(SocketAddr::V6(SocketAddrV6::new(v6, 53, 0, scope_id)))
        }
    }
}

fn scope_id(scope: &str) -> Option<u32> {
    if let Ok(n) = scope.parse::<u32>() {
        return Some(n);
    }
    let c_name = std::ffi::CString::new(scope).ok()?;
    // SAFETY: c_name is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    (index != 0).then_some(index)
}

fn read_optional(path: &Path) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("reading {}: {e}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_nameservers_and_options() {
        let c = ResolverConfig::from_resolv_conf(
            "# generated\n\
             search corp.example\n\
             nameserver 192.0.2.53\n\
             nameserver   2001:db8::53 # secondary\n\
             ; comment\n\
             nameserver fe80::1%7\n\
             nameserver 192.0.2.54\n\
             options ndots:2 timeout:3 rotate attempts:4\n",
        );
        assert_eq!(
            c.nameservers,
            vec![
                sa("192.0.2.53:53"),
                sa("[2001:db8::53]:53"),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
            ]
        );
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.attempts, 4);
        assert!(c.hosts.is_empty());
    }

    #[test]
    fn defaults_when_resolv_conf_is_silent() {
        let c = ResolverConfig::from_resolv_conf("domain example\nnameserver not-an-ip\n");
        assert_eq!(c.nameservers, vec![sa("127.0.0.1:53")]);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.attempts, DEFAULT_ATTEMPTS);
        assert_eq!(c.cache_entries, DEFAULT_CACHE_ENTRIES);
        assert_eq!(c.negative_ttl, DEFAULT_NEGATIVE_TTL);
        assert_eq!(c.max_ttl, DEFAULT_MAX_TTL);
    }

    #[test]
    fn options_are_clamped_like_glibc() {
        let c = ResolverConfig::from_resolv_conf(
            "nameserver 192.0.2.1\noptions timeout:0 attempts:0\n",
        );
        assert_eq!((c.timeout, c.attempts), (Duration::from_secs(1), 1));
        let c = ResolverConfig::from_resolv_conf(
            "options timeout:99999999999 attempts:50\noptions timeout:x attempts:-1\n",
        );
        assert_eq!((c.timeout, c.attempts), (Duration::from_secs(30), 5));
    }

    #[test]
    fn hosts_file_lines() {
        let h = Hosts::parse(
            "127.0.0.1\tlocalhost\n\
             ::1 localhost ip6-localhost # v6\n\
             192.0.2.10 Web.Example.  web\n\
             192.0.2.11 web\n\
             fe80::5%eth0 router\n\
             not-an-ip broken\n\
             192.0.2.12 bad..name good\n\
             # 192.0.2.13 commented\n",
        );
        let list =
            |n: &str| -> Vec<IpAddr> { h.get(n).map(|a| a.iter().collect()).unwrap_or_default() };
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert_eq!(list("localhost"), vec![ip("127.0.0.1"), ip("::1")]);
        assert_eq!(list("ip6-localhost"), vec![ip("::1")]);
        assert_eq!(list("WEB.example"), vec![ip("192.0.2.10")]);
        assert_eq!(list("web."), vec![ip("192.0.2.10"), ip("192.0.2.11")]);
        assert_eq!(list("router"), vec![ip("fe80::5")]);
        assert_eq!(list("good"), vec![ip("192.0.2.12")]);
        assert!(h.get("broken").is_none());
        assert!(h.get("commented").is_none());
        assert_eq!(h.len(), 6);
    }

    #[test]
    fn hosts_order_ipv4_first() {
        let h = Hosts::parse("::1 dual\n2001:db8::1 dual\n192.0.2.1 dual\n");
        let got: Vec<IpAddr> = h.get("dual").unwrap().iter().collect();
        let want: Vec<IpAddr> = ["192.0.2.1", "::1", "2001:db8::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn from_files_reads_both_and_tolerates_missing_ones() {
        let dir = std::env::temp_dir().join(format!("aqueduct-dns-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let resolv = dir.join("resolv.conf");
        let hosts = dir.join("hosts");
        std::fs::write(&resolv, "nameserver 127.0.0.1\noptions timeout:1\n").unwrap();
        std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
        let c = ResolverConfig::from_files(&resolv, &hosts).unwrap();
        assert_eq!(c.nameservers, vec![sa("127.0.0.1:53")]);
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert!(c.hosts.get("localhost").is_some());
        let missing = ResolverConfig::from_files(&dir.join("nope"), &dir.join("nope2")).unwrap();
        assert_eq!(missing.nameservers, vec![sa("127.0.0.1:53")]);
        assert!(missing.hosts.is_empty());
        // A directory is not a file: that error is reported.
        assert!(ResolverConfig::from_files(&dir, &hosts).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
