//! The event loop: one mio `Poll` in one thread, owning the listeners, every session, the
//! DNS resolver, the authenticator and the timers. Reserved low tokens are the server's
//! own; every other token belongs to a session through the slab (see `session::token_owner`).

use super::auth::{self, Account, Authenticator, Rejected, Ticket};
use super::context::{Ctx, SessionSettings};
use super::dns::{Addrs, DnsError, Resolver, ResolverConfig};
use super::io::is_resource_exhaustion;
use super::limits::controls::Controls;
use super::metrics::{self, MetricFamilies, Metrics, Refusal};
use super::outcome::{Failure, LimitRefusal, Outcome};
use super::policy::{self, Policy};
use super::pool::{Pool, TrimSchedule};
use super::reload::{self, ReadSettings, Reloader};
use super::session::{token_owner, Session, Verdict};
use super::settings::{AuthMode, Settings, MAX_LISTENERS};
use super::signals::SignalPipe;
use super::slab::Slab;
use super::sockopt;
use super::timers::Timers;
use super::upstream::Router;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SIGNAL: Token = Token(0);
/// Woken by other threads (the chain thread's auth answers, issue 5).
pub const WAKER: Token = Token(1);
pub const DNS_V4: Token = Token(2);
pub const DNS_V6: Token = Token(3);
/// The `[metrics] listen` socket; its connections take the tokens after the listeners'.
pub const METRICS: Token = Token(4);
const FIRST_LISTENER: usize = 16;
const FIRST_SCRAPE: usize = FIRST_LISTENER + MAX_LISTENERS;
const _: () = assert!(FIRST_SCRAPE + metrics::MAX_SCRAPERS <= super::session::FIRST_SESSION_TOKEN);

/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

pub struct Server {
    poll: Poll,
    listeners: Vec<Option<TcpListener>>,
    local_addrs: Vec<SocketAddr>,
    signals: SignalPipe,
    waker: Arc<Waker>,
    core: Core,
}

/// Everything but the poll and listeners, so handlers can borrow it while the registry
/// is borrowed from the poll.
struct Core {
    controls: Controls,
    sessions: Slab<Session>,
    timers: Timers,
    /// Sessions that stopped with work left to give others a turn.
    yielded: Vec<(usize, u64)>,
    resolver: Resolver,
    auth: Box<dyn Authenticator>,
    policy: Policy,
    router: Option<Box<dyn Router>>,
    settings: SessionSettings,
    pool: Pool,
    /// Sessions in accept order, for evicting the oldest one still in its handshake when
    /// the node is full. Entries of sessions that have since closed or been admitted are
    /// dropped lazily.
    handshakes: VecDeque<(usize, u64)>,
    /// Sessions in their handshake per client address (`client_key`).
    handshakes_by_client: HashMap<IpAddr, usize>,
    /// When to hand freed memory back to the system.
    trim: TrimSchedule,
    accept_paused_until: Option<Instant>,
    exhaustion_logged: bool,
    limit_logged: bool,
    shutdown_deadline: Option<Instant>,
    dns_done: Vec<(usize, Result<Addrs, DnsError>)>,
    auth_done: Vec<(Ticket, Result<Account, Rejected>)>,
    metrics: Metrics,
    /// The `/metrics` responder, when `[metrics] listen` is set.
    scrapes: Option<metrics::Endpoint>,
    revoked: Vec<Account>,
    /// Listeners below this index are plain, the rest TLS (with `current.tls`).
    plain_listeners: usize,
    /// What runs now, for a reload to compare against.
    current: Settings,
    /// The policy's own addresses and listeners, to compile a reloaded policy with.
    own_addrs: Vec<IpAddr>,
    own_listeners: Vec<SocketAddr>,
    /// Set by the embedder: where SIGHUP's new settings come from.
    reloader: Option<Reloader>,
}

fn context(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

mod admission;
mod bind;
use admission::client_key;

impl Server {
    /// The addresses actually bound (port 0 resolved), in config order: `listen`, then
    /// `tls_listen`.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// For other threads to wake the loop after queueing work for it.
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.core
            .scrapes
            .as_ref()
            .map(metrics::Endpoint::local_addr)
    }

    /// Set while the monthly allowance is used up, for the heartbeat thread: a node that
    /// does not serve does not claim to be online.
    pub fn allowance_used_up(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.core.controls.used_up_flag()
    }

    /// Families the embedder publishes on `/metrics` from now on, after the loop's own.
    pub fn add_metrics(&mut self, families: Arc<dyn MetricFamilies>) {
        self.core.metrics.extra.push(families);
    }

    /// Replaces the authenticator (the chain-backed one, issue 5).
    pub fn set_authenticator(&mut self, auth: Box<dyn Authenticator>) {
        self.core.auth = auth;
    }

    /// On SIGHUP, `read` (on a thread of its own) reads the config again; what can change
    /// while sessions run is applied, the rest logged as waiting for a restart. Without
    /// it, SIGHUP is logged and ignored.
    pub fn set_reloader(&mut self, read: ReadSettings) -> io::Result<()> {
        self.core.reloader = Some(Reloader::spawn(read, Arc::clone(&self.waker))?);
        Ok(())
    }

    /// Sends every session through upstream nodes chosen by `router` (`aqueduct local`).
    pub fn set_router(&mut self, router: Box<dyn Router>) {
        self.core.router = Some(router);
    }

    /// Serves until SIGTERM/SIGINT and the grace period that follows; Ok means a clean exit.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            if let Some(deadline) = self.core.shutdown_deadline {
                if self.core.sessions.is_empty() {
                    log::info!("all sessions finished; exiting");
                    self.core.controls.flush(now, true);
                    return Ok(());
                }
                if now >= deadline {
                    let left = self.core.sessions.len();
                    self.core
                        .close_all(self.poll.registry(), now, Outcome::Shutdown);
                    log::info!("grace period over; closed {left} sessions; exiting");
                    self.core.controls.flush(now, true);
                    return Ok(());
                }
            }
            let timeout = self.core.poll_timeout(now);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    SIGNAL => {
                        let drained = self.signals.drain();
                        if drained.reload {
                            match self.core.reloader.as_mut() {
                                Some(r) => r.request(),
                                None => log::warn!("SIGHUP: nothing to reload from; ignored"),
                            }
                        }
                        if let Some(signal) = drained.stop {
                            self.begin_shutdown(signal, now);
                        }
                    }
                    WAKER => {} // completions are collected below, every turn
                    token @ (DNS_V4 | DNS_V6) => self.core.resolver.handle_readable(token, now),
                    METRICS => self.core.accept_scrapes(self.poll.registry(), now),
                    token if self.core.scrapes.as_ref().is_some_and(|e| e.owns(token)) => {
                        self.core.on_scrape(self.poll.registry(), token)
                    }
                    Token(t) if (FIRST_LISTENER..FIRST_LISTENER + MAX_LISTENERS).contains(&t) => {
                        self.accept(t - FIRST_LISTENER, now)
                    }
                    token => {
                        if let Some((key, upstream)) = token_owner(token) {
                            self.core
                                .on_event(self.poll.registry(), key, upstream, event, now);
                        }
                    }
                }
            }
            self.core.after_events(self.poll.registry(), now);
            if self.core.accept_paused_until.is_some_and(|t| now >= t) {
                self.core.accept_paused_until = None;
                if self.core.shutdown_deadline.is_none() {
                    self.core.auth.set_serving(true);
                }
                // Edge-triggered: connections that queued meanwhile raise no new event.
                for i in 0..self.listeners.len() {
                    self.accept(i, now);
                }
            }
        }
    }

    fn begin_shutdown(&mut self, signal: i32, now: Instant) {
        let name = match signal {
            libc::SIGINT => "Ctrl-C (SIGINT)",
            libc::SIGTERM => "SIGTERM",
            _ => "stop signal",
        };
        let n = self.core.sessions.len();
        let open = format!("{n} open session{}", if n == 1 { "" } else { "s" });
        if self.core.shutdown_deadline.is_some() {
            log::info!("{name} again: closing {open} now and exiting");
            self.core.shutdown_deadline = Some(now);
            return;
        }
        for listener in self.listeners.iter_mut() {
            if let Some(mut l) = listener.take() {
                let _ = self.poll.registry().deregister(&mut l);
            }
        }
        self.core.auth.set_serving(false);
        let grace = self.core.settings.timeouts.shutdown_grace;
        log::info!(
            "{name}: no longer accepting; waiting up to {}s for {open} to finish ({name} again closes them now)",
            grace.as_secs()
        );
        self.core.shutdown_deadline = Some(now + grace);
    }
}

impl Core {
    /// Applies settings read again on SIGHUP, or keeps the old ones if they are unusable.
    fn reloaded(&mut self, answer: Result<Settings, String>, now: Instant) {
        let plan = match answer.and_then(|new| reload::plan(&self.current, new)) {
            Ok(plan) => plan,
            Err(e) => {
                log::error!("reload refused, the running config stays: {e}");
                return;
            }
        };
        let new = plan.settings;
        self.policy = Policy::new(new.policy.clone(), self.own_addrs.clone())
            .with_listeners(&self.own_listeners);
        if new.auth.mode == AuthMode::Static {
            self.auth = auth::from_settings(&new.auth);
        }
        self.settings = SessionSettings {
            timeouts: new.timeouts,
            limits: new.limits,
        };
        self.controls.apply(&new.operator, now);
        self.controls.set_grace(new.timeouts.shutdown_grace);
        for name in &plan.at_restart {
            log::warn!("reload: {name} changed; that takes effect at the next start");
        }
        log::info!(
            "reloaded: policy, users, timeouts and limits (with [limits]' rates, allowance and quotas) in force; {} users' sessions end",
            plan.gone.len()
        );
        self.revoked.extend(plan.gone);
        self.current = new;
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.yielded.is_empty() {
            return Some(Duration::ZERO);
        }
        [
            self.timers.next_deadline(),
            self.resolver.next_deadline(),
            self.accept_paused_until,
            self.shutdown_deadline,
            self.trim.due(),
            self.controls.next_deadline(),
            self.scrapes
                .as_ref()
                .and_then(metrics::Endpoint::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.saturating_duration_since(now))
    }

    fn accept_scrapes(&mut self, registry: &Registry, now: Instant) {
        if let Some(endpoint) = self.scrapes.as_mut() {
            endpoint.accept(registry, now);
        }
    }

    fn on_scrape(&mut self, registry: &Registry, token: Token) {
        let (metrics, open) = (&self.metrics, self.sessions.len());
        let controls = &self.controls;
        if let Some(endpoint) = self.scrapes.as_mut() {
            endpoint.on_event(registry, token, || {
                let mut text = metrics.render(open);
                controls.render(&mut text);
                text
            });
        }
    }

    fn on_event(
        &mut self,
        registry: &Registry,
        key: usize,
        upstream: bool,
        event: &mio::event::Event,
        now: Instant,
    ) {
        // Events for a key no longer in the slab belong to a closed session.
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        session.on_event(upstream, event);
        self.drive(registry, key, now, |s, ctx| s.run(ctx));
    }

    /// Runs one handler on one session and acts on its verdict.
    fn drive(
        &mut self,
        registry: &Registry,
        key: usize,
        now: Instant,
        handler: impl FnOnce(&mut Session, &mut Ctx<'_>) -> Verdict,
    ) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let mut ctx = Ctx {
            registry,
            resolver: &mut self.resolver,
            auth: &mut *self.auth,
            policy: &self.policy,
            router: match self.router.as_mut() {
                Some(r) => Some(&mut **r),
                None => None,
            },
            settings: &self.settings,
            metrics: &mut self.metrics,
            pool: &mut self.pool,
            controls: &mut self.controls,
            now,
            key,
            ticket: Ticket {
                key,
                generation: session.generation,
            },
        };
        let verdict = handler(session, &mut ctx);
        if session.handshake_counted && (verdict == Verdict::Close || !session.in_handshake()) {
            session.handshake_counted = false;
            let client = client_key(session.client_addr().ip());
            if let Some(n) = self.handshakes_by_client.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    self.handshakes_by_client.remove(&client);
                }
            }
            if self.handshakes_by_client.is_empty() && self.handshakes_by_client.capacity() > 64 {
                self.handshakes_by_client = HashMap::new();
            }
        }
        match verdict {
            Verdict::Close => {
                if let Some(session) = self.sessions.remove(key) {
                    session.finish(&mut ctx);
                    let (buffers, pipes) = ctx.pool.in_use();
                    log::debug!("relay pool: {buffers} buffers, {pipes} pipes in use");
                }
            }
            Verdict::Yield => {
                self.yielded.push((key, session.generation));
                arm(session, &mut self.timers, key, &self.settings);
            }
            Verdict::Continue => arm(session, &mut self.timers, key, &self.settings),
        }
    }

    /// Everything that is not a socket event: DNS and auth answers, deadlines, sessions
    /// that yielded.
    fn after_events(&mut self, registry: &Registry, now: Instant) {
        self.resolver.handle_timeouts(now);
        if self.controls.next_deadline().is_some_and(|t| now >= t) {
            self.controls.housekeeping(now);
            let left = self.sessions.len();
            if self.controls.take_cutoff(now) && left > 0 {
                log::warn!(
                    "monthly allowance used up {}s ago: closing the {left} sessions still open",
                    self.settings.timeouts.shutdown_grace.as_secs()
                );
                self.close_all(
                    registry,
                    now,
                    Outcome::Failed(Failure::Limited(LimitRefusal::MonthlyAllowance)),
                );
            }
        }
        if let Some(endpoint) = self.scrapes.as_mut() {
            endpoint.sweep(registry, now);
        }
        let mut done = std::mem::take(&mut self.dns_done);
        self.resolver.drain_completed(&mut done);
        for (key, result) in done.drain(..) {
            self.drive(registry, key, now, |s, ctx| s.on_resolved(result, ctx));
        }
        self.dns_done = done;

        let mut done = std::mem::take(&mut self.auth_done);
        self.auth.drain_completed(&mut done);
        for (ticket, result) in done.drain(..) {
            // An answer for a session that has gone (its slot maybe reused) is dropped.
            if self
                .sessions
                .get_current(ticket.key, ticket.generation)
                .is_some()
            {
                self.drive(registry, ticket.key, now, |s, ctx| s.on_auth(result, ctx));
            }
        }
        self.auth_done = done;

        if let Some(answer) = self.reloader.as_mut().and_then(Reloader::answer) {
            self.reloaded(answer, now);
        }
        let mut revoked = std::mem::take(&mut self.revoked);
        self.auth.drain_revoked(&mut revoked);
        if !revoked.is_empty() {
            // Rare (an access ending), so a scan of every session is fine.
            for key in self.sessions.keys() {
                let ended = self
                    .sessions
                    .get_mut(key)
                    .and_then(|s| s.account())
                    .is_some_and(|a| revoked.contains(a));
                if ended {
                    self.drive(registry, key, now, |s, _| {
                        s.set_outcome(Outcome::AccessEnded);
                        Verdict::Close
                    });
                }
            }
            revoked.clear();
        }
        self.revoked = revoked;

        while let Some((when, key, generation)) = self.timers.pop_due(now) {
            let Some(session) = self.sessions.get_current(key, generation) else {
                continue; // that session is gone
            };
            if session.armed == Some(when) {
                session.armed = None;
            }
            if session.deadline(self.settings.timeouts.idle) <= now {
                self.drive(registry, key, now, |s, ctx| s.on_timeout(ctx));
            } else {
                // Activity moved the deadline on since this entry was pushed.
                arm(session, &mut self.timers, key, &self.settings);
            }
        }

        // Entries of closed sessions wait in the heap until due; when they outnumber the
        // live ones, drop them all at once (each live session keeps its armed entry).
        if self.timers.len() > 1024 + 4 * self.sessions.len() {
            let sessions = &mut self.sessions;
            self.timers.retain(|when, key, generation| {
                sessions
                    .get_current(key, generation)
                    .is_some_and(|s| s.armed == Some(when))
            });
        }

        for (key, generation) in std::mem::take(&mut self.yielded) {
            if self.sessions.get_current(key, generation).is_some() {
                self.drive(registry, key, now, |s, ctx| s.run(ctx));
            }
        }
        self.trim_after_bursts(now);
    }

    /// Hands freed memory back to the system once a burst of sessions or relay buffers
    /// has passed: without it, RSS stays at the burst's peak.
    fn trim_after_bursts(&mut self, now: Instant) {
        let open = self.sessions.len();
        if self.trim.after_turn(now, open, self.pool.take_freed()) {
            crate::heap::trim();
            log::debug!("allocator trimmed ({open} sessions open)");
        }
    }

    fn close_all(&mut self, registry: &Registry, now: Instant, outcome: Outcome) {
        for key in self.sessions.keys() {
            let outcome = outcome.clone();
            self.drive(registry, key, now, move |s, _| {
                s.set_outcome(outcome);
                Verdict::Close
            });
        }
    }
}

/// Makes sure the timer heap holds an entry no later than the session's deadline.
fn arm(session: &mut Session, timers: &mut Timers, key: usize, settings: &SessionSettings) {
    let deadline = session.deadline(settings.timeouts.idle);
    if session.armed.is_none_or(|armed| deadline < armed) {
        timers.push(deadline, key, session.generation);
        session.armed = Some(deadline);
    }
}
