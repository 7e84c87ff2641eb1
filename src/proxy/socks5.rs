//! SOCKS5 wire messages (RFC 1928) and username/password subnegotiation (RFC 1929) as pure
//! functions over byte slices: each parser looks at the front of what has been read so far
//! and returns `NeedMore`, a message with the exact number of bytes it took (anything after
//! is the next message or tunnel data), or an error. Nothing here does I/O or allocates.
//!
//! Compiled into `fuzz/` as well (fuzz/src/lib.rs): it may use only `std` and the other
//! parser files there, so that it builds on its own and its invariants are fuzzed.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::codec::{parse_host, Parsed, Target};

/// Wire constants of RFC 1928 and RFC 1929.
pub mod consts {
    pub const SOCKS4_VERSION: u8 = 0x04;
    pub const SOCKS5_VERSION: u8 = 0x05;

    pub const SOCKS5_AUTH_METHOD_NONE: u8 = 0x00;
    pub const SOCKS5_AUTH_METHOD_GSSAPI: u8 = 0x01;
    pub const SOCKS5_AUTH_METHOD_PASSWORD: u8 = 0x02;
    pub const SOCKS5_AUTH_METHOD_NOT_ACCEPTABLE: u8 = 0xff;

    pub const SOCKS5_USERPASS_VERSION: u8 = 0x01;
    pub const SOCKS5_USERPASS_SUCCESS: u8 = 0x00;
    pub const SOCKS5_USERPASS_FAILURE: u8 = 0x01;

    pub const SOCKS5_CMD_CONNECT: u8 = 0x01;
    pub const SOCKS5_CMD_BIND: u8 = 0x02;
    pub const SOCKS5_CMD_UDP_ASSOCIATE: u8 = 0x03;

    pub const SOCKS5_RESERVED: u8 = 0x00;

    pub const SOCKS5_ADDR_TYPE_IPV4: u8 = 0x01;
    pub const SOCKS5_ADDR_TYPE_DOMAIN_NAME: u8 = 0x03;
    pub const SOCKS5_ADDR_TYPE_IPV6: u8 = 0x04;

    pub const SOCKS5_REPLY_SUCCEEDED: u8 = 0x00;
    pub const SOCKS5_REPLY_GENERAL_FAILURE: u8 = 0x01;
    pub const SOCKS5_REPLY_CONNECTION_NOT_ALLOWED: u8 = 0x02;
    pub const SOCKS5_REPLY_NETWORK_UNREACHABLE: u8 = 0x03;
    pub const SOCKS5_REPLY_HOST_UNREACHABLE: u8 = 0x04;
    pub const SOCKS5_REPLY_CONNECTION_REFUSED: u8 = 0x05;
    pub const SOCKS5_REPLY_TTL_EXPIRED: u8 = 0x06;
    pub const SOCKS5_REPLY_COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub const SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

use consts::*;

/// Everything that can be wrong with a client's SOCKS5 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks5Error {
    /// VER of a greeting or request is not 5 (a SOCKS4 client sends 4).
    BadVersion(u8),
    /// A greeting with NMETHODS = 0: the client offers nothing to choose from.
    NoMethods,
    /// VER of the RFC 1929 subnegotiation is not 1.
    BadAuthVersion(u8),
    /// ULEN = 0 in the RFC 1929 subnegotiation.
    EmptyUsername,
    /// CMD is not CONNECT, BIND or UDP ASSOCIATE.
    UnknownCommand(u8),
    /// RSV is not 0.
    BadReserved(u8),
    /// ATYP is not 1, 3 or 4.
    UnknownAddressType(u8),
    /// A DOMAINNAME address of length 0.
    EmptyDomain,
    /// A DOMAINNAME that is not a host name (see `codec::parse_host`).
    BadDomain,
}

impl Socks5Error {
    /// The one place SOCKS5 errors meet reply codes. `None` means the error happened before
    /// a request reply can be sent (greeting, subnegotiation, wrong version): just close.
    /// The engine may precede the close with `method_selection(Method::NoAcceptable)` for
    /// `NoMethods`, or `auth_status(false)` for the two subnegotiation errors.
    pub fn reply(&self) -> Option<Reply> {
        match self {
            Socks5Error::BadVersion(_)
            | Socks5Error::NoMethods
            | Socks5Error::BadAuthVersion(_)
            | Socks5Error::EmptyUsername => None,
            Socks5Error::UnknownCommand(_) => Some(Reply::CommandNotSupported),
            Socks5Error::UnknownAddressType(_) => Some(Reply::AddressTypeNotSupported),
            Socks5Error::BadReserved(_) => Some(Reply::GeneralFailure),
            // A name that cannot exist cannot be reached; curl shows "host unreachable".
            Socks5Error::EmptyDomain | Socks5Error::BadDomain => Some(Reply::HostUnreachable),
        }
    }
}

impl fmt::Display for Socks5Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Socks5Error::BadVersion(v) => write!(f, "SOCKS version {v}, expected 5"),
            Socks5Error::NoMethods => f.write_str("greeting offers no authentication method"),
            Socks5Error::BadAuthVersion(v) => {
                write!(
                    f,
                    "username/password subnegotiation version {v}, expected 1"
                )
            }
            Socks5Error::EmptyUsername => f.write_str("empty username"),
            Socks5Error::UnknownCommand(c) => write!(f, "unknown command {c}"),
            Socks5Error::BadReserved(r) => write!(f, "reserved byte is {r}, expected 0"),
            Socks5Error::UnknownAddressType(a) => write!(f, "unknown address type {a}"),
            Socks5Error::EmptyDomain => f.write_str("empty domain name"),
            Socks5Error::BadDomain => f.write_str("domain name is not a valid host name"),
        }
    }
}

impl std::error::Error for Socks5Error {}

/// The client's method-selection message (RFC 1928 §3), reduced to the methods Aqueduct
/// can choose; others (GSSAPI, private methods) are ignored.
///
/// ```text
/// +----+----------+----------+
/// |VER | NMETHODS | METHODS  |
/// +----+----------+----------+
/// | 1  |    1     | 1 to 255 |
/// +----+----------+----------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// X'00' NO AUTHENTICATION REQUIRED was offered.
    pub no_auth: bool,
    /// X'02' USERNAME/PASSWORD was offered.
    pub user_pass: bool,
}

/// Parses the greeting. VER must be 5 and NMETHODS at least 1; duplicate methods are
/// harmless and accepted.
pub fn parse_greeting(buf: &[u8]) -> Result<Parsed<Greeting>, Socks5Error> {
    let Some(&ver) = buf.first() else {
        return Ok(Parsed::NeedMore);
    };
    check_version(ver)?;
    let Some(&nmethods) = buf.get(1) else {
        return Ok(Parsed::NeedMore);
    };
    if nmethods == 0 {
        return Err(Socks5Error::NoMethods);
    }
    let consumed = 2 + usize::from(nmethods);
    let Some(methods) = buf.get(2..consumed) else {
        return Ok(Parsed::NeedMore);
    };
    let value = Greeting {
        no_auth: methods.contains(&SOCKS5_AUTH_METHOD_NONE),
        user_pass: methods.contains(&SOCKS5_AUTH_METHOD_PASSWORD),
    };
    Ok(Parsed::Done { value, consumed })
}

fn check_version(ver: u8) -> Result<(), Socks5Error> {
    if ver == SOCKS5_VERSION {
        Ok(())
    } else {
        Err(Socks5Error::BadVersion(ver))
    }
}

/// The method the server picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    NoAuth,
    UserPass,
    /// X'FF': none of the offered methods is acceptable; the client must close.
    NoAcceptable,
}

impl Method {
    pub fn as_u8(self) -> u8 {
        match self {
            Method::NoAuth => SOCKS5_AUTH_METHOD_NONE,
            Method::UserPass => SOCKS5_AUTH_METHOD_PASSWORD,
            Method::NoAcceptable => SOCKS5_AUTH_METHOD_NOT_ACCEPTABLE,
        }
    }
}

/// The server's method-selection message (RFC 1928 §3).
///
/// ```text
/// +----+--------+
/// |VER | METHOD |
/// +----+--------+
/// | 1  |   1    |
/// +----+--------+
/// ```
pub fn method_selection(method: Method) -> [u8; 2] {
    [SOCKS5_VERSION, method.as_u8()]
}

/// The username/password request (RFC 1929 §2).
///
/// ```text
/// +----+------+----------+------+----------+
/// |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
/// +----+------+----------+------+----------+
/// | 1  |  1   | 1 to 255 |  1   | 0 to 255 |
/// +----+------+----------+------+----------+
/// ```
///
/// RFC 1929 draws both fields as 1 to 255 bytes. ULEN = 0 is refused (no account has an
/// empty name). PLEN = 0 is accepted as an empty password, as curl sends for `user:`, so the
/// client gets an ordinary failure status from the credential check instead of a dropped
/// connection. Neither field's bytes are interpreted here; they are never logged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UserPass<'a> {
    pub username: &'a [u8],
    pub password: &'a [u8],
}

/// Shows the username only: passwords must never reach a log.
impl fmt::Debug for UserPass<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPass")
            .field("username", &String::from_utf8_lossy(self.username))
            .field("password", &"<hidden>")
            .finish()
    }
}

pub fn parse_user_pass(buf: &[u8]) -> Result<Parsed<UserPass<'_>>, Socks5Error> {
    let Some(&ver) = buf.first() else {
        return Ok(Parsed::NeedMore);
    };
    if ver != SOCKS5_USERPASS_VERSION {
        return Err(Socks5Error::BadAuthVersion(ver));
    }
    let Some(&ulen) = buf.get(1) else {
        return Ok(Parsed::NeedMore);
    };
    if ulen == 0 {
        return Err(Socks5Error::EmptyUsername);
    }
    let user_end = 2 + usize::from(ulen);
    let (Some(username), Some(&plen)) = (buf.get(2..user_end), buf.get(user_end)) else {
        return Ok(Parsed::NeedMore);
    };
    let consumed = user_end + 1 + usize::from(plen);
    let Some(password) = buf.get(user_end + 1..consumed) else {
        return Ok(Parsed::NeedMore);
    };
    let value = UserPass { username, password };
    Ok(Parsed::Done { value, consumed })
}

/// The server's subnegotiation answer (RFC 1929 §2): VER 1, STATUS 0 for success. On
/// failure the server must close the connection after sending it.
///
/// ```text
/// +----+--------+
/// |VER | STATUS |
/// +----+--------+
/// | 1  |   1    |
/// +----+--------+
/// ```
pub fn auth_status(ok: bool) -> [u8; 2] {
    let status = if ok {
        SOCKS5_USERPASS_SUCCESS
    } else {
        SOCKS5_USERPASS_FAILURE
    };
    [SOCKS5_USERPASS_VERSION, status]
}

/// CMD of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Connect,
    /// Parsed so the client gets reply 7 rather than a dropped connection.
    Bind,
    /// Parsed so the client gets reply 7 rather than a dropped connection.
    UdpAssociate,
}

impl Command {
    pub fn from_u8(code: u8) -> Option<Command> {
        match code {
            SOCKS5_CMD_CONNECT => Some(Command::Connect),
            SOCKS5_CMD_BIND => Some(Command::Bind),
            SOCKS5_CMD_UDP_ASSOCIATE => Some(Command::UdpAssociate),
            _ => None,
        }
    }

    pub fn as_u8(self) -> u8 {
        match self {
            Command::Connect => SOCKS5_CMD_CONNECT,
            Command::Bind => SOCKS5_CMD_BIND,
            Command::UdpAssociate => SOCKS5_CMD_UDP_ASSOCIATE,
        }
    }
}

/// A client's request (RFC 1928 §4 and §5).
///
/// ```text
/// +----+-----+-------+------+----------+----------+
/// |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
/// +----+-----+-------+------+----------+----------+
/// | 1  |  1  | X'00' |  1   | Variable |    2     |
/// +----+-----+-------+------+----------+----------+
///
/// ATYP X'01' IPv4: DST.ADDR is 4 bytes
/// ATYP X'03' DOMAINNAME: DST.ADDR is a length byte then that many bytes, no NUL
/// ATYP X'04' IPv6: DST.ADDR is 16 bytes
/// DST.PORT is in network byte order
/// ```
///
/// Checks run in wire order, so an error is reported as soon as the byte that causes it has
/// arrived and never depends on bytes not yet read. RSV must be X'00': the RFC gives it no
/// other value, and a non-zero byte there means the stream is not what the client thinks it
/// sent. A DOMAINNAME must be a host name (`codec::parse_host`); one holding an IP literal
/// becomes `Target::Ip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub command: Command,
    pub target: Target<'a>,
}

pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request<'_>>, Socks5Error> {
    let Some(&ver) = buf.first() else {
        return Ok(Parsed::NeedMore);
    };
    check_version(ver)?;
    let Some(&cmd) = buf.get(1) else {
        return Ok(Parsed::NeedMore);
    };
    let command = Command::from_u8(cmd).ok_or(Socks5Error::UnknownCommand(cmd))?;
    let Some(&rsv) = buf.get(2) else {
        return Ok(Parsed::NeedMore);
    };
    if rsv != SOCKS5_RESERVED {
        return Err(Socks5Error::BadReserved(rsv));
    }
    let Some(&atyp) = buf.get(3) else {
        return Ok(Parsed::NeedMore);
    };
    let rest = buf.get(4..).unwrap_or_default();
    let parsed = match atyp {
        SOCKS5_ADDR_TYPE_IPV4 => match (rest.get(..4), rest.get(4..6)) {
            (Some(&[a, b, c, d]), Some(&[p0, p1])) => {
                let addr =
                    SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), u16::from_be_bytes([p0, p1]));
                Some((Target::Ip(addr.into()), 6))
            }
            _ => None,
        },
        SOCKS5_ADDR_TYPE_IPV6 => match (rest.get(..16), rest.get(16..18)) {
            (Some(ip), Some(&[p0, p1])) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(ip);
                let port = u16::from_be_bytes([p0, p1]);
                let addr = SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, 0);
                Some((Target::Ip(addr.into()), 18))
            }
            _ => None,
        },
        SOCKS5_ADDR_TYPE_DOMAIN_NAME => match rest.first() {
            Some(0) => return Err(Socks5Error::EmptyDomain),
            Some(&len) => {
                let end = 1 + usize::from(len);
                match (rest.get(1..end), rest.get(end..end + 2)) {
                    (Some(name), Some(&[p0, p1])) => {
                        let target = parse_host(name, u16::from_be_bytes([p0, p1]))
                            .map_err(|_| Socks5Error::BadDomain)?;
                        Some((target, end + 2))
                    }
                    _ => None,
                }
            }
            None => None,
        },
        other => return Err(Socks5Error::UnknownAddressType(other)),
    };
    Ok(match parsed {
        Some((target, addr_len)) => Parsed::Done {
            value: Request { command, target },
            consumed: 4 + addr_len,
        },
        None => Parsed::NeedMore,
    })
}

/// REP of a reply (RFC 1928 §6).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Succeeded = SOCKS5_REPLY_SUCCEEDED,
    GeneralFailure = SOCKS5_REPLY_GENERAL_FAILURE,
    NotAllowed = SOCKS5_REPLY_CONNECTION_NOT_ALLOWED,
    NetworkUnreachable = SOCKS5_REPLY_NETWORK_UNREACHABLE,
    HostUnreachable = SOCKS5_REPLY_HOST_UNREACHABLE,
    ConnectionRefused = SOCKS5_REPLY_CONNECTION_REFUSED,
    TtlExpired = SOCKS5_REPLY_TTL_EXPIRED,
    CommandNotSupported = SOCKS5_REPLY_COMMAND_NOT_SUPPORTED,
    AddressTypeNotSupported = SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED,
}

impl Reply {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(code: u8) -> Option<Reply> {
        Some(match code {
            SOCKS5_REPLY_SUCCEEDED => Reply::Succeeded,
            SOCKS5_REPLY_GENERAL_FAILURE => Reply::GeneralFailure,
            SOCKS5_REPLY_CONNECTION_NOT_ALLOWED => Reply::NotAllowed,
            SOCKS5_REPLY_NETWORK_UNREACHABLE => Reply::NetworkUnreachable,
            SOCKS5_REPLY_HOST_UNREACHABLE => Reply::HostUnreachable,
            SOCKS5_REPLY_CONNECTION_REFUSED => Reply::ConnectionRefused,
            SOCKS5_REPLY_TTL_EXPIRED => Reply::TtlExpired,
            SOCKS5_REPLY_COMMAND_NOT_SUPPORTED => Reply::CommandNotSupported,
            SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED => Reply::AddressTypeNotSupported,
            _ => return None,
        })
    }
}

/// An encoded reply: 10 bytes for an IPv4 bound address, 22 for IPv6. Lives on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReplyBytes {
    bytes: [u8; 22],
    len: u8,
}

impl AsRef<[u8]> for ReplyBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for ReplyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyBytes({:02x?})", self.as_ref())
    }
}

/// The server's reply (RFC 1928 §6). `bound` is the upstream socket's local address on
/// success; for failures pass any address (`0.0.0.0:0` is customary).
///
/// ```text
/// +----+-----+-------+------+----------+----------+
/// |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
/// +----+-----+-------+------+----------+----------+
/// | 1  |  1  | X'00' |  1   | Variable |    2     |
/// +----+-----+-------+------+----------+----------+
/// ```
pub fn encode_reply(reply: Reply, bound: SocketAddr) -> ReplyBytes {
    let mut bytes = [0u8; 22];
    bytes[0] = SOCKS5_VERSION;
    bytes[1] = reply.as_u8();
    bytes[2] = SOCKS5_RESERVED;
    let port = bound.port().to_be_bytes();
    let len = match bound {
        SocketAddr::V4(addr) => {
            bytes[3] = SOCKS5_ADDR_TYPE_IPV4;
            bytes[4..8].copy_from_slice(&addr.ip().octets());
            bytes[8..10].copy_from_slice(&port);
            10
        }
        SocketAddr::V6(addr) => {
            bytes[3] = SOCKS5_ADDR_TYPE_IPV6;
            bytes[4..20].copy_from_slice(&addr.ip().octets());
            bytes[20..22].copy_from_slice(&port);
            22
        }
    };
    ReplyBytes { bytes, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every proper prefix of a whole message must ask for more bytes, never produce a
    /// message or an error; the whole message, and the message followed by other data,
    /// must parse to the same value with `consumed` equal to the message length.
    /// A macro because the parsers' results borrow from differently-lived buffers.
    macro_rules! assert_split_and_pipelined {
        ($msg:expr, $parse:expr) => {{
            let msg: &[u8] = $msg;
            for cut in 0..msg.len() {
                assert_eq!(
                    $parse(&msg[..cut]),
                    Ok(Parsed::NeedMore),
                    "prefix of {cut} bytes of {msg:02x?}"
                );
            }
            let Ok(Parsed::Done { value, consumed }) = $parse(msg) else {
                panic!("{msg:02x?} did not parse: {:?}", $parse(msg));
            };
            assert_eq!(consumed, msg.len());
            let mut more = msg.to_vec();
            more.extend_from_slice(b"\x05\x01\x00GET / HTTP/1.1\r\n");
            assert_eq!(
                $parse(&more),
                Ok(Parsed::Done {
                    value: value.clone(),
                    consumed: msg.len()
                })
            );
            value
        }};
    }

    #[test]
    fn greeting_valid() {
        let cases: &[(&[u8], Greeting)] = &[
            (
                &[5, 1, 0],
                Greeting {
                    no_auth: true,
                    user_pass: false,
                },
            ),
            (
                &[5, 1, 2],
                Greeting {
                    no_auth: false,
                    user_pass: true,
                },
            ),
            (
                &[5, 2, 0, 2],
                Greeting {
                    no_auth: true,
                    user_pass: true,
                },
            ),
            (
                &[5, 2, 2, 0],
                Greeting {
                    no_auth: true,
                    user_pass: true,
                },
            ),
            (
                &[5, 1, 1],
                Greeting {
                    no_auth: false,
                    user_pass: false,
                },
            ),
            (
                &[5, 3, 0x80, 0xfe, 0xff],
                Greeting {
                    no_auth: false,
                    user_pass: false,
                },
            ),
            (
                &[5, 3, 2, 2, 2],
                Greeting {
                    no_auth: false,
                    user_pass: true,
                },
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(
                assert_split_and_pipelined!(msg, parse_greeting),
                *want,
                "{msg:?}"
            );
        }
    }

    #[test]
    fn greeting_with_255_methods() {
        let mut msg = vec![5, 255];
        msg.extend(1..=255u8);
        let got = assert_split_and_pipelined!(&msg, parse_greeting);
        assert_eq!(
            got,
            Greeting {
                no_auth: false,
                user_pass: true
            }
        );
        msg[2] = 0;
        assert_eq!(
            parse_greeting(&msg),
            Ok(Parsed::Done {
                value: Greeting {
                    no_auth: true,
                    user_pass: true
                },
                consumed: 257
            })
        );
    }

    #[test]
    fn greeting_errors() {
        let cases: &[(&[u8], Socks5Error)] = &[
            (&[4], Socks5Error::BadVersion(4)),
            (&[4, 1, 0, 80, 127, 0, 0, 1, 0], Socks5Error::BadVersion(4)),
            (&[0], Socks5Error::BadVersion(0)),
            (b"GET / HTTP/1.1\r\n", Socks5Error::BadVersion(b'G')),
            (&[5, 0], Socks5Error::NoMethods),
            (&[5, 0, 0, 2], Socks5Error::NoMethods),
        ];
        for (msg, err) in cases {
            assert_eq!(parse_greeting(msg), Err(*err), "{msg:?}");
            assert_eq!(err.reply(), None, "no request reply before a request");
        }
    }

    #[test]
    fn method_selection_bytes() {
        assert_eq!(method_selection(Method::NoAuth), [5, 0]);
        assert_eq!(method_selection(Method::UserPass), [5, 2]);
        assert_eq!(method_selection(Method::NoAcceptable), [5, 0xff]);
    }

    #[test]
    fn user_pass_valid() {
        let long = [b'x'; 255];
        let mut max = vec![1, 255];
        max.extend_from_slice(&long);
        max.push(255);
        max.extend_from_slice(&long);
        let cases: Vec<(Vec<u8>, &[u8], &[u8])> = vec![
            (b"\x01\x05alice\x06secret".to_vec(), b"alice", b"secret"),
            (b"\x01\x01a\x01b".to_vec(), b"a", b"b"),
            (b"\x01\x01a\x00".to_vec(), b"a", b""),
            (b"\x01\x03a:b\x03\x00\xff\n".to_vec(), b"a:b", b"\x00\xff\n"),
            (max, &long, &long),
        ];
        for (msg, user, pass) in cases {
            let got = assert_split_and_pipelined!(&msg, parse_user_pass);
            assert_eq!(got.username, user);
            assert_eq!(got.password, pass);
        }
    }

    #[test]
    fn user_pass_errors() {
        let cases: &[(&[u8], Socks5Error)] = &[
            (&[5, 5], Socks5Error::BadAuthVersion(5)),
            (&[0], Socks5Error::BadAuthVersion(0)),
            (&[2, 1, b'a', 1, b'b'], Socks5Error::BadAuthVersion(2)),
            (&[1, 0], Socks5Error::EmptyUsername),
            (&[1, 0, 1, b'b'], Socks5Error::EmptyUsername),
        ];
        for (msg, err) in cases {
            assert_eq!(parse_user_pass(msg), Err(*err), "{msg:?}");
            assert_eq!(err.reply(), None);
        }
    }

    #[test]
    fn user_pass_debug_hides_password() {
        let up = UserPass {
            username: b"alice",
            password: b"hunter2",
        };
        let shown = format!("{up:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn auth_status_bytes() {
        assert_eq!(auth_status(true), [1, 0]);
        assert_eq!(auth_status(false), [1, 1]);
    }

    fn v4(s: &str) -> Target<'static> {
        Target::Ip(s.parse().unwrap())
    }

    #[test]
    fn request_valid() {
        let long_name = ["abcdefghi"; 25].join(".") + ".abcde";
        let mut max_domain = vec![5, 1, 0, 3, 255];
        max_domain.extend_from_slice(long_name.as_bytes());
        max_domain.extend_from_slice(&[0xff, 0xff]);
        let cases: Vec<(Vec<u8>, Command, Target)> = vec![
            (
                vec![5, 1, 0, 1, 127, 0, 0, 1, 0, 80],
                Command::Connect,
                v4("127.0.0.1:80"),
            ),
            (
                vec![5, 1, 0, 1, 0, 0, 0, 0, 0, 0],
                Command::Connect,
                v4("0.0.0.0:0"),
            ),
            (
                vec![5, 1, 0, 1, 255, 255, 255, 255, 255, 255],
                Command::Connect,
                v4("255.255.255.255:65535"),
            ),
            (
                vec![5, 2, 0, 1, 10, 1, 2, 3, 0x1f, 0x90],
                Command::Bind,
                v4("10.1.2.3:8080"),
            ),
            (
                vec![5, 3, 0, 1, 10, 1, 2, 3, 0, 53],
                Command::UdpAssociate,
                v4("10.1.2.3:53"),
            ),
            (
                [
                    &[5, 1, 0, 4][..],
                    &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    &[1, 0xbb],
                ]
                .concat(),
                Command::Connect,
                v4("[2001:db8::1]:443"),
            ),
            (
                b"\x05\x01\x00\x03\x0bexample.com\x01\xbb".to_vec(),
                Command::Connect,
                Target::Domain("example.com", 443),
            ),
            (
                b"\x05\x01\x00\x03\x01a\x00\x16".to_vec(),
                Command::Connect,
                Target::Domain("a", 22),
            ),
            (
                max_domain,
                Command::Connect,
                Target::Domain(&long_name, 65535),
            ),
            // IP literals sent as names are addresses, so policy sees them as such.
            (
                b"\x05\x01\x00\x03\x09127.0.0.1\x00\x50".to_vec(),
                Command::Connect,
                v4("127.0.0.1:80"),
            ),
            (
                b"\x05\x01\x00\x03\x03::1\x00\x50".to_vec(),
                Command::Connect,
                v4("[::1]:80"),
            ),
            (
                b"\x05\x01\x00\x03\x05[::1]\x00\x50".to_vec(),
                Command::Connect,
                v4("[::1]:80"),
            ),
        ];
        for (msg, command, target) in cases {
            let got = assert_split_and_pipelined!(&msg, parse_request);
            assert_eq!(got, Request { command, target }, "{msg:02x?}");
        }
    }

    #[test]
    fn request_errors() {
        let cases: &[(&[u8], Socks5Error, Option<Reply>)] = &[
            (
                &[4, 1, 0, 80, 127, 0, 0, 1, 0],
                Socks5Error::BadVersion(4),
                None,
            ),
            (&[6], Socks5Error::BadVersion(6), None),
            (
                &[5, 0],
                Socks5Error::UnknownCommand(0),
                Some(Reply::CommandNotSupported),
            ),
            (
                &[5, 4, 0, 1, 1, 2, 3, 4, 0, 80],
                Socks5Error::UnknownCommand(4),
                Some(Reply::CommandNotSupported),
            ),
            (
                &[5, 0xff],
                Socks5Error::UnknownCommand(0xff),
                Some(Reply::CommandNotSupported),
            ),
            (
                &[5, 1, 1],
                Socks5Error::BadReserved(1),
                Some(Reply::GeneralFailure),
            ),
            (
                &[5, 1, 0xff, 1, 1, 2, 3, 4, 0, 80],
                Socks5Error::BadReserved(0xff),
                Some(Reply::GeneralFailure),
            ),
            (
                &[5, 1, 0, 0],
                Socks5Error::UnknownAddressType(0),
                Some(Reply::AddressTypeNotSupported),
            ),
            (
                &[5, 1, 0, 2, 1, 2, 3, 4, 0, 80],
                Socks5Error::UnknownAddressType(2),
                Some(Reply::AddressTypeNotSupported),
            ),
            (
                &[5, 1, 0, 5],
                Socks5Error::UnknownAddressType(5),
                Some(Reply::AddressTypeNotSupported),
            ),
            (
                &[5, 1, 0, 0xff],
                Socks5Error::UnknownAddressType(0xff),
                Some(Reply::AddressTypeNotSupported),
            ),
            (
                &[5, 1, 0, 3, 0],
                Socks5Error::EmptyDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                &[5, 1, 0, 3, 0, 0, 80],
                Socks5Error::EmptyDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                b"\x05\x01\x00\x03\x0cexample.com\x00\x00\x50",
                Socks5Error::BadDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                b"\x05\x01\x00\x03\x08exa mple\x00\x50",
                Socks5Error::BadDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                b"\x05\x01\x00\x03\x04a\r\nb\x00\x50",
                Socks5Error::BadDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                b"\x05\x01\x00\x03\x03\xc3\xa9e\x00\x50",
                Socks5Error::BadDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                b"\x05\x01\x00\x03\x05127.1\x00\x50",
                Socks5Error::BadDomain,
                Some(Reply::HostUnreachable),
            ),
            (
                b"\x05\x01\x00\x03\x0cfe80::1%eth0\x00\x50",
                Socks5Error::BadDomain,
                Some(Reply::HostUnreachable),
            ),
        ];
        for (msg, err, reply) in cases {
            assert_eq!(parse_request(msg), Err(*err), "{msg:02x?}");
            assert_eq!(err.reply(), *reply, "{err}");
        }
    }

    #[test]
    fn request_domain_length_is_honoured_exactly() {
        // The length byte says 3: "abc" is the name and the next two bytes are the port,
        // even though they look like more name.
        let msg = b"\x05\x01\x00\x03\x03abcde";
        assert_eq!(
            parse_request(msg),
            Ok(Parsed::Done {
                value: Request {
                    command: Command::Connect,
                    target: Target::Domain("abc", u16::from_be_bytes(*b"de"))
                },
                consumed: msg.len()
            })
        );
        // A name of 255 bytes with the port still missing waits instead of reading past.
        let mut msg = vec![5, 1, 0, 3, 255];
        msg.extend_from_slice(&[b'a'; 255]);
        assert_eq!(parse_request(&msg), Ok(Parsed::NeedMore));
        msg.push(0);
        assert_eq!(parse_request(&msg), Ok(Parsed::NeedMore));
    }

    #[test]
    fn whole_handshake_pipelined_in_one_read() {
        let stream =
            b"\x05\x01\x02\x01\x05alice\x06secret\x05\x01\x00\x03\x0bexample.com\x01\xbbHELLO";
        let Ok(Parsed::Done {
            value: g,
            consumed: a,
        }) = parse_greeting(stream)
        else {
            panic!()
        };
        assert!(g.user_pass && !g.no_auth);
        let Ok(Parsed::Done {
            value: up,
            consumed: b,
        }) = parse_user_pass(&stream[a..])
        else {
            panic!()
        };
        assert_eq!((up.username, up.password), (&b"alice"[..], &b"secret"[..]));
        let Ok(Parsed::Done {
            value: req,
            consumed: c,
        }) = parse_request(&stream[a + b..])
        else {
            panic!()
        };
        assert_eq!(req.target, Target::Domain("example.com", 443));
        assert_eq!(&stream[a + b + c..], b"HELLO");
    }

    #[test]
    fn reply_encoding() {
        let r = encode_reply(Reply::Succeeded, "192.0.2.1:40000".parse().unwrap());
        assert_eq!(r.as_ref(), &[5, 0, 0, 1, 192, 0, 2, 1, 0x9c, 0x40]);
        let r = encode_reply(Reply::HostUnreachable, "0.0.0.0:0".parse().unwrap());
        assert_eq!(r.as_ref(), &[5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
        let r = encode_reply(Reply::Succeeded, "[2001:db8::7]:443".parse().unwrap());
        assert_eq!(r.as_ref().len(), 22);
        assert_eq!(&r.as_ref()[..4], &[5, 0, 0, 4]);
        assert_eq!(
            &r.as_ref()[4..20],
            &"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(&r.as_ref()[20..], &[1, 0xbb]);
    }

    #[test]
    fn reply_codes_match_rfc_1928() {
        let all = [
            (Reply::Succeeded, 0),
            (Reply::GeneralFailure, 1),
            (Reply::NotAllowed, 2),
            (Reply::NetworkUnreachable, 3),
            (Reply::HostUnreachable, 4),
            (Reply::ConnectionRefused, 5),
            (Reply::TtlExpired, 6),
            (Reply::CommandNotSupported, 7),
            (Reply::AddressTypeNotSupported, 8),
        ];
        for (reply, code) in all {
            assert_eq!(reply.as_u8(), code);
            assert_eq!(Reply::from_u8(code), Some(reply));
            assert_eq!(
                encode_reply(reply, "1.2.3.4:5".parse().unwrap()).as_ref()[1],
                code
            );
        }
        assert_eq!(Reply::from_u8(9), None);
    }

    #[test]
    fn command_codes() {
        for c in [Command::Connect, Command::Bind, Command::UdpAssociate] {
            assert_eq!(Command::from_u8(c.as_u8()), Some(c));
        }
        assert_eq!(Command::from_u8(0), None);
        assert_eq!(Command::from_u8(4), None);
    }

    /// A pseudo-random walk over short messages: no parser may panic, report more bytes
    /// than it was given, or change its answer when more bytes follow a whole message.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut buf = [0u8; 24];
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 25) as usize;
            for (i, b) in buf.iter_mut().enumerate() {
                // Bias towards small values so the interesting branches are reached.
                let r = (state >> (i % 8 * 8)) as u8;
                *b = if i % 3 == 0 { r % 9 } else { r };
            }
            buf[0] = 5;
            let input = &buf[..len];
            if let Ok(Parsed::Done { consumed, .. }) = parse_greeting(input) {
                assert!(consumed <= len);
            }
            if let Ok(Parsed::Done { consumed, .. }) = parse_user_pass(input) {
                assert!(consumed <= len);
            }
            if let Ok(Parsed::Done { value, consumed }) = parse_request(input) {
                assert!(consumed <= len);
                assert_eq!(
                    parse_request(&input[..consumed]),
                    Ok(Parsed::Done { value, consumed })
                );
            }
        }
    }
}
