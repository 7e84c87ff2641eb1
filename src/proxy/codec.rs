//! What every protocol parser returns (either a message and how many bytes it took, or a
//! request for more bytes), the destination type both protocols produce, and first-byte
//! protocol detection. Errors are each codec's own type.
//!
//! Compiled into `fuzz/` as well (fuzz/src/lib.rs): it may use only `std` and the other
//! parser files there, so that it builds on its own and its invariants are fuzzed.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The outcome of parsing a prefix of a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The buffer holds only part of a message; read more and call again.
    NeedMore,
    /// A whole message was parsed from the first `consumed` bytes.
    Done { value: T, consumed: usize },
}

impl<T> Parsed<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::NeedMore => Parsed::NeedMore,
            Parsed::Done { value, consumed } => Parsed::Done {
                value: f(value),
                consumed,
            },
        }
    }
}

/// Longest name a target may carry: the SOCKS5 length byte's limit.
pub const MAX_DOMAIN_LEN: usize = 255;

/// A destination as a client named it. IP literals are always `Ip`, never `Domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Ip(SocketAddr),
    /// A validated host name (see [`parse_host`]): 1..=255 bytes of ASCII letters, digits,
    /// `-`, `_` and `.`, and never an IP literal.
    Domain(&'a str, u16),
}

impl Target<'_> {
    pub fn to_owned(&self) -> OwnedTarget {
        match *self {
            Target::Ip(addr) => OwnedTarget(Inner::Ip(addr)),
            Target::Domain(name, port) => {
                let mut bytes = [0u8; MAX_DOMAIN_LEN];
                // Names are built only by `parse_host`, which caps them at 255 bytes; `zip`
                // keeps even a hand-built longer one from indexing out of bounds.
                let mut len = 0u8;
                for (dst, src) in bytes.iter_mut().zip(name.as_bytes()) {
                    *dst = *src;
                    len += 1;
                }
                OwnedTarget(Inner::Domain {
                    name: bytes,
                    len,
                    port,
                })
            }
        }
    }

    pub fn port(&self) -> u16 {
        match *self {
            Target::Ip(addr) => addr.port(),
            Target::Domain(_, port) => port,
        }
    }
}

/// Owned copy kept in a session while it resolves/connects; no heap for the name.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedTarget(Inner);

// The inline name is the point (no heap per session); both variants live in the same slot.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq)]
enum Inner {
    Ip(SocketAddr),
    Domain {
        name: [u8; MAX_DOMAIN_LEN],
        len: u8,
        port: u16,
    },
}

impl OwnedTarget {
    pub fn domain(&self) -> Option<&str> {
        match &self.0 {
            Inner::Ip(_) => None,
            Inner::Domain { name, len, .. } => name
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok()),
        }
    }

    pub fn port(&self) -> u16 {
        match &self.0 {
            Inner::Ip(addr) => addr.port(),
            Inner::Domain { port, .. } => *port,
        }
    }

    pub fn ip(&self) -> Option<SocketAddr> {
        match &self.0 {
            Inner::Ip(addr) => Some(*addr),
            Inner::Domain { .. } => None,
        }
    }

    /// Borrows this target back as the parsers' type.
    pub fn as_target(&self) -> Target<'_> {
        match (&self.0, self.domain()) {
            (Inner::Ip(addr), _) => Target::Ip(*addr),
            (Inner::Domain { port, .. }, Some(name)) => Target::Domain(name, *port),
            // Unreachable: the name was copied from a validated &str.
            (Inner::Domain { port, .. }, None) => Target::Domain("", *port),
        }
    }
}

/// `host:port` or `[v6]:port`, for log lines.
impl fmt::Display for OwnedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Ip(addr) => write!(f, "{addr}"),
            Inner::Domain { port, .. } => write!(f, "{}:{port}", self.domain().unwrap_or("")),
        }
    }
}

impl fmt::Debug for OwnedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnedTarget({self})")
    }
}

/// Why a host name was refused by [`parse_host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    Empty,
    TooLong,
    /// A byte outside `[A-Za-z0-9._-]` (this covers NUL, space, controls and non-ASCII).
    BadByte(u8),
    /// An empty label (`a..b`, a leading dot) or one longer than 63 bytes.
    BadLabel,
    /// A last label that is all digits or `0x…`: an IPv4 address in a non-standard form
    /// such as `127.1` or `0x7f.0.0.1`, which resolvers might read as an address.
    NumericName,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Empty => f.write_str("empty host name"),
            HostError::TooLong => f.write_str("host name longer than 255 bytes"),
            HostError::BadByte(b) => write!(f, "byte 0x{b:02x} not allowed in a host name"),
            HostError::BadLabel => f.write_str("empty or over-long label in host name"),
            HostError::NumericName => f.write_str("numeric host name that is not a plain IP"),
        }
    }
}

/// Turns a host as a client wrote it into a [`Target`]. An IP literal (`192.0.2.1`, `::1`,
/// or `[::1]`) becomes `Target::Ip`; anything else must be a plausible DNS host name: ASCII
/// letters, digits, `-`, `_` (seen in real names) and dots, labels of 1..=63 bytes, one
/// optional trailing dot, at most 255 bytes in all.
pub fn parse_host(host: &[u8], port: u16) -> Result<Target<'_>, HostError> {
    if host.is_empty() {
        return Err(HostError::Empty);
    }
    if let Some(ip) = parse_ip_literal(host) {
        return Ok(Target::Ip(SocketAddr::new(ip, port)));
    }
    if host.len() > MAX_DOMAIN_LEN {
        return Err(HostError::TooLong);
    }
    if let Some(&bad) = host
        .iter()
        .find(|&&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
    {
        return Err(HostError::BadByte(bad));
    }
    let body = host.strip_suffix(b".").unwrap_or(host);
    if body
        .split(|&b| b == b'.')
        .any(|label| label.is_empty() || label.len() > 63)
    {
        return Err(HostError::BadLabel);
    }
    let last = body.rsplit(|&b| b == b'.').next().unwrap_or(body);
    let hex = last
        .strip_prefix(b"0x")
        .or_else(|| last.strip_prefix(b"0X"))
        .is_some_and(|rest| rest.iter().all(u8::is_ascii_hexdigit));
    if hex || last.iter().all(u8::is_ascii_digit) {
        return Err(HostError::NumericName);
    }
    // Every byte was checked to be ASCII above, so this cannot fail.
    let name = std::str::from_utf8(host).map_err(|_| HostError::BadByte(0x80))?;
    Ok(Target::Domain(name, port))
}

/// An IPv4 or IPv6 literal, bare or (IPv6 only) in brackets. Zone ids (`%eth0`) are refused.
fn parse_ip_literal(host: &[u8]) -> Option<IpAddr> {
    // The longest IPv6 text form is 45 bytes; anything longer cannot be an address.
    if host.len() > 47 {
        return None;
    }
    let text = std::str::from_utf8(host).ok()?;
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    text.parse::<IpAddr>().ok()
}

/// Which protocol a new connection speaks, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Socks5,
    Http,
    Unknown,
}

/// 0x05 is the SOCKS5 version byte; every HTTP method starts with an ASCII uppercase letter.
/// Anything else, SOCKS4's 0x04 and TLS's 0x16 included, is `Unknown`.
pub fn detect(first_byte: u8) -> Protocol {
    match first_byte {
        0x05 => Protocol::Socks5,
        b'A'..=b'Z' => Protocol::Http,
        _ => Protocol::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn detect_by_first_byte() {
        for b in 0..=255u8 {
            let want = match b {
                5 => Protocol::Socks5,
                b'A'..=b'Z' => Protocol::Http,
                _ => Protocol::Unknown,
            };
            assert_eq!(detect(b), want, "byte {b:#04x}");
        }
        assert_eq!(detect(0x04), Protocol::Unknown, "SOCKS4 is not spoken");
        assert_eq!(detect(0x16), Protocol::Unknown, "TLS handshake");
        assert_eq!(detect(b'g'), Protocol::Unknown, "lowercase method");
    }

    #[test]
    fn host_names_accepted() {
        let long_label = "a".repeat(63);
        let max = ["abcdefghi"; 25].join(".") + ".abcde"; // 249 + 6 = 255 bytes
        assert_eq!(max.len(), 255);
        let cases: &[&str] = &[
            "example.com",
            "EXAMPLE.com.",
            "a",
            "xn--bcher-kva.example",
            "_dmarc.example.org",
            "host-1.example",
            "1.example",
            "0x.example",
            "localhost",
            &long_label,
            &max,
        ];
        for name in cases {
            assert_eq!(
                parse_host(name.as_bytes(), 443),
                Ok(Target::Domain(name, 443)),
                "{name}"
            );
        }
    }

    #[test]
    fn host_names_refused() {
        let too_long = "a.".repeat(128); // 256 bytes
        let long_label = "a".repeat(64);
        let cases: &[(&[u8], HostError)] = &[
            (b"", HostError::Empty),
            (too_long.as_bytes(), HostError::TooLong),
            (long_label.as_bytes(), HostError::BadLabel),
            (b"exa mple.com", HostError::BadByte(b' ')),
            (b"example.com\0", HostError::BadByte(0)),
            (b"exa\r\nmple", HostError::BadByte(b'\r')),
            (b"ex\x7fample", HostError::BadByte(0x7f)),
            (b"b\xc3\xbccher.de", HostError::BadByte(0xc3)),
            (b"user@host", HostError::BadByte(b'@')),
            (b"host:80", HostError::BadByte(b':')),
            (b"host/path", HostError::BadByte(b'/')),
            (b"fe80::1%eth0", HostError::BadByte(b':')),
            (b".example.com", HostError::BadLabel),
            (b"a..b", HostError::BadLabel),
            (b"example.com..", HostError::BadLabel),
            (b".", HostError::BadLabel),
            (b"127.1", HostError::NumericName),
            (b"2130706433", HostError::NumericName),
            (b"0x7f.0.0.1", HostError::NumericName),
            (b"1.2.3.0x1", HostError::NumericName),
            (b"010.0.0.1", HostError::NumericName),
            (b"1.2.3.4.", HostError::NumericName),
        ];
        for (name, err) in cases {
            assert_eq!(
                parse_host(name, 80),
                Err(*err),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn ip_literals_become_ip_targets() {
        let cases: &[(&str, IpAddr)] = &[
            ("127.0.0.1", IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ("0.0.0.0", IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            ("::1", IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ("[::1]", IpAddr::V6(Ipv6Addr::LOCALHOST)),
            (
                "::ffff:10.0.0.1",
                IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()),
            ),
        ];
        for (text, ip) in cases {
            assert_eq!(
                parse_host(text.as_bytes(), 8080),
                Ok(Target::Ip(SocketAddr::new(*ip, 8080))),
                "{text}"
            );
        }
        // A bracketed IPv4 address is not a literal form anywhere.
        assert!(parse_host(b"[127.0.0.1]", 1).is_err());
    }

    #[test]
    fn owned_target_round_trip_and_display() {
        let max =
            "b".repeat(63) + "." + &"c".repeat(63) + "." + &"d".repeat(63) + "." + &"e".repeat(63);
        assert_eq!(max.len(), 255);
        for (target, shown) in [
            (
                Target::Domain("example.com", 443),
                "example.com:443".to_string(),
            ),
            (Target::Domain(&max, 1), format!("{max}:1")),
            (
                Target::Ip("192.0.2.7:80".parse().unwrap()),
                "192.0.2.7:80".to_string(),
            ),
            (
                Target::Ip("[2001:db8::1]:8443".parse().unwrap()),
                "[2001:db8::1]:8443".to_string(),
            ),
        ] {
            let owned = target.to_owned();
            assert_eq!(owned.as_target(), target);
            assert_eq!(owned.to_string(), shown);
            assert_eq!(owned.port(), target.port());
            match target {
                Target::Ip(addr) => {
                    assert_eq!(owned.ip(), Some(addr));
                    assert_eq!(owned.domain(), None);
                }
                Target::Domain(name, _) => {
                    assert_eq!(owned.domain(), Some(name));
                    assert_eq!(owned.ip(), None);
                }
            }
        }
        // The owned form holds the name inline: no pointer to the parse buffer survives.
        assert!(std::mem::size_of::<OwnedTarget>() <= 264);
    }
}
