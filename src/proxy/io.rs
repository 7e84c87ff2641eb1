//! Socket I/O outcomes as values, and the one place that maps `io::ErrorKind`s.

use std::io::{self, ErrorKind, Read, Write};

#[derive(Debug)]
pub enum IoOutcome {
    /// Some bytes moved (never zero).
    Done(usize),
    /// The peer closed its sending side (a read returned 0).
    Eof,
    /// Nothing more until the next readiness event.
    WouldBlock,
    /// The connection is broken (reset, broken pipe, ...).
    Error(io::Error),
}

/// Maps one raw result. `Interrupted` is retried by the callers below and never gets here.
fn classify(result: io::Result<usize>, writing: bool) -> IoOutcome {
    match result {
        Ok(0) if writing => IoOutcome::Error(ErrorKind::WriteZero.into()),
        Ok(0) => IoOutcome::Eof,
        Ok(n) => IoOutcome::Done(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => IoOutcome::WouldBlock,
        Err(e) => IoOutcome::Error(e),
    }
}

pub fn read(src: &mut impl Read, buf: &mut [u8]) -> IoOutcome {
    loop {
        match src.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => return classify(r, false),
        }
    }
}

pub fn write(dst: &mut impl Write, buf: &[u8]) -> IoOutcome {
    if buf.is_empty() {
        return IoOutcome::WouldBlock;
    }
    loop {
        match dst.write(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => return classify(r, true),
        }
    }
}

/// One call of another socket operation (rustls's `read_tls`/`write_tls` on the socket),
/// mapped like [`read`] and [`write`].
pub fn with(mut op: impl FnMut() -> io::Result<usize>, writing: bool) -> IoOutcome {
    loop {
        match op() {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => return classify(r, writing),
        }
    }
}

/// Why an upstream connection attempt failed, in the terms both protocols reply with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    Refused,
    NetworkUnreachable,
    HostUnreachable,
    TimedOut,
    Other,
}

impl ConnectError {
    pub fn from_io(e: &io::Error) -> ConnectError {
        match e.kind() {
            ErrorKind::ConnectionRefused => return ConnectError::Refused,
            ErrorKind::TimedOut => return ConnectError::TimedOut,
            ErrorKind::NetworkUnreachable => return ConnectError::NetworkUnreachable,
            ErrorKind::HostUnreachable => return ConnectError::HostUnreachable,
            _ => {}
        }
        match e.raw_os_error() {
            Some(libc::ENETUNREACH) | Some(libc::ENETDOWN) => ConnectError::NetworkUnreachable,
            Some(libc::EHOSTUNREACH) | Some(libc::EHOSTDOWN) => ConnectError::HostUnreachable,
            _ => ConnectError::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectError::Refused => "connection refused",
            ConnectError::NetworkUnreachable => "network unreachable",
            ConnectError::HostUnreachable => "host unreachable",
            ConnectError::TimedOut => "connect timeout",
            ConnectError::Other => "connect failed",
        }
    }
}

/// True for accept errors that mean "out of descriptors or memory": retrying at once
/// would fail the same way, so accepting pauses instead.
pub fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_reply_classes() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(
            ConnectError::from_io(&os(libc::ECONNREFUSED)),
            ConnectError::Refused
        );
        assert_eq!(
            ConnectError::from_io(&os(libc::ENETUNREACH)),
            ConnectError::NetworkUnreachable
        );
        assert_eq!(
            ConnectError::from_io(&os(libc::EHOSTUNREACH)),
            ConnectError::HostUnreachable
        );
        assert_eq!(
            ConnectError::from_io(&os(libc::ETIMEDOUT)),
            ConnectError::TimedOut
        );
        assert_eq!(
            ConnectError::from_io(&os(libc::EACCES)),
            ConnectError::Other
        );
        assert!(is_resource_exhaustion(&os(libc::EMFILE)));
        assert!(is_resource_exhaustion(&os(libc::ENFILE)));
        assert!(!is_resource_exhaustion(&os(libc::ECONNABORTED)));
    }

    struct Script(Vec<io::Result<usize>>);
    impl Read for Script {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            self.0.remove(0)
        }
    }

    #[test]
    fn interrupted_is_retried_and_outcomes_are_values() {
        let mut s = Script(vec![Err(ErrorKind::Interrupted.into()), Ok(3)]);
        assert!(matches!(read(&mut s, &mut [0; 8]), IoOutcome::Done(3)));
        let mut s = Script(vec![Err(ErrorKind::WouldBlock.into())]);
        assert!(matches!(read(&mut s, &mut [0; 8]), IoOutcome::WouldBlock));
        let mut s = Script(vec![Ok(0)]);
        assert!(matches!(read(&mut s, &mut [0; 8]), IoOutcome::Eof));
        let mut s = Script(vec![Err(ErrorKind::ConnectionReset.into())]);
        assert!(matches!(read(&mut s, &mut [0; 8]), IoOutcome::Error(_)));
    }
}
