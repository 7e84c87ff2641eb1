//! A bounded byte queue for one direction of a session. Memory is allocated on first use,
//! so a session that never relays never holds a full-size buffer; issue 7 will take
//! buffers from a pool here and hand them back while a session is idle.

use super::io::{self, IoOutcome};
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

    /// Room left before the buffer holds `cap` bytes.
    pub fn has_room(&self, cap: usize) -> bool {
        self.len() < cap
    }

    /// Free space to read into, such that the content never exceeds `cap` bytes.
    fn space(&mut self, cap: usize) -> &mut [u8] {
        let want = cap.saturating_sub(self.len());
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

    /// Replaces the content with `bytes` (the rewritten head of a forwarded HTTP request).
    pub fn replace(&mut self, bytes: Vec<u8>) {
        self.start = 0;
        self.end = bytes.len();
        self.mem = bytes;
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
}
