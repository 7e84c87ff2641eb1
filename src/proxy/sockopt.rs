//! The socket options the engine needs that mio does not offer.

use std::io;
use std::os::fd::AsRawFd;

/// setsockopt(2) with a plain value.
fn set<T>(sock: &impl AsRawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: setsockopt reads exactly size_of::<T>() bytes from a valid reference.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// SO_LINGER 0: close() then sends RST instead of FIN.
pub fn abort_on_close(sock: &impl AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Best effort: without it the peer sees a FIN, which the reset would have replaced.
    let _ = set(sock, libc::SOL_SOCKET, libc::SO_LINGER, &linger);
}

/// Whether accepted connections take TCP_NODELAY from the listener (Linux copies the
/// listening socket's options into each one): the listener then gets it once in
/// server.rs, and each accepted session saves the call.
pub const NODELAY_INHERITED: bool = cfg!(target_os = "linux");

/// TCP_NODELAY on a socket (a listening one passes it on where `NODELAY_INHERITED`).
pub fn nodelay(sock: &impl AsRawFd) -> io::Result<()> {
    set(
        sock,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        &(1 as libc::c_int),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn nodelay_of(sock: &impl AsRawFd) -> libc::c_int {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        value
    }

    #[test]
    fn accepted_connections_inherit_nodelay_from_the_listener() {
        // NODELAY_INHERITED stands on this.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        nodelay(&listener).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_ne!(nodelay_of(&accepted), 0);

        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(plain.local_addr().unwrap()).unwrap();
        let (accepted, _) = plain.accept().unwrap();
        assert_eq!(nodelay_of(&accepted), 0);
    }
}
