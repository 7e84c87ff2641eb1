//! A bounded byte queue for one direction of a session. Its memory comes from the
//! [`Pool`] when bytes are about to arrive and goes back as soon as it has drained, so an
//! idle session holds no buffer memory at all.

use super::io::{self, IoOutcome};
use super::pool::Pool;
use std::io::{Read, Write};

#[derive(Default)]
pub struct Buffer {
    mem: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buffer {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the buffer holds memory (pooled or not).
    pub fn is_attached(&self) -> bool {
        self.mem.capacity() != 0
    }

    /// Takes memory from the pool unless it already has some.
    pub fn attach(&mut self, pool: &mut Pool) {
        if !self.is_attached() {
            self.mem = pool.take_buffer();
        }
    }

    /// Gives the memory back once there is nothing left in it.
    pub fn release_if_empty(&mut self, pool: &mut Pool) {
        if self.is_empty() && self.is_attached() {
            pool.give_buffer(std::mem::take(&mut self.mem));
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

    /// How many bytes one read may add before the buffer holds `cap`.
    pub fn room(&self, cap: usize) -> usize {
        cap.saturating_sub(self.len())
    }

    /// Free space to read into, such that the content never exceeds `cap` bytes.
    fn space(&mut self, cap: usize) -> &mut [u8] {
        let want = self.room(cap);
        if self.mem.len() < cap {
            self.mem.resize(cap, 0);
        }
        if self.mem.len() - self.end < want {
            self.mem.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.mem[self.end..self.end + want]
    }

    /// Appends bytes the engine produced (a protocol reply); grows if it must.
    pub fn push(&mut self, bytes: &[u8]) {
        let cap = (self.len() + bytes.len()).max(self.mem.len());
        let space = self.space(cap);
        space[..bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Replaces the content with `bytes` (the rewritten head of a forwarded HTTP request);
    /// returns the old memory for the caller to give back.
    pub fn replace(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        self.start = 0;
        self.end = bytes.len();
        std::mem::replace(&mut self.mem, bytes)
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
}
