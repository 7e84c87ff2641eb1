//! SIGTERM/SIGINT (stop) and SIGHUP (reload) delivered to the event loop through a
//! self-pipe: the handler only writes one byte (async-signal-safe); the loop reads it like
//! any other event.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// Write end of the pipe, for the handler. -1 until installed.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let saved = io::Error::last_os_error();
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one valid byte. A full pipe
        // means a wake-up is already pending, so the result can be ignored.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // Restore errno for the code the signal interrupted.
    if let Some(e) = saved.raw_os_error() {
        // SAFETY: __errno_location returns this thread's errno slot.
        unsafe { *libc::__errno_location() = e };
    }
}

pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Creates the pipe and installs handlers for SIGTERM, SIGINT and SIGHUP.
    pub fn install() -> io::Result<SignalPipe> {
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are fresh descriptors we own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            // SAFETY: a zeroed sigaction is valid; we set the handler and flags we need.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            // SAFETY: sa_mask is a valid sigset_t inside `action`.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // SAFETY: installing a handler that only calls async-signal-safe functions.
            if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            &mut SourceFd(&self.read.as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    /// Empties the pipe: what arrived since the last call, every signal counted (a stop
    /// is never lost behind a reload, nor a reload behind a stop).
    pub fn drain(&self) -> Drained {
        let mut out = Drained::default();
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reading into a valid local buffer of the given length.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return out;
            }
            for &b in buf.get(..n as usize).unwrap_or_default() {
                match i32::from(b) {
                    libc::SIGHUP => out.reload = true,
                    signal => out.stop = Some(signal),
                }
            }
        }
    }
}

/// The signals one drain found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// SIGTERM or SIGINT: the last one's number.
    pub stop: Option<i32>,
    /// SIGHUP.
    pub reload: bool,
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        WRITE_FD.store(-1, Ordering::Relaxed);
    }
}
