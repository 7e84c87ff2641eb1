//! A slab of sessions: stable `usize` keys that map to mio tokens, reused through a free
//! list, each slot with a generation so a timer or completion for a session that has since
//! closed (and whose slot was reused) is recognised as stale. Generations come from one
//! counter, so they stay unique even after the slab gives its memory back.

pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    len: usize,
    next_generation: u64,
}

/// A slab that empties with more slots than this frees them: after a burst of thousands
/// of connections the node's memory goes back to its idle size, while a small slab is
/// kept so a quiet node does not allocate on every connection.
const KEEP_SLOTS: usize = 64;

struct Slot<T> {
    generation: u64,
    value: Option<T>,
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
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

    /// The key the next `insert` will use, so a value can be built knowing its own key.
    pub fn vacant_key(&self) -> usize {
        self.free.last().copied().unwrap_or(self.slots.len())
    }

    /// Stores `value`; returns its key and generation.
    pub fn insert(&mut self, value: T) -> (usize, u64) {
        self.len += 1;
        let generation = self.next_generation;
        self.next_generation += 1;
        if let Some(key) = self.free.pop() {
            let slot = &mut self.slots[key];
            slot.generation = generation;
            slot.value = Some(value);
            return (key, generation);
        }
        self.slots.push(Slot {
            generation,
            value: Some(value),
        });
        (self.slots.len() - 1, generation)
    }

    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.slots.get_mut(key)?.value.as_mut()
    }

    /// The value under `key` only if it is still the one of generation `generation`.
    pub fn get_current(&mut self, key: usize, generation: u64) -> Option<&mut T> {
        let slot = self.slots.get_mut(key)?;
        if slot.generation == generation {
            slot.value.as_mut()
        } else {
            None
        }
    }

    pub fn remove(&mut self, key: usize) -> Option<T> {
        let value = self.slots.get_mut(key)?.value.take()?;
        self.free.push(key);
        self.len -= 1;
        if self.len == 0 && self.slots.capacity() > KEEP_SLOTS {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
        Some(value)
    }

    /// Keys of every occupied slot.
    pub fn keys(&self) -> Vec<usize> {
        (self.slots.iter().enumerate())
            .filter(|(_, s)| s.value.is_some())
            .map(|(k, _)| k)
            .collect()
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
    fn an_emptied_large_slab_frees_its_slots_and_keeps_generations_unique() {
        let mut slab = Slab::new();
        let first: Vec<_> = (0..KEEP_SLOTS + 1).map(|i| slab.insert(i)).collect();
        for (key, _) in &first {
            slab.remove(*key);
        }
        assert!(slab.is_empty());
        assert_eq!(slab.slots.capacity(), 0, "memory given back");
        let (key, generation) = slab.insert(7);
        assert_eq!(key, 0);
        for (old_key, old_generation) in first.iter().filter(|(k, _)| *k == key) {
            assert_ne!(generation, *old_generation);
            assert!(slab.get_current(*old_key, *old_generation).is_none());
        }
        assert_eq!(slab.get_current(key, generation).copied(), Some(7));
    }
}
