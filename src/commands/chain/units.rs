//! What users type and read: durations (`30m`, `7d`), token amounts with decimals,
//! `host:port` endpoints, and UTC dates.

use crate::cli::Failure;
use crate::host_port::HostPort;

/// Seconds in `45s`, `30m`, `12h`, `7d`, `2w` or a bare number of seconds.
pub fn parse_duration(flag: &str, s: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::usage(format!("--{flag} `{s}` is not a duration"))
            .hint("write a number with s, m, h, d or w, e.g. 30m, 12h, 7d")
    };
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(mult) {
        Some(0) => Err(Failure::usage(format!("--{flag} must be longer than zero"))),
        Some(v) => Ok(v),
        None => Err(bad()),
    }
}

/// `2.5` whole tokens as base units with `decimals` digits: 2_500_000 for 6 decimals.
pub fn parse_amount(flag: &str, s: &str, decimals: u8) -> Result<u128, Failure> {
    let bad = || {
        Failure::usage(format!("--{flag} `{s}` is not an amount")).hint(format!(
            "write whole tokens with up to {decimals} decimals, e.g. 10 or 2.5"
        ))
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > decimals as usize
    {
        return Err(bad());
    }
    let scale = 10u128.checked_pow(decimals.into()).ok_or_else(bad)?;
    let whole: u128 = whole.parse().map_err(|_| bad())?;
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = decimals as usize);
        padded.parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(bad)
}

/// Base units as whole tokens, trailing zeros trimmed: `1000`, `2.5`.
pub fn format_amount(units: u128, decimals: u8) -> String {
    let Some(scale) = 10u128.checked_pow(decimals.into()) else {
        return units.to_string();
    };
    let (whole, frac) = (units / scale, units % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0>width$}", width = decimals as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Checks a node endpoint (see [`HostPort`]) as a usage error with the fix in the hint.
pub fn check_endpoint(s: &str) -> Result<(), Failure> {
    s.parse::<HostPort>().map(|_| ()).map_err(|e| {
        Failure::usage(format!("endpoint `{s}` {e}"))
            .hint("write host:port, e.g. node1.example.net:1080 or [2001:db8::1]:1080")
    })
}

/// `2026-11-22 03:15:00 UTC` for a unix time.
pub fn utc(ts: u64) -> String {
    let days = (ts / 86_400) as i64;
    let secs = ts % 86_400;
    let (year, month, day) = crate::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("ttl", "30m").unwrap(), 1800);
        assert_eq!(parse_duration("ttl", "12h").unwrap(), 43_200);
        assert_eq!(parse_duration("ttl", "7d").unwrap(), 604_800);
        assert_eq!(parse_duration("ttl", "90").unwrap(), 90);
        for bad in ["", "0m", "m", "5y", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration("ttl", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("price", "10", 6).unwrap(), 10_000_000);
        assert_eq!(parse_amount("price", "2.5", 6).unwrap(), 2_500_000);
        assert_eq!(parse_amount("price", "0.000001", 6).unwrap(), 1);
        for bad in ["", ".5", "1.0000001", "1e6", "-1", "1,000"] {
            assert!(parse_amount("price", bad, 6).is_err(), "{bad}");
        }
        assert_eq!(format_amount(1_000_000_000, 6), "1000");
        assert_eq!(format_amount(2_500_000, 6), "2.5");
        assert_eq!(format_amount(1, 6), "0.000001");
        assert_eq!(format_amount(7, 0), "7");
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
