//! How a session ends: the failure told to the client, the closing drain, deadlines,
//! and the one access-log record.

use super::{Proto, Session, Stage, Step, Verdict};
use super::{CLOSING_DRAIN, CLOSING_LINGER, DRAIN_SINK};
use crate::proxy::context::Ctx;
use crate::proxy::dns::DnsError;
use crate::proxy::http::{self, Status};
use crate::proxy::io::{ConnectError, IoOutcome};
use crate::proxy::outcome::{Failure, Outcome, OutcomeKind};
use crate::proxy::relay::Side;
use crate::proxy::sockopt::abort_on_close;
use crate::proxy::socks5::{self, Reply};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

impl Session {
    /// Tells the client why its tunnel failed, then closes.
    pub(super) fn fail(&mut self, proto: Proto, failure: Failure, now: Instant) -> Step {
        if let Some(upstream) = self.upstream.take() {
            drop(upstream); // closing the socket also removes it from the poll
        }
        let step = match proto {
            Proto::Socks => self.reply_socks(failure.socks_reply(), now),
            Proto::HttpConnect | Proto::HttpForward => {
                let why = Explained(&failure);
                self.down
                    .push(&http::error_response(failure.http_status(), &why));
                self.enter_closing(now);
                Step::Progress
            }
        };
        self.outcome = Outcome::Failed(failure);
        step
    }

    pub(super) fn reply_socks(&mut self, reply: Reply, now: Instant) -> Step {
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        self.down
            .push(socks5::encode_reply(reply, unspecified).as_ref());
        self.enter_closing(now);
        Step::Progress
    }

    pub(super) fn reply_http(&mut self, status: Status, now: Instant) -> Step {
        self.down.push(http::response(status));
        self.enter_closing(now);
        Step::Progress
    }

    pub(super) fn enter_closing(&mut self, now: Instant) {
        self.stage = Stage::Closing;
        self.stage_deadline = now + CLOSING_LINGER;
    }

    /// Flushes the final reply, sends FIN, then reads and drops what the client still
    /// sends (up to CLOSING_DRAIN) until it hangs up: closing with unread input would send
    /// a reset that can destroy the reply before the client reads it.
    pub(super) fn step_closing(&mut self) -> Step {
        if !self.down.is_empty() || self.client.tls_pending() {
            return self.flush_client();
        }
        if !self.down_flow.shut {
            self.down_flow.shut = true;
            if self.client.tls.is_some() {
                // close_notify first; the FIN only once it is out, or the close sends it.
                self.client.tls_close();
                if self.client.tls_pending() {
                    return Step::Progress;
                }
            }
            let _ = self.client.sock.shutdown(Shutdown::Write);
            return Step::Progress;
        }
        if !self.client.readable || self.drained >= CLOSING_DRAIN {
            return Step::Idle;
        }
        let mut sink = [0u8; DRAIN_SINK];
        match crate::proxy::io::read(&mut self.client.sock, &mut sink) {
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

    /// The session's deadline passed.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Verdict {
        // A rate grant is due: not a timeout, the tunnel reads again.
        if matches!(self.stage, Stage::Relay) && self.throttled.is_some_and(|t| t <= ctx.now) {
            self.throttled = None;
            return self.run(ctx);
        }
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
        if let Some(slot) = self.limit.take() {
            ctx.controls.leave(slot);
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

/// A failure and, where the person behind the client can act on it, what to do.
struct Explained<'a>(&'a Failure);

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aqueduct: {}", self.0)?;
        match self.0.advice() {
            Some(advice) => write!(f, "\n{advice}"),
            None => Ok(()),
        }
    }
}
