//! A bounded byte queue for one direction of a session. Relay memory comes from the
//! [`Pool`] when bytes are about to arrive and goes back as soon as it has drained, so an
//! idle session holds no buffer memory at all. Before that (the handshake) a buffer holds
//! memory of its own that grows only as bytes arrive: a client that sends one byte and
//! waits pins a few hundred bytes, not a relay buffer.

use super::io::{self, IoOutcome};
use super::pool::{Pool, SMALL_BYTES};
use std::io::{Read, Write};

#[derive(Default)]
pub struct Buffer {
    mem: Vec<u8>,
    start: usize,
    end: usize,
    /// `mem` came from the pool (and goes back to it); otherwise it is the buffer's own.
    pooled: bool,
}

impl Buffer {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the buffer holds memory (pooled or its own).
    pub fn is_attached(&self) -> bool {
        self.mem.capacity() != 0
    }

    /// Gives an empty buffer a small piece of memory to read a handshake into (from the
    /// pool's free list: no allocation per connection). It grows from there only as bytes
    /// arrive.
    pub fn attach_small(&mut self, pool: &mut Pool) {
        if !self.is_attached() {
            self.mem = pool.take_small();
        }
    }

    /// Makes sure the buffer reads into relay memory: takes a buffer from the pool unless it
    /// has one already, moving over whatever its own memory held (handshake leftovers).
    pub fn attach(&mut self, pool: &mut Pool) {
        if self.pooled {
            return;
        }
        let own = std::mem::replace(&mut self.mem, pool.take_buffer());
        self.pooled = true;
        let held = own.get(self.start..self.end).unwrap_or_default();
        if self.mem.len() < held.len() {
            self.mem.resize(held.len(), 0);
        }
        self.mem[..held.len()].copy_from_slice(held);
        self.start = 0;
        self.end = held.len();
        give_own(own, pool);
    }

    /// Gives the memory back once there is nothing left in it: pool memory to the pool,
    /// the buffer's own to the allocator.
    pub fn release_if_empty(&mut self, pool: &mut Pool) {
        if self.is_empty() && self.is_attached() {
            let mem = std::mem::take(&mut self.mem);
            if std::mem::take(&mut self.pooled) {
                pool.give_buffer(mem);
            } else {
                give_own(mem, pool);
            }
            self.start = 0;
            self.end = 0;
        }
    }

    /// Gives the memory back whatever it holds (the session is ending).
    pub fn release(&mut self, pool: &mut Pool) {
        self.start = 0;
        self.end = 0;
        self.release_if_empty(pool);
    }

    pub fn data(&self) -> &[u8] {
        &self.mem[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Keeps only the first `len` bytes (the rest were read but must not be relayed).
    pub fn truncate(&mut self, len: usize) {
        self.end = self.start + len.min(self.len());
    }

    /// Room left before the buffer holds `cap` bytes.
    pub fn has_room(&self, cap: usize) -> bool {
        self.len() < cap
    }

    /// How many bytes one read may add: up to `cap` in all for relay memory; for the
    /// buffer's own, up to twice what it holds (at least [`SMALL_BYTES`]), so it grows with
    /// what arrives. A read shorter than this drained the socket.
    pub fn room(&self, cap: usize) -> usize {
        self.reach(cap).saturating_sub(self.len())
    }

    /// How long the content may be after the next read.
    fn reach(&self, cap: usize) -> usize {
        if self.pooled {
            return cap;
        }
        let step = self.mem.len().max(2 * self.len()).max(SMALL_BYTES);
        cap.min(step)
    }

    /// Free space to read into: [`Buffer::room`] bytes, such that the content never
    /// exceeds `cap` bytes.
    fn space(&mut self, cap: usize) -> &mut [u8] {
        let reach = self.reach(cap);
        let want = reach.saturating_sub(self.len());
        if self.mem.len() < reach {
            // Own memory grows to exactly what it may hold (no amortised doubling on top).
            self.mem.reserve_exact(reach - self.mem.len());
            self.mem.resize(reach, 0);
        }
        if self.mem.len() - self.end < want {
            self.compact();
        }
        &mut self.mem[self.end..self.end + want]
    }

    /// Moves the content to the front of the memory.
    fn compact(&mut self) {
        self.mem.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }

    /// Appends bytes the engine produced (a protocol reply); grows if it must.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.mem.len() - self.end < bytes.len() {
            self.compact();
            if self.mem.len() - self.end < bytes.len() {
                self.mem.resize(self.end + bytes.len(), 0);
            }
        }
        self.mem[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Replaces the content with `bytes`, memory from [`Pool::take_buffer`] (the rewritten
    /// head of a forwarded HTTP request). Returns the old memory for the caller to give
    /// back to the pool; memory the buffer grew itself is freed here (an empty Vec
    /// returns), so the pool never counts it as relay memory.
    pub fn replace(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        self.start = 0;
        self.end = bytes.len();
        let old = std::mem::replace(&mut self.mem, bytes);
        if std::mem::replace(&mut self.pooled, true) || old.capacity() == SMALL_BYTES {
            old
        } else {
            Vec::new()
        }
    }

    /// One read from `src` into the buffer, keeping it at most `cap` bytes long.
    pub fn read_from(&mut self, src: &mut impl Read, cap: usize) -> IoOutcome {
        let space = self.space(cap);
        if space.is_empty() {
            return IoOutcome::WouldBlock;
        }
        let outcome = io::read(src, space);
        if let IoOutcome::Done(n) = outcome {
            self.end += n;
        }
        outcome
    }

    /// One write of the buffered bytes to `dst`.
    pub fn write_to(&mut self, dst: &mut impl Write) -> IoOutcome {
        let outcome = io::write(dst, self.data());
        if let IoOutcome::Done(n) = outcome {
            self.consume(n);
        }
        outcome
    }
}

/// Memory a buffer held of its own: a small handshake buffer goes back to the pool's free
/// list; memory it grew beyond that is freed (never counted as relay memory).
fn give_own(mem: Vec<u8>, pool: &mut Pool) {
    if mem.capacity() == SMALL_BYTES {
        pool.give_buffer(mem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_reads_compaction_and_release() {
        let mut b = Buffer::default();
        let mut src: &[u8] = b"hello world";
        assert!(matches!(b.read_from(&mut src, 4), IoOutcome::Done(4)));
        assert_eq!(b.data(), b"hell");
        assert!(!b.has_room(4));
        assert!(matches!(b.read_from(&mut src, 4), IoOutcome::WouldBlock));
        b.consume(3);
        assert!(matches!(b.read_from(&mut src, 4), IoOutcome::Done(3)));
        assert_eq!(b.data(), b"lo w");
        b.push(b"!!");
        assert_eq!(b.data(), b"lo w!!");
        let mut out = Vec::new();
        assert!(matches!(b.write_to(&mut out), IoOutcome::Done(6)));
        assert_eq!(out, b"lo w!!");
        assert!(b.is_empty());
        assert!(matches!(b.read_from(&mut src, 64), IoOutcome::Done(4)));
        assert!(matches!(b.read_from(&mut src, 64), IoOutcome::Eof));
    }

    #[test]
    fn memory_comes_from_the_pool_and_goes_back_when_drained() {
        let mut pool = Pool::copying(1024);
        let mut b = Buffer::default();
        assert!(!b.is_attached());
        b.attach(&mut pool);
        assert_eq!(pool.in_use(), (1, 0));
        let mut src: &[u8] = b"abc";
        assert!(matches!(b.read_from(&mut src, 1024), IoOutcome::Done(3)));
        b.release_if_empty(&mut pool);
        assert_eq!(pool.in_use(), (1, 0), "kept while it holds bytes");
        b.consume(3);
        b.release_if_empty(&mut pool);
        assert!(!b.is_attached());
        assert_eq!(pool.in_use(), (0, 0));
        b.attach(&mut pool);
        b.push(b"x");
        b.release(&mut pool);
        assert_eq!(pool.in_use(), (0, 0), "released even with bytes left");
    }

    #[test]
    fn handshake_memory_grows_only_as_bytes_arrive() {
        let mut pool = Pool::copying(32 * 1024);
        let mut b = Buffer::default();
        b.attach_small(&mut pool);
        let mut one: &[u8] = b"\x05";
        assert!(matches!(b.read_from(&mut one, 8192), IoOutcome::Done(1)));
        assert_eq!(
            b.mem.capacity(),
            SMALL_BYTES,
            "one byte pins a small buffer"
        );
        assert_eq!(pool.in_use(), (0, 0), "and no relay buffer");

        // A large head: each read may double what is held, never past the cap.
        let big = vec![b'x'; 10_000];
        let mut src: &[u8] = &big;
        let mut reads = Vec::new();
        while b.has_room(8192) {
            let room = b.room(8192);
            match b.read_from(&mut src, 8192) {
                IoOutcome::Done(n) => {
                    assert_eq!(n, room, "the source has more than a read may take");
                    reads.push(n);
                }
                other => panic!("{other:?}"),
            }
            assert!(b.mem.capacity() <= (2 * b.len()).max(SMALL_BYTES));
        }
        assert_eq!(reads, [511, 512, 1024, 2048, 4096]);
        assert_eq!(b.len(), 8192);
        assert_eq!(b.room(8192), 0);
        b.release(&mut pool);
        assert!(!b.is_attached());
        assert_eq!(pool.take_freed(), 0, "grown memory was never the pool's");
    }

    #[test]
    fn attaching_moves_handshake_leftovers_into_relay_memory() {
        let mut pool = Pool::copying(1024);
        let mut b = Buffer::default();
        b.attach_small(&mut pool);
        let mut src: &[u8] = b"request+early data";
        assert!(matches!(b.read_from(&mut src, 1024), IoOutcome::Done(18)));
        b.consume(8);
        b.attach(&mut pool);
        assert_eq!(pool.in_use(), (1, 0));
        assert_eq!(b.data(), b"early data");
        assert_eq!(b.room(1024), 1024 - 10, "relay memory takes a full read");
        // The small buffer went back to the pool's free list and is taken again.
        let again = pool.take_small();
        assert_eq!(again.capacity(), SMALL_BYTES);
        b.release(&mut pool);
        assert_eq!(pool.in_use(), (0, 0));

        // replace() returns pool memory, and small memory, but never memory grown here.
        let mut b = Buffer::default();
        b.push(&[1; 2000]);
        assert!(b.replace(pool.take_buffer()).is_empty());
        let old = b.replace(pool.take_buffer());
        assert_eq!(old.len(), 1024);
        pool.give_buffer(old);
        b.release(&mut pool);
        assert_eq!(pool.in_use(), (0, 0));
    }
}
