//! What users type and read: durations (`30m`, `7d`), token amounts with decimals,
//! and `host:port` endpoints.

use crate::args::Failure;
use crate::endpoint::Endpoint;

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

/// A count above zero; too many digits is "too large", not "not a whole number".
pub fn whole_number(flag: &str, s: &str) -> Result<u64, Failure> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::usage(format!(
            "--{flag} `{s}` is not a whole number"
        )));
    }
    match s.parse::<u64>() {
        Ok(0) => Err(Failure::usage(format!("--{flag} must be above zero"))),
        Ok(n) => Ok(n),
        Err(_) => Err(Failure::usage(format!("--{flag} {s} is far too large"))),
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

pub use crate::eth::units::format_units as format_amount;

/// How amounts of one token are shown: `10 tUSD` to people, and to scripts an object
/// with the exact base units beside the decimal string and the symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub decimals: u8,
    pub symbol: String,
}

impl Token {
    /// The chain's own coin, which pays for gas.
    pub fn eth() -> Token {
        Token {
            decimals: 18,
            symbol: "ETH".into(),
        }
    }

    /// `2.5 tUSD`.
    pub fn text(&self, units: u128) -> String {
        format!("{} {}", format_amount(units, self.decimals), self.symbol)
    }

    /// `{"base_units": "2500000", "decimal": "2.5", "symbol": "tUSD"}`; base units are a
    /// string because JSON numbers lose digits past 2^53.
    pub fn json(&self, units: u128) -> serde_json::Value {
        serde_json::json!({
            "base_units": units.to_string(),
            "decimal": format_amount(units, self.decimals),
            "symbol": self.symbol,
        })
    }
}

/// A duration as it is written on the command line: `30d`, `1h`, `90m`, `45s`.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `1 period`, `2 periods`.
pub fn plural(n: impl Into<u128>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// Checks a node endpoint (see [`Endpoint`]) as a usage error with the fix in the hint.
pub fn check_endpoint(s: &str) -> Result<Endpoint, Failure> {
    s.parse::<Endpoint>().map_err(|e| {
        Failure::usage(format!("endpoint `{s}` {e}")).hint(
            "write host:port, e.g. node1.example.net:1080 or [2001:db8::1]:1080, optionally with tls=HOST:PORT pin=sha256//... (doc/protocol.md)",
        )
    })
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
    }

    #[test]
    fn units_durations_and_plurals_as_people_write_them() {
        let t = Token {
            decimals: 6,
            symbol: "tUSD".into(),
        };
        assert_eq!(t.text(650_448), "0.650448 tUSD");
        assert_eq!(
            t.json(10_000_000),
            serde_json::json!({"base_units": "10000000", "decimal": "10", "symbol": "tUSD"})
        );
        assert_eq!(Token::eth().text(1_500_000_000_000_000), "0.0015 ETH");
        assert_eq!(format_duration(2_592_000), "30d");
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(5400), "90m");
        assert_eq!(format_duration(61), "61s");
        assert_eq!(plural(1u64, "period"), "1 period");
        assert_eq!(plural(0u64, "epoch"), "0 epochs");
    }
}
