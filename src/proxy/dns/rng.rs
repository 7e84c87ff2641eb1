//! Unpredictable DNS query IDs, so an off-path attacker cannot guess them (RFC 5452 §9.2).
//!
//! Bytes come straight from the kernel ([`crate::os_random`]), read 256 at a time so a
//! query costs no system call most of the time.

use std::io;

const POOL: usize = 256;

pub struct Random {
    pool: [u8; POOL],
    used: usize,
}

impl Random {
    /// Fails only if the kernel has no randomness to give, which is worth refusing to start.
    pub fn new() -> io::Result<Random> {
        let mut r = Random {
            pool: [0; POOL],
            used: POOL,
        };
        r.refill()?;
        Ok(r)
    }

    pub fn next_u16(&mut self) -> u16 {
        if self.used + 2 > POOL && self.refill().is_err() {
            // Keep serving from the old pool, mixed by position, rather than stop resolving;
            // getrandom does not fail once it has succeeded at start.
            log::warn!("dns: kernel randomness unavailable; reusing query-ID pool");
            self.used = 0;
            self.pool.rotate_left(1);
        }
        let hi = self.pool.get(self.used).copied().unwrap_or(0);
        let lo = self.pool.get(self.used + 1).copied().unwrap_or(0);
        self.used += 2;
        u16::from_be_bytes([hi, lo])
    }

    fn refill(&mut self) -> io::Result<()> {
        crate::os_random::fill(&mut self.pool)?;
        self.used = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_vary_across_refills() {
        let mut r = Random::new().unwrap();
        let ids: Vec<u16> = (0..1000).map(|_| r.next_u16()).collect();
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // 1000 draws from 65536 values: a handful of repeats at most, never a constant stream.
        assert!(distinct.len() > 950, "{} distinct", distinct.len());
    }
}
