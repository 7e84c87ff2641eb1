//! An open tunnel: bytes both ways through `relay::pump`, activity moving the idle
//! deadline.

use super::{Session, Step};
use crate::proxy::context::Ctx;
use crate::proxy::io::IoOutcome;
use crate::proxy::limits::{Grant, Slot};
use crate::proxy::outcome::Outcome;
use crate::proxy::relay::pump;
use std::time::Instant;

/// What one read asks the rate limiter for: at least a pipe's worth, so an unlimited
/// node reads exactly as before.
const MAX_GRANT: usize = 1 << 20;

/// How much a direction that could read may read now: its grant, or 0 with `throttled`
/// moved to when a grant is due.
pub(super) fn read_grant(
    ctx: &mut Ctx<'_>,
    slot: Option<Slot>,
    throttled: &mut Option<Instant>,
) -> usize {
    let Some(slot) = slot else {
        return MAX_GRANT;
    };
    match ctx.controls.grant(slot, MAX_GRANT, ctx.now) {
        Grant::Read(n) => n,
        Grant::Wait(at) => {
            *throttled = Some(throttled.map_or(at, |t| t.min(at)));
            0
        }
    }
}

/// Counts bytes a direction read.
pub(super) fn charge(ctx: &mut Ctx<'_>, slot: Option<Slot>, read: u64) {
    if let Some(slot) = slot {
        ctx.controls.charge(slot, read as usize);
    }
}

impl Session {
    pub(super) fn step_relay(&mut self, ctx: &mut Ctx<'_>) -> Step {
        if self.forward.is_some() {
            return self.step_forward(ctx);
        }
        let Some(upstream) = self.upstream.as_mut() else {
            return Step::Close;
        };
        let cap = ctx.settings.limits.buffer_bytes;
        // Asked afresh below: a direction still without a grant sets it again.
        self.throttled = None;
        let mut progressed = false;
        for client_to_upstream in [true, false] {
            let (src, dst, buf, flow, last) = if client_to_upstream {
                (
                    &mut self.client,
                    &mut *upstream,
                    &mut self.up,
                    &mut self.up_flow,
                    self.down_flow.shut,
                )
            } else {
                (
                    &mut *upstream,
                    &mut self.client,
                    &mut self.down,
                    &mut self.down_flow,
                    self.up_flow.shut,
                )
            };
            let max_read = if src.readable && !flow.eof {
                read_grant(ctx, self.limit, &mut self.throttled)
            } else {
                MAX_GRANT
            };
            let read_before = flow.read;
            let result = pump(src, dst, buf, flow, cap, ctx.pool, last, max_read);
            charge(ctx, self.limit, flow.read - read_before);
            match result {
                Ok(changed) => progressed |= changed,
                Err((side, e)) => {
                    log::debug!("session {}: relay: {e}", self.client_addr);
                    self.outcome = Outcome::Reset(side.side(client_to_upstream));
                    return Step::Close;
                }
            }
        }
        // Over TLS the last records (and close_notify) may still wait for the socket; the
        // idle deadline bounds how long a peer that never reads can keep them.
        let tls_pending = self.client.tls_pending() || upstream.tls_pending();
        if self.up_flow.shut && self.down_flow.shut && !tls_pending {
            return Step::Close;
        }
        self.relay_step(progressed, ctx.now)
    }

    /// A relay step that moved bytes is activity: it pushes the idle deadline back.
    pub(super) fn relay_step(&mut self, progressed: bool, now: Instant) -> Step {
        if progressed {
            self.last_active = now;
            Step::Progress
        } else {
            Step::Idle
        }
    }

    pub(super) fn flush_client(&mut self) -> Step {
        if (self.down.is_empty() && !self.client.tls_pending()) || !self.client.writable {
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
}
