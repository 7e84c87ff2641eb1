//! Relay memory shared by all sessions: userspace buffers and kernel pipes are taken when
//! a direction has bytes in flight and given back as soon as it has drained, so an idle
//! session holds neither. A few of each are kept for reuse; the rest are freed.

use super::splice::Pipe;
use crate::config::relay::{RelayConfig, RelayMode};
use std::io;

/// Drained buffers and pipes kept for the next taker; beyond this they are freed, so a
/// burst's memory goes back to the system once it has passed.
const KEEP_FREE: usize = 64;

pub struct Pool {
    buffer_bytes: usize,
    buffers: Vec<Vec<u8>>,
    buffers_out: usize,
    pipes: Vec<Pipe>,
    pipes_out: usize,
    splice: bool,
    pipe_bytes: usize,
    max_pipes: usize,
    /// Set after pipe2 failed (out of descriptors): logged once per episode.
    pipe_error_logged: bool,
}

impl Pool {
    /// A pool for buffers of `buffer_bytes`; with splice if the config asks for it (or
    /// leaves it to `auto` and the kernel can). Err only when `splice` was forced and is
    /// not available.
    pub fn new(buffer_bytes: usize, relay: &RelayConfig) -> io::Result<Pool> {
        let splice = match relay.mode {
            RelayMode::Copy => false,
            RelayMode::Auto => super::splice::supported(),
            RelayMode::Splice => {
                if !super::splice::supported() {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "relay.mode = \"splice\": this system cannot splice(2) TCP sockets",
                    ));
                }
                true
            }
        };
        let splice = splice && relay.max_pipes > 0;
        let mut pipes = Vec::new();
        if splice {
            // One pipe made now says whether the size asked for is granted (it is kept).
            let pipe = Pipe::new(relay.pipe_bytes)?;
            if pipe.capacity() < relay.pipe_bytes {
                log::warn!(
                    "relay.pipe_bytes = {}: the kernel grants {} (fs.pipe-max-size, fs.pipe-user-pages-soft)",
                    relay.pipe_bytes,
                    pipe.capacity()
                );
            }
            pipes.push(pipe);
        }
        Ok(Pool {
            buffer_bytes,
            buffers: Vec::new(),
            buffers_out: 0,
            pipes,
            pipes_out: 0,
            splice,
            pipe_bytes: relay.pipe_bytes,
            max_pipes: relay.max_pipes,
            pipe_error_logged: false,
        })
    }

    /// A copy-only pool for unit tests.
    #[cfg(test)]
    pub fn copying(buffer_bytes: usize) -> Pool {
        Pool {
            buffer_bytes,
            buffers: Vec::new(),
            buffers_out: 0,
            pipes: Vec::new(),
            pipes_out: 0,
            splice: false,
            pipe_bytes: 0,
            max_pipes: 0,
            pipe_error_logged: false,
        }
    }

    pub fn splices(&self) -> bool {
        self.splice
    }

    /// A buffer of `buffer_bytes` (its length; the content is whatever was there).
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.buffers_out += 1;
        match self.buffers.pop() {
            Some(b) => b,
            None => vec![0; self.buffer_bytes],
        }
    }

    /// Gives back a buffer from [`Pool::take_buffer`]. A buffer is recognised as pooled by
    /// its capacity (at least `buffer_bytes`); smaller ones (a handshake reply pushed
    /// before the session took one) were never counted and are simply freed.
    pub fn give_buffer(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() < self.buffer_bytes {
            return;
        }
        self.buffers_out = self.buffers_out.saturating_sub(1);
        if self.buffers.len() < KEEP_FREE {
            buffer.resize(self.buffer_bytes, 0);
            self.buffers.push(buffer);
        }
    }

    /// A pipe, or None when splicing is off, `relay.max_pipes` are in use, or the process
    /// is out of descriptors; the caller then relays through a buffer.
    pub fn take_pipe(&mut self) -> Option<Pipe> {
        if !self.splice || self.pipes_out >= self.max_pipes {
            return None;
        }
        let pipe = match self.pipes.pop() {
            Some(p) => p,
            None => match Pipe::new(self.pipe_bytes) {
                Ok(p) => {
                    self.pipe_error_logged = false;
                    p
                }
                Err(e) => {
                    if !self.pipe_error_logged {
                        log::warn!("relay: cannot create a pipe ({e}); copying instead until one can be made");
                        self.pipe_error_logged = true;
                    }
                    return None;
                }
            },
        };
        self.pipes_out += 1;
        Some(pipe)
    }

    /// Gives back a pipe; one that still holds bytes (its session ended mid-transfer) is
    /// closed, never reused.
    pub fn give_pipe(&mut self, pipe: Pipe) {
        self.pipes_out = self.pipes_out.saturating_sub(1);
        if pipe.is_empty() && self.pipes.len() < KEEP_FREE {
            self.pipes.push(pipe);
        }
    }

    /// (buffers, pipes) currently held by sessions.
    pub fn in_use(&self) -> (usize, usize) {
        (self.buffers_out, self.pipes_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_counted_reused_and_bounded() {
        let mut pool = Pool::copying(1024);
        let a = pool.take_buffer();
        let b = pool.take_buffer();
        assert_eq!(a.len(), 1024);
        assert_eq!(pool.in_use(), (2, 0));
        pool.give_buffer(a);
        pool.give_buffer(Vec::with_capacity(16)); // never taken: not counted
        assert_eq!(pool.in_use(), (1, 0));
        pool.give_buffer(b);
        assert_eq!(pool.in_use(), (0, 0));
        let many: Vec<_> = (0..KEEP_FREE + 10).map(|_| pool.take_buffer()).collect();
        many.into_iter().for_each(|b| pool.give_buffer(b));
        assert_eq!(pool.buffers.len(), KEEP_FREE, "the rest was freed");
        assert!(pool.take_pipe().is_none(), "a copying pool has no pipes");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pipes_stop_at_the_cap_and_come_back() {
        let relay = RelayConfig {
            mode: RelayMode::Splice,
            pipe_bytes: 65536,
            max_pipes: 2,
        };
        let mut pool = Pool::new(1024, &relay).unwrap();
        let a = pool.take_pipe().unwrap();
        let b = pool.take_pipe().unwrap();
        assert!(pool.take_pipe().is_none(), "max_pipes reached");
        assert_eq!(pool.in_use(), (0, 2));
        pool.give_pipe(a);
        pool.give_pipe(b);
        assert_eq!(pool.in_use(), (0, 0));
        assert!(pool.take_pipe().is_some());
    }
}
