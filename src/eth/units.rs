//! Base units as people read them (ethers' `formatUnits`): `2500000` with 6 decimals is
//! `2.5`, and wei are shown as ETH.

/// Base units as whole tokens, trailing zeros trimmed: `1000`, `2.5`.
pub fn format_units(units: u128, decimals: u8) -> String {
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

/// `0.0015 ETH` for 1.5e15 wei.
pub fn format_eth(wei: u128) -> String {
    format!("{} ETH", format_units(wei, 18))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_eth() {
        assert_eq!(format_units(1_000_000_000, 6), "1000");
        assert_eq!(format_units(2_500_000, 6), "2.5");
        assert_eq!(format_units(1, 6), "0.000001");
        assert_eq!(format_units(7, 0), "7");
        assert_eq!(format_eth(1_500_000_000_000_000), "0.0015 ETH");
        assert_eq!(format_eth(0), "0 ETH");
    }
}
