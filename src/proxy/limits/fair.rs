//! Max-min fair shares of the node's ceiling among its members.
//!
//! A member using less than an equal share keeps what it uses; what it leaves is split
//! among the others, recursively (water-filling). The loop does not know what a member
//! would use if it could, only what it used in the last tick and whether it was held
//! back (it wanted more than its bucket had): a held-back member's demand is its cap,
//! a member that was not held back demands what it used. All of a member's connections
//! draw from one bucket, so 32 streams weigh as much as one.

/// Splits `capacity` among `demands`, max-min fairly: nobody gets more than it asks,
/// and nobody could get more without taking from someone who has less.
pub fn max_min(capacity: u64, demands: &[u64]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_unstable_by_key(|&i| demands[i]);
    let mut shares = vec![0; demands.len()];
    let mut left = capacity;
    for (done, &i) in order.iter().enumerate() {
        let equal = left / (demands.len() - done) as u64;
        let share = demands[i].min(equal);
        shares[i] = share;
        left -= share;
    }
    shares
}

/// What one member did in the last tick, in bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    pub used: u64,
    /// It wanted more than its bucket held at some point in the tick.
    pub held_back: bool,
}

/// The rate each member's bucket gets for the next tick, given the node's `ceiling`
/// and `per_member` cap (bytes per second).
///
/// Held-back members get max-min shares; what nobody claims (no member held back, or all
/// at their cap) is added to every member's rate so that one that starts using more is
/// not throttled below the ceiling before the next tick notices. The node's own bucket
/// still holds the total to the ceiling; these rates only decide who gets it.
pub fn member_rates(ceiling: u64, per_member: Option<u64>, members: &[Demand]) -> Vec<u64> {
    let cap = per_member.unwrap_or(u64::MAX).min(ceiling);
    let demands: Vec<u64> = members
        .iter()
        .map(|m| if m.held_back { cap } else { m.used.min(cap) })
        .collect();
    let shares = max_min(ceiling, &demands);
    let unclaimed = ceiling - shares.iter().sum::<u64>();
    shares
        .into_iter()
        .map(|s| s.saturating_add(unclaimed).min(cap))
        .collect()
}

/// Jain's fairness index of what members got: 1 when equal, 1/n when one got it all.
pub fn jain_index(rates: &[f64]) -> f64 {
    let sum: f64 = rates.iter().sum();
    let squares: f64 = rates.iter().map(|r| r * r).sum();
    if squares == 0.0 {
        return 1.0;
    }
    sum * sum / (rates.len() as f64 * squares)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_filling_gives_small_demands_in_full_and_splits_the_rest() {
        assert_eq!(max_min(100, &[10, 500, 500]), vec![10, 45, 45]);
        assert_eq!(max_min(100, &[10, 20, 30]), vec![10, 20, 30]);
        assert_eq!(max_min(90, &[50, 50, 50]), vec![30, 30, 30]);
        assert_eq!(max_min(100, &[]), Vec::<u64>::new());
        assert_eq!(max_min(0, &[5]), vec![0]);
        // 100 over four: 25 each already covers the 40, so no one is below an equal share.
        assert_eq!(max_min(100, &[40, 1000, 25, 1000]), vec![25; 4]);
        let shares = max_min(101, &[1000, 1000, 10]);
        assert_eq!(shares[2], 10, "the smallest demand in full");
        assert_eq!(
            shares[0] + shares[1],
            91,
            "nothing lost to rounding but the remainder"
        );
        assert!(
            shares[0].abs_diff(shares[1]) <= 1,
            "equal demands, equal shares"
        );
    }

    fn held(n: usize) -> Vec<Demand> {
        vec![
            Demand {
                used: 0,
                held_back: true
            };
            n
        ]
    }

    #[test]
    fn members_held_back_at_the_ceiling_share_it_equally() {
        // Ten members all wanting more: whatever their connection counts, one share each.
        let rates = member_rates(1000, None, &held(10));
        assert_eq!(rates, vec![100; 10]);
        let as_f: Vec<f64> = rates.iter().map(|&r| r as f64).collect();
        assert!((jain_index(&as_f) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_light_member_keeps_what_it_uses_and_the_rest_goes_to_the_busy_one() {
        let light = Demand {
            used: 100,
            held_back: false,
        };
        let busy = Demand {
            used: 500,
            held_back: true,
        };
        assert_eq!(member_rates(1000, None, &[light, busy]), vec![100, 900]);
        // Nobody held back: everyone may grow into what is unclaimed.
        let quiet = Demand {
            used: 100,
            held_back: false,
        };
        assert_eq!(member_rates(1000, None, &[quiet, quiet]), vec![900, 900]);
    }

    #[test]
    fn the_per_member_cap_holds_whatever_is_free() {
        let rates = member_rates(1000, Some(150), &held(2));
        assert_eq!(rates, vec![150, 150]);
        let alone = member_rates(1000, Some(2000), &held(1));
        assert_eq!(alone, vec![1000], "never above the node's ceiling");
    }

    #[test]
    fn jain_index_is_one_over_n_when_one_member_gets_everything() {
        assert!((jain_index(&[1.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-9);
        assert!(jain_index(&[10.0, 10.0, 9.0]) > 0.99);
    }
}
