//! The node's Prometheus metrics: counters the loop keeps as sessions end, families the
//! embedder adds ([`MetricFamilies`]), and a small non-blocking HTTP/1.1 responder for
//! `GET /metrics`, served by the loop itself on `[metrics] listen`.
//!
//! The responder is deliberately tiny: a handful of scrapers at once, a bounded request
//! head, one response per connection, a deadline on every connection. A scraper can cost
//! the loop a few kilobytes and a few microseconds, never a stall of the proxy sessions.

use super::outcome::{Failure, Outcome, OutcomeKind};
use super::policy::DenialRule;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Metric families an embedder adds to `/metrics` (the node's chain counters, say),
/// rendered after the loop's own. Called on the loop thread: must not block.
pub trait MetricFamilies: Send + Sync + std::fmt::Debug {
    /// Appends complete families (`# HELP` and `# TYPE` lines, then samples) to `out`.
    fn render(&self, out: &mut String);
}

/// Concurrent scrape connections served at once; more are closed on accept.
pub const MAX_SCRAPERS: usize = 4;
/// A request head larger than this is answered with 431 and closed.
const MAX_REQUEST: usize = 2048;
/// A scrape connection is closed this long after it was accepted, whatever its state.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(10);

// -------------------------------------------------------------------------------------
// What the loop counts
// -------------------------------------------------------------------------------------

/// Why a client was refused, as the `reason` label of `aqueduct_auth_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// A SOCKS5 client that offered no method the node accepts (e.g. only "no auth").
    NoAcceptableMethod,
    /// An HTTP request without (usable) `Proxy-Authorization`.
    NoCredentials,
    /// Credentials given and refused by the authenticator.
    Rejected,
}

const AUTH_REASONS: [&str; 3] = ["no_acceptable_method", "no_credentials", "rejected"];

impl AuthFailure {
    fn index(self) -> usize {
        match self {
            AuthFailure::NoAcceptableMethod => 0,
            AuthFailure::NoCredentials => 1,
            AuthFailure::Rejected => 2,
        }
    }
}

/// Why a new connection was closed at accept, before it became a session, as the
/// `reason` label of `aqueduct_connections_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `limits.max_sessions` open and none of them in its handshake to evict.
    MaxSessions,
    /// The client's address already has `limits.max_handshakes_per_client` in handshake.
    ClientHandshakes,
}

const REFUSALS: [&str; 2] = ["max_sessions", "client_handshakes"];

impl Refusal {
    fn index(self) -> usize {
        match self {
            Refusal::MaxSessions => 0,
            Refusal::ClientHandshakes => 1,
        }
    }
}

/// Upper bounds (seconds) of the handshake latency buckets: loopback answers take well
/// under a millisecond, a slow DNS or far upstream several seconds.
const LATENCY_BOUNDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The loop's own counters; plain integers, since only the loop thread touches them.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    sessions: [u64; OutcomeKind::ALL.len()],
    bytes_up: u64,
    bytes_down: u64,
    auth_failures: [u64; AUTH_REASONS.len()],
    refused: [u64; REFUSALS.len()],
    /// Sessions refused by the policy, by rule.
    denials: [u64; DenialRule::ALL.len()],
    /// Per bucket (not cumulative); the last one is +Inf.
    latency_buckets: [u64; LATENCY_BOUNDS.len() + 1],
    latency_sum: Duration,
    latency_count: u64,
    /// The embedder's own families.
    pub extra: Vec<Arc<dyn MetricFamilies>>,
}

impl Metrics {
    /// A session ended: its outcome and the payload bytes it relayed each way.
    pub fn session_ended(&mut self, outcome: &Outcome, up: u64, down: u64) {
        self.sessions[outcome.kind().index()] += 1;
        if let Outcome::Failed(Failure::Denied(denial)) = outcome {
            self.denials[denial.rule().index()] += 1;
        }
        self.bytes_up = self.bytes_up.wrapping_add(up);
        self.bytes_down = self.bytes_down.wrapping_add(down);
    }

    pub fn auth_failed(&mut self, reason: AuthFailure) {
        self.auth_failures[reason.index()] += 1;
    }

    pub fn connection_refused(&mut self, reason: Refusal) {
        self.refused[reason.index()] += 1;
    }

    /// A session reached the relay: `latency` is from accept to that moment.
    pub fn handshake_done(&mut self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        if let Some(n) = self.latency_buckets.get_mut(bucket) {
            *n += 1;
        }
        self.latency_sum += latency;
        self.latency_count += 1;
    }

    /// The Prometheus text exposition (format 0.0.4) of everything.
    pub fn render(&self, sessions_open: usize) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "aqueduct_build_info",
            "gauge",
            "The running build: always 1, its version in the label.",
        );
        let _ = writeln!(
            out,
            "aqueduct_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        family(
            &mut out,
            "aqueduct_sessions_open",
            "gauge",
            "Client connections open now, in any stage.",
        );
        let _ = writeln!(out, "aqueduct_sessions_open {sessions_open}");
        family(
            &mut out,
            "aqueduct_sessions_total",
            "counter",
            "Sessions finished, by how they ended.",
        );
        for (kind, n) in OutcomeKind::ALL.iter().zip(self.sessions) {
            let label = kind.label();
            let _ = writeln!(out, "aqueduct_sessions_total{{outcome=\"{label}\"}} {n}");
        }
        family(
            &mut out,
            "aqueduct_connections_refused_total",
            "counter",
            "Connections closed at accept, by reason (node full with nothing to evict, or too many in handshake from one client address).",
        );
        for (label, n) in REFUSALS.iter().zip(self.refused) {
            let _ = writeln!(
                out,
                "aqueduct_connections_refused_total{{reason=\"{label}\"}} {n}"
            );
        }
        family(
            &mut out,
            "aqueduct_denials_total",
            "counter",
            "Sessions the policy refused, by rule (deny_domains, deny_cidrs, deny_ports, special_address, own_address, own_listener, default_port).",
        );
        for (rule, n) in DenialRule::ALL.iter().zip(self.denials) {
            let label = rule.label();
            let _ = writeln!(out, "aqueduct_denials_total{{rule=\"{label}\"}} {n}");
        }
        family(
            &mut out,
            "aqueduct_bytes_total",
            "counter",
            "Payload bytes relayed by finished sessions; up is client to upstream, down is upstream to client.",
        );
        let _ = writeln!(
            out,
            "aqueduct_bytes_total{{direction=\"up\"}} {}",
            self.bytes_up
        );
        let _ = writeln!(
            out,
            "aqueduct_bytes_total{{direction=\"down\"}} {}",
            self.bytes_down
        );
        family(
            &mut out,
            "aqueduct_auth_failures_total",
            "counter",
            "Clients refused for their credentials, by reason.",
        );
        for (label, n) in AUTH_REASONS.iter().zip(self.auth_failures) {
            let _ = writeln!(
                out,
                "aqueduct_auth_failures_total{{reason=\"{label}\"}} {n}"
            );
        }
        family(
            &mut out,
            "aqueduct_handshake_seconds",
            "histogram",
            "Time from accept until the session starts relaying (handshake, auth, DNS, connect).",
        );
        let mut cumulative = 0;
        for (i, n) in self.latency_buckets.iter().enumerate() {
            cumulative += n;
            match LATENCY_BOUNDS.get(i) {
                Some(bound) => {
                    let _ = writeln!(
                        out,
                        "aqueduct_handshake_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "aqueduct_handshake_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "aqueduct_handshake_seconds_sum {}",
            self.latency_sum.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "aqueduct_handshake_seconds_count {}",
            self.latency_count
        );
        for families in &self.extra {
            families.render(&mut out);
        }
        out
    }
}

/// The `# HELP` and `# TYPE` lines that open a family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

// -------------------------------------------------------------------------------------
// The HTTP responder
// -------------------------------------------------------------------------------------

/// One scrape connection: read the request head, write one response, close.
struct Scrape {
    sock: TcpStream,
    request: Vec<u8>,
    response: Vec<u8>,
    written: usize,
    /// The response is out and our side shut: drain until the client hangs up, so
    /// closing with unread input never resets the response away.
    draining: bool,
    deadline: Instant,
}

/// The `[metrics] listen` socket and its few connections. Connection `i` uses token
/// `first_token + i`.
pub(crate) struct Endpoint {
    listener: TcpListener,
    addr: SocketAddr,
    first_token: usize,
    conns: [Option<Scrape>; MAX_SCRAPERS],
}

/// What a finished request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    /// `/`: a pointer to `/metrics`, for a person who opens the address in a browser.
    Index,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

impl Endpoint {
    /// Binds and registers the listener under `listen_token`.
    pub fn bind(
        addr: SocketAddr,
        registry: &Registry,
        listen_token: Token,
        first_token: usize,
    ) -> io::Result<Endpoint> {
        let mut listener = TcpListener::bind(addr)?;
        registry.register(&mut listener, listen_token, Interest::READABLE)?;
        Ok(Endpoint {
            addr: listener.local_addr()?,
            listener,
            first_token,
            conns: Default::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// True if `token` is one of this endpoint's connections.
    pub fn owns(&self, token: Token) -> bool {
        (self.first_token..self.first_token + MAX_SCRAPERS).contains(&token.0)
    }

    /// Accepts until the queue is empty; beyond [`MAX_SCRAPERS`] a connection is closed at once.
    pub fn accept(&mut self, registry: &Registry, now: Instant) {
        loop {
            match self.listener.accept() {
                Ok((mut sock, _)) => {
                    let Some(i) = self.conns.iter().position(Option::is_none) else {
                        continue; // dropped: too many scrapers
                    };
                    let token = Token(self.first_token + i);
                    if registry
                        .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    if let Some(slot) = self.conns.get_mut(i) {
                        *slot = Some(Scrape {
                            sock,
                            request: Vec::new(),
                            response: Vec::new(),
                            written: 0,
                            draining: false,
                            deadline: now + SCRAPE_DEADLINE,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of descriptors or similar: the next readiness event tries again;
                // the proxy's own accept path handles and logs exhaustion.
                Err(_) => return,
            }
        }
    }

    /// Readiness on one connection: reads, answers with `render()` if it asked for
    /// `/metrics`, writes, closes when done. Edge-triggered, so it works until WouldBlock.
    pub fn on_event(&mut self, registry: &Registry, token: Token, render: impl FnOnce() -> String) {
        let Some(slot) = token
            .0
            .checked_sub(self.first_token)
            .and_then(|i| self.conns.get_mut(i))
        else {
            return;
        };
        let Some(scrape) = slot.as_mut() else {
            return;
        };
        if scrape.serve(render).is_break() {
            if let Some(mut scrape) = slot.take() {
                let _ = registry.deregister(&mut scrape.sock);
            }
        }
    }

    /// Closes connections past their deadline.
    pub fn sweep(&mut self, registry: &Registry, now: Instant) {
        for slot in self.conns.iter_mut() {
            if slot.as_ref().is_some_and(|s| s.deadline <= now) {
                if let Some(mut scrape) = slot.take() {
                    let _ = registry.deregister(&mut scrape.sock);
                }
            }
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns.iter().flatten().map(|s| s.deadline).min()
    }
}

impl Scrape {
    /// Break means: close this connection now.
    fn serve(&mut self, render: impl FnOnce() -> String) -> std::ops::ControlFlow<()> {
        use std::ops::ControlFlow::{Break, Continue};
        if self.draining {
            return self.drain();
        }
        let mut chunk = [0u8; 512];
        if self.response.is_empty() {
            loop {
                match self.sock.read(&mut chunk) {
                    // The client left before finishing its request.
                    Ok(0) => return Break(()),
                    Ok(n) => {
                        let room = MAX_REQUEST.saturating_sub(self.request.len());
                        self.request
                            .extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
                        if head_complete(&self.request) || n > room {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if self.request.len() >= MAX_REQUEST {
                            break;
                        }
                        return Continue(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Break(()),
                }
            }
            self.response = if head_complete(&self.request) {
                let (route, head_only) = route(&self.request);
                let mut reply = match route {
                    Route::Metrics => response(
                        "200 OK",
                        "text/plain; version=0.0.4; charset=utf-8",
                        &render(),
                    ),
                    Route::Index => response(
                        "200 OK",
                        "text/plain; charset=utf-8",
                        "aqueduct node: Prometheus metrics are at /metrics\n",
                    ),
                    Route::NotFound => {
                        response("404 Not Found", "text/plain", "not found; try /metrics\n")
                    }
                    Route::MethodNotAllowed => response(
                        "405 Method Not Allowed",
                        "text/plain",
                        "only GET and HEAD\n",
                    ),
                    Route::BadRequest => response("400 Bad Request", "text/plain", "bad request\n"),
                };
                if head_only {
                    // HEAD: the same head, Content-Length included, and no body.
                    let end = reply.windows(4).position(|w| w == b"\r\n\r\n");
                    reply.truncate(end.map_or(reply.len(), |i| i + 4));
                }
                reply
            } else {
                response(
                    "431 Request Header Fields Too Large",
                    "text/plain",
                    "request too large\n",
                )
            };
        }
        while let Some(rest) = self.response.get(self.written..).filter(|r| !r.is_empty()) {
            match self.sock.write(rest) {
                Ok(0) => return Break(()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Continue(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Break(()),
            }
        }
        self.draining = true;
        if self.sock.shutdown(Shutdown::Write).is_err() {
            return Break(());
        }
        self.drain()
    }

    /// Reads and drops until the client hangs up (or the deadline sweeps it).
    fn drain(&mut self) -> std::ops::ControlFlow<()> {
        use std::ops::ControlFlow::{Break, Continue};
        let mut chunk = [0u8; 512];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => return Break(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Continue(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Break(()),
            }
        }
    }
}

fn head_complete(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n")
}

/// Routes on the request line only; headers are not needed to answer. The flag says the
/// request was HEAD.
fn route(head: &[u8]) -> (Route, bool) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (Route::BadRequest, false);
    };
    if !version.starts_with(b"HTTP/1.") {
        return (Route::BadRequest, false);
    }
    let head_only = method == b"HEAD";
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let route = match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") => Route::Metrics,
        (b"GET" | b"HEAD", b"/") => Route::Index,
        (b"GET" | b"HEAD", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    };
    (route, head_only)
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The value of one series in rendered text, for tests here and of the embedders'
/// families.
#[cfg(test)]
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::dns::DnsError;
    use crate::proxy::policy::Denial;
    use crate::proxy::relay::Side;

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        #[derive(Debug)]
        struct Extra;
        impl MetricFamilies for Extra {
            fn render(&self, out: &mut String) {
                family(out, "extra_total", "counter", "An embedder's family.");
                out.push_str("extra_total 1\n");
            }
        }
        let mut m = Metrics {
            extra: vec![Arc::new(Extra)],
            ..Metrics::default()
        };
        m.session_ended(&Outcome::Ok, 10, 20);
        let text = m.render(3);
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                declared.push(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            let family = declared.last().expect("sample before any HELP");
            assert!(name.starts_with(family.as_str()), "{name} under {family}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        assert_eq!(sample(&text, "aqueduct_sessions_open"), Some(3.0));
        assert_eq!(sample(&text, "extra_total"), Some(1.0));
    }

    #[test]
    fn outcomes_and_bytes_are_counted_under_their_labels() {
        let mut m = Metrics::default();
        m.session_ended(&Outcome::Ok, 100, 1000);
        m.session_ended(
            &Outcome::Failed(Failure::Denied(Box::new(Denial::DefaultPort { port: 25 }))),
            0,
            0,
        );
        m.session_ended(&Outcome::Failed(Failure::Dns(DnsError::NxDomain)), 0, 0);
        m.session_ended(&Outcome::Reset(Side::Client), 5, 7);
        m.auth_failed(AuthFailure::Rejected);
        m.auth_failed(AuthFailure::Rejected);
        m.auth_failed(AuthFailure::NoCredentials);
        m.session_ended(&Outcome::Evicted, 0, 0);
        m.connection_refused(Refusal::ClientHandshakes);
        let text = m.render(0);
        let get = |s: &str| sample(&text, s).unwrap_or_else(|| panic!("{s} missing:\n{text}"));
        assert_eq!(get("aqueduct_sessions_total{outcome=\"ok\"}"), 1.0);
        assert_eq!(get("aqueduct_sessions_total{outcome=\"denied\"}"), 1.0);
        assert_eq!(get("aqueduct_sessions_total{outcome=\"dns_failed\"}"), 1.0);
        assert_eq!(get("aqueduct_sessions_total{outcome=\"reset\"}"), 1.0);
        assert_eq!(
            get("aqueduct_sessions_total{outcome=\"idle_timeout\"}"),
            0.0
        );
        assert_eq!(get("aqueduct_sessions_total{outcome=\"evicted\"}"), 1.0);
        assert_eq!(
            get("aqueduct_connections_refused_total{reason=\"client_handshakes\"}"),
            1.0
        );
        assert_eq!(
            get("aqueduct_connections_refused_total{reason=\"max_sessions\"}"),
            0.0
        );
        assert_eq!(get("aqueduct_bytes_total{direction=\"up\"}"), 105.0);
        assert_eq!(get("aqueduct_bytes_total{direction=\"down\"}"), 1007.0);
        assert_eq!(
            get("aqueduct_auth_failures_total{reason=\"rejected\"}"),
            2.0
        );
        assert_eq!(
            get("aqueduct_auth_failures_total{reason=\"no_credentials\"}"),
            1.0
        );
        // Only the loop's own families without an embedder's.
        assert!(!text.contains("heartbeat"), "{text}");
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf() {
        let mut m = Metrics::default();
        m.handshake_done(Duration::from_micros(500));
        m.handshake_done(Duration::from_millis(30));
        m.handshake_done(Duration::from_millis(50));
        m.handshake_done(Duration::from_secs(60));
        let text = m.render(0);
        let get = |s: &str| sample(&text, s).unwrap_or_else(|| panic!("{s} missing:\n{text}"));
        assert_eq!(get("aqueduct_handshake_seconds_bucket{le=\"0.001\"}"), 1.0);
        assert_eq!(get("aqueduct_handshake_seconds_bucket{le=\"0.025\"}"), 1.0);
        assert_eq!(get("aqueduct_handshake_seconds_bucket{le=\"0.05\"}"), 3.0);
        assert_eq!(get("aqueduct_handshake_seconds_bucket{le=\"10\"}"), 3.0);
        assert_eq!(get("aqueduct_handshake_seconds_bucket{le=\"+Inf\"}"), 4.0);
        assert_eq!(get("aqueduct_handshake_seconds_count"), 4.0);
        let sum = get("aqueduct_handshake_seconds_sum");
        assert!((sum - 60.0805).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn routes_on_the_request_line() {
        let cases: [(&[u8], Route, bool); 10] = [
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Route::Metrics,
                false,
            ),
            (b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", Route::Metrics, false),
            (b"GET /metrics HTTP/1.1\n\n", Route::Metrics, false),
            (b"HEAD /metrics HTTP/1.1\r\n\r\n", Route::Metrics, true),
            (b"GET / HTTP/1.1\r\n\r\n", Route::Index, false),
            (b"HEAD / HTTP/1.1\r\n\r\n", Route::Index, true),
            (b"GET /metricsx HTTP/1.1\r\n\r\n", Route::NotFound, false),
            (
                b"POST /metrics HTTP/1.1\r\n\r\n",
                Route::MethodNotAllowed,
                false,
            ),
            (b"GET /metrics SPDY/3\r\n\r\n", Route::BadRequest, false),
            (b"\r\n\r\n", Route::BadRequest, false),
        ];
        for (head, want, head_only) in cases {
            assert_eq!(
                route(head),
                (want, head_only),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        assert!(!head_complete(b"GET /metrics HTTP/1.1\r\n"));
        assert!(head_complete(b"GET /metrics HTTP/1.1\r\n\r\n"));
    }
}
