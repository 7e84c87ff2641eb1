//! One client connection: the state machine from the first byte to the last, owning both
//! its sockets. The server feeds it readiness, DNS answers, auth answers and timeouts; it
//! answers with a [`Verdict`]. See doc/lifetime-of-a-session.md for the walk-through.

use super::auth::{Account, AuthAnswer, Rejected};
use super::buffer::Buffer;
use super::codec::Parsed;
use super::codec::{detect, OwnedTarget, Protocol};
use super::dns::{Addrs, DnsError, Lookup};
use super::http::{self, RequestKind, Status};
use super::http_body::Body;
use super::io::{ConnectError, IoOutcome};
use super::metrics::AuthFailure;
use super::outcome::Side;
pub use super::outcome::{Failure, Outcome, OutcomeKind};
use super::pool::Pool;
use super::relay::{pump, Endpoint, Flow};
use super::server::Ctx;
use super::sockopt::{self, abort_on_close};
use super::socks5::{self, Command, Method, Reply};
use super::upstream::{Via, ViaStep};
use forward::Forward;
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

mod forward;

/// Tokens below this are the server's own (listeners, signals, DNS, waker).
pub const FIRST_SESSION_TOKEN: usize = 64;

/// One `run` may loop this many times before the session is declared stuck: every turn
/// of the loop moves bytes, changes stage or clears a readiness flag, so reaching it
/// means a handler claims progress it did not make.
const MAX_ITERATIONS: usize = 1024;

/// How long a session may take to flush its final reply and see the client go.
const CLOSING_LINGER: Duration = Duration::from_secs(2);

/// What a closing session reads and drops, at most: the rest of a refused request (its
/// body, say). A client that sends more is no longer read; it has its reply, and the
/// linger deadline closes it. Read a sink's worth per step, so closing takes at most
/// CLOSING_DRAIN / DRAIN_SINK steps, far below the stuck-session guard.
const CLOSING_DRAIN: u32 = 256 * 1024;
const DRAIN_SINK: usize = 4096;

pub fn client_token(key: usize) -> Token {
    Token(FIRST_SESSION_TOKEN + 2 * key)
}

pub fn upstream_token(key: usize) -> Token {
    Token(FIRST_SESSION_TOKEN + 2 * key + 1)
}

/// The session key a token belongs to and whether it is the upstream socket.
pub fn token_owner(token: Token) -> Option<(usize, bool)> {
    let n = token.0.checked_sub(FIRST_SESSION_TOKEN)?;
    Some((n / 2, n % 2 == 1))
}

/// What the server should do with the session after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wait for the next event or deadline.
    Continue,
    /// Work is left but the session used its share of this turn: run it again next turn.
    Yield,
    /// Done: remove and log it.
    Close,
}

/// The result of one handler call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Progress,
    Idle,
    Close,
}

/// How the client asked for its tunnel, which decides how success and failure are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Socks,
    HttpConnect,
    /// An absolute-form request whose head is still at the front of `up`.
    HttpForward,
}

/// Where a session goes once a pending credential check answers.
enum AfterAuth {
    SocksRequest,
    Http(Proto),
}

/// Up to eight resolved addresses, tried in order.
#[derive(Clone, Copy)]
struct AddrList {
    ips: [IpAddr; 8],
    len: usize,
}

impl AddrList {
    fn one(ip: IpAddr) -> AddrList {
        AddrList {
            ips: [ip; 8],
            len: 1,
        }
    }

    fn from_addrs(addrs: &Addrs) -> AddrList {
        let mut list = AddrList::one(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        list.len = 0;
        for (slot, ip) in list.ips.iter_mut().zip(addrs.iter()) {
            *slot = ip;
            list.len += 1;
        }
        list
    }

    fn get(&self, i: usize) -> Option<IpAddr> {
        self.ips.get(..self.len)?.get(i).copied()
    }
}

/// Connecting: the addresses, the next one to try, and why earlier ones failed.
struct Dial {
    proto: Proto,
    addrs: AddrList,
    next: usize,
    last_error: Option<Failure>,
}

/// The stages of a session; each carries what only it needs.
enum Stage {
    /// Nothing read yet: the first byte picks the protocol.
    Detect,
    SocksGreeting,
    SocksAuth,
    SocksRequest,
    HttpHead,
    /// Waiting for the authenticator.
    AuthPending(AfterAuth),
    /// Waiting for the resolver.
    Resolving(Proto),
    /// A non-blocking connect is in flight to `dial.addrs[dial.next - 1]`.
    Connecting(Dial),
    /// Opening the tunnel through an upstream node (`aqueduct local`).
    ViaNode(Proto, Box<Via>),
    /// Bytes flow both ways.
    Relay,
    /// Flushing a final reply, then waiting briefly for the client to hang up.
    Closing,
}

impl Stage {
    fn name(&self) -> &'static str {
        match self {
            Stage::Detect => "detect",
            Stage::SocksGreeting => "socks-greeting",
            Stage::SocksAuth => "socks-auth",
            Stage::SocksRequest => "socks-request",
            Stage::HttpHead => "http-head",
            Stage::AuthPending(_) => "auth-pending",
            Stage::Resolving(_) => "resolving",
            Stage::Connecting(_) => "connecting",
            Stage::ViaNode(..) => "via-node",
            Stage::Relay => "relay",
            Stage::Closing => "closing",
        }
    }
}

pub struct Session {
    client: Endpoint,
    upstream: Option<Endpoint>,
    /// Client → upstream. During the handshake it holds the client's unparsed bytes, so
    /// data pipelined after a request is relayed without a copy.
    up: Buffer,
    /// Upstream → client; during the handshake, the replies to send.
    down: Buffer,
    up_flow: Flow,
    down_flow: Flow,
    stage: Stage,
    client_addr: SocketAddr,
    account: Option<Account>,
    target: Option<OwnedTarget>,
    connected_to: Option<SocketAddr>,
    started: Instant,
    last_active: Instant,
    /// Deadline of every stage but Relay (whose deadline follows activity).
    stage_deadline: Instant,
    outcome: Outcome,
    /// Bytes of our own success reply in `down`, left out of the logged byte count.
    reply_bytes: u64,
    /// A forwarded HTTP request's relay state (boxed: tunnels, the common case, pay nothing).
    forward: Option<Box<Forward>>,
    /// Bytes read and dropped while closing (see CLOSING_DRAIN).
    drained: u32,
    /// The earliest deadline the server's timer heap holds for this session.
    pub armed: Option<Instant>,
    pub generation: u64,
    /// Counted by the server among its client's connections in handshake.
    pub handshake_counted: bool,
}

impl Session {
    pub fn new(
        sock: TcpStream,
        client_addr: SocketAddr,
        now: Instant,
        handshake: Duration,
    ) -> Self {
        // Small writes (handshake replies, interactive traffic) go out at once.
        if !sockopt::NODELAY_INHERITED {
            let _ = sock.set_nodelay(true);
        }
        Session {
            client: Endpoint::new(sock),
            upstream: None,
            up: Buffer::default(),
            down: Buffer::default(),
            up_flow: Flow::default(),
            down_flow: Flow::default(),
            stage: Stage::Detect,
            client_addr,
            account: None,
            target: None,
            connected_to: None,
            started: now,
            last_active: now,
            stage_deadline: now + handshake,
            outcome: Outcome::Ok,
            reply_bytes: 0,
            forward: None,
            drained: 0,
            armed: None,
            generation: 0,
            handshake_counted: false,
        }
    }

    pub fn register(&mut self, registry: &Registry, key: usize) -> io::Result<()> {
        registry.register(
            &mut self.client.sock,
            client_token(key),
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    /// Records what the kernel reported for one of the two sockets.
    pub fn on_event(&mut self, upstream: bool, event: &Event) {
        let endpoint = if upstream {
            match self.upstream.as_mut() {
                Some(e) => e,
                None => return, // the attempt this event was for is gone
            }
        } else {
            &mut self.client
        };
        // Errors and hang-ups surface on the next read or write, so they count as ready.
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            endpoint.readable = true;
        }
        if event.is_read_closed() || event.is_error() {
            endpoint.hup = true;
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            endpoint.writable = true;
        }
    }

    /// When the session must next be looked at, if nothing happens before.
    pub fn deadline(&self, idle: Duration) -> Instant {
        match self.stage {
            Stage::Relay => self.last_active + idle,
            _ => self.stage_deadline,
        }
    }

    /// Handles whatever the current readiness allows, until nothing more can be done now.
    ///
    /// Interest is derived afresh from the session's state on every step: each stage's
    /// handler asks whether a buffer has room or bytes waiting and whether that stage
    /// reads at all, and acts only where that meets the readiness the kernel reported.
    /// The sockets stay registered for both directions (edge-triggered), so no
    /// re-registration is needed when interest changes.
    pub fn run(&mut self, ctx: &mut Ctx<'_>) -> Verdict {
        let budget = 8 * ctx.settings.limits.buffer_bytes as u64;
        let moved_before = self.moved();
        for _ in 0..MAX_ITERATIONS {
            let step = match self.stage {
                Stage::Detect
                | Stage::SocksGreeting
                | Stage::SocksAuth
                | Stage::SocksRequest
                | Stage::HttpHead => self.step_handshake(ctx),
                Stage::AuthPending(_) | Stage::Resolving(_) => self.flush_client(),
                Stage::Connecting(_) => self.step_connecting(ctx),
                Stage::ViaNode(..) => self.step_via(ctx),
                Stage::Relay => self.step_relay(ctx),
                Stage::Closing => self.step_closing(),
            };
            match step {
                Step::Idle => {
                    self.release_drained(ctx.pool);
                    return Verdict::Continue;
                }
                Step::Close => return Verdict::Close,
                Step::Progress if self.moved() - moved_before >= budget => {
                    self.release_drained(ctx.pool);
                    return Verdict::Yield;
                }
                Step::Progress => {}
            }
        }
        log::error!(
            "session {}: no settled state after {MAX_ITERATIONS} steps in stage {}; closing (probable bug)",
            self.client_addr,
            self.stage.name()
        );
        self.outcome = Outcome::Stuck;
        Verdict::Close
    }

    /// Gives back buffers and pipes that hold nothing, so a waiting session holds none.
    fn release_drained(&mut self, pool: &mut Pool) {
        self.up.release_if_empty(pool);
        self.down.release_if_empty(pool);
        self.up_flow.release(pool, false);
        self.down_flow.release(pool, false);
    }

    fn moved(&self) -> u64 {
        self.up_flow.bytes + self.down_flow.bytes
    }

    // -----------------------------------------------------------------------------------
    // Handshake: greeting, auth, request (SOCKS5) or the request head (HTTP)
    // -----------------------------------------------------------------------------------

    fn step_handshake(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self.flush_client() {
            Step::Idle => {}
            other => return other,
        }
        match self.parse_handshake(ctx) {
            Step::Idle => {}
            other => return other,
        }
        if !self.client.readable {
            return Step::Idle;
        }
        let limit = ctx.settings.limits.max_handshake_bytes;
        if !self.up.has_room(limit) {
            // Only HTTP heads can get here: SOCKS5 messages are bounded well below the limit.
            self.outcome = Outcome::BadHandshake("handshake too large");
            return match self.stage {
                Stage::HttpHead => self.reply_http(Status::HeadTooLarge, ctx.now),
                _ => Step::Close,
            };
        }
        // Not a relay buffer: a small one that grows only as bytes arrive.
        self.up.attach_small(ctx.pool);
        match self.client.read_into(&mut self.up, limit) {
            IoOutcome::Done(_) | IoOutcome::WouldBlock => Step::Progress,
            IoOutcome::Eof | IoOutcome::Error(_) => {
                self.outcome = Outcome::ClientGone;
                Step::Close
            }
        }
    }

    /// Parses the next client message if it is all there. Idle means "need more bytes".
    fn parse_handshake(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self.stage {
            Stage::Detect => {
                let Some(&first) = self.up.data().first() else {
                    return Step::Idle;
                };
                self.stage = match detect(first) {
                    Protocol::Socks5 => Stage::SocksGreeting,
                    Protocol::Http => Stage::HttpHead,
                    Protocol::Unknown => {
                        self.outcome = Outcome::BadHandshake("neither SOCKS5 nor HTTP");
                        return Step::Close;
                    }
                };
                Step::Progress
            }
            Stage::SocksGreeting => self.parse_socks_greeting(ctx),
            Stage::SocksAuth => self.parse_socks_auth(ctx),
            Stage::SocksRequest => self.parse_socks_request(ctx),
            Stage::HttpHead => self.parse_http_head(ctx),
            _ => Step::Idle,
        }
    }

    fn parse_socks_greeting(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let (greeting, consumed) = match socks5::parse_greeting(self.up.data()) {
            Ok(Parsed::NeedMore) => return Step::Idle,
            Ok(Parsed::Done { value, consumed }) => (value, consumed),
            Err(e) => {
                log::debug!("session {}: greeting: {e}", self.client_addr);
                self.outcome = Outcome::BadHandshake("malformed SOCKS5 greeting");
                return Step::Close;
            }
        };
        self.up.consume(consumed);
        let method = if ctx.auth.required() {
            if greeting.user_pass {
                Method::UserPass
            } else {
                Method::NoAcceptable
            }
        } else if greeting.no_auth {
            Method::NoAuth
        } else if greeting.user_pass {
            Method::UserPass
        } else {
            Method::NoAcceptable
        };
        self.stage = match method {
            Method::NoAuth => Stage::SocksRequest,
            Method::UserPass => Stage::SocksAuth,
            Method::NoAcceptable => {
                self.outcome = Outcome::AuthFailed;
                ctx.metrics.auth_failed(AuthFailure::NoAcceptableMethod);
                self.enter_closing(ctx.now);
                Stage::Closing
            }
        };
        self.down.attach(ctx.pool);
        self.down.push(&socks5::method_selection(method));
        Step::Progress
    }

    fn parse_socks_auth(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let (answer, consumed) = match socks5::parse_user_pass(self.up.data()) {
            Ok(Parsed::NeedMore) => return Step::Idle,
            Ok(Parsed::Done { value, consumed }) => (
                ctx.auth.check(value.username, value.password, ctx.ticket),
                consumed,
            ),
            Err(e) => {
                log::debug!("session {}: username/password: {e}", self.client_addr);
                self.outcome = Outcome::BadHandshake("malformed SOCKS5 username/password");
                return Step::Close;
            }
        };
        self.up.consume(consumed);
        match answer {
            AuthAnswer::Done(result) => self.auth_answered(result, AfterAuth::SocksRequest, ctx),
            AuthAnswer::Pending => {
                self.stage = Stage::AuthPending(AfterAuth::SocksRequest);
                Step::Progress
            }
        }
    }

    fn parse_socks_request(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let (command, target, consumed) = match socks5::parse_request(self.up.data()) {
            Ok(Parsed::NeedMore) => return Step::Idle,
            Ok(Parsed::Done { value, consumed }) => {
                (value.command, value.target.to_owned(), consumed)
            }
            Err(e) => {
                log::debug!("session {}: request: {e}", self.client_addr);
                self.outcome = Outcome::BadHandshake("unusable SOCKS5 request");
                return match e.reply() {
                    Some(reply) => self.reply_socks(reply, ctx.now),
                    None => Step::Close,
                };
            }
        };
        self.up.consume(consumed);
        self.target = Some(target);
        if !matches!(command, Command::Connect) {
            self.outcome = Outcome::BadHandshake("only CONNECT is supported");
            return self.reply_socks(Reply::CommandNotSupported, ctx.now);
        }
        self.dial(Proto::Socks, ctx)
    }

    fn parse_http_head(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let max = ctx.settings.limits.max_handshake_bytes;
        let head = match http::parse_request_head(self.up.data(), max) {
            Ok(Parsed::NeedMore) => return Step::Idle,
            Ok(Parsed::Done { value, .. }) => value,
            Err(e) => {
                log::debug!("session {}: HTTP request: {e}", self.client_addr);
                self.outcome = Outcome::BadHandshake("unusable HTTP request");
                return self.reply_http(e.status(), ctx.now);
            }
        };
        let proto = match head.kind {
            RequestKind::Connect => Proto::HttpConnect,
            RequestKind::Forward => Proto::HttpForward,
        };
        let head_len = head.head_len;
        let required = ctx.auth.required();
        let answer = if required {
            let mut scratch = [0u8; 512];
            head.proxy_authorization
                .and_then(|value| http::decode_basic(value, &mut scratch))
                .map(|(user, pass)| ctx.auth.check(user, pass, ctx.ticket))
        } else {
            None
        };
        self.target = Some(head.target.to_owned());
        if proto == Proto::HttpConnect {
            // Anything after the head is already tunnel data.
            self.up.consume(head_len);
        }
        match answer {
            _ if !required => self.dial(proto, ctx),
            None => {
                self.outcome = Outcome::AuthFailed;
                ctx.metrics.auth_failed(AuthFailure::NoCredentials);
                self.reply_http(Status::ProxyAuthRequired, ctx.now)
            }
            Some(AuthAnswer::Done(result)) => {
                self.auth_answered(result, AfterAuth::Http(proto), ctx)
            }
            Some(AuthAnswer::Pending) => {
                self.stage = Stage::AuthPending(AfterAuth::Http(proto));
                Step::Progress
            }
        }
    }

    fn auth_answered(
        &mut self,
        result: Result<Account, Rejected>,
        after: AfterAuth,
        ctx: &mut Ctx<'_>,
    ) -> Step {
        let result = match result {
            Ok(account) if !ctx.auth.admit(&account) => {
                // SOCKS5 has only "failure" for this; HTTP says 403, not 407: the
                // credential is good, retrying it will not help until a session ends.
                self.outcome = Outcome::TooManySessions;
                return match after {
                    AfterAuth::SocksRequest => {
                        self.down.push(&socks5::auth_status(false));
                        self.enter_closing(ctx.now);
                        Step::Progress
                    }
                    AfterAuth::Http(_) => self.reply_http(Status::Forbidden, ctx.now),
                };
            }
            other => other,
        };
        match (result, after) {
            (Ok(account), AfterAuth::SocksRequest) => {
                self.account = Some(account);
                self.down.attach(ctx.pool);
                self.down.push(&socks5::auth_status(true));
                self.stage = Stage::SocksRequest;
                Step::Progress
            }
            (Ok(account), AfterAuth::Http(proto)) => {
                self.account = Some(account);
                self.dial(proto, ctx)
            }
            (Err(Rejected), AfterAuth::SocksRequest) => {
                self.outcome = Outcome::AuthFailed;
                ctx.metrics.auth_failed(AuthFailure::Rejected);
                self.down.push(&socks5::auth_status(false));
                self.enter_closing(ctx.now);
                Step::Progress
            }
            (Err(Rejected), AfterAuth::Http(_)) => {
                self.outcome = Outcome::AuthFailed;
                ctx.metrics.auth_failed(AuthFailure::Rejected);
                self.reply_http(Status::ProxyAuthRequired, ctx.now)
            }
        }
    }

    /// The authenticator answered a pending check.
    pub fn on_auth(&mut self, result: Result<Account, Rejected>, ctx: &mut Ctx<'_>) -> Verdict {
        let Stage::AuthPending(after) = std::mem::replace(&mut self.stage, Stage::Closing) else {
            return Verdict::Continue; // not waiting (anymore): a stale answer
        };
        if self.auth_answered(result, after, ctx) == Step::Close {
            return Verdict::Close;
        }
        self.run(ctx)
    }

    // -----------------------------------------------------------------------------------
    // Resolving and connecting
    // -----------------------------------------------------------------------------------

    fn dial(&mut self, proto: Proto, ctx: &mut Ctx<'_>) -> Step {
        if ctx.router.is_some() {
            return self.via_next(proto, Via::new(), ctx);
        }
        let Some(target) = self.target.as_ref() else {
            return Step::Close;
        };
        if let Some(addr) = target.ip() {
            return self.start_connecting(proto, AddrList::one(addr.ip()), ctx);
        }
        let name = target.domain().unwrap_or_default();
        match ctx.resolver.resolve(name, ctx.key, ctx.now) {
            Lookup::Done(Ok(addrs)) => {
                self.start_connecting(proto, AddrList::from_addrs(&addrs), ctx)
            }
            Lookup::Done(Err(e)) => self.fail(proto, Failure::Dns(e), ctx.now),
            Lookup::Pending => {
                self.stage = Stage::Resolving(proto);
                Step::Progress
            }
        }
    }

    /// The resolver answered.
    pub fn on_resolved(&mut self, result: Result<Addrs, DnsError>, ctx: &mut Ctx<'_>) -> Verdict {
        let Stage::Resolving(proto) = std::mem::replace(&mut self.stage, Stage::Closing) else {
            return Verdict::Continue;
        };
        let step = match result {
            Ok(addrs) => self.start_connecting(proto, AddrList::from_addrs(&addrs), ctx),
            Err(e) => self.fail(proto, Failure::Dns(e), ctx.now),
        };
        if step == Step::Close {
            return Verdict::Close;
        }
        self.run(ctx)
    }

    fn start_connecting(&mut self, proto: Proto, addrs: AddrList, ctx: &mut Ctx<'_>) -> Step {
        if addrs.len == 0 {
            return self.fail(proto, Failure::Dns(DnsError::NoAddresses), ctx.now);
        }
        let dial = Dial {
            proto,
            addrs,
            next: 0,
            last_error: None,
        };
        self.connect_next(dial, ctx)
    }

    /// Starts a connect to the next allowed address, or replies with the failure.
    fn connect_next(&mut self, mut dial: Dial, ctx: &mut Ctx<'_>) -> Step {
        if let Some(mut old) = self.upstream.take() {
            let _ = ctx.registry.deregister(&mut old.sock);
        }
        let port = self.target.as_ref().map_or(0, |t| t.port());
        while let Some(ip) = dial.addrs.get(dial.next) {
            dial.next += 1;
            let addr = SocketAddr::new(ip, port);
            // The policy judges the address actually connected to, not the name asked for.
            if let Err(denial) = ctx.policy.check(addr) {
                log::debug!("session {}: {addr} denied: {denial}", self.client_addr);
                if dial.last_error.is_none() {
                    dial.last_error = Some(Failure::Denied(denial.to_string()));
                }
                continue;
            }
            let attempt = TcpStream::connect(addr).and_then(|mut sock| {
                let token = upstream_token(ctx.key);
                ctx.registry
                    .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                    .map(|()| sock)
            });
            match attempt {
                Ok(sock) => {
                    self.upstream = Some(Endpoint::new(sock));
                    self.connected_to = Some(addr);
                    self.stage_deadline = ctx.now + ctx.settings.timeouts.connect;
                    self.stage = Stage::Connecting(dial);
                    return Step::Progress;
                }
                Err(e) => {
                    log::debug!("session {}: connect {addr}: {e}", self.client_addr);
                    dial.last_error = Some(Failure::Connect(ConnectError::from_io(&e)));
                }
            }
        }
        let failure = dial
            .last_error
            .unwrap_or(Failure::Connect(ConnectError::Other));
        self.fail(dial.proto, failure, ctx.now)
    }

    fn step_connecting(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self.flush_client() {
            Step::Idle => {}
            other => return other,
        }
        let Some(upstream) = self.upstream.as_mut() else {
            return Step::Close;
        };
        if !(upstream.writable || upstream.readable) {
            return Step::Idle;
        }
        // mio's recipe: an error first, then whether the peer address is known yet. Linux
        // polls a connecting TCP socket writable only once the handshake is done
        // (tcp_poll), so there a writable report with no error means connected.
        let error = match upstream.sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) if cfg!(target_os = "linux") && upstream.writable => None,
            Ok(None) => match upstream.sock.peer_addr() {
                Ok(_) => None,
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(libc::EINPROGRESS) =>
                {
                    // A spurious wake-up: still connecting.
                    upstream.writable = false;
                    upstream.readable = false;
                    return Step::Idle;
                }
                Err(e) => Some(e),
            },
        };
        let Stage::Connecting(mut dial) = std::mem::replace(&mut self.stage, Stage::Closing) else {
            return Step::Close;
        };
        if let Some(e) = error {
            log::debug!(
                "session {}: connect {}: {e}",
                self.client_addr,
                self.connected_to
                    .map_or_else(String::new, |a| a.to_string())
            );
            dial.last_error = Some(Failure::Connect(ConnectError::from_io(&e)));
            return self.connect_next(dial, ctx);
        }
        self.connected(dial.proto, ctx)
    }

    /// Opens a connection to the next node the router picks (see upstream.rs).
    fn via_next(&mut self, proto: Proto, mut via: Box<Via>, ctx: &mut Ctx<'_>) -> Step {
        if let Some(mut old) = self.upstream.take() {
            let _ = ctx.registry.deregister(&mut old.sock);
        }
        let (Some(target), Some(router)) = (self.target.as_ref(), ctx.router.as_deref_mut()) else {
            return Step::Close;
        };
        let token = upstream_token(ctx.key);
        match via.start_next(router, &target.as_target(), ctx.registry, token, ctx.now) {
            Ok(endpoint) => {
                self.upstream = Some(endpoint);
                self.connected_to = via.node_addr();
                self.stage_deadline = ctx.now + ctx.settings.timeouts.connect;
                self.stage = Stage::ViaNode(proto, via);
                Step::Progress
            }
            Err(failure) => self.fail(proto, Failure::Via(failure), ctx.now),
        }
    }

    fn step_via(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self.flush_client() {
            Step::Idle => {}
            other => return other,
        }
        let (Stage::ViaNode(_, via), Some(upstream), Some(router)) = (
            &mut self.stage,
            self.upstream.as_mut(),
            ctx.router.as_deref_mut(),
        ) else {
            return Step::Close;
        };
        let step = via.step(upstream, router, ctx.now);
        if matches!(step, ViaStep::Idle) {
            return Step::Idle;
        }
        let Stage::ViaNode(proto, via) = std::mem::replace(&mut self.stage, Stage::Closing) else {
            return Step::Close;
        };
        match step {
            ViaStep::Idle => Step::Idle,
            ViaStep::Open(early) => {
                let step = self.connected(proto, ctx);
                self.down.push(&early);
                step
            }
            ViaStep::Retry => self.via_next(proto, via, ctx),
            ViaStep::Failed(failure) => self.fail(proto, Failure::Via(failure), ctx.now),
        }
    }

    /// The upstream connection is up: tell the client and start relaying.
    fn connected(&mut self, proto: Proto, ctx: &mut Ctx<'_>) -> Step {
        let Some(upstream) = self.upstream.as_mut() else {
            return Step::Close;
        };
        let _ = upstream.sock.set_nodelay(true);
        self.down.attach(ctx.pool);
        match proto {
            Proto::Socks => {
                let bound = upstream
                    .sock
                    .local_addr()
                    .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                let reply = socks5::encode_reply(Reply::Succeeded, bound);
                self.reply_bytes = reply.as_ref().len() as u64;
                self.down.push(reply.as_ref());
            }
            Proto::HttpConnect => {
                let reply = http::response(Status::ConnectionEstablished);
                self.reply_bytes = reply.len() as u64;
                self.down.push(reply);
            }
            Proto::HttpForward => {
                let max = ctx.settings.limits.max_handshake_bytes;
                let data = self.up.data();
                let mut out = ctx.pool.take_buffer();
                out.clear();
                let (body, head_request) = match http::parse_request_head(data, max) {
                    Ok(Parsed::Done { value: head, .. }) => {
                        http::write_forward_head(data, &head, &mut out);
                        // Only this request's body goes with it, never what follows it.
                        let after = data.get(head.head_len..).unwrap_or_default();
                        let mut body = Body::new(head.framing);
                        let body = body.advance(after).map(|taken| {
                            out.extend_from_slice(after.get(..taken).unwrap_or_default());
                            body
                        });
                        (body, head.method() == "HEAD")
                    }
                    // The same bytes parsed before; anything else is a bug, not input.
                    _ => return Step::Close,
                };
                let old = self.up.replace(out);
                ctx.pool.give_buffer(old);
                match body {
                    Ok(body) => self.forward = Some(Box::new(Forward::new(body, head_request))),
                    Err(e) => {
                        log::debug!("session {}: request body: {e}", self.client_addr);
                        self.upstream = None;
                        self.outcome = Outcome::BadHandshake("malformed chunked body");
                        return self.reply_http(Status::BadRequest, ctx.now);
                    }
                }
            }
        }
        self.stage = Stage::Relay;
        self.last_active = ctx.now;
        ctx.metrics
            .handshake_done(ctx.now.saturating_duration_since(self.started));
        Step::Progress
    }

    /// Tells the client why its tunnel failed, then closes.
    fn fail(&mut self, proto: Proto, failure: Failure, now: Instant) -> Step {
        if let Some(upstream) = self.upstream.take() {
            drop(upstream); // closing the socket also removes it from the poll
        }
        let step = match proto {
            Proto::Socks => self.reply_socks(failure.socks_reply(), now),
            Proto::HttpConnect | Proto::HttpForward => self.reply_http(failure.http_status(), now),
        };
        self.outcome = Outcome::Failed(failure);
        step
    }

    fn reply_socks(&mut self, reply: Reply, now: Instant) -> Step {
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        self.down
            .push(socks5::encode_reply(reply, unspecified).as_ref());
        self.enter_closing(now);
        Step::Progress
    }

    fn reply_http(&mut self, status: Status, now: Instant) -> Step {
        self.down.push(http::response(status));
        self.enter_closing(now);
        Step::Progress
    }

    fn enter_closing(&mut self, now: Instant) {
        self.stage = Stage::Closing;
        self.stage_deadline = now + CLOSING_LINGER;
    }

    // -----------------------------------------------------------------------------------
    // Relay and closing
    // -----------------------------------------------------------------------------------

    fn step_relay(&mut self, ctx: &mut Ctx<'_>) -> Step {
        if self.forward.is_some() {
            return self.step_forward(ctx);
        }
        let Some(upstream) = self.upstream.as_mut() else {
            return Step::Close;
        };
        let cap = ctx.settings.limits.buffer_bytes;
        let mut progressed = false;
        for client_to_upstream in [true, false] {
            let result = if client_to_upstream {
                pump(
                    &mut self.client,
                    upstream,
                    &mut self.up,
                    &mut self.up_flow,
                    cap,
                    ctx.pool,
                    self.down_flow.shut,
                )
            } else {
                pump(
                    upstream,
                    &mut self.client,
                    &mut self.down,
                    &mut self.down_flow,
                    cap,
                    ctx.pool,
                    self.up_flow.shut,
                )
            };
            match result {
                Ok(changed) => progressed |= changed,
                Err((side, e)) => {
                    log::debug!("session {}: relay: {e}", self.client_addr);
                    self.outcome = Outcome::Reset(side.side(client_to_upstream));
                    return Step::Close;
                }
            }
        }
        if self.up_flow.shut && self.down_flow.shut {
            return Step::Close;
        }
        self.relay_step(progressed, ctx.now)
    }

    /// A relay step that moved bytes is activity: it pushes the idle deadline back.
    fn relay_step(&mut self, progressed: bool, now: Instant) -> Step {
        if progressed {
            self.last_active = now;
            Step::Progress
        } else {
            Step::Idle
        }
    }

    fn flush_client(&mut self) -> Step {
        if self.down.is_empty() || !self.client.writable {
            return Step::Idle;
        }
        match self.client.write_from(&mut self.down) {
            IoOutcome::Done(_) | IoOutcome::WouldBlock => Step::Progress,
            IoOutcome::Eof | IoOutcome::Error(_) => {
                if self.outcome == Outcome::Ok {
                    self.outcome = Outcome::ClientGone;
                }
                Step::Close
            }
        }
    }

    /// Flushes the final reply, sends FIN, then reads and drops what the client still
    /// sends (up to CLOSING_DRAIN) until it hangs up: closing with unread input would send
    /// a reset that can destroy the reply before the client reads it.
    fn step_closing(&mut self) -> Step {
        if !self.down.is_empty() {
            return self.flush_client();
        }
        if !self.down_flow.shut {
            self.down_flow.shut = true;
            let _ = self.client.sock.shutdown(Shutdown::Write);
            return Step::Progress;
        }
        if !self.client.readable || self.drained >= CLOSING_DRAIN {
            return Step::Idle;
        }
        let mut sink = [0u8; DRAIN_SINK];
        match super::io::read(&mut self.client.sock, &mut sink) {
            IoOutcome::Done(n) => {
                self.drained = self.drained.saturating_add(n as u32);
                // A short read emptied the socket (as in `Endpoint::read_into`): each step
                // either drops a full sink or ends the turn.
                if n < DRAIN_SINK && !self.client.hup {
                    self.client.readable = false;
                    return Step::Idle;
                }
                Step::Progress
            }
            IoOutcome::WouldBlock => {
                self.client.readable = false;
                Step::Idle
            }
            IoOutcome::Eof | IoOutcome::Error(_) => Step::Close,
        }
    }

    // -----------------------------------------------------------------------------------
    // Timeouts and the end
    // -----------------------------------------------------------------------------------

    /// The session's deadline passed.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Verdict {
        match std::mem::replace(&mut self.stage, Stage::Closing) {
            Stage::Connecting(mut dial) => {
                dial.last_error = Some(Failure::Connect(ConnectError::TimedOut));
                if self.connect_next(dial, ctx) == Step::Close {
                    return Verdict::Close;
                }
                self.run(ctx)
            }
            Stage::ViaNode(proto, mut via) => {
                if let Some(router) = ctx.router.as_deref_mut() {
                    via.timed_out(router, ctx.now);
                }
                if self.via_next(proto, via, ctx) == Step::Close {
                    return Verdict::Close;
                }
                self.run(ctx)
            }
            Stage::Resolving(proto) => {
                ctx.resolver.cancel(ctx.key);
                self.fail(proto, Failure::Dns(DnsError::Timeout), ctx.now);
                self.run(ctx)
            }
            Stage::AuthPending(_) => {
                ctx.auth.cancel(ctx.ticket);
                self.outcome = Outcome::HandshakeTimeout;
                Verdict::Close
            }
            Stage::Relay => {
                self.outcome = Outcome::IdleTimeout;
                Verdict::Close
            }
            Stage::Closing => Verdict::Close,
            _ => {
                self.outcome = Outcome::HandshakeTimeout;
                Verdict::Close
            }
        }
    }

    /// The account the session was admitted under, once authenticated.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// Nobody admitted yet: still reading the greeting, credentials, request or HTTP head,
    /// or waiting for the authenticator. Such sessions count against
    /// `limits.max_handshakes_per_client` and are the ones evicted when the node is full.
    pub fn in_handshake(&self) -> bool {
        self.account.is_none()
            && matches!(
                self.stage,
                Stage::Detect
                    | Stage::SocksGreeting
                    | Stage::SocksAuth
                    | Stage::SocksRequest
                    | Stage::HttpHead
                    | Stage::AuthPending(_)
            )
    }

    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// Releases everything the session holds elsewhere and logs its one line.
    pub fn finish(mut self, ctx: &mut Ctx<'_>) {
        // Logged in, then gone before asking for a destination: what `aqueduct local`'s
        // probes do to measure a node. Counted as probes, not as clients that failed.
        if self.outcome == Outcome::ClientGone
            && matches!(self.stage, Stage::SocksRequest)
            && self.account.is_some()
            && self.up.is_empty()
        {
            self.outcome = Outcome::Probe;
        }
        match self.stage {
            Stage::Resolving(_) => ctx.resolver.cancel(ctx.key),
            Stage::AuthPending(_) => ctx.auth.cancel(ctx.ticket),
            _ => {}
        }
        if let Some(account) = &self.account {
            ctx.auth.release(account);
        }
        self.up.release(ctx.pool);
        self.down.release(ctx.pool);
        self.up_flow.release(ctx.pool, true);
        self.down_flow.release(ctx.pool, true);
        if let Some(forward) = self.forward.as_mut() {
            forward.release(ctx.pool);
        }
        // Pass a reset on, so the other side does not mistake it for a clean end.
        match (&self.outcome, self.upstream.as_ref()) {
            (Outcome::Reset(Side::Upstream), _) => abort_on_close(&self.client.sock),
            (Outcome::Reset(Side::Client), Some(upstream)) => abort_on_close(&upstream.sock),
            _ => {}
        }
        // No deregister: closing a descriptor nobody else holds takes it out of the epoll
        // set, and two epoll_ctl calls per session are measurable at high connection rates.
        let down = self.down_flow.bytes.saturating_sub(self.reply_bytes);
        ctx.metrics
            .session_ended(&self.outcome, self.up_flow.bytes, down);
        let target = OrDash(self.target.as_ref());
        let via = OrDash(self.connected_to.as_ref());
        // One access log record per session: fields, not a sentence (see src/logging.rs).
        let kind = self.outcome.kind();
        let level = if kind == OutcomeKind::Probe {
            log::Level::Debug // a member's `aqueduct local` measuring us, every minute
        } else {
            log::Level::Info
        };
        let duration = Seconds(ctx.now.saturating_duration_since(self.started));
        log::log!(
            target: "aqueduct::access",
            level,
            client:% = self.client_addr,
            account = self.account.as_ref().map_or("-", |a| a.name()),
            target:% = target,
            via:% = via,
            up = self.up_flow.bytes,
            down = down,
            duration:% = duration,
            outcome = kind.label(),
            reason:% = self.outcome;
            "session"
        );
    }
}

/// A duration as seconds with millisecond precision, the unit of the access log.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.0.as_secs_f64())
    }
}

/// Formats as the value or `-`, without building a String for the log line.
struct OrDash<'a, T>(Option<&'a T>);

impl<T: fmt::Display> fmt::Display for OrDash<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reserved_tokens_belong_to_no_session() {
        for key in [0, 1, 7, 100_000] {
            assert_eq!(token_owner(client_token(key)), Some((key, false)));
            assert_eq!(token_owner(upstream_token(key)), Some((key, true)));
        }
        for reserved in 0..FIRST_SESSION_TOKEN {
            assert_eq!(token_owner(Token(reserved)), None);
        }
    }

    #[test]
    fn failures_map_to_the_documented_replies() {
        use ConnectError::*;
        let cases = [
            (
                Failure::Connect(Refused),
                Reply::ConnectionRefused,
                Status::BadGateway,
            ),
            (
                Failure::Connect(NetworkUnreachable),
                Reply::NetworkUnreachable,
                Status::BadGateway,
            ),
            (
                Failure::Connect(HostUnreachable),
                Reply::HostUnreachable,
                Status::BadGateway,
            ),
            (
                Failure::Connect(TimedOut),
                Reply::TtlExpired,
                Status::GatewayTimeout,
            ),
            (
                Failure::Connect(Other),
                Reply::GeneralFailure,
                Status::BadGateway,
            ),
            (
                Failure::Dns(DnsError::NxDomain),
                Reply::HostUnreachable,
                Status::BadGateway,
            ),
            (
                Failure::Dns(DnsError::Timeout),
                Reply::HostUnreachable,
                Status::GatewayTimeout,
            ),
            (
                Failure::Denied("loopback".into()),
                Reply::NotAllowed,
                Status::Forbidden,
            ),
        ];
        for (failure, reply, status) in cases {
            assert_eq!(failure.socks_reply(), reply, "{failure}");
            assert_eq!(failure.http_status(), status, "{failure}");
        }
    }

    #[test]
    fn addr_list_keeps_at_most_eight_in_order() {
        let one = AddrList::one("10.0.0.1".parse().unwrap());
        assert_eq!(one.get(0), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(one.get(1), None);
    }

    #[test]
    fn a_session_slot_stays_under_a_kilobyte() {
        // Idle relayed connections hold only this (no buffers, no pipes): it is most of
        // the node's memory per connection.
        let size = std::mem::size_of::<Session>();
        assert!(size <= 1024, "Session is {size} bytes");
    }
}
