//! The monitor's clock is the chain's: the host's time plus the offset between the latest
//! block's timestamp and the host's time when it was read. Rounds, windows and epochs
//! are all counted on it, so a probe lands in the epoch the contract counts its
//! heartbeats in even when the host's clock is off (or, in tests, the chain's is moved).

pub use crate::clock::unix_ms;

/// Offsets that differ by less than this are block-time jitter (a block's timestamp lags
/// the moment it is read by up to one block), not a different clock: the old one stays.
pub const JITTER_MS: i64 = 15_000;

/// The offset to keep, given the one kept (if any) and one just measured.
pub fn next_offset(kept: Option<i64>, measured: i64) -> i64 {
    match kept {
        Some(k) if (measured - k).abs() < JITTER_MS => k,
        _ => measured,
    }
}

/// Chain time now, in ms, for a stored offset.
pub fn chain_ms(offset_ms: i64) -> i64 {
    unix_ms().saturating_add(offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_keeps_the_offset_and_a_jump_replaces_it() {
        assert_eq!(next_offset(None, -1_200), -1_200);
        assert_eq!(next_offset(Some(-1_200), -9_000), -1_200);
        assert_eq!(next_offset(Some(-1_200), 3_600_000), 3_600_000);
        assert_eq!(next_offset(Some(3_600_000), 0), 0);
    }
}
