//! The TLS stage of a `tls_listen` connection: rustls's handshake driven by readiness,
//! with its own deadline; once it is done the session detects SOCKS5 or HTTP inside TLS,
//! with the ordinary handshake deadline starting then.

use super::{Session, Stage, Step};
use crate::proxy::context::Ctx;
use crate::proxy::io::IoOutcome;
use crate::proxy::outcome::Outcome;
use crate::proxy::settings::TlsServer;
use crate::tls::conn::TlsConn;
use std::time::Instant;

impl Session {
    /// Puts TLS on the client socket, right after accept. False (and the session should
    /// be dropped) if rustls cannot start one.
    pub fn start_tls(&mut self, tls: &TlsServer, now: Instant) -> bool {
        match TlsConn::server(&tls.config) {
            Ok(conn) => {
                self.client.tls = Some(Box::new(conn));
                self.stage = Stage::Tls;
                self.stage_deadline = now + tls.handshake;
                true
            }
            Err(e) => {
                log::warn!("session {}: {e}", self.client_addr);
                false
            }
        }
    }

    pub(super) fn step_tls(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let flushed = match self.client.tls_flush() {
            Ok(moved) => moved,
            Err(_) => {
                self.outcome = Outcome::ClientGone;
                return Step::Close;
            }
        };
        if !self.client.tls_handshaking() {
            self.stage = Stage::Detect;
            self.stage_deadline = ctx.now + ctx.settings.timeouts.handshake;
            // What the client sent right after its Finished may be decrypted already.
            self.client.readable = true;
            return Step::Progress;
        }
        let waiting = if flushed { Step::Progress } else { Step::Idle };
        if !self.client.readable {
            return waiting;
        }
        match self.client.tls_receive() {
            IoOutcome::Done(_) => Step::Progress,
            IoOutcome::WouldBlock => waiting,
            IoOutcome::Eof => {
                self.outcome = Outcome::ClientGone;
                Step::Close
            }
            IoOutcome::Error(e) => {
                log::debug!("session {}: TLS handshake: {e}", self.client_addr);
                self.outcome = Outcome::BadHandshake("TLS handshake failed");
                Step::Close
            }
        }
    }
}
