//! One TLS connection, server or client side, as a sans-I/O state machine: the session
//! reads ciphertext from its socket into a slice and hands it to [`TlsConn::receive`],
//! takes plaintext out with [`TlsConn::read_plain`], puts plaintext in with
//! [`TlsConn::write_plain`], and takes ciphertext for the socket with
//! [`TlsConn::transmit`]. Socket errors stay with the session's one `io::ErrorKind` map.
//!
//! Memory is bounded both ways: rustls stops taking ciphertext while its decrypted
//! backlog is full (`receive` returns 0: stop reading the socket), and `write_plain`
//! takes at most [`PLAINTEXT_LIMIT`] not yet sent (stop reading the other side).

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

/// Plaintext accepted but not yet encrypted and taken by `transmit`, per connection.
/// A little over one TLS record, so a relay step fills a whole record.
pub const PLAINTEXT_LIMIT: usize = 16 * 1024 + 1024;

/// Why the connection cannot go on. An alert for the peer may be waiting in
/// [`TlsConn::transmit`]: send it, then close.
#[derive(Debug, Clone)]
pub struct TlsFailure(pub rustls::Error);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match super::configs::pin_mismatch(&self.0) {
            Some(m) => fmt::Display::fmt(m, f),
            None => write!(f, "TLS: {}", self.0),
        }
    }
}

impl std::error::Error for TlsFailure {}

/// What [`TlsConn::read_plain`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    /// This many plaintext bytes were written to the front of `out` (never zero).
    Data(usize),
    /// Nothing decrypted yet: wait for more ciphertext.
    Empty,
    /// The peer closed its sending side with close_notify.
    Closed,
    /// The transport ended without close_notify: the data may have been cut short.
    Truncated,
}

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Handshaking,
    Open,
}

pub struct TlsConn {
    conn: Connection,
}

impl TlsConn {
    pub fn server(config: &Arc<ServerConfig>) -> Result<TlsConn, TlsFailure> {
        let conn = ServerConnection::new(Arc::clone(config)).map_err(TlsFailure)?;
        Ok(TlsConn::new(conn.into()))
    }

    pub fn client(
        config: &Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<TlsConn, TlsFailure> {
        let conn = ClientConnection::new(Arc::clone(config), name).map_err(TlsFailure)?;
        Ok(TlsConn::new(conn.into()))
    }

    fn new(mut conn: Connection) -> TlsConn {
        conn.set_buffer_limit(Some(PLAINTEXT_LIMIT));
        TlsConn { conn }
    }

    pub fn stage(&self) -> Stage {
        if self.conn.is_handshaking() {
            Stage::Handshaking
        } else {
            Stage::Open
        }
    }

    /// Takes ciphertext the socket delivered and decrypts what it completes. Returns how
    /// many bytes were taken; fewer than offered (maybe 0) means rustls's backlog is full:
    /// keep the rest, drain [`read_plain`](Self::read_plain), offer it again.
    pub fn receive(&mut self, mut ciphertext: &[u8]) -> Result<usize, TlsFailure> {
        let offered = ciphertext.len();
        while !ciphertext.is_empty() && self.conn.wants_read() {
            match self.conn.read_tls(&mut ciphertext) {
                Ok(0) => break,
                Ok(_) => {}
                // From a slice only rustls's own "buffer full" refusals can come.
                Err(_) => break,
            }
            self.conn.process_new_packets().map_err(TlsFailure)?;
        }
        Ok(offered - ciphertext.len())
    }

    /// The socket reached end of stream: tells rustls, which then reports
    /// [`Plain::Closed`] or [`Plain::Truncated`] once the backlog is read.
    pub fn receive_eof(&mut self) -> Result<(), TlsFailure> {
        let _ = self.conn.read_tls(&mut &[][..]);
        self.conn.process_new_packets().map_err(TlsFailure)?;
        Ok(())
    }

    /// Reads ciphertext straight from `src` (the socket), as much as rustls takes now,
    /// without decrypting it: [`process`](Self::process) does. `Ok(0)` is end of stream.
    pub fn read_tls_from(&mut self, src: &mut dyn Read) -> std::io::Result<usize> {
        self.conn.read_tls(src)
    }

    /// Decrypts what [`read_tls_from`](Self::read_tls_from) brought.
    pub fn process(&mut self) -> Result<(), TlsFailure> {
        self.conn
            .process_new_packets()
            .map(|_| ())
            .map_err(TlsFailure)
    }

    /// Writes waiting ciphertext straight to `dst` (the socket); partial writes are kept.
    pub fn write_tls_to(&mut self, dst: &mut dyn Write) -> std::io::Result<usize> {
        self.conn.write_tls(dst)
    }

    /// True while rustls would take more ciphertext (the socket may be read).
    pub fn wants_receive(&self) -> bool {
        self.conn.wants_read()
    }

    pub fn read_plain(&mut self, out: &mut [u8]) -> Plain {
        match self.conn.reader().read(out) {
            Ok(0) if out.is_empty() => Plain::Empty,
            Ok(0) => Plain::Closed,
            Ok(n) => Plain::Data(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Plain::Empty,
            // UnexpectedEof: the transport ended without close_notify.
            Err(_) => Plain::Truncated,
        }
    }

    /// Queues plaintext for encryption; returns how much was taken (0 when
    /// [`PLAINTEXT_LIMIT`] is reached: transmit first).
    pub fn write_plain(&mut self, data: &[u8]) -> usize {
        // rustls's writer never fails; it takes what fits under the buffer limit.
        self.conn.writer().write(data).unwrap_or(0)
    }

    /// Sends close_notify after the queued plaintext.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// True while ciphertext (handshake, data, alerts) waits for the socket.
    pub fn wants_transmit(&self) -> bool {
        self.conn.wants_write()
    }

    /// Moves waiting ciphertext into `out`; returns the bytes written there.
    pub fn transmit(&mut self, out: &mut [u8]) -> usize {
        let mut free = &mut out[..];
        let capacity = free.len();
        while self.conn.wants_write() && !free.is_empty() {
            match self.conn.write_tls(&mut free) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        capacity - free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::cert::{load_or_generate, CertSource, Identity};
    use super::super::configs::{pin_mismatch, pinned_client_config, server_config};
    use super::super::Pin;
    use super::*;

    fn identity(name: &str) -> Identity {
        let dir = std::env::temp_dir().join(format!("aqueduct-conn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let id = load_or_generate(&CertSource::SelfSigned {
            cert: dir.join("c.pem"),
            key: dir.join("k.pem"),
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        id
    }

    fn pair(id: &Identity, pin: Pin) -> (TlsConn, TlsConn) {
        let server = TlsConn::server(&server_config(id).unwrap()).unwrap();
        let name = ServerName::try_from("aqueduct-node.invalid").unwrap();
        let client = TlsConn::client(&pinned_client_config(pin), name).unwrap();
        (client, server)
    }

    /// Moves ciphertext both ways until neither side has any to send (bounded).
    fn shuttle(a: &mut TlsConn, b: &mut TlsConn) -> Result<(), TlsFailure> {
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..64 {
            let n = a.transmit(&mut buf);
            let m_taken = b.receive(&buf[..n])?;
            assert_eq!(m_taken, n, "a test step never fills rustls's backlog");
            let m = b.transmit(&mut buf);
            a.receive(&buf[..m])?;
            if n == 0 && m == 0 {
                return Ok(());
            }
        }
        panic!("no quiet point after 64 rounds");
    }

    #[test]
    fn a_pinned_client_and_the_server_exchange_data_and_close() {
        let id = identity("ok");
        let (mut c, mut s) = pair(&id, id.pin);
        assert_eq!(c.stage(), Stage::Handshaking);
        shuttle(&mut c, &mut s).unwrap();
        assert_eq!((c.stage(), s.stage()), (Stage::Open, Stage::Open));
        assert_eq!(c.write_plain(b"CONNECT a:1 HTTP/1.1\r\n\r\n"), 24);
        shuttle(&mut c, &mut s).unwrap();
        let mut out = [0u8; 64];
        assert_eq!(s.read_plain(&mut out), Plain::Data(24));
        assert_eq!(&out[..24], b"CONNECT a:1 HTTP/1.1\r\n\r\n");
        assert_eq!(s.read_plain(&mut out), Plain::Empty);
        s.close();
        shuttle(&mut c, &mut s).unwrap();
        assert_eq!(c.read_plain(&mut out), Plain::Closed);
    }

    #[test]
    fn a_wrong_pin_fails_the_handshake_as_a_pin_mismatch() {
        let id = identity("wrong");
        let (mut c, mut s) = pair(&id, Pin::of_spki(b"someone else"));
        let err = shuttle(&mut c, &mut s).unwrap_err();
        let m = pin_mismatch(&err.0).expect("a pin mismatch");
        assert_eq!(m.presented, id.pin);
        assert!(err
            .to_string()
            .contains("pin mismatch: possible interception"));
    }

    #[test]
    fn garbage_instead_of_a_client_hello_is_a_failure_not_a_panic() {
        let id = identity("garbage");
        let mut s = TlsConn::server(&server_config(&id).unwrap()).unwrap();
        assert!(s.receive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err());
        // An alert for the peer may follow; taking it must not panic either.
        let mut out = [0u8; 256];
        let _ = s.transmit(&mut out);
    }

    #[test]
    fn backlogs_stay_bounded_both_ways() {
        let id = identity("bounded");
        let (mut c, mut s) = pair(&id, id.pin);
        shuttle(&mut c, &mut s).unwrap();
        // Plaintext in: at most PLAINTEXT_LIMIT waits for transmit.
        let big = vec![7u8; 1 << 20];
        let taken = c.write_plain(&big);
        assert!(taken <= PLAINTEXT_LIMIT, "{taken}");
        assert_eq!(c.write_plain(&big), 0);
        // Ciphertext in, plaintext never read: the server stops taking it.
        let mut wire = vec![0u8; 1 << 20];
        let mut pending: Vec<u8> = Vec::new();
        let mut refused = false;
        for _ in 0..1000 {
            let n = c.transmit(&mut wire);
            pending.extend_from_slice(&wire[..n]);
            let t = s.receive(&pending).unwrap();
            pending.drain(..t);
            if t == 0 && !pending.is_empty() {
                refused = true;
                break;
            }
            c.write_plain(&big);
        }
        assert!(refused, "the server took ciphertext without end");
        assert!(!s.wants_receive());
        let mut out = vec![0u8; 1 << 20];
        assert!(matches!(s.read_plain(&mut out), Plain::Data(_)));
        assert!(s.wants_receive());
    }
}
