//! The relay's moving parts: a socket with its readiness, one direction's state, and
//! `pump`, the only place bytes move while a tunnel is open: through a kernel pipe with
//! splice(2) when the pool has one, else through a userspace buffer.

use super::buffer::Buffer;
use super::io::IoOutcome;
use super::pool::Pool;
use super::splice::Pipe;
use crate::tls::conn::TlsConn;
use mio::net::TcpStream;
use std::io;
use std::net::Shutdown;

/// One end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Upstream => "upstream",
        }
    }
}

/// One socket with the readiness the kernel last reported (edge-triggered: a flag stays
/// set until an operation says the socket has nothing more for now).
pub struct Endpoint {
    pub sock: TcpStream,
    pub readable: bool,
    pub writable: bool,
    /// The peer's FIN (or an error) was reported: reads go on until they say so, because
    /// no later event will announce it again.
    pub hup: bool,
    /// TLS on this socket (the node's `tls_listen`): reads and writes go through it, and
    /// bytes are copied, never spliced (see `tls_io`). Boxed: plain sessions pay a pointer.
    pub tls: Option<Box<TlsConn>>,
}

impl Endpoint {
    pub fn new(sock: TcpStream) -> Endpoint {
        Endpoint {
            sock,
            readable: false,
            writable: false,
            hup: false,
            tls: None,
        }
    }

    /// One read into `buf` (holding at most `cap` bytes), keeping readiness up to date.
    ///
    /// A short read drained the receive queue, so the socket counts as not readable until
    /// the next event: edge-triggered epoll reports every later arrival, and the read that
    /// would only say EAGAIN is saved (a quarter of the handshake's read calls). A
    /// reported hang-up is the exception: the EOF is only seen by reading on.
    pub fn read_into(&mut self, buf: &mut Buffer, cap: usize) -> IoOutcome {
        if self.tls.is_some() {
            return self.tls_read_into(buf, cap);
        }
        let room = buf.room(cap);
        let outcome = buf.read_from(&mut self.sock, cap);
        match outcome {
            IoOutcome::Done(n) if n < room && !self.hup => self.readable = false,
            IoOutcome::WouldBlock => self.readable = false,
            _ => {}
        }
        outcome
    }

    /// One write of what `buf` holds, keeping readiness up to date: a short write means
    /// the send buffer is full, and the kernel reports writable again once it has room.
    pub fn write_from(&mut self, buf: &mut Buffer) -> IoOutcome {
        if self.tls.is_some() {
            return self.tls_write_from(buf);
        }
        let len = buf.len();
        let outcome = buf.write_to(&mut self.sock);
        match outcome {
            IoOutcome::Done(n) if n < len => self.writable = false,
            IoOutcome::WouldBlock => self.writable = false,
            _ => {}
        }
        outcome
    }
}

/// One direction of the relay: end-of-stream seen on its source, shutdown sent to its
/// destination, bytes delivered, and the pipe it holds while bytes are in flight.
#[derive(Default)]
pub struct Flow {
    pub eof: bool,
    pub shut: bool,
    /// Bytes written to the destination.
    pub bytes: u64,
    /// Bytes read from the source (what a rate limit counts).
    pub read: u64,
    pipe: Option<Pipe>,
    /// The last splice into the pipe would block while the pipe held bytes: either the
    /// socket is drained or the pipe is full. Reading waits until the pipe drains a
    /// little, which tells the two apart without spinning.
    pipe_full: bool,
    /// A read has filled the buffer: this direction carries bulk data, for which a pipe
    /// pays off. Small exchanges stay in the buffer, where they cost fewer kernel cycles
    /// than splicing a page per message.
    bulk: bool,
}

impl Flow {
    /// Bytes read from the source and not yet written (in the pipe).
    pub fn in_pipe(&self) -> usize {
        self.pipe.as_ref().map_or(0, Pipe::len)
    }

    /// Gives the pipe back once it has drained (or whatever it holds, if `always`).
    pub fn release(&mut self, pool: &mut Pool, always: bool) {
        if self.in_pipe() == 0 || always {
            if let Some(pipe) = self.pipe.take() {
                pool.give_pipe(pipe);
            }
            self.pipe_full = false;
        }
    }
}

/// Which socket a relay error came from.
#[derive(Debug, Clone, Copy)]
pub enum Broken {
    Source,
    Destination,
}

impl Broken {
    /// Which end of the session broke, given the direction the error happened in.
    pub fn side(self, client_to_upstream: bool) -> Side {
        match (self, client_to_upstream) {
            (Broken::Source, true) | (Broken::Destination, false) => Side::Client,
            (Broken::Source, false) | (Broken::Destination, true) => Side::Upstream,
        }
    }
}

/// Writes what this direction holds (the buffer first, then the pipe) to `dst` while it
/// takes bytes. Returns whether anything changed.
pub fn flush(
    dst: &mut Endpoint,
    buf: &mut Buffer,
    flow: &mut Flow,
) -> Result<bool, (Broken, io::Error)> {
    let mut changed = false;
    if dst.writable {
        // Over TLS, ciphertext rustls still holds is written too (after the buffer drained).
        let written = if !buf.is_empty() || dst.tls_pending() {
            Some(dst.write_from(buf))
        } else {
            match flow.pipe.as_mut() {
                Some(pipe) if !pipe.is_empty() => Some(pipe.drain_to(&dst.sock)),
                _ => None,
            }
        };
        if let Some(outcome) = written {
            changed = true;
            match outcome {
                IoOutcome::Done(n) => {
                    flow.bytes += n as u64;
                    flow.pipe_full = false;
                }
                IoOutcome::WouldBlock => dst.writable = false,
                IoOutcome::Error(e) => return Err((Broken::Destination, e)),
                IoOutcome::Eof => {
                    return Err((Broken::Destination, io::ErrorKind::WriteZero.into()))
                }
            }
        }
    }
    Ok(changed)
}

/// Moves what it can of one direction: write what is buffered, read while there is room
/// (a full buffer or pipe stops reading: backpressure), and pass end-of-stream on as a
/// `shutdown(Write)` once everything has drained, unless `last`: the other direction has
/// already ended, so the session closes next and close(2) sends the same FIN (one system
/// call fewer per connection). Returns whether anything changed.
///
/// A direction starts with the buffer and moves to a pipe (when splicing) once a read has
/// filled the buffer. Bytes in `buf` (handshake leftovers, the start of the stream, or
/// bytes read while no pipe was free) are always older than bytes in the pipe: the buffer
/// is written first and only read into while the direction holds no pipe.
///
/// Reads at most `max_read` bytes (what the rate limits grant); with 0 the source is
/// left unread and still marked readable, for when the grant comes.
#[allow(clippy::too_many_arguments)] // both ends, the direction, its buffer and pool, and the grant
pub fn pump(
    src: &mut Endpoint,
    dst: &mut Endpoint,
    buf: &mut Buffer,
    flow: &mut Flow,
    cap: usize,
    pool: &mut Pool,
    last: bool,
    max_read: usize,
) -> Result<bool, (Broken, io::Error)> {
    let mut changed = flush(dst, buf, flow)?;
    if !flow.eof && src.readable && max_read > 0 {
        let plain = src.tls.is_none() && dst.tls.is_none();
        if flow.bulk && flow.pipe.is_none() && buf.is_empty() && pool.splices() && plain {
            flow.pipe = pool.take_pipe();
        }
        let read = match flow.pipe.as_mut() {
            Some(pipe) if !flow.pipe_full && pipe.room() > 0 => {
                let empty_before = pipe.is_empty();
                match pipe.fill_at_most(&src.sock, max_read) {
                    IoOutcome::WouldBlock if !empty_before => {
                        flow.pipe_full = true;
                        Some(IoOutcome::Done(0))
                    }
                    other => Some(other),
                }
            }
            Some(_) => None,
            None if buf.has_room(cap) => {
                buf.attach(pool);
                // A grant below the room ends the read early; a read that fills the grant
                // leaves the socket marked readable, as a full buffer does.
                let limit = cap.min(buf.len().saturating_add(max_read));
                let outcome = src.read_into(buf, limit);
                flow.bulk |= !buf.has_room(limit);
                Some(outcome)
            }
            None => None,
        };
        if let Some(outcome) = read {
            changed = true;
            match outcome {
                IoOutcome::Done(n) => flow.read += n as u64,
                IoOutcome::Eof => flow.eof = true,
                IoOutcome::WouldBlock => src.readable = false,
                IoOutcome::Error(e) => return Err((Broken::Source, e)),
            }
        }
    }
    changed |= pass_eof(dst, buf, flow, last);
    Ok(changed)
}

/// Once the source has ended and everything it sent has been written, sends the FIN on
/// (unless `last`, see [`pump`]). Returns whether it did.
pub fn pass_eof(dst: &mut Endpoint, buf: &Buffer, flow: &mut Flow, last: bool) -> bool {
    if !(flow.eof && buf.is_empty() && flow.in_pipe() == 0 && !flow.shut && !dst.tls_pending()) {
        return false;
    }
    flow.shut = true;
    if dst.tls.is_some() {
        // close_notify is TLS's end of stream; the socket stays open for the other way.
        dst.tls_close();
    } else if !last {
        // ENOTCONN means the destination already went away; its own read will say so.
        let _ = dst.sock.shutdown(Shutdown::Write);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::settings::{RelayMode, RelaySettings};
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

    /// A copying pool and a splicing one.
    fn pools() -> Vec<Pool> {
        let relay = RelaySettings {
            mode: RelayMode::Splice,
            pipe_bytes: 4096,
            max_pipes: 4,
        };
        vec![Pool::copying(1024), Pool::new(1024, &relay).unwrap()]
    }

    /// Pumps until nothing changes (bounded).
    fn settle(
        src: &mut Endpoint,
        dst: &mut Endpoint,
        buf: &mut Buffer,
        flow: &mut Flow,
        cap: usize,
        pool: &mut Pool,
    ) {
        for _ in 0..100 {
            match pump(src, dst, buf, flow, cap, pool, false, usize::MAX) {
                Ok(true) => {}
                Ok(false) => return,
                Err((side, e)) => panic!("{side:?}: {e}"),
            }
        }
        panic!("pump never settled");
    }

    #[test]
    fn a_short_read_waits_for_the_next_event_unless_a_hang_up_was_reported() {
        let mut pool = Pool::copying(1024);
        let (mut end, mut peer) = pair();
        let mut buf = Buffer::default();
        buf.attach(&mut pool);
        peer.write_all(b"abc").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(end.read_into(&mut buf, 1024), IoOutcome::Done(3)));
        assert!(!end.readable, "a short read drained the socket");

        // Data and FIN arrive together and the event says so: the EOF is read at once.
        peer.write_all(b"de").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        end.readable = true;
        end.hup = true;
        assert!(matches!(end.read_into(&mut buf, 1024), IoOutcome::Done(2)));
        assert!(end.readable, "keeps reading towards the reported EOF");
        assert!(matches!(end.read_into(&mut buf, 1024), IoOutcome::Eof));
        assert_eq!(buf.data(), b"abcde");
    }

    #[test]
    fn bytes_then_end_of_stream_pass_through() {
        for mut pool in pools() {
            let (mut src, mut src_peer) = pair();
            let (mut dst, mut dst_peer) = pair();
            src_peer.write_all(b"hello").unwrap();
            src_peer.shutdown(Shutdown::Write).unwrap();
            let (mut buf, mut flow) = (Buffer::default(), Flow::default());
            for _ in 0..100 {
                src.readable = true;
                settle(&mut src, &mut dst, &mut buf, &mut flow, 1024, &mut pool);
                if flow.shut {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(flow.eof && flow.shut, "splice: {}", pool.splices());
            assert_eq!(flow.bytes, 5);
            let mut got = Vec::new();
            dst_peer.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"hello", "data, then FIN");
            buf.release_if_empty(&mut pool);
            flow.release(&mut pool, false);
            assert_eq!(pool.in_use(), (0, 0), "everything went back");
        }
    }

    #[test]
    fn a_full_buffer_or_pipe_stops_reading_until_it_drains() {
        for mut pool in pools() {
            let splices = pool.splices();
            let (mut src, mut src_peer) = pair();
            let (mut dst, mut dst_peer) = pair();
            // More than either the 1 KiB buffer or the 4 KiB pipe holds.
            let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
            src_peer.write_all(&data).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let (mut buf, mut flow) = (Buffer::default(), Flow::default());
            dst.writable = false; // as if the destination were not draining
            settle(&mut src, &mut dst, &mut buf, &mut flow, 1024, &mut pool);
            assert_eq!(buf.len(), 1024, "splice {splices}: stopped at the cap");
            assert_eq!(flow.in_pipe(), 0, "no pipe before the buffer filled");
            assert!(
                src.readable,
                "the source is left unread, not marked drained"
            );
            assert_eq!(flow.bytes, 0);
            let mut got = vec![0u8; data.len()];
            let mut read = 0;
            let mut piped = false;
            for _ in 0..1000 {
                dst.writable = true;
                src.readable = true;
                settle(&mut src, &mut dst, &mut buf, &mut flow, 1024, &mut pool);
                assert!(flow.in_pipe() <= 4096, "a pipe is bounded too");
                piped |= pool.in_use().1 > 0;
                dst_peer
                    .set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                if let Ok(n) = dst_peer.read(&mut got[read..]) {
                    read += n;
                }
                if read == data.len() {
                    break;
                }
            }
            assert_eq!(got, data, "splice {splices}: in order, nothing lost");
            assert_eq!(piped, splices, "bulk data moved to a pipe when splicing");
            assert_eq!(flow.bytes, data.len() as u64);
            assert!(!flow.shut, "no end-of-stream yet");
        }
    }

    #[test]
    fn a_direction_that_copied_while_no_pipe_was_free_keeps_the_order() {
        let relay = RelaySettings {
            mode: RelayMode::Splice,
            pipe_bytes: 4096,
            max_pipes: 1,
        };
        let mut pool = Pool::new(1024, &relay).unwrap();
        let elsewhere = pool.take_pipe().expect("the only pipe");
        let (mut src, mut src_peer) = pair();
        let (mut dst, mut dst_peer) = pair();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
        let writer = {
            let data = data.clone();
            std::thread::spawn(move || src_peer.write_all(&data).unwrap())
        };
        std::thread::sleep(Duration::from_millis(50));
        let (mut buf, mut flow) = (Buffer::default(), Flow::default());
        dst.writable = false;
        settle(&mut src, &mut dst, &mut buf, &mut flow, 1024, &mut pool);
        assert_eq!(buf.len(), 1024, "no pipe free: the buffer took the bytes");
        assert_eq!(flow.in_pipe(), 0);
        pool.give_pipe(elsewhere);
        let mut got = vec![0u8; data.len()];
        let mut read = 0;
        let mut piped = false;
        dst_peer
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        for _ in 0..2000 {
            dst.writable = true;
            src.readable = true;
            settle(&mut src, &mut dst, &mut buf, &mut flow, 1024, &mut pool);
            piped |= flow.in_pipe() > 0 || pool.in_use().1 > 0;
            if let Ok(n) = dst_peer.read(&mut got[read..]) {
                read += n;
            }
            if read == data.len() {
                break;
            }
        }
        writer.join().unwrap();
        assert!(piped, "the pipe was taken once the buffer drained");
        assert_eq!(got, data, "in order, nothing lost");
        buf.release_if_empty(&mut pool);
        flow.release(&mut pool, false);
        assert_eq!(pool.in_use(), (0, 0));
    }

    #[test]
    fn a_grant_bounds_each_read_and_no_grant_leaves_the_source_for_later() {
        for mut pool in pools() {
            let splices = pool.splices();
            let (mut src, mut src_peer) = pair();
            let (mut dst, mut dst_peer) = pair();
            let data: Vec<u8> = (0..20_000u32).map(|i| (i % 239) as u8).collect();
            src_peer.write_all(&data).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let (mut buf, mut flow) = (Buffer::default(), Flow::default());
            let pump_with = |src: &mut Endpoint,
                             dst: &mut Endpoint,
                             buf: &mut Buffer,
                             flow: &mut Flow,
                             pool: &mut Pool,
                             max: usize| {
                pump(src, dst, buf, flow, 1024, pool, false, max).unwrap()
            };
            assert!(!pump_with(
                &mut src, &mut dst, &mut buf, &mut flow, &mut pool, 0
            ));
            assert_eq!(flow.read, 0);
            assert!(src.readable, "still readable: the bytes wait for a grant");
            let mut got = Vec::new();
            for _ in 0..2000 {
                let before = flow.read;
                src.readable = true;
                dst.writable = true;
                pump_with(&mut src, &mut dst, &mut buf, &mut flow, &mut pool, 300);
                assert!(
                    flow.read - before <= 300,
                    "splice {splices}: one grant per read"
                );
                let mut chunk = [0u8; 4096];
                dst_peer
                    .set_read_timeout(Some(Duration::from_millis(5)))
                    .unwrap();
                if let Ok(n) = dst_peer.read(&mut chunk) {
                    got.extend_from_slice(&chunk[..n]);
                }
                if got.len() == data.len() {
                    break;
                }
            }
            assert_eq!(got, data, "splice {splices}: in order, nothing lost");
            assert_eq!(flow.read, data.len() as u64);
        }
    }
}
