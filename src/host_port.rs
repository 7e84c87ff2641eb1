//! A node's endpoint as the registry, the CLI and `aqueduct local` take it: `host:port`,
//! with the host a DNS name or an IP literal (IPv6 in brackets) and the port 1..=65535,
//! at most as long as the contract stores (`MAX_ENDPOINT_LENGTH`). One parser, so what
//! the CLI lets an admin register is exactly what members' software will use.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// The contract's `MAX_ENDPOINT_LENGTH`: longer endpoints revert with `InvalidEndpoint`.
pub const MAX_ENDPOINT_LENGTH: usize = 260;

/// Longest DNS name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_HOST_LENGTH: usize = 253;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// A name or an IP literal, without brackets.
    host: String,
    port: u16,
}

/// Why a string is not an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPortError {
    NoPort,
    BadPort,
    BadIpv6,
    BadHost,
    TooLong(usize),
}

impl fmt::Display for HostPortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPortError::NoPort => f.write_str("has no :port"),
            HostPortError::BadPort => f.write_str("has an invalid port (1 to 65535)"),
            HostPortError::BadIpv6 => f.write_str("has an invalid [IPv6] address"),
            HostPortError::BadHost => f.write_str("has an invalid host"),
            HostPortError::TooLong(n) => {
                write!(
                    f,
                    "is {n} bytes long; the registry holds at most {MAX_ENDPOINT_LENGTH}"
                )
            }
        }
    }
}

impl std::error::Error for HostPortError {}

impl HostPort {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for HostPort {
    type Err = HostPortError;

    fn from_str(s: &str) -> Result<HostPort, HostPortError> {
        if s.len() > MAX_ENDPOINT_LENGTH {
            return Err(HostPortError::TooLong(s.len()));
        }
        let (host, port) = s.rsplit_once(':').ok_or(HostPortError::NoPort)?;
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 && !port.starts_with('+') => p,
            _ => return Err(HostPortError::BadPort),
        };
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .filter(|h| h.parse::<Ipv6Addr>().is_ok())
                .ok_or(HostPortError::BadIpv6)?,
            None => host,
        };
        let bracketed = s.starts_with('[');
        if host.is_empty()
            || host.len() > MAX_HOST_LENGTH
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
            || (host.contains(':') && !bracketed)
        {
            return Err(HostPortError::BadHost);
        }
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_strictly_and_print_as_written() {
        for ok in [
            "node.example:1080",
            "127.0.0.1:1",
            "[::1]:65535",
            "a-b.c:443",
        ] {
            let parsed: HostPort = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(parsed.to_string(), ok);
        }
        let v6: HostPort = "[2001:db8::1]:1080".parse().unwrap();
        assert_eq!((v6.host(), v6.port()), ("2001:db8::1", 1080));
        let cases = [
            ("node", HostPortError::NoPort),
            ("node:0", HostPortError::BadPort),
            ("node:65536", HostPortError::BadPort),
            ("node:+80", HostPortError::BadPort),
            (":80", HostPortError::BadHost),
            ("[]:80", HostPortError::BadIpv6),
            ("[::1:80", HostPortError::BadIpv6),
            ("::1:80", HostPortError::BadHost),
            ("a b:80", HostPortError::BadHost),
            ("[zz]:80", HostPortError::BadIpv6),
        ];
        for (bad, want) in cases {
            assert_eq!(bad.parse::<HostPort>(), Err(want), "{bad}");
        }
        let long = format!("{}:80", "a".repeat(MAX_ENDPOINT_LENGTH));
        assert_eq!(
            long.parse::<HostPort>(),
            Err(HostPortError::TooLong(MAX_ENDPOINT_LENGTH + 3))
        );
        let host_too_long = format!("{}:80", "a".repeat(254));
        assert_eq!(
            host_too_long.parse::<HostPort>(),
            Err(HostPortError::BadHost)
        );
    }
}
