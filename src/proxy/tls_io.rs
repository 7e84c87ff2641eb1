//! An [`Endpoint`] with TLS on it (the node's `tls_listen`): plaintext moves between the
//! session's buffers and rustls, ciphertext between rustls and the socket, read and
//! written by rustls straight on the socket so no third buffer is needed. Bounded:
//! rustls takes ciphertext only while its decrypted backlog is empty, and at most
//! `tls::conn::PLAINTEXT_LIMIT` of plaintext waits to be sent.

use super::buffer::Buffer;
use super::io::{self, IoOutcome};
use super::relay::Endpoint;
use crate::tls::conn::{Plain, TlsConn};
use std::io::{Error, ErrorKind, Read};

/// Decrypted bytes as a `Read`, so the buffer fills from rustls as from a socket.
struct PlainSource<'a>(&'a mut TlsConn);

impl Read for PlainSource<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read_plain(out) {
            Plain::Data(n) => Ok(n),
            Plain::Empty => Err(ErrorKind::WouldBlock.into()),
            // Without close_notify the peer may have been cut short, but for a proxy
            // tunnel it is still the end of what it sent.
            Plain::Closed | Plain::Truncated => Ok(0),
        }
    }
}

impl Endpoint {
    pub fn tls_handshaking(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.stage() == crate::tls::conn::Stage::Handshaking)
    }

    /// Ciphertext (handshake, data, alert) waits for the socket.
    pub fn tls_pending(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.wants_transmit())
    }

    /// Writes waiting ciphertext while the socket takes it. Returns whether any moved.
    pub fn tls_flush(&mut self) -> Result<bool, Error> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Ok(false);
        };
        let mut moved = false;
        // Each write takes at least a byte or stops the loop; 64 bounds a turn's share.
        for _ in 0..64 {
            if !self.writable || !tls.wants_transmit() {
                break;
            }
            match io::with(|| tls.write_tls_to(&mut self.sock), true) {
                IoOutcome::Done(_) => moved = true,
                IoOutcome::WouldBlock => self.writable = false,
                IoOutcome::Eof => return Err(ErrorKind::WriteZero.into()),
                IoOutcome::Error(e) => return Err(e),
            }
        }
        Ok(moved)
    }

    /// One read of ciphertext from the socket into rustls, then decryption and, for the
    /// handshake, the answer written at once. `Error` carries a TLS failure as
    /// `InvalidData` after its alert was offered to the peer.
    pub fn tls_receive(&mut self) -> IoOutcome {
        let Some(tls) = self.tls.as_deref_mut() else {
            return IoOutcome::WouldBlock;
        };
        if !tls.wants_receive() {
            return IoOutcome::WouldBlock;
        }
        let outcome = io::with(|| tls.read_tls_from(&mut self.sock), false);
        match outcome {
            IoOutcome::WouldBlock => self.readable = false,
            IoOutcome::Error(_) => return outcome,
            IoOutcome::Done(_) | IoOutcome::Eof => {}
        }
        if let Err(failure) = tls.process() {
            let _ = self.tls_flush();
            return IoOutcome::Error(Error::new(ErrorKind::InvalidData, failure));
        }
        if let Err(e) = self.tls_flush() {
            return IoOutcome::Error(e);
        }
        outcome
    }

    /// [`Endpoint::read_into`] over TLS: decrypted bytes first, then the socket.
    pub(super) fn tls_read_into(&mut self, buf: &mut Buffer, cap: usize) -> IoOutcome {
        self.tls_pull(|tls| buf.read_from(&mut PlainSource(tls), cap))
    }

    /// Decrypted bytes into `out` (the upstream handshake's answers).
    pub fn tls_read(&mut self, out: &mut [u8]) -> IoOutcome {
        self.tls_pull(|tls| io::read(&mut PlainSource(tls), out))
    }

    /// Runs `take` (which moves decrypted bytes out) until it has some, reading the
    /// socket into rustls between tries; WouldBlock once neither has more.
    fn tls_pull(&mut self, mut take: impl FnMut(&mut TlsConn) -> IoOutcome) -> IoOutcome {
        // Each turn either returns or took ciphertext from the socket; a few records'
        // worth per call keeps one session from holding the loop.
        for _ in 0..4 {
            let Some(tls) = self.tls.as_deref_mut() else {
                return IoOutcome::WouldBlock;
            };
            match take(tls) {
                IoOutcome::WouldBlock => {}
                other => return other,
            }
            if !self.readable {
                return IoOutcome::WouldBlock;
            }
            match self.tls_receive() {
                IoOutcome::Done(_) => {}
                // rustls now reports the end through PlainSource.
                IoOutcome::Eof => {}
                other => return other,
            }
        }
        IoOutcome::Done(0)
    }

    /// [`Endpoint::write_from`] over TLS: as much of `buf` as rustls takes, encrypted and
    /// written while the socket takes it. `Done(n)` counts plaintext taken from `buf`.
    pub(super) fn tls_write_from(&mut self, buf: &mut Buffer) -> IoOutcome {
        if let Err(e) = self.tls_flush() {
            return IoOutcome::Error(e);
        }
        let Some(tls) = self.tls.as_deref_mut() else {
            return IoOutcome::WouldBlock;
        };
        let taken = tls.write_plain(buf.data());
        buf.consume(taken);
        if let Err(e) = self.tls_flush() {
            return IoOutcome::Error(e);
        }
        if taken == 0 && !self.writable {
            return IoOutcome::WouldBlock;
        }
        IoOutcome::Done(taken)
    }

    /// Queues close_notify after what is buffered and tries to send it.
    pub fn tls_close(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.close();
        }
        let _ = self.tls_flush();
    }
}
