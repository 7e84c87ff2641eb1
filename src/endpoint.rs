//! A node's registry entry (`nodeInfo(...).endpoint`, written by `addNode`/`setEndpoint`):
//! where members reach it, plain and/or over TLS with the pin of its TLS key. The format
//! is in doc/protocol.md ("Node endpoints"); a plain `host:port`, the only form before
//! TLS, means exactly what it always did.
//!
//! ```text
//! node.example:1080
//! tls=node.example:443 pin=sha256//BASE64
//! node.example:1080 tls=node.example:443 pin=sha256//BASE64
//! ```

use crate::host_port::{HostPort, HostPortError, MAX_ENDPOINT_LENGTH};
use crate::tls::pin::PinError;
use crate::tls::Pin;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// SOCKS5 and HTTP proxy in clear.
    pub plain: Option<HostPort>,
    /// The same protocols inside TLS.
    pub tls: Option<TlsEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsEndpoint {
    pub addr: HostPort,
    /// SHA-256 of the TLS certificate's SubjectPublicKeyInfo.
    pub pin: Pin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    Empty,
    TooLong(usize),
    /// Not exactly one space between fields, or space at either end.
    Spacing,
    Plain(HostPortError),
    Tls(HostPortError),
    Pin(PinError),
    /// A field given twice.
    Repeated(&'static str),
    UnknownField(String),
    TlsWithoutPin,
    PinWithoutTls,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::Empty => f.write_str("is empty"),
            EndpointError::TooLong(n) => write!(
                f,
                "is {n} bytes long; the registry holds at most {MAX_ENDPOINT_LENGTH}"
            ),
            EndpointError::Spacing => f.write_str("must separate its fields by single spaces"),
            EndpointError::Plain(e) => write!(f, "plain address {e}"),
            EndpointError::Tls(e) => write!(f, "tls= address {e}"),
            EndpointError::Pin(e) => write!(f, "pin= {e}"),
            EndpointError::Repeated(what) => write!(f, "gives {what} twice"),
            EndpointError::UnknownField(s) => write!(f, "has an unknown field `{s}`"),
            EndpointError::TlsWithoutPin => {
                f.write_str("has tls= without pin= (members could not check the node)")
            }
            EndpointError::PinWithoutTls => f.write_str("has pin= without tls="),
        }
    }
}

impl std::error::Error for EndpointError {}

impl Endpoint {
    pub fn plain(addr: HostPort) -> Endpoint {
        Endpoint {
            plain: Some(addr),
            tls: None,
        }
    }

    /// The host members connect to (TLS preferred), for comparing with an egress address.
    pub fn host(&self) -> Option<&str> {
        match (&self.tls, &self.plain) {
            (Some(t), _) => Some(t.addr.host()),
            (None, Some(p)) => Some(p.host()),
            (None, None) => None,
        }
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Endpoint, EndpointError> {
        if s.is_empty() {
            return Err(EndpointError::Empty);
        }
        if s.len() > MAX_ENDPOINT_LENGTH {
            return Err(EndpointError::TooLong(s.len()));
        }
        let (mut plain, mut tls, mut pin) = (None, None, None);
        for field in s.split(' ') {
            if field.is_empty() {
                return Err(EndpointError::Spacing);
            }
            if let Some(addr) = field.strip_prefix("tls=") {
                let addr = addr.parse::<HostPort>().map_err(EndpointError::Tls)?;
                if tls.replace(addr).is_some() {
                    return Err(EndpointError::Repeated("tls="));
                }
            } else if let Some(p) = field.strip_prefix("pin=") {
                let p = p.parse::<Pin>().map_err(EndpointError::Pin)?;
                if pin.replace(p).is_some() {
                    return Err(EndpointError::Repeated("pin="));
                }
            } else if field.contains('=') {
                let name = field.split('=').next().unwrap_or_default();
                return Err(EndpointError::UnknownField(format!("{name}=")));
            } else {
                let addr = field.parse::<HostPort>().map_err(EndpointError::Plain)?;
                if plain.replace(addr).is_some() {
                    return Err(EndpointError::Repeated("a plain address"));
                }
            }
        }
        let tls = match (tls, pin) {
            (Some(addr), Some(pin)) => Some(TlsEndpoint { addr, pin }),
            (None, None) => None,
            (Some(_), None) => return Err(EndpointError::TlsWithoutPin),
            (None, Some(_)) => return Err(EndpointError::PinWithoutTls),
        };
        Ok(Endpoint { plain, tls })
    }
}

/// The canonical order: plain address, `tls=`, `pin=`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(plain) = &self.plain {
            write!(f, "{plain}")?;
            sep = " ";
        }
        if let Some(t) = &self.tls {
            write!(f, "{sep}tls={} pin={}", t.addr, t.pin)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn plain_entries_mean_what_they_always_did() {
        let e: Endpoint = "node.example:1080".parse().unwrap();
        assert_eq!(e, Endpoint::plain("node.example:1080".parse().unwrap()));
        assert_eq!(e.to_string(), "node.example:1080");
        let v6: Endpoint = "[::1]:1080".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:1080");
    }

    #[test]
    fn tls_entries_carry_the_pin_and_print_canonically() {
        let tls_only = format!("tls=node.example:443 pin={PIN}");
        let e: Endpoint = tls_only.parse().unwrap();
        assert_eq!(e.plain, None);
        let t = e.tls.as_ref().unwrap();
        assert_eq!((t.addr.host(), t.addr.port()), ("node.example", 443));
        assert_eq!(t.pin.to_string(), PIN);
        assert_eq!(e.to_string(), tls_only);

        let both = format!("node.example:1080 tls=[::1]:443 pin={PIN}");
        let e: Endpoint = both.parse().unwrap();
        assert!(e.plain.is_some() && e.tls.is_some());
        assert_eq!(e.to_string(), both);
        let reordered: Endpoint = format!("pin={PIN} tls=[::1]:443 node.example:1080")
            .parse()
            .unwrap();
        assert_eq!(reordered.to_string(), both);
    }

    #[test]
    fn malformed_entries_are_refused_with_the_reason() {
        let cases = [
            (String::new(), EndpointError::Empty),
            (" a:1".into(), EndpointError::Spacing),
            ("a:1  b:2".into(), EndpointError::Spacing),
            ("a:1 b:2".into(), EndpointError::Repeated("a plain address")),
            ("tls=a:1".into(), EndpointError::TlsWithoutPin),
            (format!("a:1 pin={PIN}"), EndpointError::PinWithoutTls),
            (
                format!("tls=a:1 pin={PIN} pin={PIN}"),
                EndpointError::Repeated("pin="),
            ),
            (
                format!("tls=a:1 tls=a:2 pin={PIN}"),
                EndpointError::Repeated("tls="),
            ),
            (
                "tls=a pin=x".into(),
                EndpointError::Tls(HostPortError::NoPort),
            ),
            (
                "tls=a:1 pin=sha256//AAAA".into(),
                EndpointError::Pin(PinError::BadText),
            ),
            (
                "quic=a:1".into(),
                EndpointError::UnknownField("quic=".into()),
            ),
            ("a:0".into(), EndpointError::Plain(HostPortError::BadPort)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Endpoint>(), Err(want), "{text:?}");
        }
    }

    #[test]
    fn the_contract_limit_leaves_room_for_a_long_tls_name() {
        // "tls=" + host + ":65535" + " pin=" + the pin's 52 characters.
        let room = MAX_ENDPOINT_LENGTH - 4 - 6 - 5 - crate::tls::pin::PIN_TEXT_LENGTH;
        assert_eq!(room, 193);
        let fits = format!("tls={}:65535 pin={PIN}", "a".repeat(room));
        assert_eq!(fits.len(), MAX_ENDPOINT_LENGTH);
        assert!(fits.parse::<Endpoint>().is_ok());
        let over = format!("tls={}:65535 pin={PIN}", "a".repeat(room + 1));
        assert_eq!(
            over.parse::<Endpoint>(),
            Err(EndpointError::TooLong(MAX_ENDPOINT_LENGTH + 1))
        );
    }
}
