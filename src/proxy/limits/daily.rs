//! `per_member_daily_gb`: bytes each member used at this node today (UTC days). One
//! entry per member that moved bytes today, 16 bytes each (the member's key, a keyed
//! hash of the account: [`super::Limiter::key_of`]), all dropped when the day turns.

use std::collections::HashMap;

pub struct DailyQuota {
    limit: u64,
    day: u64,
    used: HashMap<u64, u64>,
}

impl DailyQuota {
    pub fn new(limit: u64) -> DailyQuota {
        DailyQuota {
            limit,
            day: 0,
            used: HashMap::new(),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    fn roll(&mut self, unix: u64) {
        let day = unix / 86_400;
        if day != self.day {
            self.day = day;
            self.used.clear();
            self.used.shrink_to_fit();
        }
    }

    /// Whether `member` may still open sessions (has not used up today's quota).
    pub fn allows(&mut self, key: u64, unix: u64) -> bool {
        self.roll(unix);
        self.used.get(&key).is_none_or(|&u| u < self.limit)
    }

    /// Counts bytes the member moved; returns whether the quota is now used up.
    pub fn add(&mut self, key: u64, bytes: u64, unix: u64) -> bool {
        self.roll(unix);
        let used = self.used.entry(key).or_insert(0);
        *used = used.saturating_add(bytes);
        *used >= self.limit
    }

    /// Members with bytes counted today.
    pub fn members(&self) -> usize {
        self.used.len()
    }

    /// Seconds until the quota resets (the next UTC midnight).
    pub fn resets_in(unix: u64) -> u64 {
        86_400 - unix % 86_400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const ALICE: u64 = 1;
    const BOB: u64 = 2;

    #[test]
    fn a_member_is_refused_once_its_quota_is_used_and_again_welcome_the_next_day() {
        let t = 20_000 * DAY + 3600;
        let mut q = DailyQuota::new(1000);
        assert!(q.allows(ALICE, t));
        assert!(!q.add(ALICE, 600, t));
        assert!(q.allows(ALICE, t));
        assert!(q.add(ALICE, 400, t + 60), "1000 of 1000");
        assert!(!q.allows(ALICE, t + 120));
        assert!(q.allows(BOB, t + 120), "quotas are per member");
        assert_eq!(q.members(), 1);
        assert!(q.allows(ALICE, t - 3600 + DAY), "a new UTC day");
        assert_eq!(q.members(), 0, "yesterday's entries are gone");
        assert_eq!(DailyQuota::resets_in(t), DAY - 3600);
    }
}
