//! A slab of sessions: stable `usize` keys that map to mio tokens, each slot with a
//! generation so a timer or completion for a session that has since closed (and whose
//! slot was reused) is recognised as stale. Generations come from one counter, so they
//! stay unique even after the slab gives its memory back.
//!
//! Slots live in chunks of [`CHUNK`], allocated when needed and freed as soon as they are
//! empty, and a new value takes the lowest free key: after a burst of thousands of
//! connections the memory goes back even while a few sessions stay open (they pin their
//! own chunks only), and a quiet node reuses one spare chunk instead of allocating on
//! every connection.

/// Slots per chunk: one bit each in a `u64`.
const CHUNK: usize = 64;

pub struct Slab<T> {
    chunks: Vec<Option<Box<Chunk<T>>>>,
    /// Bit `c % 64` of word `c / 64` is set when chunk `c` is full (allocated, no room).
    full: Vec<u64>,
    /// An emptied chunk kept for the next insert.
    spare: Option<Box<Chunk<T>>>,
    len: usize,
    next_generation: u64,
}

struct Chunk<T> {
    /// Bit `i` set: slot `i` holds a value.
    occupied: u64,
    slots: [Slot<T>; CHUNK],
}

struct Slot<T> {
    generation: u64,
    value: Option<T>,
}

impl<T> Chunk<T> {
    fn new() -> Box<Chunk<T>> {
        Box::new(Chunk {
            occupied: 0,
            slots: std::array::from_fn(|_| Slot {
                generation: 0,
                value: None,
            }),
        })
    }
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            full: Vec::new(),
            spare: None,
            len: 0,
            next_generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key the next `insert` will use, so a value can be built knowing its own key:
    /// the lowest free one.
    pub fn vacant_key(&self) -> usize {
        let chunk = self.first_chunk_with_room();
        let slot = match self.chunks.get(chunk) {
            Some(Some(c)) => c.occupied.trailing_ones() as usize,
            _ => 0,
        };
        chunk * CHUNK + slot
    }

    /// The lowest chunk index that is free or has a free slot (maybe one past the end).
    fn first_chunk_with_room(&self) -> usize {
        (self.full.iter().enumerate())
            .find(|(_, w)| **w != u64::MAX)
            .map_or(self.full.len() * 64, |(i, w)| {
                i * 64 + w.trailing_ones() as usize
            })
    }

    fn set_full(&mut self, chunk: usize, full: bool) {
        let (word, bit) = (chunk / 64, chunk % 64);
        if self.full.len() <= word {
            self.full.resize(word + 1, 0);
        }
        if full {
            self.full[word] |= 1 << bit;
        } else {
            self.full[word] &= !(1 << bit);
        }
    }

    /// Stores `value`; returns its key and generation.
    pub fn insert(&mut self, value: T) -> (usize, u64) {
        let key = self.vacant_key();
        let (c, i) = (key / CHUNK, key % CHUNK);
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        let spare = &mut self.spare;
        let chunk = self.chunks[c].get_or_insert_with(|| spare.take().unwrap_or_else(Chunk::new));
        let generation = self.next_generation;
        self.next_generation += 1;
        chunk.slots[i] = Slot {
            generation,
            value: Some(value),
        };
        chunk.occupied |= 1 << i;
        let full = chunk.occupied == u64::MAX;
        self.set_full(c, full);
        self.len += 1;
        (key, generation)
    }

    fn slot_mut(&mut self, key: usize) -> Option<&mut Slot<T>> {
        let chunk = self.chunks.get_mut(key / CHUNK)?.as_mut()?;
        chunk.slots.get_mut(key % CHUNK)
    }

    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.slot_mut(key)?.value.as_mut()
    }

    /// The value under `key` only if it is still the one of generation `generation`.
    pub fn get_current(&mut self, key: usize, generation: u64) -> Option<&mut T> {
        let slot = self.slot_mut(key)?;
        if slot.generation == generation {
            slot.value.as_mut()
        } else {
            None
        }
    }

    pub fn remove(&mut self, key: usize) -> Option<T> {
        let (c, i) = (key / CHUNK, key % CHUNK);
        let chunk = self.chunks.get_mut(c)?.as_mut()?;
        let value = chunk.slots.get_mut(i)?.value.take()?;
        chunk.occupied &= !(1 << i);
        let emptied = chunk.occupied == 0;
        self.set_full(c, false);
        self.len -= 1;
        if emptied {
            // Freed now (one kept as the spare), so a burst's memory does not stay.
            let chunk = self.chunks[c].take();
            if self.spare.is_none() {
                self.spare = chunk;
            }
            while matches!(self.chunks.last(), Some(None)) {
                self.chunks.pop();
            }
            self.full.truncate(self.chunks.len().div_ceil(64));
            if self.chunks.capacity() > 4 * self.chunks.len() + 16 {
                self.chunks.shrink_to_fit();
                self.full.shrink_to_fit();
            }
        }
        Some(value)
    }

    /// Keys of every occupied slot.
    pub fn keys(&self) -> Vec<usize> {
        let mut keys = Vec::with_capacity(self.len);
        for (c, chunk) in self.chunks.iter().enumerate() {
            let Some(chunk) = chunk else { continue };
            keys.extend(
                (0..CHUNK)
                    .filter(|i| chunk.occupied & (1 << i) != 0)
                    .map(|i| c * CHUNK + i),
            );
        }
        keys
    }

    /// Chunks allocated (for tests of the memory behaviour).
    #[cfg(test)]
    fn chunks_held(&self) -> usize {
        self.chunks.iter().flatten().count() + usize::from(self.spare.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reused_with_a_new_generation() {
        let mut slab = Slab::new();
        let (a, ga) = slab.insert("a");
        let (b, _) = slab.insert("b");
        assert_ne!(a, b);
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.vacant_key(), a);
        let (c, gc) = slab.insert("c");
        assert_eq!(c, a);
        assert_ne!(gc, ga);
        assert!(
            slab.get_current(c, ga).is_none(),
            "stale generation must not match"
        );
        assert_eq!(slab.get_current(c, gc).copied(), Some("c"));
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.keys(), vec![a, b]);
    }

    #[test]
    fn the_lowest_free_key_is_taken_across_chunks() {
        let mut slab = Slab::new();
        let keys: Vec<usize> = (0..3 * CHUNK).map(|i| slab.insert(i).0).collect();
        assert_eq!(keys, (0..3 * CHUNK).collect::<Vec<_>>());
        slab.remove(CHUNK + 5);
        slab.remove(2 * CHUNK + 1);
        assert_eq!(slab.vacant_key(), CHUNK + 5);
        assert_eq!(slab.insert(0).0, CHUNK + 5);
        assert_eq!(slab.insert(0).0, 2 * CHUNK + 1);
        assert_eq!(slab.insert(0).0, 3 * CHUNK, "all full: a new chunk");
        assert_eq!(slab.len(), 3 * CHUNK + 1);
        assert_eq!(slab.keys().len(), slab.len());
    }

    #[test]
    fn emptied_chunks_are_freed_while_others_stay_open() {
        let mut slab = Slab::new();
        let burst: Vec<_> = (0..4000).map(|i| slab.insert(i)).collect();
        // One session from the middle of the burst stays open.
        let (kept, kept_generation) = burst[2100];
        for &(key, _) in burst.iter().filter(|(k, _)| *k != kept) {
            slab.remove(key);
        }
        assert_eq!(slab.len(), 1);
        assert_eq!(slab.chunks_held(), 2, "its own chunk and the spare");
        assert_eq!(slab.get_current(kept, kept_generation).copied(), Some(2100));
        assert_eq!(
            slab.chunks.len(),
            2100 / CHUNK + 1,
            "trailing empty chunks go too"
        );
        // Keys and generations stay unique after the memory went back.
        let (key, generation) = slab.insert(7);
        assert_eq!(key, 0);
        for (old_key, old_generation) in burst.iter().filter(|(k, _)| *k == key) {
            assert_ne!(generation, *old_generation);
            assert!(slab.get_current(*old_key, *old_generation).is_none());
        }
        slab.remove(kept);
        slab.remove(key);
        assert!(slab.is_empty());
        assert_eq!(slab.chunks_held(), 1, "only the spare");
        assert!(slab.chunks.is_empty());
    }
}
