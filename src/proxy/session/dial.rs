//! Resolving and connecting: the policy judges each address, connects are tried in
//! order, or the tunnel opens through an upstream node (`aqueduct local`).

use super::forward::Forward;
use super::{upstream_token, Dial, Proto, Session, Stage, Step, Verdict};
use crate::proxy::codec::Parsed;
use crate::proxy::context::Ctx;
use crate::proxy::dns::{Addrs, DnsError, Lookup};
use crate::proxy::http::{self, Status};
use crate::proxy::http_body::Body;
use crate::proxy::io::ConnectError;
use crate::proxy::outcome::{Failure, Outcome};
use crate::proxy::relay::Endpoint;
use crate::proxy::socks5::{self, Reply};
use crate::proxy::upstream::{Via, ViaStep};
use mio::net::TcpStream;
use mio::Interest;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

impl Session {
    pub(super) fn dial(&mut self, proto: Proto, ctx: &mut Ctx<'_>) -> Step {
        // Operator limits: one member per account, or per client address without auth.
        let member = ctx.controls.member_key(
            self.account.as_ref().map(|a| a.name()),
            self.client_addr.ip(),
        );
        if let Err(limit) = ctx.controls.admit_key(member) {
            return self.fail(proto, Failure::Limited(limit), ctx.now);
        }
        if self.limit.is_none() {
            self.limit = Some(ctx.controls.join_key(member, ctx.now));
        }
        if ctx.router.is_some() {
            return self.via_next(proto, Via::new(), ctx);
        }
        let Some(target) = self.target.as_ref() else {
            return Step::Close;
        };
        if let Some(addr) = target.ip() {
            return self.start_connecting(proto, Addrs::one(addr.ip()), ctx);
        }
        let name = target.domain().unwrap_or_default();
        if let Err(denial) = ctx.policy.check_name(name) {
            return self.fail(proto, Failure::Denied(Box::new(denial)), ctx.now);
        }
        match ctx.resolver.resolve(name, ctx.key, ctx.now) {
            Lookup::Done(Ok(addrs)) => self.start_connecting(proto, addrs, ctx),
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
            Ok(addrs) => self.start_connecting(proto, addrs, ctx),
            Err(e) => self.fail(proto, Failure::Dns(e), ctx.now),
        };
        if step == Step::Close {
            return Verdict::Close;
        }
        self.run(ctx)
    }

    pub(super) fn start_connecting(
        &mut self,
        proto: Proto,
        addrs: Addrs,
        ctx: &mut Ctx<'_>,
    ) -> Step {
        if addrs.is_empty() {
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
    pub(super) fn connect_next(&mut self, mut dial: Dial, ctx: &mut Ctx<'_>) -> Step {
        if let Some(mut old) = self.upstream.take() {
            let _ = ctx.registry.deregister(&mut old.sock);
        }
        let port = self.target.as_ref().map_or(0, |t| t.port());
        while let Some(&ip) = dial.addrs.as_slice().get(dial.next) {
            dial.next += 1;
            let addr = SocketAddr::new(ip, port);
            // The policy judges the address actually connected to, not the name asked for.
            if let Err(denial) = ctx.policy.check(addr) {
                log::debug!("session {}: {addr} denied: {denial}", self.client_addr);
                if dial.last_error.is_none() {
                    dial.last_error = Some(Failure::Denied(Box::new(denial)));
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

    pub(super) fn step_connecting(&mut self, ctx: &mut Ctx<'_>) -> Step {
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
    pub(super) fn via_next(&mut self, proto: Proto, mut via: Box<Via>, ctx: &mut Ctx<'_>) -> Step {
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

    pub(super) fn step_via(&mut self, ctx: &mut Ctx<'_>) -> Step {
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
    pub(super) fn connected(&mut self, proto: Proto, ctx: &mut Ctx<'_>) -> Step {
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
}
