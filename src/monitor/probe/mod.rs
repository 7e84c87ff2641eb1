//! The probe engine: one mio event loop drives every probe of a round (at most
//! `parallel` at once, each a small state machine over one non-blocking socket) and the
//! monitor's own echo endpoint, on one thread and without a thread per node.
//!
//! A SOCKS5 probe does what a member does: TCP connect (timed), greeting + RFC 1929
//! login with a node-scoped credential + CONNECT to the echo endpoint in one write
//! (login timed by the 4-byte answer), then `GET /echo/{nonce}` through the tunnel. The
//! echo endpoint answers only nonces issued this round, records the address the request
//! came from (the node's egress) and sends it back with the nonce; then `GET
//! /bytes/{nonce}/{n}` on the same tunnel downloads `n` bytes for throughput. An HTTP
//! probe sends `GET http://echo/echo/{nonce}` with `Proxy-Authorization` instead.
//!
//! A node whose registry entry has a TLS endpoint is probed there, the way members
//! reach it (`aqueduct local` prefers TLS): TCP connect (timed), the TLS handshake with
//! the registered pin checked (timed on its own), then the same SOCKS5 or HTTP probe
//! inside the tunnel. An entry with both a plain and a TLS endpoint is probed over TLS
//! only: that is where members go, and the egress is compared with the TLS host (see
//! `Endpoint::host`). A key that does not match the pin is `pin_mismatch`; any other
//! handshake failure is `tls_failed`. The login time never includes the handshake.
//!
//! Because the echo endpoint lives in this loop, the egress a node reached it from is
//! known the moment its answer is read, and a public echo endpoint serves nothing to
//! anyone else (unknown nonce: 404; each nonce downloads once).

use super::config::EchoUrl;
use super::http::{self, parse_request, parse_response_head, ResponseHead};
use super::outcome::Outcome;
use crate::eth::Address;
use crate::proxy::codec::{Parsed, Target as SocksTarget};
use crate::proxy::dns::rng::Random;
use crate::proxy::upstream::{
    encode_handshake, parse_answers, parse_login_answers, HopError, Login,
};
use crate::tls::conn::TlsConn;
use crate::tls::Pin;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wire::Wire;

const ECHO_LISTENER: Token = Token(0);
/// Largest echo answer body a probe accepts (`aqueduct-echo <32 hex> <ip>\n`).
const MAX_ECHO_BODY: u64 = 256;
/// Longest SOCKS5 answer sequence to greeting + login + CONNECT.
const MAX_SOCKS_ANSWERS: usize = 4 + 4 + 1 + 255 + 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbePath {
    Socks,
    Http,
}

impl ProbePath {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbePath::Socks => "socks5",
            ProbePath::Http => "http",
        }
    }
    pub fn code(self) -> i64 {
        match self {
            ProbePath::Socks => 0,
            ProbePath::Http => 1,
        }
    }
    pub fn from_code(c: i64) -> ProbePath {
        if c == 1 {
            ProbePath::Http
        } else {
            ProbePath::Socks
        }
    }
}

/// One probe to run.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub node: Address,
    pub addr: SocketAddr,
    pub login: Arc<Login>,
    /// The registered endpoint's IP, when it is an IP literal: the egress expected.
    pub expect_egress: Option<IpAddr>,
    pub path: ProbePath,
    /// The pin of the node's TLS endpoint, when `addr` is that endpoint: the probe runs
    /// inside TLS and accepts only this key.
    pub tls: Option<Pin>,
}

/// What a round's probes are held to.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub parallel: usize,
    pub timeout: Duration,
    pub download_bytes: u64,
    pub slow_latency: Duration,
    pub slow_throughput_kbps: u64,
    pub echo: EchoUrl,
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub node: Address,
    pub path: ProbePath,
    pub outcome: Outcome,
    /// Why, for anything but `ok` (never a credential).
    pub detail: String,
    pub connect: Option<Duration>,
    /// The TLS handshake after the connect (TLS endpoints only).
    pub tls: Option<Duration>,
    /// The SOCKS5 login's answer after the connect (and the TLS handshake, not counted).
    pub login: Option<Duration>,
    /// From the start of the probe to the echo answer: what a member waits for a first byte.
    pub latency: Option<Duration>,
    pub download_bytes: u64,
    pub download: Option<Duration>,
    pub egress: Option<IpAddr>,
}

impl Measured {
    /// Download throughput in kbit/s, when a download finished.
    pub fn kbps(&self) -> Option<f64> {
        let d = self.download?.as_secs_f64();
        (d > 0.0 && self.download_bytes > 0).then(|| self.download_bytes as f64 * 8.0 / 1000.0 / d)
    }
}

/// A nonce issued for one probe this round.
struct Issued {
    /// Where the echo request came from.
    seen_from: Option<SocketAddr>,
    /// The one download this nonce allows, until taken.
    download: Option<u64>,
}

#[derive(Clone, Copy)]
enum Exchange {
    Echo,
    Bytes,
    ProxyEcho,
}

enum Stage {
    Connecting,
    /// The TLS handshake, the pin checked (TLS endpoints only).
    Tls,
    Socks {
        out: Vec<u8>,
        sent: usize,
        answers: Vec<u8>,
    },
    Http {
        what: Exchange,
        out: Vec<u8>,
        sent: usize,
        buf: Vec<u8>,
        head: Option<(ResponseHead, usize)>,
        got: u64,
        asked: Instant,
    },
}

struct Probe {
    slot: usize,
    target: ProbeTarget,
    wire: Wire,
    nonce: String,
    started: Instant,
    deadline: Instant,
    readable: bool,
    writable: bool,
    stage: Stage,
    connect: Option<Duration>,
    tls: Option<Duration>,
    login: Option<Duration>,
    latency: Option<Duration>,
    egress: Option<IpAddr>,
}

struct EchoConn {
    sock: TcpStream,
    peer: SocketAddr,
    readable: bool,
    writable: bool,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    zeros_left: u64,
    close_after: bool,
    deadline: Instant,
}

enum Conn {
    Probe(Box<Probe>),
    Echo(Box<EchoConn>),
}

/// The engine: the echo listener and the loop. Probes run only inside [`Engine::run_round`].
pub struct Engine {
    poll: Poll,
    events: Events,
    listener: TcpListener,
    echo_addr: SocketAddr,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    issued: HashMap<String, Issued>,
    rng: Random,
}

/// One read or write, as a value (`proxy::io` has the same, private to the engine).
enum IoOutcome {
    Done(usize),
    WouldBlock,
    /// End of stream or a broken connection: the same to a probe.
    Eof,
}

mod io {
    use super::IoOutcome;
    use std::io::{ErrorKind, Read, Write};

    pub fn read(src: &mut impl Read, buf: &mut [u8]) -> IoOutcome {
        loop {
            return match src.read(buf) {
                Ok(0) => IoOutcome::Eof,
                Ok(n) => IoOutcome::Done(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => IoOutcome::WouldBlock,
                Err(_) => IoOutcome::Eof,
            };
        }
    }

    pub fn write(dst: &mut impl Write, buf: &[u8]) -> IoOutcome {
        if buf.is_empty() {
            return IoOutcome::WouldBlock;
        }
        loop {
            return match dst.write(buf) {
                Ok(0) => IoOutcome::Eof,
                Ok(n) => IoOutcome::Done(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => IoOutcome::WouldBlock,
                Err(_) => IoOutcome::Eof,
            };
        }
    }
}

fn token_of(i: usize) -> Token {
    Token(i + 1)
}

static ZEROS: [u8; 65536] = [0; 65536];

impl Engine {
    pub fn bind(echo_listen: SocketAddr) -> std::io::Result<Engine> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(echo_listen)?;
        poll.registry()
            .register(&mut listener, ECHO_LISTENER, Interest::READABLE)?;
        Ok(Engine {
            poll,
            events: Events::with_capacity(1024),
            echo_addr: listener.local_addr()?,
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            issued: HashMap::new(),
            rng: Random::new()?,
        })
    }

    /// Where the echo endpoint actually listens (port 0 resolved).
    pub fn echo_addr(&self) -> SocketAddr {
        self.echo_addr
    }

    fn nonce(&mut self) -> String {
        let mut s = String::with_capacity(32);
        for _ in 0..8 {
            let _ = write!(s, "{:04x}", self.rng.next_u16());
        }
        s
    }

    fn insert(&mut self, conn: Conn) -> usize {
        match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.conns.get_mut(i) {
                    *slot = Some(conn);
                }
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(i)?.take()?;
        self.free.push(i);
        Some(conn)
    }

    /// Runs every probe (at most `parallel` at once) and returns one result per target,
    /// in the targets' order. Returns once all are done; each is bounded by `timeout`.
    pub fn run_round(&mut self, targets: Vec<ProbeTarget>, s: &ProbeSettings) -> Vec<Measured> {
        let total = targets.len();
        let mut results: Vec<Option<Measured>> = vec![None; total];
        let mut queue = targets.into_iter().enumerate();
        let mut active = 0usize;
        let mut done = 0usize;
        let max_echo = 2 * s.parallel + 16;
        while done < total {
            while active < s.parallel {
                let Some((slot, target)) = queue.next() else {
                    break;
                };
                match self.start(slot, target, s) {
                    Ok(()) => active += 1,
                    Err(m) => {
                        if let Some(r) = results.get_mut(slot) {
                            *r = Some(*m);
                        }
                        done += 1;
                    }
                }
            }
            if done >= total {
                break;
            }
            let now = Instant::now();
            let next = self
                .conns
                .iter()
                .flatten()
                .map(|c| match c {
                    Conn::Probe(p) => p.deadline,
                    Conn::Echo(e) => e.deadline,
                })
                .min();
            let wait = next.map(|d| d.saturating_duration_since(now));
            let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
            if let Err(e) = self.poll.poll(&mut events, wait) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    log::error!("probe loop: poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            let mut touched: Vec<usize> = Vec::new();
            for ev in events.iter() {
                if ev.token() == ECHO_LISTENER {
                    self.accept(max_echo, s);
                    continue;
                }
                let i = ev.token().0.wrapping_sub(1);
                let failed = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
                match self.conns.get_mut(i).and_then(Option::as_mut) {
                    Some(Conn::Probe(p)) => {
                        p.readable |= ev.is_readable() || failed;
                        p.writable |= ev.is_writable() || failed;
                    }
                    Some(Conn::Echo(e)) => {
                        e.readable |= ev.is_readable() || failed;
                        e.writable |= ev.is_writable() || failed;
                    }
                    None => continue,
                }
                touched.push(i);
            }
            self.events = events;
            // (The echo side records a nonce's egress before it writes the answer, so a
            // probe that reads the answer always finds it: the order here does not matter.)
            touched.sort_unstable();
            touched.dedup();
            let now = Instant::now();
            for i in touched {
                if let Some(m) = self.drive(i, s, now) {
                    if let Some(r) = results.get_mut(m.0) {
                        *r = Some(m.1);
                    }
                    active -= 1;
                    done += 1;
                }
            }
            // Deadlines.
            let now = Instant::now();
            let expired: Vec<usize> = self
                .conns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match c {
                    Some(Conn::Probe(p)) if p.deadline <= now => Some(i),
                    Some(Conn::Echo(e)) if e.deadline <= now => Some(i),
                    _ => None,
                })
                .collect();
            for i in expired {
                match self.remove(i) {
                    Some(Conn::Probe(mut p)) => {
                        let _ = self.poll.registry().deregister(&mut p.wire.sock);
                        let m = p.expired(s);
                        if let Some(r) = results.get_mut(p.slot) {
                            *r = Some(m);
                        }
                        active -= 1;
                        done += 1;
                    }
                    Some(Conn::Echo(mut e)) => {
                        let _ = self.poll.registry().deregister(&mut e.sock);
                    }
                    None => {}
                }
            }
        }
        // The round is over: echo connections and nonces with it.
        for i in 0..self.conns.len() {
            match self.remove(i) {
                Some(Conn::Echo(mut e)) => {
                    let _ = self.poll.registry().deregister(&mut e.sock);
                }
                Some(Conn::Probe(mut p)) => {
                    let _ = self.poll.registry().deregister(&mut p.wire.sock);
                }
                None => {}
            }
        }
        self.issued.clear();
        results.into_iter().flatten().collect()
    }

    fn start(
        &mut self,
        slot: usize,
        target: ProbeTarget,
        s: &ProbeSettings,
    ) -> Result<(), Box<Measured>> {
        let started = Instant::now();
        let fail = |target: &ProbeTarget, outcome, detail: String| {
            Box::new(Measured {
                node: target.node,
                path: target.path,
                outcome,
                detail,
                connect: None,
                tls: None,
                login: None,
                latency: None,
                download_bytes: 0,
                download: None,
                egress: None,
            })
        };
        let nonce = self.nonce();
        let mut sock = match TcpStream::connect(target.addr) {
            Ok(sock) => sock,
            Err(e) => {
                let detail = format!("connect {}: {e}", target.addr);
                return Err(fail(&target, Outcome::ConnectFailed, detail));
            }
        };
        let _ = sock.set_nodelay(true);
        let tls = match target.tls {
            Some(pin) => {
                // An IP name, as `aqueduct local` uses: no SNI; the pin, not a name, is checked.
                let name = rustls::pki_types::ServerName::IpAddress(target.addr.ip().into());
                match TlsConn::client(&crate::tls::configs::pinned_client_config(pin), name) {
                    Ok(conn) => Some(conn),
                    Err(e) => return Err(fail(&target, Outcome::TlsFailed, e.to_string())),
                }
            }
            None => None,
        };
        let i = self.free.last().copied().unwrap_or(self.conns.len());
        if let Err(e) = self.poll.registry().register(
            &mut sock,
            token_of(i),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return Err(fail(
                &target,
                Outcome::ConnectFailed,
                format!("register: {e}"),
            ));
        }
        self.issued.insert(
            nonce.clone(),
            Issued {
                seen_from: None,
                download: (target.path == ProbePath::Socks && s.download_bytes > 0)
                    .then_some(s.download_bytes),
            },
        );
        let probe = Probe {
            slot,
            target,
            wire: Wire::new(sock, tls),
            nonce,
            started,
            deadline: started + s.timeout,
            readable: false,
            writable: false,
            stage: Stage::Connecting,
            connect: None,
            tls: None,
            login: None,
            latency: None,
            egress: None,
        };
        let at = self.insert(Conn::Probe(Box::new(probe)));
        debug_assert_eq!(at, i);
        Ok(())
    }

    fn accept(&mut self, max_echo: usize, s: &ProbeSettings) {
        loop {
            match self.listener.accept() {
                Ok((mut sock, peer)) => {
                    let open = self
                        .conns
                        .iter()
                        .filter(|c| matches!(c, Some(Conn::Echo(_))))
                        .count();
                    if open >= max_echo {
                        continue; // dropped: more than this round's probes can explain
                    }
                    let i = self.free.last().copied().unwrap_or(self.conns.len());
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut sock,
                            token_of(i),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    let conn = EchoConn {
                        sock,
                        peer,
                        readable: true,
                        writable: true,
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        sent: 0,
                        zeros_left: 0,
                        close_after: false,
                        deadline: Instant::now() + s.timeout,
                    };
                    let at = self.insert(Conn::Echo(Box::new(conn)));
                    debug_assert_eq!(at, i);
                    // It may already have a request waiting.
                    let _ = self.drive(at, s, Instant::now());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("echo endpoint: accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Drives connection `i`; returns a finished probe's (result slot, result).
    fn drive(&mut self, i: usize, s: &ProbeSettings, now: Instant) -> Option<(usize, Measured)> {
        let finished = match self.conns.get_mut(i).and_then(Option::as_mut)? {
            Conn::Echo(e) => {
                if e.step(&mut self.issued) {
                    None
                } else {
                    if let Some(Conn::Echo(mut e)) = self.remove(i) {
                        let _ = self.poll.registry().deregister(&mut e.sock);
                    }
                    return None;
                }
            }
            Conn::Probe(p) => p.step(&self.issued, s, now),
        };
        let m = finished?;
        match self.remove(i) {
            Some(Conn::Probe(mut p)) => {
                let _ = self.poll.registry().deregister(&mut p.wire.sock);
                Some((p.slot, m))
            }
            _ => None,
        }
    }
}

mod echo;
mod exchange;
mod wire;
