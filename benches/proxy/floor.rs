//! The floor row: the least work a SOCKS5 relay can do on Linux, run on the proxy's CPU
//! like every proxy under test. It checks the username and password, connects, and then
//! moves bytes with blocking splice(2) through a 1 MiB pipe per direction, one thread per
//! direction: no event loop, no limits, no policy, no timers. It is part of the harness,
//! not a product: it shows how close to the baseline any relay can get on this machine,
//! where the kernel's cost of passing bytes between two CPUs is the limit. Only its bulk
//! figures are taken: a thread per direction is no floor for memory or connection cost.
//!
//! Started by the bench as its own executable with AQ_BENCH_ROLE=floor and the port to
//! listen on as the only argument.

use crate::peers::{PASSWORD, USER};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::thread;

const PIPE_BYTES: usize = 1 << 20;

pub fn serve() -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| io::Error::other("usage: AQ_BENCH_ROLE=floor <bench> PORT"))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    // Ends when the bench stops it (SIGTERM).
    loop {
        let (client, _) = listener.accept()?;
        // A connection that gets no thread is dropped, as with any server out of threads.
        let _ = spawn(move || handle(client));
    }
}

/// A thread with a small stack: a relay thread needs little, and thousands of them must
/// not run the address space dry.
fn spawn(
    f: impl FnOnce() -> io::Result<()> + Send + 'static,
) -> io::Result<thread::JoinHandle<io::Result<()>>> {
    thread::Builder::new().stack_size(64 * 1024).spawn(f)
}

fn handle(mut client: TcpStream) -> io::Result<()> {
    client.set_nodelay(true)?;
    let upstream = handshake(&mut client)?;
    let (client2, upstream2) = (client.try_clone()?, upstream.try_clone()?);
    let up = spawn(move || relay(&client2, &upstream2))?;
    let down = relay(&upstream, &client);
    let up = up
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("relay thread")));
    down.and(up)
}

/// RFC 1928 with RFC 1929 username/password and IPv4 CONNECT only (all the load
/// generator sends); anything else ends the connection.
fn handshake(c: &mut TcpStream) -> io::Result<TcpStream> {
    let bad = || io::Error::other("unexpected SOCKS5 message");
    let mut head = [0u8; 2];
    c.read_exact(&mut head)?;
    let mut methods = vec![0u8; head[1] as usize];
    c.read_exact(&mut methods)?;
    if head[0] != 5 || !methods.contains(&2) {
        c.write_all(&[5, 0xff])?;
        return Err(bad());
    }
    c.write_all(&[5, 2])?;
    let mut ver_ulen = [0u8; 2];
    c.read_exact(&mut ver_ulen)?;
    let mut user = vec![0u8; ver_ulen[1] as usize];
    c.read_exact(&mut user)?;
    let mut plen = [0u8; 1];
    c.read_exact(&mut plen)?;
    let mut password = vec![0u8; plen[0] as usize];
    c.read_exact(&mut password)?;
    if user != USER.as_bytes() || password != PASSWORD.as_bytes() {
        c.write_all(&[1, 1])?;
        return Err(bad());
    }
    c.write_all(&[1, 0])?;
    let mut req = [0u8; 10];
    c.read_exact(&mut req)?;
    if req[..4] != [5, 1, 0, 1] {
        return Err(bad());
    }
    let ip = Ipv4Addr::new(req[4], req[5], req[6], req[7]);
    let upstream =
        TcpStream::connect(SocketAddr::from((ip, u16::from_be_bytes([req[8], req[9]]))))?;
    upstream.set_nodelay(true)?;
    let bound = match upstream.local_addr()? {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => return Err(bad()),
    };
    let mut reply = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    reply[4..8].copy_from_slice(&bound.ip().octets());
    reply[8..].copy_from_slice(&bound.port().to_be_bytes());
    c.write_all(&reply)?;
    Ok(upstream)
}

/// `src` to `dst` through a pipe until `src` ends, then passes the end on.
fn relay(src: &TcpStream, dst: &TcpStream) -> io::Result<()> {
    let (read, write) = pipe()?;
    loop {
        let n = splice(src.as_raw_fd(), write.as_raw_fd(), PIPE_BYTES)?;
        if n == 0 {
            let _ = dst.shutdown(Shutdown::Write);
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            match splice(read.as_raw_fd(), dst.as_raw_fd(), left)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                m => left -= m,
            }
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETPIPE_SZ takes an int; failing leaves the default size, still correct.
    unsafe {
        libc::fcntl(
            write.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            PIPE_BYTES as libc::c_int,
        )
    };
    Ok((read, write))
}

/// One blocking splice(2); EINTR is retried.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: splice with null offsets on a socket and a pipe reads no user memory.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
