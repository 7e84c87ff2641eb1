//! Deadlines as data: a min-heap of (deadline, session key, generation). Entries are hints:
//! when one comes due the server asks the session for its real deadline, so activity that
//! pushes a deadline later costs nothing (no heap operation per byte moved), and entries
//! for closed sessions are dropped by their generation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    pub fn push(&mut self, deadline: Instant, key: usize, generation: u64) {
        self.heap.push(Reverse((deadline, key, generation)));
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `keep(deadline, key, generation)` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(Instant, usize, u64) -> bool) {
        self.heap.retain(|Reverse((t, k, g))| keep(*t, *k, *g));
    }

    /// Removes and returns one entry that is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((t, _, _))) if *t <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn due_entries_come_out_earliest_first() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.push(now + Duration::from_secs(5), 1, 0);
        t.push(now + Duration::from_secs(1), 2, 0);
        t.push(now + Duration::from_secs(9), 3, 0);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
        assert!(t.pop_due(now).is_none());
        let later = now + Duration::from_secs(6);
        assert_eq!(t.pop_due(later).map(|e| e.1), Some(2));
        assert_eq!(t.pop_due(later).map(|e| e.1), Some(1));
        assert!(t.pop_due(later).is_none());
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(9)));
        t.push(now + Duration::from_secs(7), 4, 1);
        t.retain(|_, key, _| key != 3);
        assert_eq!(t.len(), 1);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(7)));
    }
}
