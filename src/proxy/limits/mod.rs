//! Operator limits the event loop enforces (`[limits]` in the config).
//!
//! - [`bucket`]: a token bucket over bytes, time passed in.
//! - [`fair`]: max-min fair shares of the ceiling among members.
//! - [`Limiter`] (here): the node's ceiling and each connected member's bucket; what a
//!   direction of a tunnel may read now, or until when it sleeps.
//! - [`host`] and [`netdev`]: `yield_to_host`, the ceiling that leaves the host's own
//!   traffic its share of the link, from /proc/net/dev.
//! - [`allowance`]: the monthly allowance ledger and its file; [`daily`]: the per-member
//!   daily quota.
//!
//! Reads are what is limited: a byte read from one side is written to the other, so
//! counting reads counts the relayed rate, both directions added. A direction that may
//! not read sleeps on a timer until its bucket holds a useful chunk; it never spins.
//! Nothing here exists for members without open sessions, and with no ceiling and no
//! per-member cap no bucket exists at all.

pub mod allowance;
pub mod bucket;
pub mod controls;
pub mod daily;
pub mod fair;
pub mod host;
pub mod netdev;
pub mod settings;

use bucket::Bucket;
use fair::{member_rates, Demand};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

/// How often members' rates are recomputed from what they used.
pub const TICK: Duration = Duration::from_millis(100);
/// A direction waits until it may read at least this much (or what it asked for, if
/// less): reading a few bytes per wake-up would cost a system call each.
const MIN_CHUNK: u64 = 16 * 1024;
/// Buckets hold 20 ms at their rate (at least 64 KiB): small enough that a ceiling holds
/// over a second, large enough that a 500 Mbit/s direction is not woken every page.
const BURST_TIME_DIVISOR: u64 = 50;
const MIN_BURST: u64 = 64 * 1024;

fn burst_for(rate: u64) -> u64 {
    (rate / BURST_TIME_DIVISOR).max(MIN_BURST)
}

/// Why the ceiling is what it is (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeilingReason {
    Unlimited,
    Configured,
    /// `yield_to_host` lowered it below `max_mbit` (or set it, without one).
    Yielding,
}

impl CeilingReason {
    pub fn label(self) -> &'static str {
        match self {
            CeilingReason::Unlimited => "unlimited",
            CeilingReason::Configured => "configured",
            CeilingReason::Yielding => "yielding",
        }
    }
}

/// The rate settings, in bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateSettings {
    pub max_rate: Option<u64>,
    pub per_member_rate: Option<u64>,
}

/// What a direction may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Read at most this many bytes.
    Read(usize),
    /// Read nothing; try again at this instant.
    Wait(Instant),
}

/// A session's handle on its member's entry, from [`Limiter::join`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(u32);

struct Member {
    key: u64,
    sessions: u32,
    bucket: Option<Bucket>,
    /// Bytes read in the current tick, and whether it asked for more than it got.
    used: u64,
    held_back: bool,
}

pub struct Limiter {
    settings: RateSettings,
    /// What `yield_to_host` allows now, if it is on.
    host_ceiling: Option<u64>,
    node: Option<Bucket>,
    members: Vec<Option<Member>>,
    free: Vec<u32>,
    /// Member key (a keyed hash of the account, see [`Limiter::key_of`]) to its slot: no
    /// allocation per session once the tables have grown.
    by_key: HashMap<u64, u32>,
    keys: RandomState,
    last_tick: Instant,
    relayed: u64,
}

impl Limiter {
    pub fn new(settings: RateSettings, now: Instant) -> Limiter {
        let mut l = Limiter {
            settings,
            host_ceiling: None,
            node: None,
            members: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::new(),
            keys: RandomState::new(),
            last_tick: now,
            relayed: 0,
        };
        l.apply_ceiling(now);
        l
    }

    /// New settings (a reload); members keep their entries, buckets their tokens.
    pub fn set_settings(&mut self, settings: RateSettings, now: Instant) {
        self.settings = settings;
        self.apply_ceiling(now);
    }

    /// `yield_to_host`'s ceiling from now on (`None`: it is off).
    pub fn set_host_ceiling(&mut self, ceiling: Option<u64>, now: Instant) {
        if self.host_ceiling != ceiling {
            self.host_ceiling = ceiling;
            self.apply_ceiling(now);
        }
    }

    /// The node's ceiling in bytes per second and why.
    pub fn ceiling(&self) -> (Option<u64>, CeilingReason) {
        match (self.settings.max_rate, self.host_ceiling) {
            (None, None) => (None, CeilingReason::Unlimited),
            (Some(m), None) => (Some(m), CeilingReason::Configured),
            (Some(m), Some(h)) if m <= h => (Some(m), CeilingReason::Configured),
            (_, Some(h)) => (Some(h), CeilingReason::Yielding),
        }
    }

    /// Bytes relayed (read) since start.
    pub fn relayed(&self) -> u64 {
        self.relayed
    }

    /// A member's key: a hash keyed per process, so nobody can pick names that collide.
    pub fn key_of(&self, member: impl Hash) -> u64 {
        self.keys.hash_one(member)
    }

    /// The key of the member a slot belongs to.
    pub fn key(&self, slot: Slot) -> Option<u64> {
        match self.members.get(slot.0 as usize) {
            Some(Some(m)) => Some(m.key),
            _ => None,
        }
    }

    /// Members with open sessions.
    pub fn members(&self) -> usize {
        self.by_key.len()
    }

    fn shaping(&self) -> bool {
        self.ceiling().0.is_some() || self.settings.per_member_rate.is_some()
    }

    fn apply_ceiling(&mut self, now: Instant) {
        let (ceiling, _) = self.ceiling();
        match (ceiling, self.node.as_mut()) {
            (None, _) => self.node = None,
            (Some(rate), Some(b)) => b.set_rate(rate, burst_for(rate), now),
            (Some(rate), None) => self.node = Some(Bucket::new(rate, burst_for(rate), now)),
        }
        let shaping = self.shaping();
        let first = self.initial_member_rate(0);
        for m in self.members.iter_mut().flatten() {
            match (shaping, m.bucket.as_mut()) {
                (false, _) => m.bucket = None,
                (true, Some(_)) => {} // the next tick sets its rate
                (true, None) => m.bucket = Some(Bucket::new(first, burst_for(first), now)),
            }
        }
        self.tick(now);
    }

    /// A member that just arrived gets an equal share until the next tick measures it.
    fn initial_member_rate(&self, extra: usize) -> u64 {
        let ceiling = self.ceiling().0.unwrap_or(u64::MAX);
        let n = (self.by_key.len() + extra).max(1) as u64;
        let equal = ceiling / n;
        self.settings
            .per_member_rate
            .map_or(equal, |c| c.min(equal))
    }

    /// A session of `member` (account name, or the client's address without auth) opens.
    pub fn join(&mut self, member: &str, now: Instant) -> Slot {
        self.join_key(self.key_of(member), now)
    }

    /// [`Limiter::join`] by the member's key.
    pub fn join_key(&mut self, key: u64, now: Instant) -> Slot {
        if let Some(&i) = self.by_key.get(&key) {
            if let Some(m) = self.members[i as usize].as_mut() {
                m.sessions += 1;
                return Slot(i);
            }
        }
        let rate = self.initial_member_rate(1);
        let entry = Member {
            key,
            sessions: 1,
            bucket: self
                .shaping()
                .then(|| Bucket::new(rate, burst_for(rate), now)),
            used: 0,
            held_back: false,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.members[i as usize] = Some(entry);
                i
            }
            None => {
                self.members.push(Some(entry));
                // Slots are per member with open sessions, bounded by the session limit.
                (self.members.len() - 1) as u32
            }
        };
        self.by_key.insert(key, i);
        Slot(i)
    }

    /// A session of that member closed; the last one takes the member's entry with it.
    pub fn leave(&mut self, slot: Slot) {
        let Some(entry) = self.members.get_mut(slot.0 as usize) else {
            return;
        };
        let Some(m) = entry.as_mut() else { return };
        m.sessions -= 1;
        if m.sessions == 0 {
            self.by_key.remove(&m.key);
            *entry = None;
            self.free.push(slot.0);
            if self.by_key.is_empty() {
                self.members.clear();
                self.free.clear();
                // Memory back after a crowd has gone, not after every last session:
                // one member coming and going would allocate each time.
                if self.members.capacity() > 64 {
                    self.members.shrink_to(64);
                    self.free.shrink_to(64);
                    self.by_key.shrink_to(64);
                }
            }
        }
    }

    /// How much a direction of `slot`'s session may read now, given it has room for `want`.
    pub fn grant(&mut self, slot: Slot, want: usize, now: Instant) -> Grant {
        if want == 0 {
            return Grant::Read(0);
        }
        let want = want as u64;
        let Some(Some(m)) = self.members.get_mut(slot.0 as usize) else {
            return Grant::Read(want as usize);
        };
        let (mut avail, mut full) = (want, want);
        for b in [self.node.as_mut(), m.bucket.as_mut()]
            .into_iter()
            .flatten()
        {
            avail = avail.min(b.available(now));
            full = full.min(b.burst());
        }
        // Held back: a bucket it draws from is not full when it asks (it spends faster
        // than the bucket refills). Asking for more than a burst is not being held back.
        if avail < full {
            m.held_back = true;
        }
        let chunk = want.min(MIN_CHUNK);
        if avail >= chunk {
            return Grant::Read(avail as usize);
        }
        let node_at = self.node.as_mut().and_then(|b| b.ready_at(now, chunk));
        let member_at = m.bucket.as_mut().and_then(|b| b.ready_at(now, chunk));
        // Both must be ready; a bucket that is already ready contributes nothing.
        let at = node_at
            .max(member_at)
            .unwrap_or(now + Duration::from_millis(1));
        Grant::Wait(at)
    }

    /// Counts `n` bytes read by a session of `slot`.
    pub fn charge(&mut self, slot: Slot, n: usize) {
        let n = n as u64;
        self.relayed = self.relayed.wrapping_add(n);
        if let Some(b) = self.node.as_mut() {
            b.consume(n);
        }
        if let Some(Some(m)) = self.members.get_mut(slot.0 as usize) {
            m.used = m.used.saturating_add(n);
            if let Some(b) = m.bucket.as_mut() {
                b.consume(n);
            }
        }
    }

    /// When [`Limiter::tick`] should run next, if anything is shaped.
    pub fn next_tick(&self) -> Option<Instant> {
        (self.shaping() && !self.by_key.is_empty()).then_some(self.last_tick + TICK)
    }

    /// Recomputes each member's rate from what it used since the last tick.
    pub fn tick(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last_tick);
        self.last_tick = now;
        let live: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].is_some())
            .collect();
        if !self.shaping() || live.is_empty() {
            for m in self.members.iter_mut().flatten() {
                m.used = 0;
                m.held_back = false;
            }
            return;
        }
        let nanos = dt.as_nanos().max(1);
        let demands: Vec<Demand> = live
            .iter()
            .filter_map(|&i| self.members[i].as_ref())
            .map(|m| Demand {
                used: u64::try_from(u128::from(m.used) * 1_000_000_000 / nanos).unwrap_or(u64::MAX),
                held_back: m.held_back,
            })
            .collect();
        let ceiling = self.ceiling().0.unwrap_or(u64::MAX);
        let rates = member_rates(ceiling, self.settings.per_member_rate, &demands);
        for (&i, rate) in live.iter().zip(rates) {
            if let Some(m) = self.members[i].as_mut() {
                m.used = 0;
                m.held_back = false;
                match m.bucket.as_mut() {
                    Some(b) => b.set_rate(rate, burst_for(rate), now),
                    None => m.bucket = Some(Bucket::new(rate, burst_for(rate), now)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    /// Simulates `streams` directions per member, each reading whenever its grant allows,
    /// for `secs` of made-up time in 1 ms steps; returns bytes read per member.
    fn simulate(limiter: &mut Limiter, members: &[(&str, usize)], secs: u64) -> Vec<u64> {
        let t0 = Instant::now();
        let mut slots = Vec::new();
        for (name, streams) in members {
            for _ in 0..*streams {
                slots.push((slots.len(), limiter.join(name, t0)));
            }
        }
        let mut got = vec![0u64; members.len()];
        let owner: Vec<usize> = members
            .iter()
            .enumerate()
            .flat_map(|(i, (_, s))| std::iter::repeat_n(i, *s))
            .collect();
        let mut wake = vec![t0; slots.len()];
        let mut next_tick = t0 + TICK;
        for step in 0..secs * 1000 {
            let now = t0 + Duration::from_millis(step);
            if now >= next_tick {
                limiter.tick(now);
                next_tick = now + TICK;
            }
            // Rotate who goes first, as the loop's event order would.
            let n = slots.len();
            for k in 0..n {
                let (s, slot) = slots[(k + step as usize) % n];
                if wake[s] > now {
                    continue;
                }
                match limiter.grant(slot, 1 << 20, now) {
                    Grant::Read(g) => {
                        limiter.charge(slot, g);
                        got[owner[s]] += g as u64;
                    }
                    Grant::Wait(at) => {
                        assert!(at > now, "a wait is in the future: never a spin");
                        wake[s] = at;
                    }
                }
            }
        }
        got
    }

    #[test]
    fn no_limits_means_no_buckets_and_every_grant_in_full() {
        let t0 = Instant::now();
        let mut l = Limiter::new(RateSettings::default(), t0);
        let s = l.join("a", t0);
        assert_eq!(l.grant(s, 1 << 20, t0), Grant::Read(1 << 20));
        assert_eq!(l.next_tick(), None, "nothing to recompute");
        assert_eq!(l.ceiling(), (None, CeilingReason::Unlimited));
    }

    #[test]
    fn the_ceiling_holds_over_ten_seconds() {
        for mbit in [50.0, 500.0] {
            let rate = bucket::mbit_to_bytes(mbit);
            let settings = RateSettings {
                max_rate: Some(rate),
                per_member_rate: None,
            };
            let mut l = Limiter::new(settings, Instant::now());
            let got: u64 = simulate(&mut l, &[("a", 4)], 10).iter().sum();
            let expected = rate * 10;
            let error = got.abs_diff(expected) as f64 / expected as f64;
            assert!(error < 0.01, "{mbit} Mbit/s: {got} of {expected}");
        }
    }

    #[test]
    fn ten_members_share_equally_whatever_their_connection_counts() {
        let settings = RateSettings {
            max_rate: Some(10 * MB),
            per_member_rate: None,
        };
        let mut l = Limiter::new(settings, Instant::now());
        let mut members = vec![("greedy", 32)];
        let names: Vec<String> = (0..9).map(|i| format!("m{i}")).collect();
        members.extend(names.iter().map(|n| (n.as_str(), 1)));
        let got = simulate(&mut l, &members, 10);
        let rates: Vec<f64> = got.iter().map(|&g| g as f64).collect();
        let jain = fair::jain_index(&rates);
        let total: u64 = got.iter().sum();
        assert!(total.abs_diff(100 * MB) < 2 * MB, "total {total}");
        for (i, g) in got.iter().enumerate() {
            assert!(g.abs_diff(10 * MB) < MB, "member {i} got {g}: {got:?}");
        }
        assert!(jain >= 0.95, "Jain {jain}");
        assert_eq!(l.members(), 10, "32 connections are one member");
    }

    #[test]
    fn the_per_member_cap_holds_below_a_free_ceiling() {
        let settings = RateSettings {
            max_rate: None,
            per_member_rate: Some(MB),
        };
        let mut l = Limiter::new(settings, Instant::now());
        let got = simulate(&mut l, &[("a", 3), ("b", 1)], 10);
        for g in &got {
            assert!(g.abs_diff(10 * MB) < MB / 5, "{got:?}");
        }
    }

    #[test]
    fn a_waiting_direction_is_told_when_a_chunk_is_there() {
        let t0 = Instant::now();
        let settings = RateSettings {
            max_rate: Some(MB),
            per_member_rate: None,
        };
        let mut l = Limiter::new(settings, t0);
        let s = l.join("a", t0);
        let Grant::Read(first) = l.grant(s, 1 << 20, t0) else {
            panic!("a full bucket grants its burst")
        };
        assert_eq!(first as u64, MIN_BURST);
        l.charge(s, first);
        let Grant::Wait(at) = l.grant(s, 1 << 20, t0) else {
            panic!("empty")
        };
        // 16 KiB at 1 MB/s.
        assert_eq!(at, t0 + Duration::from_nanos(16_384_000));
        assert!(matches!(l.grant(s, 1 << 20, at), Grant::Read(n) if n as u64 >= MIN_CHUNK));
    }

    #[test]
    fn member_entries_exist_only_while_sessions_are_open() {
        let t0 = Instant::now();
        let settings = RateSettings {
            max_rate: Some(MB),
            per_member_rate: None,
        };
        let mut l = Limiter::new(settings, t0);
        let a1 = l.join("a", t0);
        let a2 = l.join("a", t0);
        let b = l.join("b", t0);
        assert_eq!(l.members(), 2);
        l.leave(a1);
        assert_eq!(l.members(), 2);
        l.leave(a2);
        assert_eq!(l.members(), 1);
        let c = l.join("c", t0);
        assert_eq!(c, a1, "the freed slot is reused");
        l.leave(b);
        l.leave(c);
        assert_eq!(l.members(), 0);
        assert!(
            l.members.capacity() <= 64,
            "little kept for members who left"
        );
        assert_eq!(l.next_tick(), None);
    }

    #[test]
    fn yielding_lowers_the_ceiling_below_the_configured_one() {
        let t0 = Instant::now();
        let settings = RateSettings {
            max_rate: Some(10 * MB),
            per_member_rate: None,
        };
        let mut l = Limiter::new(settings, t0);
        l.set_host_ceiling(Some(20 * MB), t0);
        assert_eq!(l.ceiling(), (Some(10 * MB), CeilingReason::Configured));
        l.set_host_ceiling(Some(4 * MB), t0);
        assert_eq!(l.ceiling(), (Some(4 * MB), CeilingReason::Yielding));
        l.set_settings(RateSettings::default(), t0);
        assert_eq!(l.ceiling(), (Some(4 * MB), CeilingReason::Yielding));
        l.set_host_ceiling(None, t0);
        assert_eq!(l.ceiling(), (None, CeilingReason::Unlimited));
    }
}
