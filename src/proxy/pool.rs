//! Relay memory shared by all sessions: userspace buffers and kernel pipes are taken when
//! a direction has bytes in flight and given back as soon as it has drained, so an idle
//! session holds neither. A few of each are kept for reuse; the rest are freed, and
//! [`crate::heap::trim`] hands what the allocator keeps of freed memory back to the system.

use super::settings::{RelayMode, RelaySettings};
use super::splice::Pipe;
use std::io;
use std::time::{Duration, Instant};

/// Drained buffers and pipes kept for the next taker; beyond this they are freed, so a
/// burst's memory goes back to the system once it has passed.
const KEEP_FREE: usize = 64;
/// ... and at most this many bytes of free buffers (large `buffer_bytes` keep fewer).
const KEEP_FREE_BYTES: usize = 2 << 20;

/// The memory a handshake first reads into (see `Buffer::attach_small`): most greetings,
/// requests and HTTP heads fit, and a client that sends one byte pins no more than this.
pub const SMALL_BYTES: usize = 512;

pub struct Pool {
    buffer_bytes: usize,
    /// How many drained buffers are kept (KEEP_FREE, fewer for large buffers).
    keep_buffers: usize,
    buffers: Vec<Vec<u8>>,
    /// Free handshake buffers of exactly [`SMALL_BYTES`] (at most KEEP_FREE).
    small: Vec<Vec<u8>>,
    /// Bytes of buffers freed since [`Pool::take_freed`] last asked.
    freed: usize,
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
    pub fn new(buffer_bytes: usize, relay: &RelaySettings) -> io::Result<Pool> {
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
            keep_buffers: keep_buffers(buffer_bytes),
            buffers: Vec::new(),
            small: Vec::new(),
            freed: 0,
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
            keep_buffers: keep_buffers(buffer_bytes),
            buffers: Vec::new(),
            small: Vec::new(),
            freed: 0,
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

    /// A handshake buffer of [`SMALL_BYTES`] (not counted as in use: sessions in their
    /// handshake hold one each, and they are what a flood of silent clients costs).
    pub fn take_small(&mut self) -> Vec<u8> {
        match self.small.pop() {
            Some(b) => b,
            None => vec![0; SMALL_BYTES],
        }
    }

    /// Gives back a buffer from [`Pool::take_buffer`] or [`Pool::take_small`], told apart
    /// by capacity. Anything else (an empty Vec, memory a session grew itself) was never
    /// taken from here: it is not counted, only freed.
    pub fn give_buffer(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() == SMALL_BYTES {
            if self.small.len() < KEEP_FREE {
                buffer.resize(SMALL_BYTES, 0);
                self.small.push(buffer);
            }
            return;
        }
        if buffer.capacity() < self.buffer_bytes {
            return;
        }
        self.buffers_out = self.buffers_out.saturating_sub(1);
        if self.buffers.len() < self.keep_buffers {
            buffer.resize(self.buffer_bytes, 0);
            self.buffers.push(buffer);
        } else {
            self.freed += buffer.capacity();
        }
    }

    /// Bytes of buffers freed (beyond those kept) since the last call.
    pub fn take_freed(&mut self) -> usize {
        std::mem::take(&mut self.freed)
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

fn keep_buffers(buffer_bytes: usize) -> usize {
    (KEEP_FREE_BYTES / buffer_bytes.max(1)).clamp(2, KEEP_FREE)
}

/// A burst has passed when this many fewer sessions are open than at the peak since the
/// last trim, when the node empties after holding at least as many, or when this many
/// bytes of relay buffers were freed. A trim costs little more than a walk of the free
/// lists, and comes at most once a second.
const TRIM_AFTER_SESSIONS: usize = 64;
const TRIM_AFTER_EMPTY: usize = TRIM_AFTER_SESSIONS;
const TRIM_AFTER_BYTES: usize = 1 << 20;
/// A trim comes this long after the burst has passed: one per burst, not one per close.
const TRIM_DELAY: Duration = Duration::from_secs(1);

/// When the server calls [`crate::heap::trim`]: about a second after each burst of closing
/// sessions or freed buffers, including the tail of a burst that ends after a trim.
#[derive(Debug, Default)]
pub struct TrimSchedule {
    /// Most sessions open at once since the last trim.
    peak_since_trim: usize,
    /// Most sessions open at once since a trim found the node empty.
    peak_since_empty: usize,
    /// Buffer bytes freed since the last trim.
    freed: usize,
    at: Option<Instant>,
}

impl TrimSchedule {
    /// A session was opened; `open` are open now.
    pub fn opened(&mut self, open: usize) {
        self.peak_since_trim = self.peak_since_trim.max(open);
        self.peak_since_empty = self.peak_since_empty.max(open);
    }

    /// When the next trim is due, if one is.
    pub fn due(&self) -> Option<Instant> {
        self.at
    }

    /// After each turn of the loop, with the sessions open and the bytes the pool freed
    /// since the last call: whether to trim now.
    pub fn after_turn(&mut self, now: Instant, open: usize, freed: usize) -> bool {
        self.freed += freed;
        match self.at {
            Some(at) if now >= at => {
                self.at = None;
                self.peak_since_trim = open;
                if open == 0 {
                    self.peak_since_empty = 0;
                }
                self.freed = 0;
                true
            }
            Some(_) => false,
            None => {
                let passed = self.peak_since_trim >= open + TRIM_AFTER_SESSIONS
                    || (open == 0 && self.peak_since_empty >= TRIM_AFTER_EMPTY)
                    || self.freed >= TRIM_AFTER_BYTES;
                if passed {
                    self.at = Some(now + TRIM_DELAY);
                }
                false
            }
        }
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
        assert_eq!(pool.take_freed(), 10 * 1024);
        assert_eq!(pool.take_freed(), 0, "counted once");
        // Large buffers: fewer are kept, so the free list stays within KEEP_FREE_BYTES.
        let mut big = Pool::copying(1 << 20);
        let many: Vec<_> = (0..8).map(|_| big.take_buffer()).collect();
        many.into_iter().for_each(|b| big.give_buffer(b));
        assert_eq!(big.buffers.len(), 2);
        assert_eq!(big.take_freed(), 6 << 20);
    }

    #[test]
    fn small_buffers_are_reused_uncounted_and_bounded() {
        let mut pool = Pool::copying(1024);
        let many: Vec<_> = (0..KEEP_FREE + 10).map(|_| pool.take_small()).collect();
        assert!(many.iter().all(|b| b.len() == SMALL_BYTES));
        assert_eq!(
            pool.in_use(),
            (0, 0),
            "handshake memory is not relay memory"
        );
        many.into_iter().for_each(|b| pool.give_buffer(b));
        assert_eq!(pool.small.len(), KEEP_FREE, "the rest was freed");
        assert_eq!(pool.buffers.len(), 0);
        assert!(pool.take_pipe().is_none(), "a copying pool has no pipes");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pipes_stop_at_the_cap_and_come_back() {
        let relay = RelaySettings {
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

    #[test]
    fn a_trim_follows_each_burst_and_its_tail_but_not_every_close() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut trim = TrimSchedule::default();
        for open in 1..=1000 {
            trim.opened(open);
        }
        // Closing the first few hundred schedules one trim a second later.
        assert!(!trim.after_turn(at(0), 960, 0));
        assert_eq!(trim.due(), None, "40 closed: not a burst yet");
        assert!(!trim.after_turn(at(10), 700, 0));
        assert_eq!(trim.due(), Some(at(10) + TRIM_DELAY));
        assert!(!trim.after_turn(at(500), 400, 0), "not before it is due");
        assert!(trim.after_turn(at(1010), 40, 0));
        assert_eq!(trim.due(), None);
        // The last 40 close after that trim: the node is empty after a burst, so one more.
        assert!(!trim.after_turn(at(1100), 0, 0));
        assert!(trim.after_turn(at(2100), 0, 0));
        // Quiet from then on: no trim for a handful of sessions, nor for an idle node.
        for open in 1..=10 {
            trim.opened(open);
        }
        assert!(!trim.after_turn(at(3000), 0, 0));
        assert_eq!(trim.due(), None);
        // A megabyte of relay buffers freed is a burst too.
        assert!(!trim.after_turn(at(4000), 0, 512 << 10));
        assert!(!trim.after_turn(at(4001), 0, 512 << 10));
        assert!(trim.after_turn(at(5001), 0, 0));
    }
}
