//! The operator controls of `[limits]`: the node's rate ceiling, the monthly allowance,
//! yielding to the host's own traffic, and per-member caps. All off by default.
//!
//! Units: rates in megabits per second (10^6 bits), volumes in gigabytes (10^9 bytes), as
//! VPS plans and speed tests state them. Rates count relayed bytes, both directions added.

use super::ConfigError;
use crate::proxy::limits::bucket::mbit_to_bytes;
pub use crate::proxy::limits::settings::{Monthly, OperatorLimits, YieldToHost};

/// The keys as written: the operator fields of `[limits]`.
pub use super::limits::RawLimits as RawOperator;

/// Up to 100 Gbit/s: beyond any NIC a node runs on, and far from overflowing anything.
const MAX_MBIT: f64 = 100_000.0;
const MAX_GB: f64 = 1_000_000_000.0;

fn mbit(key: &str, value: Option<f64>) -> Result<Option<u64>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 && v <= MAX_MBIT => Ok(Some(mbit_to_bytes(v))),
        Some(_) => Err(ConfigError::new(
            key,
            format!("must be above 0 and at most {MAX_MBIT} (megabits per second)"),
        )),
    }
}

fn gb(key: &str, value: Option<f64>) -> Result<Option<u64>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 && v <= MAX_GB => Ok(Some((v * 1e9).round() as u64)),
        Some(_) => Err(ConfigError::new(
            key,
            format!("must be above 0 and at most {MAX_GB} (gigabytes, 10^9 bytes)"),
        )),
    }
}

impl RawOperator {
    /// The operator controls of `[limits]` (the other keys are checked by `validate`).
    pub fn validate_operator(&self) -> Result<OperatorLimits, ConfigError> {
        let max_rate = mbit("limits.max_mbit", self.max_mbit)?;
        let monthly = match gb("limits.monthly_gb", self.monthly_gb)? {
            Some(bytes) => {
                let starts_on = self.month_starts_on.unwrap_or(1);
                if !(1..=31).contains(&starts_on) {
                    return Err(ConfigError::new(
                        "limits.month_starts_on",
                        "must be 1 to 31",
                    ));
                }
                Some(Monthly {
                    bytes,
                    starts_on,
                    file: self.allowance_file.clone(),
                })
            }
            None if self.month_starts_on.is_some() || self.allowance_file.is_some() => {
                return Err(ConfigError::new(
                    "limits.month_starts_on",
                    "needs limits.monthly_gb",
                ))
            }
            None => None,
        };
        let link = mbit("limits.link_mbit", self.link_mbit)?;
        let reserve = match self.reserve_mbit {
            Some(0.0) => Some(0),
            r => mbit("limits.reserve_mbit", r)?,
        };
        let yield_to_host = match (self.yield_to_host.unwrap_or(false), link) {
            (true, Some(link)) => {
                // A tenth of the link by default: headroom for the host's bursts and for
                // the node's own protocol overhead, which counts as the host's.
                let reserve = reserve.unwrap_or(link / 10);
                if reserve >= link {
                    return Err(ConfigError::new(
                        "limits.reserve_mbit",
                        "must be below limits.link_mbit",
                    ));
                }
                let interfaces = self.interfaces.clone().unwrap_or_default();
                if let Some(bad) = interfaces
                    .iter()
                    .find(|i| i.is_empty() || i.len() > 15 || i.contains([':', ' ', '/']))
                {
                    return Err(ConfigError::new(
                        "limits.interfaces",
                        format!("`{bad}` is not an interface name"),
                    ));
                }
                Some(YieldToHost {
                    link,
                    reserve,
                    interfaces,
                    counters_file: self
                        .net_dev_file
                        .clone()
                        .unwrap_or_else(|| "/proc/net/dev".into()),
                })
            }
            (true, None) => {
                return Err(ConfigError::new(
                    "limits.yield_to_host",
                    "needs limits.link_mbit (the uplink's speed)",
                ))
            }
            (false, _)
                if link.is_some()
                    || reserve.is_some()
                    || self.interfaces.is_some()
                    || self.net_dev_file.is_some() =>
            {
                return Err(ConfigError::new(
                    "limits.link_mbit",
                    "is only used with limits.yield_to_host = true",
                ))
            }
            (false, _) => None,
        };
        Ok(OperatorLimits {
            max_rate,
            monthly,
            yield_to_host,
            per_member_rate: mbit("limits.per_member_mbit", self.per_member_mbit)?,
            per_member_daily: gb("limits.per_member_daily_gb", self.per_member_daily_gb)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: RawOperator) -> String {
        raw.validate_operator().unwrap_err().key
    }

    #[test]
    fn everything_is_off_by_default() {
        assert_eq!(
            RawOperator::default().validate_operator(),
            Ok(OperatorLimits::default())
        );
    }

    #[test]
    fn units_are_megabits_and_gigabytes() {
        let l = RawOperator {
            max_mbit: Some(50.0),
            monthly_gb: Some(1.5),
            month_starts_on: Some(15),
            per_member_mbit: Some(0.5),
            per_member_daily_gb: Some(2.0),
            yield_to_host: Some(true),
            link_mbit: Some(100.0),
            ..RawOperator::default()
        }
        .validate_operator()
        .unwrap();
        assert_eq!(l.max_rate, Some(6_250_000));
        let m = l.monthly.unwrap();
        assert_eq!((m.bytes, m.starts_on), (1_500_000_000, 15));
        assert_eq!(l.per_member_rate, Some(62_500));
        assert_eq!(l.per_member_daily, Some(2_000_000_000));
        let y = l.yield_to_host.unwrap();
        assert_eq!((y.link, y.reserve), (12_500_000, 1_250_000));
        assert!(y.interfaces.is_empty());
    }

    #[test]
    fn nonsense_is_refused_naming_the_key() {
        let bad = |f: fn(&mut RawOperator)| {
            let mut r = RawOperator::default();
            f(&mut r);
            err(r)
        };
        assert_eq!(bad(|r| r.max_mbit = Some(0.0)), "limits.max_mbit");
        assert_eq!(bad(|r| r.max_mbit = Some(f64::NAN)), "limits.max_mbit");
        assert_eq!(bad(|r| r.monthly_gb = Some(-1.0)), "limits.monthly_gb");
        assert_eq!(
            bad(|r| {
                r.monthly_gb = Some(1.0);
                r.month_starts_on = Some(32)
            }),
            "limits.month_starts_on"
        );
        assert_eq!(
            bad(|r| r.month_starts_on = Some(3)),
            "limits.month_starts_on"
        );
        assert_eq!(
            bad(|r| r.yield_to_host = Some(true)),
            "limits.yield_to_host"
        );
        assert_eq!(bad(|r| r.link_mbit = Some(100.0)), "limits.link_mbit");
        assert_eq!(
            bad(|r| {
                r.yield_to_host = Some(true);
                r.link_mbit = Some(100.0);
                r.reserve_mbit = Some(100.0)
            }),
            "limits.reserve_mbit"
        );
        assert_eq!(
            bad(|r| {
                r.yield_to_host = Some(true);
                r.link_mbit = Some(100.0);
                r.interfaces = Some(vec!["eth0:1".into()])
            }),
            "limits.interfaces"
        );
        assert_eq!(
            bad(|r| r.per_member_daily_gb = Some(0.0)),
            "limits.per_member_daily_gb"
        );
    }
}
