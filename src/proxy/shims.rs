//! TEMPORARY stand-ins for the codecs and dns branches, following the pinned interfaces
//! in the team brief, so the engine builds and its tests run before those branches land.
//! Deleted once `git merge codecs dns` brings the real modules.
#![allow(dead_code)]

pub mod codec {
    use std::fmt;
    use std::net::SocketAddr;

    pub enum Target<'a> {
        Ip(SocketAddr),
        Domain(&'a str, u16),
    }
    impl Target<'_> {
        pub fn to_owned(&self) -> OwnedTarget {
            match self {
                Target::Ip(a) => OwnedTarget::Ip(*a),
                Target::Domain(n, p) => OwnedTarget::Domain(n.to_string(), *p),
            }
        }
    }
    #[derive(Debug, Clone)]
    pub enum OwnedTarget {
        Ip(SocketAddr),
        Domain(String, u16),
    }
    impl OwnedTarget {
        pub fn domain(&self) -> Option<&str> {
            match self {
                OwnedTarget::Domain(n, _) => Some(n),
                _ => None,
            }
        }
        pub fn port(&self) -> u16 {
            match self {
                OwnedTarget::Domain(_, p) => *p,
                OwnedTarget::Ip(a) => a.port(),
            }
        }
        pub fn ip(&self) -> Option<SocketAddr> {
            match self {
                OwnedTarget::Ip(a) => Some(*a),
                _ => None,
            }
        }
    }
    impl fmt::Display for OwnedTarget {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                OwnedTarget::Ip(a) => write!(f, "{a}"),
                OwnedTarget::Domain(n, p) => write!(f, "{n}:{p}"),
            }
        }
    }
    pub enum Protocol {
        Socks5,
        Http,
        Unknown,
    }
    pub fn detect(b: u8) -> Protocol {
        match b {
            5 => Protocol::Socks5,
            b'A'..=b'Z' => Protocol::Http,
            _ => Protocol::Unknown,
        }
    }
    pub fn target_from(host: &str, port: u16) -> Option<Target<'_>> {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = h.parse::<std::net::IpAddr>() {
            return Some(Target::Ip(SocketAddr::new(ip, port)));
        }
        if host.is_empty() || host.len() > 255 {
            return None;
        }
        Some(Target::Domain(host, port))
    }
}

pub mod socks5 {
    use super::codec::Target;
    use crate::proxy::codec::Parsed;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    #[derive(Debug)]
    pub enum Socks5Error {
        Bad,
        Command,
        Atyp,
    }
    impl Socks5Error {
        pub fn reply(&self) -> Option<Reply> {
            match self {
                Socks5Error::Bad => None,
                Socks5Error::Command => Some(Reply::CommandNotSupported),
                Socks5Error::Atyp => Some(Reply::AddressTypeNotSupported),
            }
        }
    }
    pub struct Greeting {
        pub no_auth: bool,
        pub user_pass: bool,
    }
    pub fn parse_greeting(buf: &[u8]) -> Result<Parsed<Greeting>, Socks5Error> {
        let (Some(&v), Some(&n)) = (buf.first(), buf.get(1)) else {
            return Ok(Parsed::NeedMore);
        };
        if v != 5 {
            return Err(Socks5Error::Bad);
        }
        let Some(m) = buf.get(2..2 + n as usize) else {
            return Ok(Parsed::NeedMore);
        };
        Ok(Parsed::Done {
            value: Greeting {
                no_auth: m.contains(&0),
                user_pass: m.contains(&2),
            },
            consumed: 2 + n as usize,
        })
    }
    pub enum Method {
        NoAuth,
        UserPass,
        NoAcceptable,
    }
    pub fn method_selection(m: Method) -> [u8; 2] {
        [
            5,
            match m {
                Method::NoAuth => 0,
                Method::UserPass => 2,
                Method::NoAcceptable => 0xff,
            },
        ]
    }
    pub struct UserPass<'a> {
        pub username: &'a [u8],
        pub password: &'a [u8],
    }
    pub fn parse_user_pass(buf: &[u8]) -> Result<Parsed<UserPass<'_>>, Socks5Error> {
        let (Some(&v), Some(&ul)) = (buf.first(), buf.get(1)) else {
            return Ok(Parsed::NeedMore);
        };
        if v != 1 {
            return Err(Socks5Error::Bad);
        }
        let ul = ul as usize;
        let Some(&pl) = buf.get(2 + ul) else {
            return Ok(Parsed::NeedMore);
        };
        let pl = pl as usize;
        let Some(p) = buf.get(3 + ul..3 + ul + pl) else {
            return Ok(Parsed::NeedMore);
        };
        Ok(Parsed::Done {
            value: UserPass {
                username: &buf[2..2 + ul],
                password: p,
            },
            consumed: 3 + ul + pl,
        })
    }
    pub fn auth_status(ok: bool) -> [u8; 2] {
        [1, if ok { 0 } else { 1 }]
    }
    pub enum Command {
        Connect,
        Bind,
        UdpAssociate,
    }
    pub struct Request<'a> {
        pub command: Command,
        pub target: Target<'a>,
    }
    pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request<'_>>, Socks5Error> {
        if buf.len() < 5 {
            return Ok(Parsed::NeedMore);
        }
        if buf[0] != 5 {
            return Err(Socks5Error::Bad);
        }
        let (addr_len, start) = match buf[3] {
            1 => (4, 4),
            4 => (16, 4),
            3 => (buf[4] as usize, 5),
            _ => return Err(Socks5Error::Atyp),
        };
        let end = start + addr_len + 2;
        if buf.len() < end {
            return Ok(Parsed::NeedMore);
        }
        let command = match buf[1] {
            1 => Command::Connect,
            2 => Command::Bind,
            3 => Command::UdpAssociate,
            _ => return Err(Socks5Error::Command),
        };
        let port = u16::from_be_bytes([buf[end - 2], buf[end - 1]]);
        let a = &buf[start..start + addr_len];
        let target = match buf[3] {
            1 => Target::Ip(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
                port,
            )),
            4 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(a);
                Target::Ip(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port))
            }
            _ => {
                let s = std::str::from_utf8(a).map_err(|_| Socks5Error::Bad)?;
                super::codec::target_from(s, port).ok_or(Socks5Error::Bad)?
            }
        };
        Ok(Parsed::Done {
            value: Request { command, target },
            consumed: end,
        })
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    pub enum Reply {
        Succeeded = 0,
        GeneralFailure = 1,
        NotAllowed = 2,
        NetworkUnreachable = 3,
        HostUnreachable = 4,
        ConnectionRefused = 5,
        TtlExpired = 6,
        CommandNotSupported = 7,
        AddressTypeNotSupported = 8,
    }
    pub struct ReplyBytes(Vec<u8>);
    impl AsRef<[u8]> for ReplyBytes {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    pub fn encode_reply(r: Reply, bound: SocketAddr) -> ReplyBytes {
        let mut v = vec![5, r as u8, 0];
        match bound.ip() {
            IpAddr::V4(ip) => {
                v.push(1);
                v.extend_from_slice(&ip.octets())
            }
            IpAddr::V6(ip) => {
                v.push(4);
                v.extend_from_slice(&ip.octets())
            }
        }
        v.extend_from_slice(&bound.port().to_be_bytes());
        ReplyBytes(v)
    }
}

pub mod http {
    use super::codec::Target;
    use crate::proxy::codec::Parsed;

    #[derive(Debug)]
    pub struct HttpError(Status);
    impl HttpError {
        pub fn status(&self) -> Status {
            self.0
        }
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RequestKind {
        Connect,
        Forward,
    }
    pub struct RequestHead<'a> {
        pub kind: RequestKind,
        pub target: Target<'a>,
        pub proxy_authorization: Option<&'a [u8]>,
        pub head_len: usize,
        path: &'a str,
        method: &'a str,
    }
    pub fn parse_request_head(
        buf: &[u8],
        max_head: usize,
    ) -> Result<Parsed<RequestHead<'_>>, HttpError> {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() >= max_head {
                return Err(HttpError(Status::HeadTooLarge));
            }
            return Ok(Parsed::NeedMore);
        };
        let head_len = end + 4;
        let text = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError(Status::BadRequest))?;
        let mut lines = text.split("\r\n");
        let line = lines.next().unwrap_or("");
        let mut parts = line.split(' ');
        let (Some(method), Some(uri), Some(_v)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(HttpError(Status::BadRequest));
        };
        let mut pa = None;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("proxy-authorization") {
                    pa = Some(v.trim().as_bytes());
                }
            }
        }
        let bad = || HttpError(Status::BadRequest);
        let split_hp = |hp: &'_ str, def: u16| -> Option<(usize, u16)> {
            match hp.rfind(':') {
                Some(i) if !hp[i..].contains(']') => Some((i, hp[i + 1..].parse().ok()?)),
                _ => Some((hp.len(), def)),
            }
        };
        if method == "CONNECT" {
            let (i, port) = split_hp(uri, 443).ok_or_else(bad)?;
            let target = super::codec::target_from(&uri[..i], port).ok_or_else(bad)?;
            return Ok(Parsed::Done {
                value: RequestHead {
                    kind: RequestKind::Connect,
                    target,
                    proxy_authorization: pa,
                    head_len,
                    path: "",
                    method,
                },
                consumed: head_len,
            });
        }
        let rest = uri.strip_prefix("http://").ok_or_else(bad)?;
        let slash = rest.find('/').unwrap_or(rest.len());
        let hp = &rest[..slash];
        let path = if slash == rest.len() {
            "/"
        } else {
            &rest[slash..]
        };
        let (i, port) = split_hp(hp, 80).ok_or_else(bad)?;
        let target = super::codec::target_from(&hp[..i], port).ok_or_else(bad)?;
        Ok(Parsed::Done {
            value: RequestHead {
                kind: RequestKind::Forward,
                target,
                proxy_authorization: pa,
                head_len,
                path,
                method,
            },
            consumed: head_len,
        })
    }
    pub fn decode_basic<'o>(value: &[u8], out: &'o mut [u8; 512]) -> Option<(&'o [u8], &'o [u8])> {
        let v = std::str::from_utf8(value).ok()?;
        let b64 = v.strip_prefix("Basic ")?.trim();
        let mut n = 0;
        let mut acc = 0u32;
        let mut bits = 0;
        for c in b64.bytes() {
            let d = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => break,
                _ => return None,
            };
            acc = (acc << 6) | d as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                *out.get_mut(n)? = (acc >> bits) as u8;
                n += 1;
            }
        }
        let s = &out[..n];
        let i = s.iter().position(|&b| b == b':')?;
        Some((&s[..i], &s[i + 1..]))
    }
    pub fn write_forward_head(buf: &[u8], head: &RequestHead<'_>, out: &mut Vec<u8>) {
        let text = std::str::from_utf8(&buf[..head.head_len]).unwrap_or("");
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", head.method, head.path).as_bytes());
        for l in text.split("\r\n").skip(1) {
            let k = l.split(':').next().unwrap_or("").to_ascii_lowercase();
            if l.is_empty() || k.starts_with("proxy-") || k == "connection" || k == "keep-alive" {
                continue;
            }
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Status {
        ConnectionEstablished,
        BadRequest,
        Forbidden,
        ProxyAuthRequired,
        BadGateway,
        GatewayTimeout,
        HeadTooLarge,
        NotImplemented,
        ServiceUnavailable,
    }
    pub fn response(s: Status) -> &'static [u8] {
        match s {
            Status::ConnectionEstablished => b"HTTP/1.1 200 Connection established\r\n\r\n",
            Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::Forbidden => b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::ProxyAuthRequired => b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"aqueduct\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::BadGateway => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::GatewayTimeout => b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::HeadTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::NotImplemented => b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Status::ServiceUnavailable => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        }
    }
}

pub mod policy {
    use std::fmt;
    use std::net::{IpAddr, SocketAddr};
    use std::str::FromStr;

    #[derive(Debug, Clone)]
    pub struct Cidr(IpAddr, u8);
    impl FromStr for Cidr {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            let (ip, len) = s.split_once('/').unwrap_or((s, ""));
            let ip: IpAddr = ip.parse().map_err(|_| format!("bad address in `{s}`"))?;
            let len = if len.is_empty() {
                if ip.is_ipv4() {
                    32
                } else {
                    128
                }
            } else {
                len.parse().map_err(|_| format!("bad prefix in `{s}`"))?
            };
            Ok(Cidr(ip, len))
        }
    }
    #[derive(Debug, Clone)]
    pub struct PortRange(u16, u16);
    impl FromStr for PortRange {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            Ok(PortRange(
                a.parse().map_err(|_| format!("bad port `{s}`"))?,
                b.parse().map_err(|_| format!("bad port `{s}`"))?,
            ))
        }
    }
    #[derive(Debug, Clone, Default)]
    pub struct PolicyConfig {
        pub allow_private: bool,
        pub allow_cidrs: Vec<Cidr>,
        pub deny_cidrs: Vec<Cidr>,
        pub allow_ports: Vec<PortRange>,
        pub deny_ports: Vec<PortRange>,
    }
    pub struct Policy(PolicyConfig);
    #[derive(Debug)]
    pub struct Denial(&'static str);
    impl fmt::Display for Denial {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Policy {
        pub fn new(cfg: PolicyConfig, _own: Vec<IpAddr>) -> Policy {
            Policy(cfg)
        }
        pub fn check(&self, dest: SocketAddr) -> Result<(), Denial> {
            if dest.port() == 25 {
                return Err(Denial("port 25"));
            }
            if self.0.allow_private {
                return Ok(());
            }
            match dest.ip() {
                IpAddr::V4(ip) if ip.is_loopback() || ip.is_private() => Err(Denial("private")),
                IpAddr::V6(ip) if ip.is_loopback() => Err(Denial("private")),
                _ => Ok(()),
            }
        }
    }
    pub fn local_addresses() -> std::io::Result<Vec<IpAddr>> {
        Ok(Vec::new())
    }
}

pub mod dns {
    use mio::{Registry, Token};
    use std::fmt;
    use std::net::{IpAddr, SocketAddr};
    use std::path::Path;
    use std::time::{Duration, Instant};

    #[derive(Debug, Clone, Default)]
    pub struct Hosts(Vec<(String, IpAddr)>);
    #[derive(Debug, Clone)]
    pub struct ResolverConfig {
        pub nameservers: Vec<SocketAddr>,
        pub hosts: Hosts,
        pub timeout: Duration,
        pub attempts: u32,
        pub cache_entries: usize,
        pub negative_ttl: Duration,
        pub max_ttl: Duration,
    }
    impl ResolverConfig {
        pub fn from_system() -> std::io::Result<Self> {
            Self::from_files(Path::new("/etc/resolv.conf"), Path::new("/etc/hosts"))
        }
        pub fn from_files(_resolv: &Path, hosts: &Path) -> std::io::Result<Self> {
            let text = std::fs::read_to_string(hosts)?;
            let mut v = Vec::new();
            for line in text.lines() {
                let mut w = line.split_whitespace();
                if let Some(Ok(ip)) = w.next().map(str::parse::<IpAddr>) {
                    for n in w {
                        v.push((n.to_ascii_lowercase(), ip));
                    }
                }
            }
            Ok(ResolverConfig {
                nameservers: Vec::new(),
                hosts: Hosts(v),
                timeout: Duration::from_secs(2),
                attempts: 2,
                cache_entries: 1024,
                negative_ttl: Duration::from_secs(5),
                max_ttl: Duration::from_secs(3600),
            })
        }
    }
    #[derive(Debug, Clone, Default)]
    pub struct Addrs(Vec<IpAddr>);
    impl Addrs {
        pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
            self.0.iter().copied()
        }
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DnsError {
        NxDomain,
        NoAddresses,
        Timeout,
        ServerFailure,
        Refused,
        BadName,
        Io,
    }
    impl fmt::Display for DnsError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }
    pub enum Lookup {
        Done(Result<Addrs, DnsError>),
        Pending,
    }
    pub struct Resolver(ResolverConfig);
    impl Resolver {
        pub fn new(
            c: ResolverConfig,
            _r: &Registry,
            _a: Token,
            _b: Token,
        ) -> std::io::Result<Self> {
            Ok(Resolver(c))
        }
        pub fn resolve(&mut self, name: &str, _owner: usize, _now: Instant) -> Lookup {
            let name = name.to_ascii_lowercase();
            let v: Vec<IpAddr> = (self.0.hosts.0.iter())
                .filter(|(n, _)| *n == name)
                .map(|(_, ip)| *ip)
                .collect();
            if v.is_empty() {
                Lookup::Done(Err(DnsError::NxDomain))
            } else {
                Lookup::Done(Ok(Addrs(v)))
            }
        }
        pub fn cancel(&mut self, _owner: usize) {}
        pub fn handle_readable(&mut self, _t: Token, _now: Instant) {}
        pub fn handle_timeouts(&mut self, _now: Instant) {}
        pub fn next_deadline(&self) -> Option<Instant> {
            None
        }
        pub fn drain_completed(&mut self, _out: &mut Vec<(usize, Result<Addrs, DnsError>)>) {}
    }
}
