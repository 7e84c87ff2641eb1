//! 20-byte account addresses, parsed and displayed with the EIP-55 mixed-case checksum.

use super::{hex, keccak256};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 20]);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// Not `0x` followed by 40 hex digits.
    Malformed,
    /// Mixed case that does not match the EIP-55 checksum: most likely a typo.
    BadChecksum,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Malformed => write!(f, "an address is 0x followed by 40 hex digits"),
            AddressError::BadChecksum => {
                write!(
                    f,
                    "address checksum (EIP-55 letter case) does not match: check for a typo"
                )
            }
        }
    }
}

impl std::error::Error for AddressError {}

impl Address {
    pub const ZERO: Address = Address([0; 20]);

    /// The address of a public key: the last 20 bytes of keccak256 of its 64-byte
    /// uncompressed form (without the 0x04 tag).
    pub fn from_public_key_bytes(uncompressed_xy: &[u8; 64]) -> Address {
        let h = keccak256(uncompressed_xy);
        let mut a = [0u8; 20];
        a.copy_from_slice(&h[12..]);
        Address(a)
    }

    /// The EIP-55 checksummed form, `0x` + 40 mixed-case hex digits.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(&self.0);
        let h = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nib = (h[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
            out.push(if c.is_ascii_alphabetic() && nib >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }

    /// `0x` + 40 lowercase hex digits: the form the member credential signs.
    pub fn to_lower_hex(&self) -> String {
        hex::encode_prefixed(&self.0)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// Accepts all-lowercase, all-uppercase, or correctly checksummed mixed case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or(AddressError::Malformed)?;
        if digits.len() != 40 {
            return Err(AddressError::Malformed);
        }
        let bytes: [u8; 20] = hex::decode_array(digits).map_err(|_| AddressError::Malformed)?;
        let addr = Address(bytes);
        let has_lower = digits.bytes().any(|c| c.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|c| c.is_ascii_uppercase());
        if has_lower && has_upper && addr.to_checksum()[2..] != *digits {
            return Err(AddressError::BadChecksum);
        }
        Ok(addr)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples in the EIP-55 text.
    const EIP55: [&str; 4] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn eip55_examples_round_trip() {
        for s in EIP55 {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_checksum(), s);
            assert_eq!(s.to_lowercase().parse::<Address>().unwrap(), a);
            assert_eq!(
                format!("0x{}", s[2..].to_uppercase())
                    .parse::<Address>()
                    .unwrap(),
                a
            );
        }
    }

    #[test]
    fn wrong_case_is_a_checksum_error() {
        // One letter's case flipped in the first EIP-55 example.
        assert_eq!(
            "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".parse::<Address>(),
            Err(AddressError::BadChecksum)
        );
    }

    #[test]
    fn malformed() {
        for s in [
            "",
            "0x",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
            "0xzzAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ] {
            assert_eq!(s.parse::<Address>(), Err(AddressError::Malformed), "{s}");
        }
    }
}
