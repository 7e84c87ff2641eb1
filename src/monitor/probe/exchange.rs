//! One probe's state machine: connect, the TLS handshake for a TLS endpoint, SOCKS5
//! login and CONNECT (or an HTTP proxy request), the echo exchange, the download, each
//! step timed and checked.

use super::wire::Pull;
use super::*;
use crate::tls::configs::pin_mismatch;

pub(super) enum Flow {
    /// Nothing more until the next event.
    Wait,
    /// Re-run the step (a stage changed).
    Again,
    Done(Outcome, String),
}

impl Probe {
    pub(super) fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    pub(super) fn result(
        &self,
        outcome: Outcome,
        detail: String,
        got: u64,
        download: Option<Duration>,
    ) -> Measured {
        Measured {
            node: self.target.node,
            path: self.target.path,
            outcome,
            detail,
            connect: self.connect,
            tls: self.tls,
            login: self.login,
            latency: self.latency,
            download_bytes: got,
            download,
            egress: self.egress,
        }
    }

    /// The verdict on a probe whose request came back.
    pub(super) fn judge(
        &self,
        s: &ProbeSettings,
        got: u64,
        download: Option<Duration>,
        note: Option<String>,
    ) -> Measured {
        let m = self.result(Outcome::Ok, String::new(), got, download);
        if let (Some(want), Some(egress)) = (self.target.expect_egress, self.egress) {
            if want.to_canonical() != egress {
                let detail = format!("egress {egress}, but the endpoint is {want}");
                return Measured {
                    outcome: Outcome::WrongEgress,
                    detail,
                    ..m
                };
            }
        }
        if let Some(note) = note {
            return Measured {
                outcome: Outcome::Slow,
                detail: note,
                ..m
            };
        }
        if let Some(l) = self.latency.filter(|l| *l > s.slow_latency) {
            let detail = format!(
                "answer after {} ms (limit {} ms)",
                l.as_millis(),
                s.slow_latency.as_millis()
            );
            return Measured {
                outcome: Outcome::Slow,
                detail,
                ..m
            };
        }
        if let Some(k) = m.kbps().filter(|k| *k < s.slow_throughput_kbps as f64) {
            let detail = format!(
                "download at {k:.0} kbit/s (limit {} kbit/s)",
                s.slow_throughput_kbps
            );
            return Measured {
                outcome: Outcome::Slow,
                detail,
                ..m
            };
        }
        m
    }

    /// The deadline passed with the probe unfinished.
    pub(super) fn expired(&self, s: &ProbeSettings) -> Measured {
        let secs = s.timeout.as_secs_f64();
        match &self.stage {
            Stage::Connecting => self.result(
                Outcome::Timeout,
                format!("connect: no answer in {secs:.0} s"),
                0,
                None,
            ),
            Stage::Tls => self.result(
                Outcome::Timeout,
                format!("TLS handshake: no answer in {secs:.0} s"),
                0,
                None,
            ),
            Stage::Socks { answers, .. } => {
                let what = if answers.len() >= 4 {
                    "CONNECT to the echo endpoint"
                } else {
                    "SOCKS5 login"
                };
                self.result(
                    Outcome::Timeout,
                    format!("{what}: no answer in {secs:.0} s"),
                    0,
                    None,
                )
            }
            Stage::Http {
                what: Exchange::Bytes,
                got,
                ..
            } => self.judge(
                s,
                *got,
                None,
                Some(format!(
                    "download: {got} of {} bytes in {secs:.0} s",
                    s.download_bytes
                )),
            ),
            Stage::Http { .. } => self.result(
                Outcome::Timeout,
                format!("no echo answer through the node in {secs:.0} s"),
                0,
                None,
            ),
        }
    }

    pub(super) fn step(
        &mut self,
        issued: &HashMap<String, Issued>,
        s: &ProbeSettings,
        now: Instant,
    ) -> Option<Measured> {
        for _ in 0..64 {
            match self.advance(issued, s, now) {
                Ok(Flow::Wait) => return None,
                Ok(Flow::Again) => continue,
                Ok(Flow::Done(outcome, mut detail)) => {
                    // A TLS failure inside the tunnel surfaces as a closed connection;
                    // say what rustls saw.
                    if let Some(f) = self.wire.failure() {
                        let _ = write!(detail, " ({f})");
                    }
                    return Some(self.result(outcome, detail, 0, None));
                }
                Err(m) => return Some(*m),
            }
        }
        // A probable bug: a stage that never settles. Close it rather than spin.
        Some(self.result(
            Outcome::RelayFailed,
            "probe stuck (internal)".into(),
            0,
            None,
        ))
    }

    pub(super) fn echo_request(&self, s: &ProbeSettings, what: &Exchange) -> Vec<u8> {
        let authority = s.echo.authority();
        match what {
            Exchange::Echo => format!(
                "GET /echo/{} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: aqueduct-monitor\r\n\r\n",
                self.nonce
            ),
            Exchange::Bytes => format!(
                "GET /bytes/{}/{} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: aqueduct-monitor\r\nConnection: close\r\n\r\n",
                self.nonce, s.download_bytes
            ),
            Exchange::ProxyEcho => {
                let login = &self.target.login;
                let basic = crate::base64::encode(format!("{}:{}", login.username, login.password).as_bytes());
                format!(
                    "GET http://{authority}/echo/{} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Basic {basic}\r\nUser-Agent: aqueduct-monitor\r\nConnection: close\r\n\r\n",
                    self.nonce
                )
            }
        }
        .into_bytes()
    }

    pub(super) fn http_stage(
        &self,
        s: &ProbeSettings,
        what: Exchange,
        buf: Vec<u8>,
        now: Instant,
    ) -> Stage {
        Stage::Http {
            out: self.echo_request(s, &what),
            what,
            sent: 0,
            buf,
            head: None,
            got: 0,
            asked: now,
        }
    }

    /// Writes `out[sent..]` until done or WouldBlock (and any ciphertext rustls still
    /// holds); Err on a broken connection.
    pub(super) fn flush(
        wire: &mut Wire,
        writable: &mut bool,
        out: &[u8],
        sent: &mut usize,
    ) -> Result<(), ()> {
        wire.flush_tls(writable)?;
        while *writable && *sent < out.len() {
            match wire.write(writable, out.get(*sent..).unwrap_or_default()) {
                IoOutcome::Done(n) => *sent += n,
                IoOutcome::WouldBlock => {}
                IoOutcome::Eof => return Err(()),
            }
        }
        Ok(())
    }

    /// The first stage inside the connection (in clear, or inside TLS once it is up):
    /// the SOCKS5 handshake, or the HTTP proxy request.
    fn tunnel_stage(&self, s: &ProbeSettings, now: Instant) -> Result<Stage, Flow> {
        Ok(match self.target.path {
            ProbePath::Socks => {
                let mut out = Vec::with_capacity(400);
                let target = match s.echo.ip() {
                    Some(ip) => SocksTarget::Ip(SocketAddr::new(ip, s.echo.port)),
                    None => SocksTarget::Domain(&s.echo.host, s.echo.port),
                };
                if let Err(e) = encode_handshake(&self.target.login, &target, &mut out) {
                    return Err(Flow::Done(
                        Outcome::AuthRefused,
                        format!("cannot send the credential: {e}"),
                    ));
                }
                Stage::Socks {
                    out,
                    sent: 0,
                    answers: Vec::new(),
                }
            }
            ProbePath::Http => self.http_stage(s, Exchange::ProxyEcho, Vec::new(), now),
        })
    }

    pub(super) fn advance(
        &mut self,
        issued: &HashMap<String, Issued>,
        s: &ProbeSettings,
        now: Instant,
    ) -> Result<Flow, Box<Measured>> {
        let elapsed = self.elapsed(now);
        match &mut self.stage {
            Stage::Connecting => {
                if !(self.readable || self.writable) {
                    return Ok(Flow::Wait);
                }
                match crate::proxy::io::connect_result(&self.wire.sock) {
                    Ok(true) => {}
                    Ok(false) => {
                        self.readable = false;
                        self.writable = false;
                        return Ok(Flow::Wait);
                    }
                    Err(e) => {
                        return Ok(Flow::Done(
                            Outcome::ConnectFailed,
                            format!("connect {}: {e}", self.target.addr),
                        ))
                    }
                }
                self.connect = Some(elapsed);
                self.stage = if self.wire.is_tls() {
                    Stage::Tls
                } else {
                    match self.tunnel_stage(s, now) {
                        Ok(stage) => stage,
                        Err(flow) => return Ok(flow),
                    }
                };
                Ok(Flow::Again)
            }
            Stage::Tls => {
                if self.wire.flush_tls(&mut self.writable).is_err() {
                    return Ok(Flow::Done(
                        Outcome::TlsFailed,
                        "node closed the connection during the TLS handshake".into(),
                    ));
                }
                // Each pull takes ciphertext from the socket or ends the loop; the bound
                // keeps a peer that trickles bytes from holding the loop.
                for _ in 0..16 {
                    if self.wire.open() {
                        break;
                    }
                    match self.wire.pull(&mut self.readable, &mut self.writable) {
                        Pull::Took => {}
                        Pull::WouldBlock => return Ok(Flow::Wait),
                        Pull::Eof if self.wire.open() => break,
                        Pull::Eof => {
                            return Ok(Flow::Done(
                                Outcome::TlsFailed,
                                "node closed the connection during the TLS handshake".into(),
                            ))
                        }
                        Pull::Failed(f) => {
                            let outcome = match pin_mismatch(&f.0) {
                                Some(_) => Outcome::PinMismatch,
                                None => Outcome::TlsFailed,
                            };
                            return Ok(Flow::Done(outcome, f.to_string()));
                        }
                    }
                }
                if !self.wire.open() {
                    return Ok(Flow::Again);
                }
                let connect = self.connect.unwrap_or_default();
                self.tls = Some(elapsed.saturating_sub(connect));
                self.stage = match self.tunnel_stage(s, now) {
                    Ok(stage) => stage,
                    Err(flow) => return Ok(flow),
                };
                Ok(Flow::Again)
            }
            Stage::Socks { out, sent, answers } => {
                if Self::flush(&mut self.wire, &mut self.writable, out, sent).is_err() {
                    return Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "node closed the connection during the handshake".into(),
                    ));
                }
                let mut eof = false;
                while self.readable && !eof {
                    let mut chunk = [0u8; 512];
                    match self
                        .wire
                        .read(&mut self.readable, &mut self.writable, &mut chunk)
                    {
                        IoOutcome::Done(n) => {
                            answers.extend_from_slice(chunk.get(..n).unwrap_or_default())
                        }
                        // (`read` cleared `readable` if nothing more can come now.)
                        IoOutcome::WouldBlock => {}
                        IoOutcome::Eof => eof = true,
                    }
                    if answers.len() >= 4 || eof {
                        break;
                    }
                }
                let hop = |e: HopError| match e {
                    HopError::AuthRejected | HopError::NoAcceptableMethod => {
                        Flow::Done(Outcome::AuthRefused, format!("SOCKS5: {e}"))
                    }
                    other => Flow::Done(Outcome::RelayFailed, format!("SOCKS5: {other}")),
                };
                match parse_login_answers(answers) {
                    Err(e) => return Ok(hop(e)),
                    Ok(Parsed::Done { .. }) if self.login.is_none() => {
                        // From the end of the connect, or of the TLS handshake: the login
                        // alone, comparable between plain and TLS nodes.
                        let connect = self.connect.unwrap_or_default();
                        let before = connect.saturating_add(self.tls.unwrap_or_default());
                        self.login = Some(elapsed.saturating_sub(before));
                    }
                    _ => {}
                }
                match parse_answers(answers) {
                    Err(e) => Ok(hop(e)),
                    Ok(Parsed::Done { value: 0, consumed }) => {
                        let leftover = answers.split_off(consumed.min(answers.len()));
                        self.stage = self.http_stage(s, Exchange::Echo, leftover, now);
                        Ok(Flow::Again)
                    }
                    Ok(Parsed::Done { value, .. }) => Ok(Flow::Done(
                        Outcome::RelayFailed,
                        format!(
                            "the node could not reach the echo endpoint (SOCKS5 reply {value})"
                        ),
                    )),
                    Ok(Parsed::NeedMore) if eof => Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "node closed the connection during the handshake".into(),
                    )),
                    Ok(Parsed::NeedMore) if answers.len() >= MAX_SOCKS_ANSWERS => Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "SOCKS5: answer too long".into(),
                    )),
                    Ok(Parsed::NeedMore) if self.readable => Ok(Flow::Again),
                    Ok(Parsed::NeedMore) => Ok(Flow::Wait),
                }
            }
            Stage::Http {
                what,
                out,
                sent,
                buf,
                head,
                got,
                asked,
            } => {
                let what = &*what;
                if Self::flush(&mut self.wire, &mut self.writable, out, sent).is_err() {
                    return Ok(Flow::Done(
                        Outcome::RelayFailed,
                        "connection closed before the request was sent".into(),
                    ));
                }
                // The head (and the small echo body) collects in `buf`; download bytes are counted.
                let mut eof = false;
                loop {
                    if let Some((h, body_start)) = head {
                        let want = h.content_length.unwrap_or(0);
                        let have = match what {
                            Exchange::Bytes => *got,
                            _ => (buf.len() - *body_start) as u64,
                        };
                        if have >= want {
                            break;
                        }
                    } else {
                        match parse_response_head(buf) {
                            Ok(Parsed::Done { value, consumed }) => {
                                if let Some(f) = check_head(what, &value, s) {
                                    return Ok(f);
                                }
                                *head = Some((value, consumed));
                                if let Exchange::Bytes = what {
                                    *got = (buf.len() - consumed) as u64;
                                    buf.clear();
                                }
                                continue;
                            }
                            Ok(Parsed::NeedMore) => {}
                            Err(e) => {
                                return Ok(Flow::Done(
                                    Outcome::RelayFailed,
                                    format!("answer through the node is not HTTP: {e}"),
                                ))
                            }
                        }
                    }
                    if !self.readable || eof {
                        break;
                    }
                    let mut chunk = [0u8; 16384];
                    match self
                        .wire
                        .read(&mut self.readable, &mut self.writable, &mut chunk)
                    {
                        IoOutcome::Done(n) => match (what, head.is_some()) {
                            (Exchange::Bytes, true) => *got += n as u64,
                            _ => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                        },
                        IoOutcome::WouldBlock => {}
                        IoOutcome::Eof => eof = true,
                    }
                }
                let Some((h, body_start)) = *head else {
                    return Ok(if eof {
                        Flow::Done(
                            Outcome::RelayFailed,
                            "connection closed before the echo answer".into(),
                        )
                    } else {
                        Flow::Wait
                    });
                };
                let want = h.content_length.unwrap_or(0);
                match what {
                    Exchange::Bytes => {
                        if *got >= want {
                            let took = now.saturating_duration_since(*asked);
                            return Err(Box::new(self.judge(s, want, Some(took), None)));
                        }
                        if eof {
                            let detail = format!("download cut at {got} of {want} bytes");
                            return Ok(Flow::Done(Outcome::RelayFailed, detail));
                        }
                        Ok(Flow::Wait)
                    }
                    Exchange::Echo | Exchange::ProxyEcho => {
                        let body = buf.get(body_start..).unwrap_or_default();
                        if (body.len() as u64) < want {
                            return Ok(if eof {
                                Flow::Done(Outcome::RelayFailed, "echo answer cut short".into())
                            } else {
                                Flow::Wait
                            });
                        }
                        let expected = format!("aqueduct-echo {} ", self.nonce);
                        if !body.starts_with(expected.as_bytes()) {
                            return Ok(Flow::Done(
                                Outcome::RelayFailed,
                                "the echo answer does not carry this probe's nonce".into(),
                            ));
                        }
                        self.latency = Some(elapsed);
                        self.egress = issued
                            .get(&self.nonce)
                            .and_then(|i| i.seen_from)
                            .map(|a| a.ip().to_canonical());
                        let is_echo = matches!(what, Exchange::Echo);
                        if is_echo && s.download_bytes > 0 {
                            let leftover =
                                buf.split_off((body_start + want as usize).min(buf.len()));
                            self.stage = self.http_stage(s, Exchange::Bytes, leftover, now);
                            return Ok(Flow::Again);
                        }
                        Err(Box::new(self.judge(s, 0, None, None)))
                    }
                }
            }
        }
    }
}

/// An answer head that already decides the probe, or None to read its body.
fn check_head(what: &Exchange, h: &ResponseHead, s: &ProbeSettings) -> Option<Flow> {
    match (what, h.status) {
        (Exchange::ProxyEcho, 407) => Some(Flow::Done(
            Outcome::AuthRefused,
            "HTTP proxy: 407, credential refused".into(),
        )),
        (Exchange::ProxyEcho, 403) => Some(Flow::Done(
            Outcome::AuthRefused,
            "HTTP proxy: 403 Forbidden".into(),
        )),
        (_, 200) => match (what, h.content_length) {
            (Exchange::Bytes, Some(n)) if n == s.download_bytes => None,
            (Exchange::Bytes, _) => Some(Flow::Done(
                Outcome::RelayFailed,
                "download answer has the wrong length".into(),
            )),
            (_, Some(n)) if n <= MAX_ECHO_BODY => None,
            _ => Some(Flow::Done(
                Outcome::RelayFailed,
                "echo answer too long or without length".into(),
            )),
        },
        (_, code) => Some(Flow::Done(
            Outcome::RelayFailed,
            format!("HTTP {code} through the node"),
        )),
    }
}
