//! A slab of sessions: stable `usize` keys that map to mio tokens, reused through a free
//! list, each slot with a generation so a timer or completion for a session that has since
//! closed (and whose slot was reused) is recognised as stale.

pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    len: usize,
}

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
        if let Some(key) = self.free.pop() {
            let slot = &mut self.slots[key];
            slot.generation += 1;
            slot.value = Some(value);
            return (key, slot.generation);
        }
        self.slots.push(Slot {
            generation: 0,
            value: Some(value),
        });
        (self.slots.len() - 1, 0)
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
}
