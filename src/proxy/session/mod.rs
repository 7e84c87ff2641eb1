//! One client connection: the state machine from the first byte to the last, owning both
//! its sockets. The server feeds it readiness, DNS answers, auth answers and timeouts; it
//! answers with a [`Verdict`]. See doc/lifetime-of-a-session.md for the walk-through.

use super::auth::Account;
use super::buffer::Buffer;
use super::codec::OwnedTarget;
use super::context::Ctx;
use super::dns::Addrs;
use super::limits::Slot;
use super::outcome::{Failure, Outcome};
use super::pool::Pool;
use super::relay::{Endpoint, Flow};
use super::sockopt;
use super::upstream::Via;
use forward::Forward;
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod close;
mod dial;
mod forward;
mod handshake;
mod tls;
mod tunnel;

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

/// Connecting: the addresses, the next one to try, and why earlier ones failed.
struct Dial {
    proto: Proto,
    /// Tried in order (IPv4 first, as the resolver gives them).
    addrs: Addrs,
    next: usize,
    last_error: Option<Failure>,
}

/// The stages of a session; each carries what only it needs.
enum Stage {
    /// A `tls_listen` connection before its TLS handshake is done (its own deadline);
    /// then Detect, inside TLS.
    Tls,
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
            Stage::Tls => "tls",
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
    /// The session's member at the rate limiter, from when it dials.
    limit: Option<Slot>,
    /// A direction waits for its rate grant until then (a timer, never a spin).
    throttled: Option<Instant>,
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
            limit: None,
            throttled: None,
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
            Stage::Relay => {
                let idle = self.last_active + idle;
                self.throttled.map_or(idle, |t| t.min(idle))
            }
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
                Stage::Tls => self.step_tls(ctx),
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
                Stage::Tls
                    | Stage::Detect
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
    fn a_session_slot_stays_under_a_kilobyte() {
        // Idle relayed connections hold only this (no buffers, no pipes): it is most of
        // the node's memory per connection.
        let size = std::mem::size_of::<Session>();
        assert!(size <= 1024, "Session is {size} bytes");
    }
}
