//! A token bucket over bytes, with time passed in (no clock inside), so it is tested
//! with made-up instants and the loop decides when "now" is.
//!
//! Refill is exact integer arithmetic: the fraction of a byte earned between two calls
//! is carried over, so a long run at a given rate delivers exactly that rate (no float
//! drift, no rounding lost per call).

use std::time::{Duration, Instant};

const NANOS: u128 = 1_000_000_000;

#[derive(Debug, Clone)]
pub struct Bucket {
    /// Bytes per second.
    rate: u64,
    /// The most the bucket holds: what may pass at once after a quiet spell.
    burst: u64,
    tokens: u64,
    /// Byte-nanoseconds earned but not yet a whole byte (`< NANOS`).
    carry: u128,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: u64, burst: u64, now: Instant) -> Bucket {
        let burst = burst.max(1);
        Bucket {
            rate,
            burst,
            tokens: burst,
            carry: 0,
            last: now,
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Changes the rate and burst from `now` on; what was earned at the old rate stays
    /// (up to the new burst).
    pub fn set_rate(&mut self, rate: u64, burst: u64, now: Instant) {
        self.refill(now);
        self.rate = rate;
        self.burst = burst.max(1);
        if self.tokens >= self.burst {
            self.tokens = self.burst;
            self.carry = 0;
        }
    }

    /// Adds what the time since the last call earned. A `now` earlier than the last call
    /// (instants from two sources) earns nothing and moves nothing back.
    pub fn refill(&mut self, now: Instant) {
        let Some(elapsed) = now.checked_duration_since(self.last) else {
            return;
        };
        self.last = now;
        if self.tokens >= self.burst {
            self.carry = 0;
            return;
        }
        let earned = elapsed.as_nanos() * u128::from(self.rate) + self.carry;
        let whole = earned / NANOS;
        let room = u128::from(self.burst - self.tokens);
        if whole >= room {
            self.tokens = self.burst;
            self.carry = 0;
        } else {
            // whole < room <= u64::MAX
            self.tokens += whole as u64;
            self.carry = earned % NANOS;
        }
    }

    /// Bytes that may pass now.
    pub fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.tokens
    }

    /// Takes up to `n` bytes' worth; returns how many were granted.
    pub fn take(&mut self, now: Instant, n: u64) -> u64 {
        self.refill(now);
        let granted = n.min(self.tokens);
        self.tokens -= granted;
        granted
    }

    /// Charges bytes that have moved (at most what is there: a grant checked before the
    /// move covers them, so the bucket never goes into debt).
    pub fn consume(&mut self, n: u64) {
        self.tokens = self.tokens.saturating_sub(n);
    }

    /// When `want` bytes (at most the burst) will be available: `None` if they are now,
    /// else the instant to set a timer for. A rate of zero never refills: `None` is not
    /// returned and the instant is far away, so the caller's other deadlines win.
    pub fn ready_at(&mut self, now: Instant, want: u64) -> Option<Instant> {
        self.refill(now);
        let want = want.min(self.burst);
        if self.tokens >= want {
            return None;
        }
        if self.rate == 0 {
            return Some(now + Duration::from_secs(3600));
        }
        let missing = u128::from(want - self.tokens) * NANOS - self.carry;
        let rate = u128::from(self.rate);
        let nanos = missing.div_ceil(rate);
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        Some(self.last + Duration::from_nanos(nanos))
    }
}

/// Megabits per second as bytes per second.
pub fn mbit_to_bytes(mbit: f64) -> u64 {
    (mbit * 1_000_000.0 / 8.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn starts_full_and_refills_at_the_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 500, t0);
        assert_eq!(b.take(t0, 800), 500, "a grant is at most what is there");
        assert_eq!(b.take(t0, 1), 0);
        assert_eq!(b.available(t0 + ms(100)), 100);
        assert_eq!(b.available(t0 + ms(250)), 250);
        assert_eq!(
            b.available(t0 + Duration::from_secs(10)),
            500,
            "capped at the burst"
        );
    }

    #[test]
    fn fractions_of_a_byte_carry_over_so_a_long_run_is_exact() {
        let t0 = Instant::now();
        // 7 bytes/s asked for every 10 ms: each call earns 0.07 bytes.
        let mut b = Bucket::new(7, 1_000_000, t0);
        b.consume(1_000_000);
        let mut got = 0;
        for i in 1..=1000 {
            got += b.take(t0 + ms(10 * i), u64::MAX);
        }
        assert_eq!(got, 70, "10 s at 7 bytes/s");
    }

    #[test]
    fn ready_at_says_when_to_wake_and_then_it_is_there() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1_000_000, 64_000, t0);
        assert_eq!(b.ready_at(t0, 1000), None);
        b.consume(64_000);
        let at = b.ready_at(t0, 16_000).unwrap();
        assert_eq!(at, t0 + ms(16));
        assert_eq!(b.ready_at(at, 16_000), None);
        assert_eq!(b.take(at, 16_000), 16_000);
        // More than the burst is never available: wait for a full bucket instead.
        let full = b.ready_at(at, 10_000_000).unwrap();
        assert_eq!(full, at + ms(64));
    }

    #[test]
    fn a_rate_change_keeps_what_was_earned_up_to_the_new_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 1000, t0);
        b.consume(1000);
        b.set_rate(10_000, 100, t0 + ms(500)); // earned 500 at the old rate
        assert_eq!(b.available(t0 + ms(500)), 100);
        b.consume(100);
        assert_eq!(b.available(t0 + ms(505)), 50, "the new rate from then on");
        let mut stopped = Bucket::new(0, 10, t0);
        stopped.consume(10);
        assert!(stopped.ready_at(t0, 1).unwrap() > t0 + Duration::from_secs(60));
    }

    #[test]
    fn time_going_backwards_earns_nothing() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut b = Bucket::new(1000, 1000, t0);
        b.consume(1000);
        assert_eq!(b.available(t0 - ms(500)), 0);
        assert_eq!(b.available(t0 + ms(1)), 1);
    }

    #[test]
    fn megabits_are_bytes_over_eight() {
        assert_eq!(mbit_to_bytes(50.0), 6_250_000);
        assert_eq!(mbit_to_bytes(0.5), 62_500);
    }
}
