//! Answers kept until their TTL runs out, bounded in entries.
//!
//! When full, expired entries go first, then the ones closest to expiring: they are the
//! cheapest to lose. Both are found through an index ordered by expiry, so no operation scans.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::{Addrs, DnsError};

struct Entry {
    result: Result<Addrs, DnsError>,
    expires: Instant,
    seq: u64,
}

pub struct Cache {
    max_entries: usize,
    entries: HashMap<Box<str>, Entry>,
    /// (expiry, insertion number) -> name; the number keeps equal expiries apart.
    by_expiry: BTreeMap<(Instant, u64), Box<str>>,
    next_seq: u64,
}

impl Cache {
    pub fn new(max_entries: usize) -> Cache {
        Cache {
            max_entries,
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cached answer for `name` (already normalised), if it has not expired.
    pub fn get(&mut self, name: &str, now: Instant) -> Option<Result<Addrs, DnsError>> {
        let entry = self.entries.get(name)?;
        if entry.expires > now {
            return Some(entry.result);
        }
        self.remove(name);
        None
    }

    /// Keeps `result` for `ttl`; a zero TTL (or a zero-sized cache) keeps nothing.
    pub fn insert(
        &mut self,
        name: &str,
        result: Result<Addrs, DnsError>,
        ttl: Duration,
        now: Instant,
    ) {
        self.remove(name);
        if ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let Some(expires) = now.checked_add(ttl) else {
            return;
        };
        self.purge_expired(now);
        while self.entries.len() >= self.max_entries {
            let Some(((_, _), victim)) = self.by_expiry.pop_first() else {
                break;
            };
            self.entries.remove(&victim);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            name.into(),
            Entry {
                result,
                expires,
                seq,
            },
        );
        self.by_expiry.insert((expires, seq), name.into());
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.entries.remove(name) {
            self.by_expiry.remove(&(old.expires, old.seq));
        }
    }

    fn purge_expired(&mut self, now: Instant) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let name = entry.remove();
            self.entries.remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn addrs(last: u8) -> Result<Addrs, DnsError> {
        Ok(Addrs::one(IpAddr::from([192, 0, 2, last])))
    }

    #[test]
    fn entries_expire_with_their_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::new(10);
        c.insert("a.test", addrs(1), Duration::from_secs(60), t0);
        c.insert(
            "nx.test",
            Err(DnsError::NxDomain),
            Duration::from_secs(5),
            t0,
        );
        assert_eq!(
            c.get("a.test", t0 + Duration::from_secs(59)),
            Some(addrs(1))
        );
        assert_eq!(
            c.get("nx.test", t0 + Duration::from_secs(4)),
            Some(Err(DnsError::NxDomain))
        );
        assert_eq!(c.get("nx.test", t0 + Duration::from_secs(5)), None);
        assert_eq!(c.get("a.test", t0 + Duration::from_secs(60)), None);
        assert!(c.is_empty(), "expired entries are dropped when seen");
    }

    #[test]
    fn zero_ttl_is_not_kept_and_replaces_the_old_answer() {
        let t0 = Instant::now();
        let mut c = Cache::new(10);
        c.insert("a.test", addrs(1), Duration::from_secs(60), t0);
        c.insert("a.test", addrs(2), Duration::ZERO, t0);
        assert_eq!(c.get("a.test", t0), None);
        assert_eq!(Cache::new(0).get("a.test", t0), None);
    }

    #[test]
    fn full_cache_evicts_expired_then_soonest_to_expire() {
        let t0 = Instant::now();
        let mut c = Cache::new(3);
        c.insert("short.test", addrs(1), Duration::from_secs(1), t0);
        c.insert("mid.test", addrs(2), Duration::from_secs(50), t0);
        c.insert("long.test", addrs(3), Duration::from_secs(100), t0);
        let t1 = t0 + Duration::from_secs(2);
        c.insert("new1.test", addrs(4), Duration::from_secs(100), t1);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c.get("mid.test", t1),
            Some(addrs(2)),
            "only the expired one went"
        );
        c.insert("new2.test", addrs(5), Duration::from_secs(100), t1);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("mid.test", t1), None, "soonest to expire went next");
        for name in ["long.test", "new1.test", "new2.test"] {
            assert!(c.get(name, t1).is_some(), "{name}");
        }
    }

    #[test]
    fn reinserting_does_not_leak_index_entries() {
        let t0 = Instant::now();
        let mut c = Cache::new(2);
        for i in 0..100u8 {
            c.insert(
                "a.test",
                addrs(i),
                Duration::from_secs(u64::from(i) + 1),
                t0,
            );
        }
        assert_eq!(c.len(), 1);
        assert_eq!(c.by_expiry.len(), 1);
        assert_eq!(c.get("a.test", t0), Some(addrs(99)));
    }
}
