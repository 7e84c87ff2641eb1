//! A probe's byte stream: the TCP socket itself for a plain endpoint, or the plaintext
//! inside TLS for a TLS endpoint (the pin checked by the client config). The exchange
//! reads and writes through it the same either way, so the SOCKS5/HTTP probe inside the
//! tunnel is the very code that runs in clear.
//!
//! rustls is driven sans-I/O on the non-blocking socket: ciphertext moves straight
//! between the socket and rustls (`read_tls_from`/`write_tls_to`), so the only buffers
//! are rustls's own, bounded by `tls::conn::PLAINTEXT_LIMIT`.

use super::{io, IoOutcome};
use crate::proxy::io::{with, IoOutcome as SocketOutcome};
use crate::tls::conn::{Plain, Stage, TlsConn, TlsFailure};
use mio::net::TcpStream;

pub(super) struct Wire {
    pub(super) sock: TcpStream,
    tls: Option<Box<TlsConn>>,
    /// Why TLS failed after the handshake, for the probe's detail.
    failure: Option<TlsFailure>,
}

/// One turn of ciphertext from the socket into rustls.
pub(super) enum Pull {
    /// Ciphertext was taken and processed (plaintext or handshake progress may follow).
    Took,
    /// The socket has nothing now (or rustls takes nothing now).
    WouldBlock,
    /// The socket reached end of stream or broke.
    Eof,
    /// rustls refused what arrived (the alert, if any, was offered to the peer).
    Failed(TlsFailure),
}

impl Wire {
    pub(super) fn new(sock: TcpStream, tls: Option<TlsConn>) -> Wire {
        Wire {
            sock,
            tls: tls.map(Box::new),
            failure: None,
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True once the TLS handshake is done (always for a plain wire).
    pub(super) fn open(&self) -> bool {
        self.tls.as_ref().is_none_or(|t| t.stage() == Stage::Open)
    }

    /// A TLS failure met after the handshake (reads then report end of stream).
    pub(super) fn failure(&self) -> Option<&TlsFailure> {
        self.failure.as_ref()
    }

    /// Writes waiting ciphertext while the socket takes it. Err: the connection broke.
    pub(super) fn flush_tls(&mut self, writable: &mut bool) -> Result<(), ()> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Ok(());
        };
        // Each write moves at least a byte or stops the loop; the bound keeps one probe
        // from holding the loop (what is left goes on the next writable event).
        for _ in 0..64 {
            if !*writable || !tls.wants_transmit() {
                break;
            }
            match with(|| tls.write_tls_to(&mut self.sock), true) {
                SocketOutcome::Done(_) => {}
                SocketOutcome::WouldBlock => *writable = false,
                SocketOutcome::Eof | SocketOutcome::Error(_) => return Err(()),
            }
        }
        Ok(())
    }

    /// One read of ciphertext from the socket into rustls, its processing, and whatever
    /// rustls answers (handshake messages, alerts) written at once.
    pub(super) fn pull(&mut self, readable: &mut bool, writable: &mut bool) -> Pull {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Pull::WouldBlock;
        };
        if !*readable || !tls.wants_receive() {
            return Pull::WouldBlock;
        }
        let read = with(|| tls.read_tls_from(&mut self.sock), false);
        let eof = match read {
            SocketOutcome::Done(_) => false,
            SocketOutcome::WouldBlock => {
                *readable = false;
                return Pull::WouldBlock;
            }
            // rustls was told (read_tls read 0): it reports a close without close_notify.
            SocketOutcome::Eof => true,
            SocketOutcome::Error(_) => return Pull::Eof,
        };
        if let Err(failure) = tls.process() {
            let _ = self.flush_tls(writable);
            return Pull::Failed(failure);
        }
        if self.flush_tls(writable).is_err() {
            return Pull::Eof;
        }
        if eof {
            Pull::Eof
        } else {
            Pull::Took
        }
    }

    /// Reads plaintext into `out`. Clears `readable` only once the socket has nothing
    /// and rustls holds no decrypted bytes, so no byte waits unseen for an event.
    pub(super) fn read(
        &mut self,
        readable: &mut bool,
        writable: &mut bool,
        out: &mut [u8],
    ) -> IoOutcome {
        if self.tls.is_none() {
            let r = io::read(&mut self.sock, out);
            if let IoOutcome::WouldBlock = r {
                *readable = false;
            }
            return r;
        }
        // Each turn returns or took ciphertext from the socket; a few records per call,
        // then WouldBlock with `readable` still set: the caller comes back.
        for _ in 0..8 {
            let Some(tls) = self.tls.as_deref_mut() else {
                return IoOutcome::Eof;
            };
            match tls.read_plain(out) {
                Plain::Data(n) => return IoOutcome::Done(n),
                // A cut without close_notify ends a proxy tunnel just the same.
                Plain::Closed | Plain::Truncated => return IoOutcome::Eof,
                Plain::Empty => {}
            }
            match self.pull(readable, writable) {
                Pull::Took => {}
                Pull::WouldBlock => {
                    // rustls taking nothing with nothing decrypted would never change
                    // by reading: wait for an event (the deadline bounds it).
                    *readable = false;
                    return IoOutcome::WouldBlock;
                }
                // Decrypted bytes may still precede the end; after them, the end.
                Pull::Eof => {
                    return match self.tls.as_deref_mut().map(|t| t.read_plain(out)) {
                        Some(Plain::Data(n)) => IoOutcome::Done(n),
                        _ => IoOutcome::Eof,
                    }
                }
                Pull::Failed(f) => {
                    self.failure = Some(f);
                    return IoOutcome::Eof;
                }
            }
        }
        IoOutcome::WouldBlock
    }

    /// Writes plaintext from `data`: to the socket, or into rustls and on as ciphertext.
    /// Clears `writable` when the socket takes no more.
    pub(super) fn write(&mut self, writable: &mut bool, data: &[u8]) -> IoOutcome {
        let Some(tls) = self.tls.as_deref_mut() else {
            let r = io::write(&mut self.sock, data);
            if let IoOutcome::WouldBlock = r {
                *writable = false;
            }
            return r;
        };
        let taken = tls.write_plain(data);
        if self.flush_tls(writable).is_err() {
            return IoOutcome::Eof;
        }
        if taken > 0 {
            return IoOutcome::Done(taken);
        }
        // rustls is full: what it holds must reach the socket first.
        *writable = false;
        IoOutcome::WouldBlock
    }
}
