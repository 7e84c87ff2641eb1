//! One measurement of one node, on the discovery thread (blocking, bounded by a
//! timeout): the TCP connect time, then a full SOCKS5 login with the member's
//! credential for that node. A node that answers both is usable; the sum ranks it.

use super::table::Measurement;
use crate::proxy::codec::Parsed;
use crate::proxy::upstream::{
    encode_login_probe, parse_login_answers, ConnectError, HopError, Login,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub fn probe(addr: SocketAddr, login: &Login, timeout: Duration) -> Result<Measurement, HopError> {
    let mut hello = Vec::with_capacity(64 + login.password.len());
    encode_login_probe(login, &mut hello)?;
    let start = Instant::now();
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => HopError::Timeout,
        _ => HopError::Connect(ConnectError::from_io(&e)),
    })?;
    let connect = start.elapsed();
    let _ = sock.set_nodelay(true);
    let deadline = start + timeout;
    let left = |now: Instant| {
        deadline
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
            .ok_or(HopError::Timeout)
    };
    sock.set_write_timeout(Some(left(Instant::now())?))
        .map_err(|_| HopError::Timeout)?;
    sock.write_all(&hello).map_err(|_| HopError::Closed)?;
    let mut answers = [0u8; 4];
    let mut got = 0;
    loop {
        sock.set_read_timeout(Some(left(Instant::now())?))
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
            Err(_) => return Err(HopError::Closed),
        }
        if let Parsed::Done { .. } = parse_login_answers(answers.get(..got).unwrap_or_default())? {
            return Ok(Measurement {
                connect,
                handshake: start.elapsed().saturating_sub(connect),
            });
        }
    }
}
