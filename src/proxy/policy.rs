//! Where members may connect: a public proxy must not be a way into the node's own network.
//!
//! [`Policy::check`] runs on the address actually connected to (after DNS), so a name that
//! resolves to 127.0.0.1 is refused exactly like the literal.
//!
//! # Rules, in order of precedence
//!
//! 1. `deny_ports` always wins: a listed port is refused for every address.
//! 2. `deny_cidrs` always wins: a destination inside one is refused, whether it is written
//!    plainly, IPv4-mapped (`::ffff:a.b.c.d`), or embedded in an IPv6 transition form.
//! 3. `allow_cidrs` punch holes in the default address denies (rules 4 and 5) for the
//!    destinations they contain; they do not lift port denies.
//! 4. Default address denies, the special-purpose ranges in [`SPECIAL_V4`] and [`SPECIAL_V6`].
//!    `allow_private = true` lifts the ones marked private (loopback, RFC 1918, CGNAT,
//!    link-local, unique-local); the rest (unspecified, "this network", multicast,
//!    broadcast, documentation, benchmarking, reserved) stay denied: nothing useful lives there.
//! 5. The node's own addresses (given to [`Policy::new`]); `allow_private = true` lifts this too.
//! 6. Default port denies: Tor's default exit reject list ([`DEFAULT_DENY_PORTS`]) and port 0;
//!    a port in `allow_ports` lifts them.
//!
//! Above all of them, and lifted by nothing: the node's own listening sockets (given to
//! [`Policy::with_listeners`]) are never a destination, so no policy lets a connection
//! chain into the node itself and turn into more sessions. A listener on `0.0.0.0` or `::`
//! is reached at any local address (loopback, unspecified, the node's own) with its port.
//!
//! Address rules see through the forms that reach an IPv4 address from an IPv6 one: IPv4-mapped
//! `::ffff:0:0/96` is treated as the IPv4 address itself (it is the same socket destination);
//! IPv4-compatible `::/96`, SIIT `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16` and
//! Teredo `2001::/32` (server and de-obfuscated client) are checked both as IPv6 and through the
//! IPv4 address they carry, so `64:ff9b::7f00:1` is loopback.

use super::domains::{DomainPattern, DomainSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Tor's default exit policy reject list, the ports that get exits into abuse trouble (SMTP
/// spam, NNTP, Windows RPC/NetBIOS/SMB, and file-sharing networks). Source: Tor's
/// `DEFAULT_EXIT_POLICY` in `src/core/or/policies.c`, as listed on
/// <https://support.torproject.org/relay-operators/default-exit-ports/>:
/// `reject *:25, *:119, *:135-139, *:445, *:563, *:1214, *:4661-4666, *:6346-6429, *:6699,
/// *:6881-6999`.
pub const DEFAULT_DENY_PORTS: [PortRange; 10] = [
    PortRange::new(25, 25),     // SMTP
    PortRange::new(119, 119),   // NNTP
    PortRange::new(135, 139),   // MS RPC, NetBIOS
    PortRange::new(445, 445),   // SMB
    PortRange::new(563, 563),   // NNTPS
    PortRange::new(1214, 1214), // Kazaa
    PortRange::new(4661, 4666), // eDonkey
    PortRange::new(6346, 6429), // Gnutella
    PortRange::new(6699, 6699), // WinMX / Napster
    PortRange::new(6881, 6999), // BitTorrent
];

/// A special-purpose range denied by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    pub cidr: &'static str,
    pub name: &'static str,
    /// Private ranges are lifted by `allow_private`; the others never are.
    pub private: bool,
}

const fn special(cidr: &'static str, name: &'static str, private: bool) -> SpecialRange {
    SpecialRange {
        cidr,
        name,
        private,
    }
}

/// IPv4 ranges denied by default: those in the IANA IPv4 Special-Purpose Address Registry
/// (RFC 6890 and successors) that are not globally reachable, plus multicast and the reserved
/// class E. Where ranges nest, the most specific names the denial. 192.0.0.0/24 is denied whole although two anycast /32s in it are reachable: neither
/// is a proxy destination. The 6to4 relay anycast 192.88.99.0/24 is deprecated (RFC 7526).
pub const SPECIAL_V4: [SpecialRange; 17] = [
    special("0.0.0.0/8", "\"this network\"", false),
    special("0.0.0.0/32", "unspecified", false),
    special("10.0.0.0/8", "private (RFC 1918)", true),
    special("100.64.0.0/10", "shared CGNAT space (RFC 6598)", true),
    special("127.0.0.0/8", "loopback", true),
    special("169.254.0.0/16", "link-local", true),
    special("172.16.0.0/12", "private (RFC 1918)", true),
    special("192.0.0.0/24", "IETF protocol assignments", false),
    special("192.0.2.0/24", "documentation (TEST-NET-1)", false),
    special("192.88.99.0/24", "deprecated 6to4 relay anycast", false),
    special("192.168.0.0/16", "private (RFC 1918)", true),
    special("198.18.0.0/15", "benchmarking", false),
    special("198.51.100.0/24", "documentation (TEST-NET-2)", false),
    special("203.0.113.0/24", "documentation (TEST-NET-3)", false),
    special("224.0.0.0/4", "multicast", false),
    special("240.0.0.0/4", "reserved (class E)", false),
    special("255.255.255.255/32", "broadcast", false),
];

/// IPv6 ranges denied by default (IANA IPv6 Special-Purpose Address Registry, not globally
/// reachable, plus multicast and the deprecated site-local). The transition forms that carry an
/// IPv4 address are not listed here: they are judged by the address they carry.
pub const SPECIAL_V6: [SpecialRange; 13] = [
    special("::/128", "unspecified", false),
    special("::1/128", "loopback", true),
    special("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)", false),
    special("100::/64", "discard-only (RFC 6666)", false),
    special("2001:2::/48", "benchmarking", false),
    special("2001:10::/28", "deprecated ORCHID", false),
    special("2001:db8::/32", "documentation", false),
    special("3fff::/20", "documentation (RFC 9637)", false),
    special("5f00::/16", "SRv6 SIDs (RFC 9602)", false),
    special("fc00::/7", "unique-local", true),
    special("fe80::/10", "link-local", true),
    special("fec0::/10", "deprecated site-local", false),
    special("ff00::/8", "multicast", false),
];

/// An address prefix such as `10.0.0.0/8` or `fe80::/10`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, host bits cleared.
    addr: IpAddr,
    prefix: u8,
}

/// Why a CIDR or port range in the configuration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseError {}

fn parse_error(input: &str, reason: &'static str) -> ParseError {
    ParseError {
        input: input.to_owned(),
        reason,
    }
}

impl Cidr {
    /// The prefix `addr/prefix` with host bits cleared; `None` if the length is too long.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        };
        Some(Cidr { addr, prefix })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside; addresses of the other family never are.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Cidr, ParseError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| parse_error(s, "not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .map_err(|_| parse_error(s, "prefix length too long"))?,
            Some(_) => return Err(parse_error(s, "prefix length is not a number")),
        };
        Cidr::new(addr, prefix).ok_or_else(|| parse_error(s, "prefix length too long"))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An inclusive range of TCP ports such as `25` or `6881-6999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// `first..=last`; callers keep `first <= last` (`FromStr` checks it).
    pub const fn new(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

impl FromStr for PortRange {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<PortRange, ParseError> {
        let port = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(parse_error(s, "not a port number"));
            }
            p.parse::<u16>()
                .map_err(|_| parse_error(s, "port above 65535"))
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        };
        if first > last {
            return Err(parse_error(s, "range ends before it starts"));
        }
        Ok(PortRange { first, last })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The `[policy]` section, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Lift the private, loopback, link-local, unique-local and own-address denies.
    pub allow_private: bool,
    /// Holes in the default address denies.
    pub allow_cidrs: Vec<Cidr>,
    /// Always denied.
    pub deny_cidrs: Vec<Cidr>,
    /// Lift the default port denies for these ports.
    pub allow_ports: Vec<PortRange>,
    /// Always denied.
    pub deny_ports: Vec<PortRange>,
    /// Names never reached (checked on the name asked for, before it is resolved).
    pub deny_domains: Vec<DomainPattern>,
}

/// Which rule refused a destination; `Display` is the reason for the node's log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The port is in `policy.deny_ports`.
    ConfiguredPort { port: u16, range: PortRange },
    /// The destination is in `policy.deny_cidrs` (`embedded`: through the IPv4 address an
    /// IPv6 transition form carries).
    ConfiguredCidr {
        addr: IpAddr,
        embedded: Option<Ipv4Addr>,
        cidr: Cidr,
    },
    /// The destination is in a special-purpose range denied by default.
    SpecialAddress {
        addr: IpAddr,
        embedded: Option<Ipv4Addr>,
        range: SpecialRange,
    },
    /// The destination is one of the node's own listening sockets.
    OwnListener {
        dest: SocketAddr,
        listener: SocketAddr,
    },
    /// The destination is one of the node's own addresses.
    OwnAddress {
        addr: IpAddr,
        embedded: Option<Ipv4Addr>,
    },
    /// The port is on the default deny list (Tor's exit reject list, or port 0).
    DefaultPort { port: u16 },
    /// The name asked for is in `policy.deny_domains`.
    ConfiguredDomain { pattern: DomainPattern },
}

/// Which kind of rule refused, as the `rule` label of `aqueduct_denials_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialRule {
    DenyPorts,
    DenyCidrs,
    DenyDomains,
    SpecialAddress,
    OwnListener,
    OwnAddress,
    DefaultPort,
}

impl DenialRule {
    pub const ALL: [DenialRule; 7] = [
        DenialRule::DenyPorts,
        DenialRule::DenyCidrs,
        DenialRule::DenyDomains,
        DenialRule::SpecialAddress,
        DenialRule::OwnListener,
        DenialRule::OwnAddress,
        DenialRule::DefaultPort,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DenialRule::DenyPorts => "deny_ports",
            DenialRule::DenyCidrs => "deny_cidrs",
            DenialRule::DenyDomains => "deny_domains",
            DenialRule::SpecialAddress => "special_address",
            DenialRule::OwnListener => "own_listener",
            DenialRule::OwnAddress => "own_address",
            DenialRule::DefaultPort => "default_port",
        }
    }

    /// Where this rule sits in [`DenialRule::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Denial {
    pub fn rule(&self) -> DenialRule {
        match self {
            Denial::ConfiguredPort { .. } => DenialRule::DenyPorts,
            Denial::ConfiguredCidr { .. } => DenialRule::DenyCidrs,
            Denial::ConfiguredDomain { .. } => DenialRule::DenyDomains,
            Denial::SpecialAddress { .. } => DenialRule::SpecialAddress,
            Denial::OwnListener { .. } => DenialRule::OwnListener,
            Denial::OwnAddress { .. } => DenialRule::OwnAddress,
            Denial::DefaultPort { .. } => DenialRule::DefaultPort,
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = |f: &mut fmt::Formatter<'_>, addr: &IpAddr, embedded: &Option<Ipv4Addr>| {
            write!(f, "destination {addr}")?;
            match embedded {
                Some(v4) => write!(f, " (carrying {v4})"),
                None => Ok(()),
            }
        };
        match self {
            Denial::ConfiguredPort { port, range } => {
                write!(f, "port {port} is denied by policy.deny_ports ({range})")
            }
            Denial::ConfiguredCidr {
                addr,
                embedded,
                cidr,
            } => {
                via(f, addr, embedded)?;
                write!(f, " is denied by policy.deny_cidrs ({cidr})")
            }
            Denial::SpecialAddress {
                addr,
                embedded,
                range,
            } => {
                via(f, addr, embedded)?;
                write!(f, " is {} ({}), denied by default", range.name, range.cidr)?;
                if range.private {
                    write!(f, "; see policy.allow_private")?;
                }
                Ok(())
            }
            Denial::OwnListener { dest, listener } => write!(
                f,
                "destination {dest} is this node's own listener {listener} (a node never connects to itself)"
            ),
            Denial::OwnAddress { addr, embedded } => {
                via(f, addr, embedded)?;
                write!(
                    f,
                    " is one of this node's own addresses; see policy.allow_private"
                )
            }
            Denial::ConfiguredDomain { pattern } => {
                write!(f, "the name is denied by policy.deny_domains ({pattern})")
            }
            Denial::DefaultPort { port: 0 } => f.write_str("port 0 is not a destination port"),
            Denial::DefaultPort { port } => write!(
                f,
                "port {port} is on the default deny list (Tor's exit reject list); see policy.allow_ports"
            ),
        }
    }
}

/// The compiled policy; [`Policy::check`] is cheap and allocation-free.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: PolicyConfig,
    own: Vec<IpAddr>,
    /// The node's own listening sockets, IPs canonical.
    listeners: Vec<SocketAddr>,
    special_v4: Vec<(Cidr, SpecialRange)>,
    special_v6: Vec<(Cidr, SpecialRange)>,
    deny_domains: DomainSet,
}

impl Policy {
    /// `own_addrs`: the node's interface addresses, usually from [`local_addresses`].
    pub fn new(cfg: PolicyConfig, own_addrs: Vec<IpAddr>) -> Policy {
        let compile = |ranges: &[SpecialRange]| {
            ranges
                .iter()
                .filter_map(|r| r.cidr.parse::<Cidr>().ok().map(|c| (c, *r)))
                .collect::<Vec<_>>()
        };
        let mut own: Vec<IpAddr> = own_addrs.into_iter().map(canonical).collect();
        own.sort();
        own.dedup();
        Policy {
            deny_domains: DomainSet::new(&cfg.deny_domains),
            cfg,
            own,
            listeners: Vec::new(),
            special_v4: compile(&SPECIAL_V4),
            special_v6: compile(&SPECIAL_V6),
        }
    }

    /// The node's own listening sockets (ports resolved), refused whatever the config says.
    pub fn with_listeners(mut self, listeners: &[SocketAddr]) -> Policy {
        self.listeners = listeners
            .iter()
            .map(|l| SocketAddr::new(canonical(l.ip()), l.port()))
            .collect();
        self
    }

    /// `Ok` if members may ask for `name`; each address it resolves to is judged by
    /// [`Policy::check`] as well.
    pub fn check_name(&self, name: &str) -> Result<(), Denial> {
        match self.deny_domains.find(name) {
            Some(pattern) => Err(Denial::ConfiguredDomain { pattern }),
            None => Ok(()),
        }
    }

    /// `Ok` if members may connect to `dest`; otherwise the rule that refuses it.
    pub fn check(&self, dest: SocketAddr) -> Result<(), Denial> {
        let port = dest.port();
        let addr = canonical(dest.ip());
        let carried = carried_v4(addr);
        // Each form of the destination: itself, then every IPv4 address it carries.
        let forms = || {
            std::iter::once((addr, None)).chain(
                carried
                    .into_iter()
                    .flatten()
                    .map(|v4| (IpAddr::V4(v4), Some(v4))),
            )
        };

        for (ip, _) in forms() {
            if let Some(listener) = self.own_listener(ip, port) {
                return Err(Denial::OwnListener { dest, listener });
            }
        }
        if let Some(range) = self.cfg.deny_ports.iter().find(|r| r.contains(port)) {
            return Err(Denial::ConfiguredPort {
                port,
                range: *range,
            });
        }

        for (ip, embedded) in forms() {
            if let Some(cidr) = self.cfg.deny_cidrs.iter().find(|c| c.contains(ip)) {
                return Err(Denial::ConfiguredCidr {
                    addr,
                    embedded,
                    cidr: *cidr,
                });
            }
        }

        let allowed = forms().any(|(ip, _)| self.cfg.allow_cidrs.iter().any(|c| c.contains(ip)));
        if !allowed {
            for (ip, embedded) in forms() {
                if let Some(range) = self.special(ip) {
                    if !(range.private && self.cfg.allow_private) {
                        return Err(Denial::SpecialAddress {
                            addr,
                            embedded,
                            range,
                        });
                    }
                }
                if !self.cfg.allow_private && self.own.binary_search(&ip).is_ok() {
                    return Err(Denial::OwnAddress { addr, embedded });
                }
            }
        }

        let default_denied = port == 0 || DEFAULT_DENY_PORTS.iter().any(|r| r.contains(port));
        if default_denied && !self.cfg.allow_ports.iter().any(|r| r.contains(port)) {
            return Err(Denial::DefaultPort { port });
        }
        Ok(())
    }

    /// The listener a connection to `ip:port` (canonical) would reach, if any.
    fn own_listener(&self, ip: IpAddr, port: u16) -> Option<SocketAddr> {
        let local =
            || ip.is_loopback() || ip.is_unspecified() || self.own.binary_search(&ip).is_ok();
        self.listeners.iter().copied().find(|l| {
            l.port() == port
                && match l.ip() {
                    IpAddr::V4(any) if any.is_unspecified() => ip.is_ipv4() && local(),
                    // `::` takes IPv4 too unless IPV6_V6ONLY: treated as if it always did.
                    IpAddr::V6(any) if any.is_unspecified() => local(),
                    bound => bound == ip,
                }
        })
    }

    /// The most specific special-purpose range holding `ip`.
    fn special(&self, ip: IpAddr) -> Option<SpecialRange> {
        let table = if ip.is_ipv4() {
            &self.special_v4
        } else {
            &self.special_v6
        };
        table
            .iter()
            .filter(|(c, _)| c.contains(ip))
            .max_by_key(|(c, _)| c.prefix())
            .map(|(_, r)| *r)
    }
}

/// `::ffff:a.b.c.d` is the IPv4 address itself: connecting to it reaches a.b.c.d.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The IPv4 addresses an IPv6 transition form carries (Teredo carries two).
fn carried_v4(ip: IpAddr) -> [Option<Ipv4Addr>; 2] {
    let IpAddr::V6(v6) = ip else {
        return [None, None];
    };
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from(bits as u32);
    let seg = v6.segments();
    if bits >> 32 == 0 {
        // IPv4-compatible ::a.b.c.d (RFC 4291, deprecated); :: and ::1 are judged as IPv6.
        if bits <= 1 {
            return [None, None];
        }
        return [Some(low32), None];
    }
    if bits >> 32 == 0xffff_0000 {
        // SIIT IPv4-translated ::ffff:0:a.b.c.d (RFC 2765).
        return [Some(low32), None];
    }
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052).
        return [Some(low32), None];
    }
    if seg[0] == 0x2002 {
        // 6to4 2002:a.b.c.d::/48 (RFC 3056).
        return [Some(Ipv4Addr::from((bits >> 80) as u32)), None];
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        // Teredo 2001:0:server:flags:port:client, client obfuscated by inversion (RFC 4380).
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return [Some(server), Some(client)];
    }
    [None, None]
}

/// The node's own interface addresses, from `getifaddrs(3)`.
pub fn local_addresses() -> std::io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned and we have not freed it.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr is non-null and its family says which sockaddr it points to.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: AF_INET entries point to a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))));
            } else if family == libc::AF_INET6 {
                // SAFETY: AF_INET6 entries point to a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: head came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_sits_at_its_index_with_its_own_label() {
        for (i, rule) in DenialRule::ALL.iter().enumerate() {
            assert_eq!(rule.index(), i);
        }
        let mut labels: Vec<&str> = DenialRule::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), DenialRule::ALL.len());
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test socket address")
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().expect("test cidr")).collect()
    }

    fn ports(list: &[&str]) -> Vec<PortRange> {
        list.iter()
            .map(|p| p.parse().expect("test port range"))
            .collect()
    }

    fn default_policy() -> Policy {
        Policy::new(PolicyConfig::default(), Vec::new())
    }

    /// The name of the special range that denies `dest`, or "allowed".
    fn verdict(policy: &Policy, dest: &str) -> String {
        match policy.check(sa(dest)) {
            Ok(()) => "allowed".to_owned(),
            Err(Denial::SpecialAddress { range, .. }) => range.name.to_owned(),
            Err(other) => format!("{other:?}"),
        }
    }

    #[test]
    fn cidr_parses_and_normalises() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert_eq!("1.2.3.4".parse::<Cidr>().unwrap().to_string(), "1.2.3.4/32");
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert_eq!(
            "fe80::1/10".parse::<Cidr>().unwrap().to_string(),
            "fe80::/10"
        );
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().prefix(), 0);
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/a",
            "10.0.0.0/+8",
            "host/8",
            "10.0.0.0/0008",
            "1.2.3.4/8/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn cidr_contains_only_its_family() {
        let all_v4: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all_v4.contains("255.1.2.3".parse().unwrap()));
        assert!(!all_v4.contains("::1".parse().unwrap()));
        let net: Cidr = "192.168.1.0/24".parse().unwrap();
        assert!(net.contains("192.168.1.255".parse().unwrap()));
        assert!(!net.contains("192.168.2.0".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::".parse().unwrap()));
    }

    #[test]
    fn port_range_parses() {
        assert_eq!("25".parse::<PortRange>().unwrap(), PortRange::new(25, 25));
        assert_eq!(
            "6881-6999".parse::<PortRange>().unwrap(),
            PortRange::new(6881, 6999)
        );
        assert_eq!(
            "0-65535".parse::<PortRange>().unwrap().to_string(),
            "0-65535"
        );
        for bad in [
            "", "-", "1-", "-1", "65536", "10-5", "a", "1-2-3", " 25", "+25",
        ] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn public_addresses_and_ports_are_allowed() {
        let p = default_policy();
        for dest in [
            "93.184.216.34:443",
            "1.1.1.1:80",
            "[2606:4700:4700::1111]:443",
            "[::ffff:93.184.216.34]:443",
            "[64:ff9b::5db8:d822]:443",
            "[2002:5db8:d822::1]:443",
            "100.63.255.255:443",
            "100.128.0.0:443",
            "172.32.0.1:443",
            "192.0.3.1:443",
        ] {
            assert_eq!(verdict(&p, dest), "allowed", "{dest}");
        }
    }

    #[test]
    fn special_ranges_are_denied_by_default() {
        let p = default_policy();
        let table = [
            ("127.0.0.1:80", "loopback"),
            ("127.255.255.254:80", "loopback"),
            ("10.0.0.1:80", "private (RFC 1918)"),
            ("172.16.0.1:80", "private (RFC 1918)"),
            ("172.31.255.255:80", "private (RFC 1918)"),
            ("192.168.1.1:80", "private (RFC 1918)"),
            ("100.64.0.1:80", "shared CGNAT space (RFC 6598)"),
            ("100.127.255.255:80", "shared CGNAT space (RFC 6598)"),
            ("169.254.169.254:80", "link-local"),
            ("224.0.0.1:80", "multicast"),
            ("239.255.255.250:80", "multicast"),
            ("255.255.255.255:80", "broadcast"),
            ("240.0.0.1:80", "reserved (class E)"),
            ("0.0.0.0:80", "unspecified"),
            ("0.1.2.3:80", "\"this network\""),
            ("192.0.0.8:80", "IETF protocol assignments"),
            ("192.0.2.1:80", "documentation (TEST-NET-1)"),
            ("198.51.100.1:80", "documentation (TEST-NET-2)"),
            ("203.0.113.1:80", "documentation (TEST-NET-3)"),
            ("198.18.0.1:80", "benchmarking"),
            ("198.19.255.255:80", "benchmarking"),
            ("192.88.99.1:80", "deprecated 6to4 relay anycast"),
            ("[::1]:80", "loopback"),
            ("[::]:80", "unspecified"),
            ("[fe80::1]:80", "link-local"),
            ("[febf::1]:80", "link-local"),
            ("[fc00::1]:80", "unique-local"),
            ("[fd12:3456::1]:80", "unique-local"),
            ("[ff02::1]:80", "multicast"),
            ("[fec0::1]:80", "deprecated site-local"),
            ("[2001:db8::1]:80", "documentation"),
            ("[3fff::1]:80", "documentation (RFC 9637)"),
            ("[100::1]:80", "discard-only (RFC 6666)"),
            ("[2001:2::1]:80", "benchmarking"),
            ("[2001:10::1]:80", "deprecated ORCHID"),
            ("[64:ff9b:1::1]:80", "local-use NAT64 (RFC 8215)"),
            ("[5f00::1]:80", "SRv6 SIDs (RFC 9602)"),
        ];
        for (dest, name) in table {
            assert_eq!(verdict(&p, dest), name, "{dest}");
        }
    }

    #[test]
    fn ipv4_carried_in_ipv6_is_judged_as_ipv4() {
        let p = default_policy();
        let table = [
            ("[::ffff:127.0.0.1]:80", "loopback"),
            ("[::ffff:10.1.2.3]:80", "private (RFC 1918)"),
            ("[::ffff:169.254.169.254]:80", "link-local"),
            ("[::ffff:0.0.0.0]:80", "unspecified"),
            ("[::127.0.0.1]:80", "loopback"),
            ("[::192.168.0.1]:80", "private (RFC 1918)"),
            ("[::ffff:0:127.0.0.1]:80", "loopback"),
            ("[64:ff9b::127.0.0.1]:80", "loopback"),
            ("[64:ff9b::a00:1]:80", "private (RFC 1918)"),
            ("[2002:7f00:1::]:80", "loopback"),
            ("[2002:c0a8:101::1]:80", "private (RFC 1918)"),
            // Teredo: server 10.0.0.1, client 1.2.3.4 obfuscated (inverted).
            ("[2001:0:a00:1::fefd:fcfb]:80", "private (RFC 1918)"),
            // Teredo: public server, client 127.0.0.1 obfuscated to 80ff:fffe.
            ("[2001:0:5db8:d822::80ff:fffe]:80", "loopback"),
        ];
        for (dest, name) in table {
            assert_eq!(verdict(&p, dest), name, "{dest}");
        }
        // The log line says what was carried.
        let denial = p.check(sa("[64:ff9b::127.0.0.1]:80")).unwrap_err();
        assert_eq!(
            denial,
            Denial::SpecialAddress {
                addr: "64:ff9b::7f00:1".parse().unwrap(),
                embedded: Some(Ipv4Addr::LOCALHOST),
                range: special("127.0.0.0/8", "loopback", true),
            }
        );
        assert!(denial.to_string().contains("carrying 127.0.0.1"));
        // The mapped form is the IPv4 address itself, so it is named as such.
        assert!(matches!(
            p.check(sa("[::ffff:127.0.0.1]:80")),
            Err(Denial::SpecialAddress { addr, embedded: None, .. }) if addr == IpAddr::V4(Ipv4Addr::LOCALHOST)
        ));
    }

    #[test]
    fn own_addresses_are_denied_in_every_form() {
        let own: Vec<IpAddr> = vec![
            "93.184.216.34".parse().unwrap(),
            "2a01:4f8::5".parse().unwrap(),
        ];
        let p = Policy::new(PolicyConfig::default(), own.clone());
        for dest in [
            "93.184.216.34:443",
            "[::ffff:93.184.216.34]:443",
            "[64:ff9b::5db8:d822]:443",
            "[2a01:4f8::5]:443",
        ] {
            assert!(
                matches!(p.check(sa(dest)), Err(Denial::OwnAddress { .. })),
                "{dest}"
            );
        }
        assert_eq!(p.check(sa("93.184.216.35:443")), Ok(()));
        let lifted = Policy::new(
            PolicyConfig {
                allow_private: true,
                ..PolicyConfig::default()
            },
            own,
        );
        assert_eq!(lifted.check(sa("93.184.216.34:443")), Ok(()));
    }

    #[test]
    fn own_listeners_are_refused_whatever_the_policy() {
        let own: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "192.168.1.5".parse().unwrap()];
        let everything = PolicyConfig {
            allow_private: true,
            allow_cidrs: cidrs(&["0.0.0.0/0", "::/0"]),
            allow_ports: ports(&["1-65535"]),
            ..PolicyConfig::default()
        };
        let p = Policy::new(everything, own).with_listeners(&[
            sa("127.0.0.1:1080"),
            sa("0.0.0.0:8080"),
            sa("[::]:9090"),
            sa("[::1]:7070"),
        ]);
        for dest in [
            "127.0.0.1:1080",
            "[::ffff:127.0.0.1]:1080",
            "[64:ff9b::7f00:1]:1080",
            // 0.0.0.0:8080 is reached at every local IPv4 address.
            "127.0.0.1:8080",
            "127.0.0.2:8080",
            "0.0.0.0:8080",
            "192.168.1.5:8080",
            "[::ffff:192.168.1.5]:8080",
            // :: also takes IPv6 and (dual stack) IPv4.
            "[::1]:9090",
            "[::]:9090",
            "127.0.0.1:9090",
            "192.168.1.5:9090",
            "[::1]:7070",
        ] {
            assert!(
                matches!(p.check(sa(dest)), Err(Denial::OwnListener { .. })),
                "{dest}: {:?}",
                p.check(sa(dest))
            );
        }
        for allowed in [
            "127.0.0.2:1080",     // a specific listener takes only its own address
            "127.0.0.1:1081",     // another port
            "[::1]:8080",         // 0.0.0.0 takes no IPv6
            "93.184.216.34:8080", // not a local address
            "127.0.0.1:7070",     // [::1] takes no IPv4
        ] {
            assert_eq!(p.check(sa(allowed)), Ok(()), "{allowed}");
        }
        assert_eq!(
            p.check(sa("127.0.0.1:1080")).unwrap_err().to_string(),
            "destination 127.0.0.1:1080 is this node's own listener 127.0.0.1:1080 (a node never connects to itself)"
        );
    }

    #[test]
    fn allow_private_lifts_only_the_private_class() {
        let p = Policy::new(
            PolicyConfig {
                allow_private: true,
                ..PolicyConfig::default()
            },
            Vec::new(),
        );
        for dest in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
            "10.0.0.1:80",
            "172.16.0.1:80",
            "192.168.0.1:80",
            "100.64.0.1:80",
            "169.254.1.1:80",
            "[fe80::1]:80",
            "[fd00::1]:80",
            "[64:ff9b::7f00:1]:80",
        ] {
            assert_eq!(verdict(&p, dest), "allowed", "{dest}");
        }
        for (dest, name) in [
            ("0.0.0.0:80", "unspecified"),
            ("224.0.0.1:80", "multicast"),
            ("255.255.255.255:80", "broadcast"),
            ("[ff02::1]:80", "multicast"),
            ("[::]:80", "unspecified"),
            ("192.0.2.1:80", "documentation (TEST-NET-1)"),
        ] {
            assert_eq!(verdict(&p, dest), name, "{dest}");
        }
        // Port denies are a separate rule.
        assert_eq!(
            p.check(sa("127.0.0.1:25")),
            Err(Denial::DefaultPort { port: 25 })
        );
    }

    #[test]
    fn default_ports_follow_tors_reject_list() {
        let p = default_policy();
        let denied = [
            0, 25, 119, 135, 136, 137, 138, 139, 445, 563, 1214, 4661, 4666, 6346, 6400, 6429,
            6699, 6881, 6999,
        ];
        for port in denied {
            assert_eq!(
                p.check(SocketAddr::new("1.1.1.1".parse().unwrap(), port)),
                Err(Denial::DefaultPort { port }),
                "port {port}"
            );
        }
        let allowed = [
            1, 22, 24, 26, 80, 118, 120, 134, 140, 443, 444, 446, 1213, 1215, 4660, 4667, 6345,
            6430, 6698, 6700, 6880, 7000, 65535,
        ];
        for port in allowed {
            assert_eq!(
                p.check(SocketAddr::new("1.1.1.1".parse().unwrap(), port)),
                Ok(()),
                "port {port}"
            );
        }
    }

    #[test]
    fn allow_ports_lifts_default_port_denies_only() {
        let p = Policy::new(
            PolicyConfig {
                allow_ports: ports(&["25", "6881-6889"]),
                ..PolicyConfig::default()
            },
            Vec::new(),
        );
        assert_eq!(p.check(sa("1.1.1.1:25")), Ok(()));
        assert_eq!(p.check(sa("1.1.1.1:6885")), Ok(()));
        assert_eq!(
            p.check(sa("1.1.1.1:6890")),
            Err(Denial::DefaultPort { port: 6890 })
        );
        assert_eq!(verdict(&p, "127.0.0.1:25"), "loopback");
    }

    #[test]
    fn allow_cidrs_punch_holes_in_address_denies() {
        let p = Policy::new(
            PolicyConfig {
                allow_cidrs: cidrs(&["10.1.0.0/16", "fd00::/8", "224.0.0.251"]),
                ..PolicyConfig::default()
            },
            vec!["10.1.2.3".parse().unwrap()],
        );
        assert_eq!(p.check(sa("10.1.2.4:80")), Ok(()));
        assert_eq!(p.check(sa("[::ffff:10.1.2.4]:80")), Ok(()));
        assert_eq!(p.check(sa("[64:ff9b::a01:204]:80")), Ok(()));
        assert_eq!(p.check(sa("[fd00::5]:80")), Ok(()));
        assert_eq!(p.check(sa("224.0.0.251:80")), Ok(()));
        // An explicit hole covers the node's own address too.
        assert_eq!(p.check(sa("10.1.2.3:80")), Ok(()));
        assert_eq!(verdict(&p, "10.2.0.1:80"), "private (RFC 1918)");
        assert_eq!(verdict(&p, "224.0.0.252:80"), "multicast");
        // Holes are for addresses, not ports.
        assert_eq!(
            p.check(sa("10.1.2.4:445")),
            Err(Denial::DefaultPort { port: 445 })
        );
    }

    #[test]
    fn deny_rules_always_win() {
        let p = Policy::new(
            PolicyConfig {
                allow_private: true,
                allow_cidrs: cidrs(&["203.0.113.0/24", "198.51.100.7"]),
                deny_cidrs: cidrs(&["198.51.100.0/24", "8.8.8.0/24", "2001:4860::/32"]),
                allow_ports: ports(&["22-25"]),
                deny_ports: ports(&["22", "8000-8999"]),
                deny_domains: Vec::new(),
            },
            Vec::new(),
        );
        assert_eq!(
            p.check(sa("198.51.100.7:80")),
            Err(Denial::ConfiguredCidr {
                addr: "198.51.100.7".parse().unwrap(),
                embedded: None,
                cidr: "198.51.100.0/24".parse().unwrap(),
            })
        );
        assert!(matches!(
            p.check(sa("[::ffff:8.8.8.8]:443")),
            Err(Denial::ConfiguredCidr { .. })
        ));
        assert!(matches!(
            p.check(sa("[64:ff9b::808:808]:443")),
            Err(Denial::ConfiguredCidr {
                embedded: Some(_),
                ..
            })
        ));
        assert!(matches!(
            p.check(sa("[2001:4860::8888]:443")),
            Err(Denial::ConfiguredCidr { .. })
        ));
        assert_eq!(
            p.check(sa("203.0.113.5:22")),
            Err(Denial::ConfiguredPort {
                port: 22,
                range: PortRange::new(22, 22)
            })
        );
        assert_eq!(
            p.check(sa("127.0.0.1:8080")),
            Err(Denial::ConfiguredPort {
                port: 8080,
                range: PortRange::new(8000, 8999)
            })
        );
        assert_eq!(p.check(sa("203.0.113.5:25")), Ok(()));
        assert_eq!(p.check(sa("127.0.0.1:23")), Ok(()));
    }

    #[test]
    fn denials_name_their_rule() {
        let p = Policy::new(
            PolicyConfig {
                deny_cidrs: cidrs(&["8.8.8.0/24"]),
                deny_ports: ports(&["8000-8999"]),
                ..PolicyConfig::default()
            },
            vec!["93.184.216.34".parse().unwrap()],
        );
        let line = |d: &str| p.check(sa(d)).unwrap_err().to_string();
        assert_eq!(
            line("127.0.0.1:80"),
            "destination 127.0.0.1 is loopback (127.0.0.0/8), denied by default; see policy.allow_private"
        );
        assert_eq!(
            line("224.0.0.1:80"),
            "destination 224.0.0.1 is multicast (224.0.0.0/4), denied by default"
        );
        assert_eq!(
            line("8.8.8.8:53"),
            "destination 8.8.8.8 is denied by policy.deny_cidrs (8.8.8.0/24)"
        );
        assert_eq!(
            line("1.1.1.1:8080"),
            "port 8080 is denied by policy.deny_ports (8000-8999)"
        );
        assert_eq!(
            line("93.184.216.34:80"),
            "destination 93.184.216.34 is one of this node's own addresses; see policy.allow_private"
        );
        assert!(line("1.1.1.1:25").contains("Tor's exit reject list"));
        assert_eq!(line("1.1.1.1:0"), "port 0 is not a destination port");
    }

    #[test]
    fn local_addresses_include_loopback() {
        let addrs = local_addresses().expect("getifaddrs");
        assert!(
            addrs.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{addrs:?}"
        );
    }
}
