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
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    sock: TcpStream,
    nonce: String,
    started: Instant,
    deadline: Instant,
    readable: bool,
    writable: bool,
    stage: Stage,
    connect: Option<Duration>,
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

/// Whether a non-blocking connect has finished (Ok(false): still in progress).
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
                        let _ = self.poll.registry().deregister(&mut p.sock);
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
                    let _ = self.poll.registry().deregister(&mut p.sock);
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
            sock,
            nonce,
            started,
            deadline: started + s.timeout,
            readable: false,
            writable: false,
            stage: Stage::Connecting,
            connect: None,
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
                let _ = self.poll.registry().deregister(&mut p.sock);
                Some((p.slot, m))
            }
            _ => None,
        }
    }
}

impl EchoConn {
    /// Serves requests one after another; false once the connection should close.
    fn step(&mut self, issued: &mut HashMap<String, Issued>) -> bool {
        loop {
            // Output first: the answer, then the download's zeros.
            while self.writable && (self.sent < self.out.len() || self.zeros_left > 0) {
                let chunk: &[u8] = if self.sent < self.out.len() {
                    self.out.get(self.sent..).unwrap_or_default()
                } else {
                    let n = self.zeros_left.min(ZEROS.len() as u64) as usize;
                    ZEROS.get(..n).unwrap_or_default()
                };
                match io::write(&mut self.sock, chunk) {
                    IoOutcome::Done(n) => {
                        if self.sent < self.out.len() {
                            self.sent += n;
                        } else {
                            self.zeros_left -= n as u64;
                        }
                    }
                    IoOutcome::WouldBlock => self.writable = false,
                    IoOutcome::Eof => return false,
                }
            }
            let idle = self.sent >= self.out.len() && self.zeros_left == 0;
            if idle && self.close_after {
                return false;
            }
            if idle && !self.inbuf.is_empty() {
                match parse_request(&self.inbuf) {
                    Ok(Parsed::Done { value, consumed }) => {
                        let (head, body, zeros) = answer(&value, self.peer, issued);
                        self.close_after = value.close;
                        self.out = head.into_bytes();
                        self.out.extend_from_slice(body.as_bytes());
                        self.sent = 0;
                        self.zeros_left = zeros;
                        self.inbuf.drain(..consumed.min(self.inbuf.len()));
                        continue;
                    }
                    Ok(Parsed::NeedMore) => {}
                    Err(_) => {
                        let body = "bad request\n";
                        self.out = http::response_head(
                            400,
                            "text/plain",
                            body.len(),
                            "Connection: close\r\n",
                        )
                        .into_bytes();
                        self.out.extend_from_slice(body.as_bytes());
                        self.sent = 0;
                        self.close_after = true;
                        self.inbuf.clear();
                        continue;
                    }
                }
            }
            if !self.readable {
                return true;
            }
            if self.inbuf.len() >= http::MAX_HEAD {
                // A pipelined flood while an answer is pending: stop reading until it is out.
                if !idle {
                    return true;
                }
                return false;
            }
            let mut chunk = [0u8; 2048];
            match io::read(&mut self.sock, &mut chunk) {
                IoOutcome::Done(n) => self
                    .inbuf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                IoOutcome::WouldBlock => self.readable = false,
                IoOutcome::Eof => {
                    // Finish what is owed, then close.
                    self.readable = false;
                    self.close_after = true;
                    if idle {
                        return false;
                    }
                }
            }
        }
    }
}

/// The echo endpoint's answer to one request: (head, body, zero bytes to follow).
fn answer(
    req: &http::Request<'_>,
    peer: SocketAddr,
    issued: &mut HashMap<String, Issued>,
) -> (String, String, u64) {
    let extra = if req.close {
        "Connection: close\r\n"
    } else {
        ""
    };
    let not_found = || {
        let body = "unknown nonce\n".to_string();
        (
            http::response_head(404, "text/plain", body.len(), extra),
            body,
            0,
        )
    };
    if req.method != "GET" {
        let body = "GET only\n".to_string();
        return (
            http::response_head(405, "text/plain", body.len(), extra),
            body,
            0,
        );
    }
    let mut parts = req.path().trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("echo"), Some(nonce), None, None) => {
            let Some(entry) = issued.get_mut(nonce) else {
                return not_found();
            };
            entry.seen_from = Some(peer);
            let body = format!("aqueduct-echo {nonce} {}\n", peer.ip().to_canonical());
            (
                http::response_head(200, "text/plain", body.len(), extra),
                body,
                0,
            )
        }
        (Some("bytes"), Some(nonce), Some(n), None) => {
            let Ok(n) = n.parse::<u64>() else {
                return not_found();
            };
            match issued.get_mut(nonce) {
                Some(entry) if entry.download == Some(n) => {
                    entry.download = None;
                    let head =
                        http::response_head(200, "application/octet-stream", n as usize, extra);
                    (head, String::new(), n)
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

enum Flow {
    /// Nothing more until the next event.
    Wait,
    /// Re-run the step (a stage changed).
    Again,
    Done(Outcome, String),
}

impl Probe {
    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    fn result(
        &self,
        outcome: Outcome,
        detail: String,
        got: u64,
        download: Option<Duration>,
    ) -> Measured {
        Measured {
            node: self.target.node,
            path: self.target.path,
            outcome,
            detail,
            connect: self.connect,
            login: self.login,
            latency: self.latency,
            download_bytes: got,
            download,
            egress: self.egress,
        }
    }

    /// The verdict on a probe whose request came back.
    fn judge(
        &self,
        s: &ProbeSettings,
        got: u64,
        download: Option<Duration>,
        note: Option<String>,
    ) -> Measured {
        let m = self.result(Outcome::Ok, String::new(), got, download);
        if let (Some(want), Some(egress)) = (self.target.expect_egress, self.egress) {
            if want.to_canonical() != egress {
                let detail = format!("egress {egress}, but the endpoint is {want}");
                return Measured {
                    outcome: Outcome::WrongEgress,
                    detail,
                    ..m
                };
            }
        }
        if let Some(note) = note {
            return Measured {
                outcome: Outcome::Slow,
                detail: note,
                ..m
            };
        }
        if let Some(l) = self.latency.filter(|l| *l > s.slow_latency) {
            let detail = format!(
                "answer after {} ms (limit {} ms)",
                l.as_millis(),
                s.slow_latency.as_millis()
            );
            return Measured {
                outcome: Outcome::Slow,
                detail,
                ..m
            };
        }
        if let Some(k) = m.kbps().filter(|k| *k < s.slow_throughput_kbps as f64) {
            let detail = format!(
                "download at {k:.0} kbit/s (limit {} kbit/s)",
                s.slow_throughput_kbps
            );
            return Measured {
                outcome: Outcome::Slow,
                detail,
                ..m
            };
        }
        m
    }

    /// The deadline passed with the probe unfinished.
    fn expired(&self, s: &ProbeSettings) -> Measured {
        let secs = s.timeout.as_secs_f64();
        match &self.stage {
            Stage::Connecting => self.result(
                Outcome::Timeout,
                format!("connect: no answer in {secs:.0} s"),
                0,
                None,
            ),
            Stage::Socks { answers, .. } => {
                let what = if answers.len() >= 4 {
                    "CONNECT to the echo endpoint"
                } else {
                    "SOCKS5 login"
                };
                self.result(
                    Outcome::Timeout,
                    format!("{what}: no answer in {secs:.0} s"),
                    0,
                    None,
                )
            }
            Stage::Http {
                what: Exchange::Bytes,
                got,
                ..
            } => self.judge(
                s,
                *got,
                None,
                Some(format!(
                    "download: {got} of {} bytes in {secs:.0} s",
                    s.download_bytes
                )),
            ),
            Stage::Http { .. } => self.result(
                Outcome::Timeout,
                format!("no echo answer through the node in {secs:.0} s"),
                0,
                None,
            ),
        }
    }

    fn step(
        &mut self,
        issued: &HashMap<String, Issued>,
        s: &ProbeSettings,
        now: Instant,
    ) -> Option<Measured> {
        for _ in 0..64 {
            match self.advance(issued, s, now) {
                Ok(Flow::Wait) => return None,
                Ok(Flow::Again) => continue,
                Ok(Flow::Done(outcome, detail)) => {
                    return Some(self.result(outcome, detail, 0, None))
                }
                Err(m) => return Some(*m),
            }
        }
        // A probable bug: a stage that never settles. Close it rather than spin.
        Some(self.result(
            Outcome::RelayFailed,
            "probe stuck (internal)".into(),
            0,
            None,
        ))
    }

    fn echo_request(&self, s: &ProbeSettings, what: &Exchange) -> Vec<u8> {
        let authority = s.echo.authority();
        match what {
            Exchange::Echo => format!(
                "GET /echo/{} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: aqueduct-monitor\r\n\r\n",
                self.nonce
            ),
            Exchange::Bytes => format!(
                "GET /bytes/{}/{} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: aqueduct-monitor\r\nConnection: close\r\n\r\n",
                self.nonce, s.download_bytes
            ),
            Exchange::ProxyEcho => {
                let login = &self.target.login;
                let basic = crate::base64::encode(format!("{}:{}", login.username, login.password).as_bytes());
                format!(
                    "GET http://{authority}/echo/{} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Basic {basic}\r\nUser-Agent: aqueduct-monitor\r\nConnection: close\r\n\r\n",
                    self.nonce
                )
            }
        }
        .into_bytes()
    }

    fn http_stage(&self, s: &ProbeSettings, what: Exchange, buf: Vec<u8>, now: Instant) -> Stage {
        Stage::Http {
            out: self.echo_request(s, &what),
            what,
            sent: 0,
            buf,
            head: None,
            got: 0,
            asked: now,
        }
    }

    /// Writes `out[sent..]` until done or WouldBlock; Err on a broken connection.
    fn flush(
        sock: &mut TcpStream,
        writable: &mut bool,
        out: &[u8],
        sent: &mut usize,
    ) -> Result<(), ()> {
        while *writable && *sent < out.len() {
            match io::write(sock, out.get(*sent..).unwrap_or_default()) {
                IoOutcome::Done(n) => *sent += n,
                IoOutcome::WouldBlock => *writable = false,
                IoOutcome::Eof => return Err(()),
            }
        }
        Ok(())
    }

    fn advance(
        &mut self,
        issued: &HashMap<String, Issued>,
        s: &ProbeSettings,
        now: Instant,
    ) -> Result<Flow, Box<Measured>> {
        let elapsed = self.elapsed(now);
        match &mut self.stage {
            Stage::Connecting => {
                if !(self.readable || self.writable) {
                    return Ok(Flow::Wait);
                }
                match connect_result(&self.sock) {
                    Ok(true) => {}
                    Ok(false) => {
                        self.readable = false;
                        self.writable = false;
                        return Ok(Flow::Wait);
                    }
                    Err(e) => {
                        return Ok(Flow::Done(
                            Outcome::ConnectFailed,
                            format!("connect {}: {e}", self.target.addr),
                        ))
                    }
                }
                self.connect = Some(elapsed);
                self.stage = match self.target.path {
                    ProbePath::Socks => {
                        let mut out = Vec::with_capacity(400);
                        let target = match s.echo.ip() {
                            Some(ip) => SocksTarget::Ip(SocketAddr::new(ip, s.echo.port)),
                            None => SocksTarget::Domain(&s.echo.host, s.echo.port),
                        };
                        if let Err(e) = encode_handshake(&self.target.login, &target, &mut out) {
                            return Ok(Flow::Done(
                                Outcome::AuthRefused,
                                format!("cannot send the credential: {e}"),
                            ));
                        }
                        Stage::Socks {
                            out,
                            sent: 0,
                            answers: Vec::new(),
                        }
                    }
                    ProbePath::Http => self.http_stage(s, Exchange::ProxyEcho, Vec::new(), now),
                };
                Ok(Flow::Again)
            }
            Stage::Socks { out, sent, answers } => {
                if Self::flush(&mut self.sock, &mut self.writable, out, sent).is_err() {
                    return Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "node closed the connection during the handshake".into(),
                    ));
                }
                let mut eof = false;
                while self.readable && !eof {
                    let mut chunk = [0u8; 512];
                    match io::read(&mut self.sock, &mut chunk) {
                        IoOutcome::Done(n) => {
                            answers.extend_from_slice(chunk.get(..n).unwrap_or_default())
                        }
                        IoOutcome::WouldBlock => self.readable = false,
                        IoOutcome::Eof => eof = true,
                    }
                    if answers.len() >= 4 || eof {
                        break;
                    }
                }
                let hop = |e: HopError| match e {
                    HopError::AuthRejected | HopError::NoAcceptableMethod => {
                        Flow::Done(Outcome::AuthRefused, format!("SOCKS5: {e}"))
                    }
                    other => Flow::Done(Outcome::RelayFailed, format!("SOCKS5: {other}")),
                };
                match parse_login_answers(answers) {
                    Err(e) => return Ok(hop(e)),
                    Ok(Parsed::Done { .. }) if self.login.is_none() => {
                        self.login = Some(elapsed.saturating_sub(self.connect.unwrap_or_default()));
                    }
                    _ => {}
                }
                match parse_answers(answers) {
                    Err(e) => Ok(hop(e)),
                    Ok(Parsed::Done { value: 0, consumed }) => {
                        let leftover = answers.split_off(consumed.min(answers.len()));
                        self.stage = self.http_stage(s, Exchange::Echo, leftover, now);
                        Ok(Flow::Again)
                    }
                    Ok(Parsed::Done { value, .. }) => Ok(Flow::Done(
                        Outcome::RelayFailed,
                        format!(
                            "the node could not reach the echo endpoint (SOCKS5 reply {value})"
                        ),
                    )),
                    Ok(Parsed::NeedMore) if eof => Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "node closed the connection during the handshake".into(),
                    )),
                    Ok(Parsed::NeedMore) if answers.len() >= MAX_SOCKS_ANSWERS => Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "SOCKS5: answer too long".into(),
                    )),
                    Ok(Parsed::NeedMore) if self.readable => Ok(Flow::Again),
                    Ok(Parsed::NeedMore) => Ok(Flow::Wait),
                }
            }
            Stage::Http {
                what,
                out,
                sent,
                buf,
                head,
                got,
                asked,
            } => {
                let what = &*what;
                if Self::flush(&mut self.sock, &mut self.writable, out, sent).is_err() {
                    return Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "connection closed before the request was sent".into(),
                    ));
                }
                // The head (and the small echo body) collects in `buf`; download bytes are counted.
                let mut eof = false;
                loop {
                    if let Some((h, body_start)) = head {
                        let want = h.content_length.unwrap_or(0);
                        let have = match what {
                            Exchange::Bytes => *got,
                            _ => (buf.len() - *body_start) as u64,
                        };
                        if have >= want {
                            break;
                        }
                    } else {
                        match parse_response_head(buf) {
                            Ok(Parsed::Done { value, consumed }) => {
                                if let Some(f) = check_head(what, &value, s) {
                                    return Ok(f);
                                }
                                *head = Some((value, consumed));
                                if let Exchange::Bytes = what {
                                    *got = (buf.len() - consumed) as u64;
                                    buf.clear();
                                }
                                continue;
                            }
                            Ok(Parsed::NeedMore) => {}
                            Err(e) => {
                                return Ok(Flow::Done(
                                    Outcome::RelayFailed,
                                    format!("answer through the node is not HTTP: {e}"),
                                ))
                            }
                        }
                    }
                    if !self.readable || eof {
                        break;
                    }
                    let mut chunk = [0u8; 16384];
                    match io::read(&mut self.sock, &mut chunk) {
                        IoOutcome::Done(n) => match (what, head.is_some()) {
                            (Exchange::Bytes, true) => *got += n as u64,
                            _ => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                        },
                        IoOutcome::WouldBlock => self.readable = false,
                        IoOutcome::Eof => eof = true,
                    }
                }
                let Some((h, body_start)) = *head else {
                    return Ok(if eof {
                        Flow::Done(
                            Outcome::RelayFailed,
                            "connection closed before the echo answer".into(),
                        )
                    } else {
                        Flow::Wait
                    });
                };
                let want = h.content_length.unwrap_or(0);
                match what {
                    Exchange::Bytes => {
                        if *got >= want {
                            let took = now.saturating_duration_since(*asked);
                            return Err(Box::new(self.judge(s, want, Some(took), None)));
                        }
                        if eof {
                            let detail = format!("download cut at {got} of {want} bytes");
                            return Ok(Flow::Done(Outcome::RelayFailed, detail));
                        }
                        Ok(Flow::Wait)
                    }
                    Exchange::Echo | Exchange::ProxyEcho => {
                        let body = buf.get(body_start..).unwrap_or_default();
                        if (body.len() as u64) < want {
                            return Ok(if eof {
                                Flow::Done(Outcome::RelayFailed, "echo answer cut short".into())
                            } else {
                                Flow::Wait
                            });
                        }
                        let expected = format!("aqueduct-echo {} ", self.nonce);
                        if !body.starts_with(expected.as_bytes()) {
                            return Ok(Flow::Done(
                                Outcome::RelayFailed,
                                "the echo answer does not carry this probe's nonce".into(),
                            ));
                        }
                        self.latency = Some(elapsed);
                        self.egress = issued
                            .get(&self.nonce)
                            .and_then(|i| i.seen_from)
                            .map(|a| a.ip().to_canonical());
                        let is_echo = matches!(what, Exchange::Echo);
                        if is_echo && s.download_bytes > 0 {
                            let leftover =
                                buf.split_off((body_start + want as usize).min(buf.len()));
                            self.stage = self.http_stage(s, Exchange::Bytes, leftover, now);
                            return Ok(Flow::Again);
                        }
                        Err(Box::new(self.judge(s, 0, None, None)))
                    }
                }
            }
        }
    }
}

/// An answer head that already decides the probe, or None to read its body.
fn check_head(what: &Exchange, h: &ResponseHead, s: &ProbeSettings) -> Option<Flow> {
    match (what, h.status) {
        (Exchange::ProxyEcho, 407) => Some(Flow::Done(
            Outcome::AuthRefused,
            "HTTP proxy: 407, credential refused".into(),
        )),
        (Exchange::ProxyEcho, 403) => Some(Flow::Done(
            Outcome::AuthRefused,
            "HTTP proxy: 403 Forbidden".into(),
        )),
        (_, 200) => match (what, h.content_length) {
            (Exchange::Bytes, Some(n)) if n == s.download_bytes => None,
            (Exchange::Bytes, _) => Some(Flow::Done(
                Outcome::RelayFailed,
                "download answer has the wrong length".into(),
            )),
            (_, Some(n)) if n <= MAX_ECHO_BODY => None,
            _ => Some(Flow::Done(
                Outcome::RelayFailed,
                "echo answer too long or without length".into(),
            )),
        },
        (_, code) => Some(Flow::Done(
            Outcome::RelayFailed,
            format!("HTTP {code} through the node"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_answers_only_issued_nonces_and_downloads_once() {
        let peer: SocketAddr = "[::ffff:192.0.2.7]:4000".parse().unwrap();
        let mut issued = HashMap::new();
        issued.insert(
            "n1".to_string(),
            Issued {
                seen_from: None,
                download: Some(10),
            },
        );
        let req = |t: &'static str| http::Request {
            method: "GET",
            target: t,
            close: false,
        };
        let (head, body, zeros) = answer(&req("/echo/n1"), peer, &mut issued);
        assert!(head.starts_with("HTTP/1.1 200"));
        assert_eq!(body, "aqueduct-echo n1 192.0.2.7\n");
        assert_eq!(zeros, 0);
        assert_eq!(issued["n1"].seen_from, Some(peer));
        assert!(answer(&req("/echo/other"), peer, &mut issued)
            .0
            .starts_with("HTTP/1.1 404"));
        // The wrong size, then the right one, then again: only the right one, once.
        assert_eq!(answer(&req("/bytes/n1/11"), peer, &mut issued).2, 0);
        let (head, _, zeros) = answer(&req("/bytes/n1/10"), peer, &mut issued);
        assert!(head.contains("Content-Length: 10\r\n"));
        assert_eq!(zeros, 10);
        assert!(answer(&req("/bytes/n1/10"), peer, &mut issued)
            .0
            .starts_with("HTTP/1.1 404"));
        let post = http::Request {
            method: "POST",
            target: "/echo/n1",
            close: false,
        };
        assert!(answer(&post, peer, &mut issued)
            .0
            .starts_with("HTTP/1.1 405"));
    }
}
