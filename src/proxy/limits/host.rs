//! `yield_to_host`: the node's ceiling so that the host's own traffic always has
//! `link - max(other, reserve)` of the link, where `other` is what the interfaces carried
//! that the node did not relay, measured once a second.
//!
//! The node relays each byte in and out once, so on a real interface its own share of
//! each direction is the bytes it relayed; on loopback (tests) its peers are local too and
//! every relayed byte crosses the interface twice each way. Protocol overhead (headers,
//! ACKs) of the node's own traffic counts as the host's: a few percent, well inside the
//! reserve. The busier direction decides, since a full-duplex link fills one way first.

use std::time::{Duration, Instant};

/// A sample of the counters: the interfaces' (rx, tx) and the bytes the node relayed.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    rx: u64,
    tx: u64,
    relayed: u64,
}

#[derive(Debug, Clone)]
pub struct HostYield {
    /// Bytes per second.
    link: u64,
    reserve: u64,
    loopback: bool,
    prev: Option<Sample>,
    ceiling: u64,
    other: u64,
}

impl HostYield {
    /// Starts at the full link until the first second has been measured.
    pub fn new(link: u64, reserve: u64, loopback: bool) -> HostYield {
        HostYield {
            link,
            reserve,
            loopback,
            prev: None,
            ceiling: link,
            other: 0,
        }
    }

    pub fn ceiling(&self) -> u64 {
        self.ceiling
    }

    /// The host's own traffic at the last sample, bytes per second.
    pub fn other(&self) -> u64 {
        self.other
    }

    /// Takes a sample: interface counters `(rx, tx)` and the node's relayed bytes so far.
    /// Returns the ceiling from now on. Falls at once when the host needs the link; climbs
    /// back by at most a quarter of the link per second, so a host flow that pauses for
    /// a moment does not meet a burst.
    pub fn sample(&mut self, now: Instant, (rx, tx): (u64, u64), relayed: u64) -> u64 {
        let cur = Sample {
            at: now,
            rx,
            tx,
            relayed,
        };
        let Some(prev) = self.prev.replace(cur) else {
            return self.ceiling;
        };
        let dt = now.saturating_duration_since(prev.at);
        if dt < Duration::from_millis(100) {
            self.prev = Some(prev); // too short to say anything; keep the older sample
            return self.ceiling;
        }
        let own = relayed.saturating_sub(prev.relayed);
        let own_on_wire = if self.loopback { 2 * own } else { own };
        // Counters can reset (an interface re-created): wrapping keeps it from a panic, and
        // the resulting nonsense is capped at the link by `target`.
        let other_rx = rx.wrapping_sub(prev.rx).saturating_sub(own_on_wire);
        let other_tx = tx.wrapping_sub(prev.tx).saturating_sub(own_on_wire);
        let other = per_second(other_rx.max(other_tx), dt);
        self.other = other;
        let target = target(self.link, other, self.reserve);
        let climb = per_second_scaled(self.link / 4, dt);
        self.ceiling = target.min(self.ceiling.saturating_add(climb));
        self.ceiling
    }
}

/// What the node may use of a `link` when the host uses `other` and keeps `reserve`.
pub fn target(link: u64, other: u64, reserve: u64) -> u64 {
    link.saturating_sub(other.max(reserve))
}

fn per_second(bytes: u64, dt: Duration) -> u64 {
    let nanos = dt.as_nanos().max(1);
    u64::try_from(u128::from(bytes) * 1_000_000_000 / nanos).unwrap_or(u64::MAX)
}

fn per_second_scaled(rate: u64, dt: Duration) -> u64 {
    u64::try_from(u128::from(rate) * dt.as_nanos() / 1_000_000_000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    #[test]
    fn the_host_always_keeps_the_larger_of_its_use_and_the_reserve() {
        assert_eq!(target(100, 30, 10), 70);
        assert_eq!(target(100, 5, 10), 90);
        assert_eq!(target(100, 500, 10), 0);
    }

    #[test]
    fn falls_at_once_and_climbs_back_as_the_host_goes_quiet() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut y = HostYield::new(100 * MB, 10 * MB, false);
        assert_eq!(y.sample(t0, (0, 0), 0), 100 * MB, "nothing measured yet");
        // The node relays 40 MB/s; the host itself sends 50 MB/s.
        assert_eq!(y.sample(t0 + s, (40 * MB, 90 * MB), 40 * MB), 50 * MB);
        assert_eq!(y.other(), 50 * MB);
        // The host stops: the ceiling climbs a quarter of the link per second.
        let c2 = y.sample(t0 + 2 * s, (80 * MB, 130 * MB), 80 * MB);
        assert_eq!(c2, 75 * MB);
        let c3 = y.sample(t0 + 3 * s, (120 * MB, 170 * MB), 120 * MB);
        assert_eq!(c3, 90 * MB, "up to link minus the reserve");
    }

    #[test]
    fn on_loopback_the_node_s_own_bytes_cross_twice() {
        let t0 = Instant::now();
        let mut y = HostYield::new(100 * MB, 0, true);
        y.sample(t0, (0, 0), 0);
        // 10 MB relayed = 20 MB each way on lo; 30 MB more is someone else's.
        y.sample(t0 + Duration::from_secs(1), (50 * MB, 50 * MB), 10 * MB);
        assert_eq!(y.other(), 30 * MB);
        assert_eq!(y.ceiling(), 70 * MB);
    }

    #[test]
    fn samples_too_close_together_change_nothing() {
        let t0 = Instant::now();
        let mut y = HostYield::new(100, 0, false);
        y.sample(t0, (1000, 1000), 0);
        assert_eq!(
            y.sample(t0 + Duration::from_millis(10), (9000, 9000), 0),
            100
        );
        // Counters that went backwards (a reset) do not panic and cap at zero.
        assert_eq!(y.sample(t0 + Duration::from_secs(1), (5, 5), 0), 0);
    }
}
