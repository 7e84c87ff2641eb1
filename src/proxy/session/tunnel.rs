//! An open tunnel: bytes both ways through `relay::pump`, activity moving the idle
//! deadline.

use super::{Session, Step};
use crate::proxy::context::Ctx;
use crate::proxy::io::IoOutcome;
use crate::proxy::outcome::Outcome;
use crate::proxy::relay::pump;
use std::time::Instant;

impl Session {
    pub(super) fn step_relay(&mut self, ctx: &mut Ctx<'_>) -> Step {
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
    pub(super) fn relay_step(&mut self, progressed: bool, now: Instant) -> Step {
        if progressed {
            self.last_active = now;
            Step::Progress
        } else {
            Step::Idle
        }
    }

    pub(super) fn flush_client(&mut self) -> Step {
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
}
