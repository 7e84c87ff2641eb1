//! Reaching a target through an upstream SOCKS5 node instead of connecting to it directly
//! (what `aqueduct local` does): the [`Router`] that says which node to go through, the
//! client side of RFC 1928/1929 as pure functions, and `Via`, the session's stage
//! while it opens a tunnel through one node after another.
//!
//! The client handshake is pipelined: greeting (offering only username/password),
//! credentials and CONNECT go out in one write, so a node costs one round trip after
//! the TCP handshake. Offering a single method makes this safe: a server must pick it
//! or refuse, so the bytes after the greeting can only mean what we meant.

use super::codec::{Parsed, Target};
pub use super::io::ConnectError;
use super::io::{self, IoOutcome};
use super::relay::Endpoint;
use super::socks5::consts::*;
use super::socks5::Reply;
use crate::tls::configs::pin_mismatch;
use crate::tls::conn::{TlsConn, TlsFailure};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many nodes one session tries before it reports failure to its client.
pub const MAX_ATTEMPTS: usize = 3;

/// A username and password for one node.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Login {
    // The password is a bearer credential: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// One node to go through: the router's id for it, where it listens, what to log in with,
/// and for a TLS endpoint the client config that checks its pin.
#[derive(Debug, Clone)]
pub struct Hop {
    pub node: usize,
    pub addr: SocketAddr,
    pub login: Arc<Login>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Why a node could not be used. Each of these is the node's fault (or its network's),
/// so the router marks it down and the session tries the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopError {
    Connect(ConnectError),
    /// Connecting plus the handshake took longer than `timeouts.connect`.
    Timeout,
    /// The node accepts no method we offer (username/password).
    NoAcceptableMethod,
    /// The node refused our credential.
    AuthRejected,
    /// The node closed the connection before answering CONNECT.
    Closed,
    /// The node's bytes are not SOCKS5; says what was wrong.
    Protocol(&'static str),
    /// The credential does not fit RFC 1929's one-byte lengths.
    BadLogin,
    /// The TLS endpoint presented another key than its registry entry pins.
    PinMismatch,
    /// The TLS handshake with the node failed for another reason.
    Tls,
}

impl fmt::Display for HopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HopError::Connect(e) => f.write_str(e.as_str()),
            HopError::Timeout => f.write_str("no answer in time"),
            HopError::NoAcceptableMethod => f.write_str("refuses username/password login"),
            HopError::AuthRejected => f.write_str("credential rejected"),
            HopError::Closed => f.write_str("closed the connection during the handshake"),
            HopError::Protocol(what) => write!(f, "not speaking SOCKS5: {what}"),
            HopError::BadLogin => f.write_str("credential longer than 255 bytes"),
            HopError::PinMismatch => f.write_str("pin mismatch: possible interception"),
            HopError::Tls => f.write_str("TLS handshake failed"),
        }
    }
}

/// Why a tunnel through the network failed, as told to the session's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViaFailure {
    /// Every node tried failed (or none is known); the last node's error.
    NoNode(Option<HopError>),
    /// A node is fine but could not reach the target: its SOCKS5 reply code.
    Target(u8),
}

impl ViaFailure {
    pub fn socks_reply(&self) -> Reply {
        match self {
            ViaFailure::NoNode(_) => Reply::GeneralFailure,
            ViaFailure::Target(code) => Reply::from_u8(*code).unwrap_or(Reply::GeneralFailure),
        }
    }

    /// True when the answer should be 504 Gateway Timeout rather than 502.
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            ViaFailure::Target(SOCKS5_REPLY_TTL_EXPIRED)
                | ViaFailure::NoNode(Some(HopError::Timeout))
        )
    }

    pub fn not_allowed(&self) -> bool {
        matches!(
            self,
            ViaFailure::Target(SOCKS5_REPLY_CONNECTION_NOT_ALLOWED)
        )
    }
}

impl fmt::Display for ViaFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViaFailure::NoNode(None) => f.write_str("no node available"),
            ViaFailure::NoNode(Some(e)) => write!(f, "no node reachable (last: {e})"),
            ViaFailure::Target(code) => {
                write!(f, "node could not reach the target: {}", reply_text(*code))
            }
        }
    }
}

fn reply_text(code: u8) -> &'static str {
    match code {
        SOCKS5_REPLY_GENERAL_FAILURE => "general failure",
        SOCKS5_REPLY_CONNECTION_NOT_ALLOWED => "not allowed by the node's policy",
        SOCKS5_REPLY_NETWORK_UNREACHABLE => "network unreachable",
        SOCKS5_REPLY_HOST_UNREACHABLE => "host unreachable",
        SOCKS5_REPLY_CONNECTION_REFUSED => "connection refused",
        SOCKS5_REPLY_TTL_EXPIRED => "timed out",
        SOCKS5_REPLY_COMMAND_NOT_SUPPORTED => "command not supported",
        SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED => "address type not supported",
        _ => "unknown reply code",
    }
}

/// Chooses nodes for sessions and learns from how they did. Lives on the event loop:
/// both calls must return at once (no I/O).
pub trait Router {
    /// The best usable node not in `exclude` (nodes this session already tried).
    fn pick(&mut self, exclude: &[usize], now: Instant) -> Option<Hop>;
    /// How a hop went: Ok with the time from connect to the node's CONNECT answer.
    fn report(&mut self, node: usize, result: Result<Duration, HopError>, now: Instant);
}

// ---------------------------------------------------------------------------------------
// The client side of the wire protocol
// ---------------------------------------------------------------------------------------

/// Appends greeting (username/password only), RFC 1929 credentials and a CONNECT
/// request for `target` (names are sent as names: the node resolves them).
pub fn encode_handshake(
    login: &Login,
    target: &Target<'_>,
    out: &mut Vec<u8>,
) -> Result<(), HopError> {
    out.extend_from_slice(&[SOCKS5_VERSION, 1, SOCKS5_AUTH_METHOD_PASSWORD]);
    encode_login(login, out)?;
    out.extend_from_slice(&[SOCKS5_VERSION, SOCKS5_CMD_CONNECT, SOCKS5_RESERVED]);
    match *target {
        Target::Ip(SocketAddr::V4(a)) => {
            out.push(SOCKS5_ADDR_TYPE_IPV4);
            out.extend_from_slice(&a.ip().octets());
        }
        Target::Ip(SocketAddr::V6(a)) => {
            out.push(SOCKS5_ADDR_TYPE_IPV6);
            out.extend_from_slice(&a.ip().octets());
        }
        Target::Domain(name, _) => {
            let len = u8::try_from(name.len()).map_err(|_| HopError::Protocol("name too long"))?;
            out.push(SOCKS5_ADDR_TYPE_DOMAIN_NAME);
            out.push(len);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out.extend_from_slice(&target.port().to_be_bytes());
    Ok(())
}

/// Greeting plus credentials, without a request (what a health probe sends).
pub fn encode_login_probe(login: &Login, out: &mut Vec<u8>) -> Result<(), HopError> {
    out.extend_from_slice(&[SOCKS5_VERSION, 1, SOCKS5_AUTH_METHOD_PASSWORD]);
    encode_login(login, out)
}

fn encode_login(login: &Login, out: &mut Vec<u8>) -> Result<(), HopError> {
    let user = login.username.as_bytes();
    let pass = login.password.as_bytes();
    let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
        return Err(HopError::BadLogin);
    };
    if ulen == 0 || plen == 0 {
        return Err(HopError::BadLogin);
    }
    out.extend_from_slice(&[SOCKS5_USERPASS_VERSION, ulen]);
    out.extend_from_slice(user);
    out.push(plen);
    out.extend_from_slice(pass);
    Ok(())
}

/// Reads the node's method selection and login status (the answers to
/// [`encode_login_probe`]); `Done` once both are there and accepted.
pub fn parse_login_answers(buf: &[u8]) -> Result<Parsed<()>, HopError> {
    let Some(method) = buf.get(..2) else {
        return Ok(Parsed::NeedMore);
    };
    match *method {
        [SOCKS5_VERSION, SOCKS5_AUTH_METHOD_PASSWORD] => {}
        [SOCKS5_VERSION, SOCKS5_AUTH_METHOD_NOT_ACCEPTABLE] => {
            return Err(HopError::NoAcceptableMethod)
        }
        [SOCKS5_VERSION, _] => return Err(HopError::Protocol("chose a method not offered")),
        _ => return Err(HopError::Protocol("wrong version in method selection")),
    }
    // RFC 1929 says version 1; some servers echo 5. Only the status matters.
    match buf.get(2..4) {
        None => Ok(Parsed::NeedMore),
        Some([_, SOCKS5_USERPASS_SUCCESS]) => Ok(Parsed::Done {
            value: (),
            consumed: 4,
        }),
        Some(_) => Err(HopError::AuthRejected),
    }
}

/// Reads all three answers to [`encode_handshake`]; `Done` carries the CONNECT reply
/// code (0 = tunnel open) and the bytes taken (what follows is tunnel data).
pub fn parse_answers(buf: &[u8]) -> Result<Parsed<u8>, HopError> {
    match parse_login_answers(buf)? {
        Parsed::NeedMore => return Ok(Parsed::NeedMore),
        Parsed::Done { .. } => {}
    }
    let reply = buf.get(4..).unwrap_or_default();
    let Some(&[version, code, _reserved, atyp]) = reply.get(..4) else {
        return Ok(Parsed::NeedMore);
    };
    if version != SOCKS5_VERSION {
        return Err(HopError::Protocol("wrong version in CONNECT reply"));
    }
    let addr_len = match atyp {
        SOCKS5_ADDR_TYPE_IPV4 => 4,
        SOCKS5_ADDR_TYPE_IPV6 => 16,
        SOCKS5_ADDR_TYPE_DOMAIN_NAME => match reply.get(4) {
            Some(&n) => 1 + usize::from(n),
            None => return Ok(Parsed::NeedMore),
        },
        _ => return Err(HopError::Protocol("unknown address type in CONNECT reply")),
    };
    let total = 4 + addr_len + 2;
    if reply.len() < total {
        return Ok(Parsed::NeedMore);
    }
    Ok(Parsed::Done {
        value: code,
        consumed: 4 + total,
    })
}

// ---------------------------------------------------------------------------------------
// The session stage
// ---------------------------------------------------------------------------------------

/// Longest answer sequence: 2 + 2 + a CONNECT reply with a 255-byte name.
const MAX_ANSWERS: usize = 4 + 4 + 1 + 255 + 2;

/// One attempt at one node: the handshake bytes still to send and the answers so far.
struct Attempt {
    hop: Hop,
    out: Vec<u8>,
    sent: usize,
    answers: Vec<u8>,
    connected: bool,
    started: Instant,
}

/// What one [`Via::step`] achieved.
pub(crate) enum ViaStep {
    Idle,
    /// The tunnel is open; these bytes already came from the target.
    Open(Vec<u8>),
    /// This node failed (reported): open the next with [`Via::start_next`].
    Retry,
    /// Give up and tell the client.
    Failed(ViaFailure),
}

/// A session's way through the network: the nodes tried so far and the current attempt.
pub(crate) struct Via {
    tried: [usize; MAX_ATTEMPTS],
    attempts: usize,
    current: Option<Attempt>,
    last_error: Option<HopError>,
}

impl Via {
    pub fn new() -> Box<Via> {
        Box::new(Via {
            tried: [usize::MAX; MAX_ATTEMPTS],
            attempts: 0,
            current: None,
            last_error: None,
        })
    }

    /// Where the current attempt goes, for the session's log line.
    pub fn node_addr(&self) -> Option<SocketAddr> {
        self.current.as_ref().map(|a| a.hop.addr)
    }

    /// Picks the next node and starts a non-blocking connect to it, registered under
    /// `token`; a node that cannot even be dialled is reported and the next is tried.
    pub fn start_next(
        &mut self,
        router: &mut dyn Router,
        target: &Target<'_>,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> Result<Endpoint, ViaFailure> {
        self.current = None;
        while self.attempts < MAX_ATTEMPTS {
            let tried = self.tried.get(..self.attempts).unwrap_or_default();
            let Some(hop) = router.pick(tried, now) else {
                break;
            };
            if let Some(slot) = self.tried.get_mut(self.attempts) {
                *slot = hop.node;
            }
            self.attempts += 1;
            let mut out = Vec::with_capacity(64 + hop.login.password.len());
            if let Err(e) = encode_handshake(&hop.login, target, &mut out) {
                if e != HopError::BadLogin {
                    // The target, not the node, is at fault (cannot happen for a parsed target).
                    return Err(ViaFailure::Target(SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED));
                }
                self.failed(router, hop.node, e, now);
                continue;
            }
            let attempt = TcpStream::connect(hop.addr).and_then(|mut sock| {
                registry
                    .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                    .map(|()| sock)
            });
            let attempt = attempt.and_then(|sock| {
                let mut ep = Endpoint::new(sock);
                if let Some(config) = &hop.tls {
                    // An IP name: rustls sends no SNI, and the pin, not a name, is checked.
                    let name = ServerName::IpAddress(hop.addr.ip().into());
                    let conn = TlsConn::client(config, name)
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    ep.tls = Some(Box::new(conn));
                }
                Ok(ep)
            });
            match attempt {
                Ok(ep) => {
                    let _ = ep.sock.set_nodelay(true);
                    self.current = Some(Attempt {
                        hop,
                        out,
                        sent: 0,
                        answers: Vec::new(),
                        connected: false,
                        started: now,
                    });
                    return Ok(ep);
                }
                Err(e) => self.failed(
                    router,
                    hop.node,
                    HopError::Connect(ConnectError::from_io(&e)),
                    now,
                ),
            }
        }
        Err(ViaFailure::NoNode(self.last_error.take()))
    }

    fn failed(&mut self, router: &mut dyn Router, node: usize, e: HopError, now: Instant) {
        router.report(node, Err(e.clone()), now);
        self.last_error = Some(e);
    }

    /// The stage deadline passed: the current node is too slow.
    pub fn timed_out(&mut self, router: &mut dyn Router, now: Instant) {
        if let Some(a) = self.current.take() {
            self.failed(router, a.hop.node, HopError::Timeout, now);
        }
    }

    /// Drives the current attempt as far as readiness allows.
    pub fn step(&mut self, ep: &mut Endpoint, router: &mut dyn Router, now: Instant) -> ViaStep {
        let Some(a) = self.current.as_mut() else {
            return ViaStep::Retry;
        };
        let result = a.step(ep);
        let node = a.hop.node;
        let latency = now.saturating_duration_since(a.started);
        match result {
            Ok(Some((code, leftover))) => {
                // The node answered properly either way: it is healthy.
                router.report(node, Ok(latency), now);
                self.current = None;
                if code == SOCKS5_REPLY_SUCCEEDED {
                    ViaStep::Open(leftover)
                } else {
                    ViaStep::Failed(ViaFailure::Target(code))
                }
            }
            // Every read and write ran until WouldBlock: nothing more until an event.
            Ok(None) => ViaStep::Idle,
            Err(e) => {
                log::debug!("node {}: {e}", a.hop.addr);
                self.current = None;
                self.failed(router, node, e, now);
                ViaStep::Retry
            }
        }
    }
}

impl Attempt {
    /// Ok(Some((reply code, bytes after the reply))) once the node has answered CONNECT.
    fn step(&mut self, ep: &mut Endpoint) -> Result<Option<(u8, Vec<u8>)>, HopError> {
        if !self.connected {
            if !(ep.writable || ep.readable) {
                return Ok(None);
            }
            match connect_result(&ep.sock) {
                Ok(true) => self.connected = true,
                Ok(false) => {
                    ep.writable = false;
                    ep.readable = false;
                    return Ok(None);
                }
                Err(e) => return Err(HopError::Connect(ConnectError::from_io(&e))),
            }
        }
        if let Some(tls) = ep.tls.as_deref_mut() {
            // rustls keeps what it takes until the handshake is done; the handshake is
            // small, so it takes it all.
            let rest = self.out.get(self.sent..).unwrap_or_default();
            self.sent += tls.write_plain(rest);
            ep.tls_flush().map_err(|_| HopError::Closed)?;
        }
        while ep.writable && self.sent < self.out.len() {
            match io::write(&mut ep.sock, self.out.get(self.sent..).unwrap_or_default()) {
                IoOutcome::Done(n) => self.sent += n,
                IoOutcome::WouldBlock => ep.writable = false,
                IoOutcome::Eof | IoOutcome::Error(_) => return Err(HopError::Closed),
            }
        }
        while ep.readable {
            let mut chunk = [0u8; 512];
            let read = if ep.tls.is_some() {
                ep.tls_read(&mut chunk)
            } else {
                io::read(&mut ep.sock, &mut chunk)
            };
            match read {
                IoOutcome::Done(n) => {
                    self.answers
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    match parse_answers(&self.answers)? {
                        Parsed::Done { value, consumed } => {
                            let leftover = self.answers.split_off(consumed.min(self.answers.len()));
                            return Ok(Some((value, leftover)));
                        }
                        Parsed::NeedMore if self.answers.len() >= MAX_ANSWERS => {
                            return Err(HopError::Protocol("answer too long"))
                        }
                        Parsed::NeedMore => {}
                    }
                }
                IoOutcome::WouldBlock => ep.readable = false,
                IoOutcome::Error(e) if ep.tls.is_some() => return Err(tls_error(&e)),
                IoOutcome::Eof | IoOutcome::Error(_) => {
                    // A refusal is often followed at once by a close: judge what was said.
                    parse_answers(&self.answers)?;
                    return Err(HopError::Closed);
                }
            }
        }
        Ok(None)
    }
}

/// A failed read or write on a TLS endpoint: a pin mismatch (loudly: it may be an
/// attack), another TLS failure, or the connection dropped.
pub fn tls_error(e: &std::io::Error) -> HopError {
    // From our sans-I/O connection a TlsFailure, from rustls's blocking stream (probes)
    // the rustls::Error itself.
    let inner = e.get_ref();
    let failure = inner
        .and_then(|i| i.downcast_ref::<TlsFailure>())
        .map(|f| &f.0)
        .or_else(|| inner.and_then(|i| i.downcast_ref::<rustls::Error>()));
    let Some(failure) = failure else {
        return HopError::Closed;
    };
    if let Some(mismatch) = pin_mismatch(failure) {
        log::warn!("{mismatch}");
        HopError::PinMismatch
    } else {
        log::debug!("TLS: {failure}");
        HopError::Tls
    }
}

/// Whether a non-blocking connect has finished: Ok(false) while it is still in flight.
fn connect_result(sock: &TcpStream) -> std::io::Result<bool> {
    if let Some(e) = sock.take_error()? {
        return Err(e);
    }
    match sock.peer_addr() {
        Ok(_) => Ok(true),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotConnected
                || e.raw_os_error() == Some(libc::EINPROGRESS) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::socks5::{self, encode_reply};

    fn login() -> Login {
        Login {
            username: "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc".into(),
            password: "1800000000:*:abcd".into(),
        }
    }

    #[test]
    fn tls_failures_are_told_apart_from_a_dropped_connection() {
        use crate::tls::configs::PinMismatch;
        use crate::tls::conn::TlsFailure;
        use crate::tls::Pin;
        let mismatch = PinMismatch {
            expected: Pin::of_spki(b"a"),
            presented: Pin::of_spki(b"b"),
        };
        let cert = rustls::CertificateError::Other(rustls::OtherError(Arc::new(mismatch)));
        let pin = rustls::Error::InvalidCertificate(cert);
        let wrap = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let sans_io = std::io::Error::new(std::io::ErrorKind::InvalidData, TlsFailure(pin.clone()));
        assert_eq!(tls_error(&sans_io), HopError::PinMismatch);
        assert_eq!(tls_error(&wrap(pin)), HopError::PinMismatch);
        assert_eq!(tls_error(&wrap(rustls::Error::DecryptError)), HopError::Tls);
        assert_eq!(
            tls_error(&std::io::ErrorKind::ConnectionReset.into()),
            HopError::Closed
        );
    }

    /// What we send is what the node's own parsers read, message by message.
    #[test]
    fn handshake_is_read_back_by_the_server_parsers() {
        let mut out = Vec::new();
        encode_handshake(&login(), &Target::Domain("example.com", 443), &mut out).unwrap();
        let Parsed::Done { value: g, consumed } = socks5::parse_greeting(&out).unwrap() else {
            panic!("greeting incomplete")
        };
        assert!(g.user_pass && !g.no_auth);
        let rest = &out[consumed..];
        let Parsed::Done {
            value: up,
            consumed,
        } = socks5::parse_user_pass(rest).unwrap()
        else {
            panic!("login incomplete")
        };
        assert_eq!(up.username, login().username.as_bytes());
        assert_eq!(up.password, login().password.as_bytes());
        let rest = &rest[consumed..];
        let Parsed::Done {
            value: req,
            consumed,
        } = socks5::parse_request(rest).unwrap()
        else {
            panic!("request incomplete")
        };
        assert_eq!(req.target, Target::Domain("example.com", 443));
        assert_eq!(consumed, rest.len());

        for ip in ["10.1.2.3:80", "[2001:db8::1]:8080"] {
            let addr: SocketAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            encode_handshake(&login(), &Target::Ip(addr), &mut out).unwrap();
            let tail = &out[3 + 2 + 42 + 1 + 17..];
            let Parsed::Done { value: req, .. } = socks5::parse_request(tail).unwrap() else {
                panic!("request incomplete")
            };
            assert_eq!(req.target, Target::Ip(addr));
        }
    }

    #[test]
    fn oversized_or_empty_logins_are_refused() {
        let mut out = Vec::new();
        let long = Login {
            username: "u".into(),
            password: "p".repeat(256),
        };
        assert_eq!(encode_login_probe(&long, &mut out), Err(HopError::BadLogin));
        let empty = Login {
            username: String::new(),
            password: "p".into(),
        };
        assert_eq!(
            encode_login_probe(&empty, &mut out),
            Err(HopError::BadLogin)
        );
    }

    #[test]
    fn answers_parse_byte_by_byte_and_keep_tunnel_data() {
        let bound: SocketAddr = "[2001:db8::2]:1080".parse().unwrap();
        let mut wire = vec![5, 2, 1, 0];
        wire.extend_from_slice(encode_reply(Reply::Succeeded, bound).as_ref());
        let reply_end = wire.len();
        wire.extend_from_slice(b"SSH-2.0");
        for cut in 0..reply_end {
            assert!(
                matches!(parse_answers(&wire[..cut]), Ok(Parsed::NeedMore)),
                "{cut}"
            );
        }
        assert!(matches!(
            parse_answers(&wire),
            Ok(Parsed::Done { value: 0, consumed }) if consumed == reply_end
        ));
        // A domain-typed bound address (rare, but legal).
        let wire = [5, 2, 1, 0, 5, 4, 0, 3, 3, b'a', b'b', b'c', 0, 80];
        assert!(matches!(
            parse_answers(&wire),
            Ok(Parsed::Done {
                value: 4,
                consumed: 14
            })
        ));
    }

    #[test]
    fn refusals_and_garbage_are_errors_not_panics() {
        assert_eq!(
            parse_answers(&[5, 0xff]).unwrap_err(),
            HopError::NoAcceptableMethod
        );
        assert_eq!(
            parse_answers(&[5, 2, 1, 1]).unwrap_err(),
            HopError::AuthRejected
        );
        assert!(matches!(parse_answers(&[5, 0]), Err(HopError::Protocol(_))));
        assert!(matches!(
            parse_answers(b"HTTP/1.1 400"),
            Err(HopError::Protocol(_))
        ));
        assert!(matches!(
            parse_answers(&[5, 2, 1, 0, 5, 0, 0, 9]),
            Err(HopError::Protocol(_))
        ));
        assert!(matches!(
            parse_answers(&[5, 2, 1, 0, 4, 0, 0, 1]),
            Err(HopError::Protocol(_))
        ));
        assert!(matches!(
            parse_login_answers(&[5, 2, 5, 0]),
            Ok(Parsed::Done { consumed: 4, .. })
        ));
    }

    #[test]
    fn failures_map_to_client_replies() {
        assert_eq!(
            ViaFailure::NoNode(None).socks_reply(),
            Reply::GeneralFailure
        );
        assert_eq!(ViaFailure::Target(4).socks_reply(), Reply::HostUnreachable);
        assert_eq!(ViaFailure::Target(200).socks_reply(), Reply::GeneralFailure);
        assert!(ViaFailure::Target(6).timed_out());
        assert!(ViaFailure::NoNode(Some(HopError::Timeout)).timed_out());
        assert!(ViaFailure::Target(2).not_allowed());
        assert!(ViaFailure::NoNode(Some(HopError::AuthRejected))
            .to_string()
            .contains("credential rejected"));
    }
}
