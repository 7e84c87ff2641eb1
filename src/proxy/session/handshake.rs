//! The handshake: the first byte picks the protocol, then the SOCKS5 greeting, login
//! and request, or the HTTP request head; a pending credential check answers here.

use super::{AfterAuth, Proto, Session, Stage, Step, Verdict};
use crate::proxy::auth::{Account, AuthAnswer, Rejected};
use crate::proxy::codec::Parsed;
use crate::proxy::codec::{detect, Protocol};
use crate::proxy::context::Ctx;
use crate::proxy::http::{self, RequestKind, Status};
use crate::proxy::io::IoOutcome;
use crate::proxy::metrics::AuthFailure;
use crate::proxy::outcome::Outcome;
use crate::proxy::socks5::{self, Command, Method, Reply};

impl Session {
    pub(super) fn step_handshake(&mut self, ctx: &mut Ctx<'_>) -> Step {
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
    pub(super) fn parse_handshake(&mut self, ctx: &mut Ctx<'_>) -> Step {
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

    pub(super) fn parse_socks_greeting(&mut self, ctx: &mut Ctx<'_>) -> Step {
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

    pub(super) fn parse_socks_auth(&mut self, ctx: &mut Ctx<'_>) -> Step {
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

    pub(super) fn parse_socks_request(&mut self, ctx: &mut Ctx<'_>) -> Step {
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

    pub(super) fn parse_http_head(&mut self, ctx: &mut Ctx<'_>) -> Step {
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

    pub(super) fn auth_answered(
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
}
