//! The relay's moving parts: a socket with its readiness, one direction's state, and
//! `pump`, the only place bytes move while a tunnel is open (where issue 7's splice(2)
//! variant goes).

use super::buffer::Buffer;
use super::io::IoOutcome;
use mio::net::TcpStream;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;

/// One socket with the readiness the kernel last reported (edge-triggered: a flag stays
/// set until an operation returns WouldBlock).
pub struct Endpoint {
    pub sock: TcpStream,
    pub readable: bool,
    pub writable: bool,
}

impl Endpoint {
    pub fn new(sock: TcpStream) -> Endpoint {
        Endpoint {
            sock,
            readable: false,
            writable: false,
        }
    }
}

/// One direction of the relay: end-of-stream seen on its source, shutdown sent to its
/// destination, bytes delivered.
#[derive(Default)]
pub struct Flow {
    pub eof: bool,
    pub shut: bool,
    pub bytes: u64,
}

/// Which socket a relay error came from.
#[derive(Debug, Clone, Copy)]
pub enum Broken {
    Source,
    Destination,
}

impl Broken {
    /// `client_to_upstream`: the direction the error happened in.
    pub fn name(self, client_to_upstream: bool) -> &'static str {
        match (self, client_to_upstream) {
            (Broken::Source, true) | (Broken::Destination, false) => "client",
            (Broken::Source, false) | (Broken::Destination, true) => "upstream",
        }
    }
}

/// Moves what it can of one direction: write what is buffered, read while there is room
/// (a full buffer stops reading: backpressure), and pass end-of-stream on as a
/// `shutdown(Write)` once the buffer has drained. Returns whether anything changed.
pub fn pump(
    src: &mut Endpoint,
    dst: &mut Endpoint,
    buf: &mut Buffer,
    flow: &mut Flow,
    cap: usize,
) -> Result<bool, (Broken, io::Error)> {
    let mut changed = false;
    if !buf.is_empty() && dst.writable {
        changed = true;
        match buf.write_to(&mut dst.sock) {
            IoOutcome::Done(n) => flow.bytes += n as u64,
            IoOutcome::WouldBlock => dst.writable = false,
            IoOutcome::Error(e) => return Err((Broken::Destination, e)),
            IoOutcome::Eof => return Err((Broken::Destination, io::ErrorKind::WriteZero.into())),
        }
    }
    if !flow.eof && buf.has_room(cap) && src.readable {
        changed = true;
        match buf.read_from(&mut src.sock, cap) {
            IoOutcome::Done(_) => {}
            IoOutcome::Eof => flow.eof = true,
            IoOutcome::WouldBlock => src.readable = false,
            IoOutcome::Error(e) => return Err((Broken::Source, e)),
        }
    }
    if flow.eof && buf.is_empty() && !flow.shut {
        changed = true;
        flow.shut = true;
        // ENOTCONN here means the destination already went away; its own read will say so.
        let _ = dst.sock.shutdown(Shutdown::Write);
    }
    Ok(changed)
}

/// SO_LINGER 0: close() then sends RST instead of FIN.
pub fn abort_on_close(sock: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads exactly size_of::<linger>() bytes from a valid struct.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    /// A connected loopback pair: the engine's non-blocking end and a plain peer.
    fn pair() -> (Endpoint, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (ours, _) = listener.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut end = Endpoint::new(TcpStream::from_std(ours));
        end.readable = true;
        end.writable = true;
        (end, peer)
    }

    /// Pumps until nothing changes (bounded).
    fn settle(
        src: &mut Endpoint,
        dst: &mut Endpoint,
        buf: &mut Buffer,
        flow: &mut Flow,
        cap: usize,
    ) {
        for _ in 0..100 {
            match pump(src, dst, buf, flow, cap) {
                Ok(true) => {}
                Ok(false) => return,
                Err((side, e)) => panic!("{side:?}: {e}"),
            }
        }
        panic!("pump never settled");
    }

    #[test]
    fn bytes_then_end_of_stream_pass_through() {
        let (mut src, mut src_peer) = pair();
        let (mut dst, mut dst_peer) = pair();
        src_peer.write_all(b"hello").unwrap();
        src_peer.shutdown(Shutdown::Write).unwrap();
        let (mut buf, mut flow) = (Buffer::default(), Flow::default());
        for _ in 0..100 {
            src.readable = true;
            settle(&mut src, &mut dst, &mut buf, &mut flow, 1024);
            if flow.shut {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(flow.eof && flow.shut);
        assert_eq!(flow.bytes, 5);
        let mut got = Vec::new();
        dst_peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello", "data, then FIN");
    }

    #[test]
    fn a_full_buffer_stops_reading_until_it_drains() {
        let (mut src, mut src_peer) = pair();
        let (mut dst, mut dst_peer) = pair();
        src_peer.write_all(b"0123456789").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let (mut buf, mut flow) = (Buffer::default(), Flow::default());
        dst.writable = false; // as if the destination were not draining
        settle(&mut src, &mut dst, &mut buf, &mut flow, 4);
        assert_eq!(buf.data(), b"0123", "stopped at the cap");
        assert!(
            src.readable,
            "the source is left unread, not marked drained"
        );
        dst.writable = true;
        settle(&mut src, &mut dst, &mut buf, &mut flow, 4);
        let mut got = [0u8; 10];
        dst_peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"0123456789");
        assert!(!flow.shut, "no end-of-stream yet");
    }
}
