//! Zero-copy relay: bytes move socket → pipe → socket with splice(2) and never
//! enter userspace. A [`Pipe`] knows how many bytes it holds, so the relay can count
//! them as buffered (backpressure) and tell "pipe full" from "socket drained".

use super::io::IoOutcome;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One kernel pipe used as a relay buffer for one direction.
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Bytes spliced in and not yet spliced out.
    len: u32,
    /// What the kernel granted for F_SETPIPE_SZ.
    capacity: u32,
}

impl Pipe {
    /// A non-blocking pipe of (about) `bytes` capacity. The kernel may grant less than
    /// asked (per-user pipe limits); the capacity it reports is what counts.
    pub fn new(bytes: usize) -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 writes two descriptors into a valid two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let asked = bytes.min(i32::MAX as usize) as libc::c_int;
        // SAFETY: fcntl on a descriptor we own; failure only leaves the default size.
        let mut capacity = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, asked) };
        if capacity <= 0 {
            // SAFETY: as above.
            capacity = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) };
        }
        if capacity <= 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Pipe {
            read,
            write,
            len: 0,
            capacity: capacity as u32,
        })
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    pub fn room(&self) -> usize {
        self.capacity.saturating_sub(self.len) as usize
    }

    /// One splice from socket `src` into the pipe. `WouldBlock` is ambiguous when the pipe
    /// already holds bytes (the socket is drained, or the pipe's page slots are used up
    /// before its byte capacity); with an empty pipe it means the socket is drained.
    pub fn fill_from(&mut self, src: &impl AsRawFd) -> IoOutcome {
        self.fill_at_most(src, usize::MAX)
    }

    /// [`Pipe::fill_from`] moving at most `max` bytes (what a rate limit allows).
    pub fn fill_at_most(&mut self, src: &impl AsRawFd, max: usize) -> IoOutcome {
        let outcome = splice(
            src.as_raw_fd(),
            self.write.as_raw_fd(),
            self.room().min(max),
        );
        if let IoOutcome::Done(n) = outcome {
            self.len = self.len.saturating_add(n as u32);
        }
        outcome
    }

    /// One splice from the pipe into socket `dst`; with bytes in the pipe, `WouldBlock`
    /// means the socket's send buffer is full.
    pub fn drain_to(&mut self, dst: &impl AsRawFd) -> IoOutcome {
        let outcome = splice(self.read.as_raw_fd(), dst.as_raw_fd(), self.len());
        match outcome {
            IoOutcome::Done(n) => self.len = self.len.saturating_sub(n as u32),
            // A pipe with bytes in it never reads as end-of-file: the destination is gone.
            IoOutcome::Eof => return IoOutcome::Error(io::ErrorKind::WriteZero.into()),
            _ => {}
        }
        outcome
    }
}

/// Whether this kernel can splice a TCP socket into a pipe (probed once at start-up on a
/// loopback pair, so `relay.mode = "auto"` never picks a path that fails mid-session).
pub fn supported() -> bool {
    probe().is_ok()
}

fn probe() -> io::Result<()> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    server.set_nonblocking(true)?;
    client.write_all(b"x")?;
    let mut pipe = Pipe::new(4096)?;
    // Loopback delivers at once, but a loaded machine may take a moment: bounded retries.
    for _ in 0..200 {
        match pipe.fill_from(&server) {
            IoOutcome::Done(_) => return Ok(()),
            IoOutcome::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(5)),
            IoOutcome::Error(e) => return Err(e),
            IoOutcome::Eof => break,
        }
    }
    Err(io::ErrorKind::TimedOut.into())
}

fn splice(from: RawFd, to: RawFd, len: usize) -> IoOutcome {
    if len == 0 {
        return IoOutcome::WouldBlock;
    }
    loop {
        // SAFETY: both descriptors are open for the duration of the call; null offsets
        // mean "current position", as pipes and sockets require.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n > 0 {
            return IoOutcome::Done(n as usize);
        }
        if n == 0 {
            return IoOutcome::Eof;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return IoOutcome::WouldBlock,
            _ => return IoOutcome::Error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        b.set_nonblocking(true).unwrap();
        a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        (a, b)
    }

    #[test]
    fn bytes_go_through_the_pipe_and_are_counted() {
        assert!(supported(), "this kernel splices TCP");
        let (mut src_peer, src) = pair();
        let (mut dst_peer, dst) = pair();
        let mut pipe = Pipe::new(64 * 1024).unwrap();
        assert!(pipe.room() >= 4096 && pipe.is_empty());
        assert!(matches!(pipe.fill_from(&src), IoOutcome::WouldBlock));
        src_peer.write_all(b"through the kernel").unwrap();
        let mut moved = 0;
        for _ in 0..400 {
            if let IoOutcome::Done(n) = pipe.fill_from(&src) {
                moved += n;
            }
            if moved == 18 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pipe.len(), 18);
        assert!(matches!(pipe.drain_to(&dst), IoOutcome::Done(18)));
        assert!(pipe.is_empty());
        let mut got = [0u8; 18];
        dst_peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"through the kernel");
        drop(src_peer);
        let mut eof = false;
        for _ in 0..400 {
            match pipe.fill_from(&src) {
                IoOutcome::Eof => {
                    eof = true;
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        assert!(eof, "end-of-stream shows as Eof");
    }
}
