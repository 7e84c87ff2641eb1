//! One measurement of one node, on the discovery thread (blocking, bounded by a
//! timeout): the TCP connect time, then a full SOCKS5 login with the member's
//! credential for that node, inside TLS (with the pin checked) for a TLS endpoint. A
//! node that answers both is usable; the sum ranks it.

use super::table::Measurement;
use crate::proxy::codec::Parsed;
use crate::proxy::upstream::{
    encode_login_probe, parse_login_answers, tls_error, ConnectError, HopError, Login,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The probe's connection, in clear or inside TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn sock(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// What a failed read or write means for the node.
    fn error(&self, e: &std::io::Error) -> HopError {
        match self {
            Stream::Plain(_) => HopError::Closed,
            Stream::Tls(_) => tls_error(e),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

pub fn probe(
    addr: SocketAddr,
    login: &Login,
    timeout: Duration,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Measurement, HopError> {
    let mut hello = Vec::with_capacity(64 + login.password.len());
    encode_login_probe(login, &mut hello)?;
    let start = Instant::now();
    let sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => HopError::Timeout,
        _ => HopError::Connect(ConnectError::from_io(&e)),
    })?;
    let connect = start.elapsed();
    let _ = sock.set_nodelay(true);
    let mut sock = match tls {
        None => Stream::Plain(sock),
        Some(config) => {
            // An IP name: no SNI; the pin, not a name, is what is checked.
            let name = ServerName::IpAddress(addr.ip().into());
            let conn =
                ClientConnection::new(Arc::clone(config), name).map_err(|_| HopError::Tls)?;
            Stream::Tls(Box::new(StreamOwned::new(conn, sock)))
        }
    };
    let deadline = start + timeout;
    let left = |now: Instant| {
        deadline
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
            .ok_or(HopError::Timeout)
    };
    let timeout = Some(left(Instant::now())?);
    let set = sock
        .sock()
        .set_write_timeout(timeout)
        .and_then(|_| sock.sock().set_read_timeout(timeout));
    set.map_err(|_| HopError::Timeout)?;
    // Over TLS the handshake happens here, and a wrong pin fails it.
    if let Err(e) = sock.write_all(&hello).and_then(|_| sock.flush()) {
        return Err(match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => HopError::Timeout,
            _ => sock.error(&e),
        });
    }
    let mut answers = [0u8; 4];
    let mut got = 0;
    loop {
        sock.sock()
            .set_read_timeout(Some(left(Instant::now())?))
            .map_err(|_| HopError::Timeout)?;
        let Some(space) = answers.get_mut(got..) else {
            return Err(HopError::Protocol("answer too long"));
        };
        match sock.read(space) {
            Ok(0) => {
                parse_login_answers(answers.get(..got).unwrap_or_default())?;
                return Err(HopError::Closed);
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(HopError::Timeout)
            }
            Err(e) => return Err(sock.error(&e)),
        }
        if let Parsed::Done { .. } = parse_login_answers(answers.get(..got).unwrap_or_default())? {
            return Ok(Measurement {
                connect,
                handshake: start.elapsed().saturating_sub(connect),
            });
        }
    }
}
