//! The relay of a forwarded (absolute-form) HTTP request: one request per client
//! connection. The request's head was rewritten when the origin answered the connect;
//! here its body goes to the origin up to where its framing says it ends and not a byte
//! further, and the origin's response goes back with `Connection: close`, up to where its
//! own framing ends, after which the session closes. Whatever the client sends after its
//! request (a pipelined or kept-alive second request, with its own credentials and perhaps
//! for another origin) is never relayed: the response tells the client to open a new
//! connection, where that request is parsed, authorised and checked on its own.

use super::tunnel::{charge, read_grant};
use super::{Session, Step};
use crate::proxy::buffer::Buffer;
use crate::proxy::codec::Parsed;
use crate::proxy::context::Ctx;
use crate::proxy::http::Status;
use crate::proxy::http_body::{BadChunk, Body};
use crate::proxy::http_response::{parse_response_head, write_response_head};
use crate::proxy::io::IoOutcome;
use crate::proxy::limits::Slot;
use crate::proxy::outcome::{Failure, Outcome};
use crate::proxy::pool::Pool;
use crate::proxy::relay::{flush, pass_eof, pump, Broken, Endpoint, Flow};
use std::io;
use std::time::Instant;

/// Where the origin's response is.
enum Response {
    /// Before the final head: the origin's bytes not yet parsed.
    Head(Buffer),
    /// A body framed by Content-Length or chunked coding: what is left of it.
    Framed(Body),
    /// A body that ends when the origin closes: the ordinary relay moves it.
    UntilClose,
}

/// What a forwarded request's relay keeps beside the session's two buffers.
pub(super) struct Forward {
    /// What is left of the request body.
    request: Body,
    response: Response,
    /// A HEAD request: its response has no body whatever its head says.
    head_request: bool,
    /// Whether the client has been sent anything of the response (an interim head).
    answered: bool,
}

impl Forward {
    pub(super) fn new(request: Body, head_request: bool) -> Forward {
        Forward {
            request,
            response: Response::Head(Buffer::default()),
            head_request,
            answered: false,
        }
    }

    pub(super) fn release(&mut self, pool: &mut Pool) {
        if let Response::Head(staged) = &mut self.response {
            staged.release(pool);
        }
    }
}

/// How one direction of a forwarded request failed.
enum Trouble {
    /// A socket broke; `Broken` says which end of this direction.
    Io(Broken, io::Error),
    /// The bytes break HTTP's framing.
    Framing(BadChunk),
    /// The origin's answer is not a usable HTTP/1 response.
    Unusable(&'static str),
}

impl Session {
    /// One step of a forwarded request's relay.
    pub(super) fn step_forward(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let (Some(upstream), Some(forward)) = (self.upstream.as_mut(), self.forward.as_mut())
        else {
            return Step::Close;
        };
        let cap = ctx.settings.limits.buffer_bytes;
        self.throttled = None;
        let limit = (self.limit, &mut self.throttled);
        let request = relay_framed(
            &mut self.client,
            upstream,
            &mut self.up,
            &mut self.up_flow,
            &mut forward.request,
            Ends::WithSource,
            ctx,
            limit,
        );
        let changed = match request {
            Ok(changed) => changed,
            Err(trouble) => return self.forward_failed(trouble, true, ctx.now),
        };
        let response = match &mut forward.response {
            Response::Head(_) => stage_response(
                upstream,
                forward,
                &mut self.client,
                &mut self.down,
                &mut self.down_flow,
                ctx,
                self.limit,
            ),
            Response::Framed(body) => relay_framed(
                upstream,
                &mut self.client,
                &mut self.down,
                &mut self.down_flow,
                body,
                Ends::WithBody,
                ctx,
                (self.limit, &mut self.throttled),
            ),
            Response::UntilClose => {
                let max_read = if upstream.readable && !self.down_flow.eof {
                    read_grant(ctx, self.limit, &mut self.throttled)
                } else {
                    0
                };
                let before = self.down_flow.read;
                let result = pump(
                    upstream,
                    &mut self.client,
                    &mut self.down,
                    &mut self.down_flow,
                    cap,
                    ctx.pool,
                    false,
                    max_read,
                );
                charge(ctx, self.limit, self.down_flow.read - before);
                result.map_err(|(side, e)| Trouble::Io(side, e))
            }
        };
        let changed = match response {
            Ok(more) => changed | more,
            Err(trouble) => return self.forward_failed(trouble, false, ctx.now),
        };
        if self.down_flow.shut {
            // The response is complete and the client has its FIN: the origin is done
            // with, and the closing stage waits for the client to hang up.
            self.upstream = None;
            self.enter_closing(ctx.now);
            return Step::Progress;
        }
        self.relay_step(changed, ctx.now)
    }

    fn forward_failed(&mut self, trouble: Trouble, client_to_upstream: bool, now: Instant) -> Step {
        match trouble {
            Trouble::Io(side, e) => {
                log::debug!("session {}: relay: {e}", self.client_addr);
                self.outcome = Outcome::Reset(side.side(client_to_upstream));
                Step::Close
            }
            Trouble::Framing(e) if client_to_upstream => {
                log::debug!("session {}: request body: {e}", self.client_addr);
                self.outcome = Outcome::BadHandshake("malformed chunked body");
                Step::Close
            }
            Trouble::Framing(e) => {
                log::debug!("session {}: response body: {e}", self.client_addr);
                self.outcome = Outcome::Failed(Failure::BadResponse("malformed chunked body"));
                Step::Close
            }
            Trouble::Unusable(why) => {
                // A 502 if the client has seen nothing of the response yet.
                let answered = self.forward.as_ref().is_some_and(|f| f.answered);
                self.upstream = None;
                self.outcome = Outcome::Failed(Failure::BadResponse(why));
                if answered {
                    return Step::Close;
                }
                self.reply_http(Status::BadGateway, now)
            }
        }
    }
}

/// When a direction carrying a body counts as ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// When its source closes: a request, whose origin has yet to answer once the body is
    /// through (a FIN then could make it give up).
    WithSource,
    /// As soon as the body is through: a response, after which the connection is over.
    WithBody,
}

/// One direction carrying one HTTP message body: writes what is buffered, reads while the
/// body lasts and the buffer has room, and keeps only the bytes that belong to the body.
/// When the body ends the direction counts as ended: its FIN goes on once all is written
/// (for the response: the client learns the connection is over; for the request, nothing
/// is sent, the origin still has to answer).
#[allow(clippy::too_many_arguments)] // both ends, the direction's state, and its limit
fn relay_framed(
    src: &mut Endpoint,
    dst: &mut Endpoint,
    buf: &mut Buffer,
    flow: &mut Flow,
    body: &mut Body,
    ends: Ends,
    ctx: &mut Ctx<'_>,
    (slot, throttled): (Option<Slot>, &mut Option<Instant>),
) -> Result<bool, Trouble> {
    let cap = ctx.settings.limits.buffer_bytes;
    let mut changed = flush(dst, buf, flow).map_err(|(side, e)| Trouble::Io(side, e))?;
    if !body.is_done() && !flow.eof && src.readable && buf.has_room(cap) {
        let grant = read_grant(ctx, slot, throttled);
        if grant == 0 {
            return Ok(changed | pass_eof(dst, buf, flow, false));
        }
        changed = true;
        buf.attach(ctx.pool);
        let before = buf.len();
        let limit = cap.min(before.saturating_add(grant));
        let outcome = src.read_into(buf, limit);
        if let IoOutcome::Done(n) = outcome {
            charge(ctx, slot, n as u64);
        }
        match outcome {
            IoOutcome::Done(_) => {
                let new = buf.data().get(before..).unwrap_or_default();
                let taken = body.advance(new).map_err(Trouble::Framing)?;
                buf.truncate(before + taken);
                flow.eof |= ends == Ends::WithBody && body.is_done();
            }
            IoOutcome::Eof => flow.eof = true,
            IoOutcome::WouldBlock => src.readable = false,
            IoOutcome::Error(e) => return Err(Trouble::Io(Broken::Source, e)),
        }
    }
    changed |= pass_eof(dst, buf, flow, false);
    Ok(changed)
}

/// Before the final response head: one read from the origin, then every complete head in
/// it moved to `down` (the final one rewritten); after the final head, as much of what was
/// read as belongs to the body follows it.
fn stage_response(
    upstream: &mut Endpoint,
    forward: &mut Forward,
    client: &mut Endpoint,
    down: &mut Buffer,
    down_flow: &mut Flow,
    ctx: &mut Ctx<'_>,
    slot: Option<Slot>,
) -> Result<bool, Trouble> {
    // Interim heads already parsed go out first; nothing more is staged meanwhile, so the
    // two buffers together stay within about one buffer's worth.
    let changed =
        flush(client, down, down_flow).map_err(|(_, e)| Trouble::Io(Broken::Destination, e))?;
    let cap = ctx.settings.limits.buffer_bytes;
    let Response::Head(staged) = &mut forward.response else {
        return Ok(changed);
    };
    if !down.is_empty() || !upstream.readable {
        return Ok(changed);
    }
    staged.attach(ctx.pool);
    // Not held to a grant (a head is small, and it must be whole to parse), but counted.
    let ended = match upstream.read_into(staged, cap) {
        IoOutcome::Done(n) => {
            charge(ctx, slot, n as u64);
            false
        }
        IoOutcome::Eof => true,
        IoOutcome::WouldBlock => {
            upstream.readable = false;
            false
        }
        IoOutcome::Error(e) => return Err(Trouble::Io(Broken::Source, e)),
    };
    loop {
        let head = match parse_response_head(staged.data(), cap) {
            Ok(Parsed::Done { value, .. }) => value,
            Ok(Parsed::NeedMore) if !ended => return Ok(true),
            Ok(Parsed::NeedMore) => {
                return Err(Trouble::Unusable("origin closed before its response head"))
            }
            Err(e) => {
                log::debug!("response from origin: {e}");
                return Err(Trouble::Unusable("origin sent no usable HTTP response"));
            }
        };
        let mut out = Vec::with_capacity(head.len + 24);
        write_response_head(staged.data(), &head, &mut out);
        down.attach(ctx.pool);
        down.push(&out);
        staged.consume(head.len);
        forward.answered = true;
        if head.is_interim() {
            continue;
        }
        // The final head: what follows it is the body.
        let rest = staged.data();
        let next = match head.framing(forward.head_request) {
            Some(framing) => {
                let mut body = Body::new(framing);
                let taken = body.advance(rest).map_err(Trouble::Framing)?;
                down.push(rest.get(..taken).unwrap_or_default());
                down_flow.eof = ended || body.is_done();
                Response::Framed(body)
            }
            None => {
                down.push(rest);
                down_flow.eof = ended;
                Response::UntilClose
            }
        };
        staged.release(ctx.pool);
        forward.response = next;
        return Ok(true);
    }
}
