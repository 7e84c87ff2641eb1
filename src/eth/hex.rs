//! Hex text for bytes, with or without the `0x` prefix.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    OddLength,
    BadDigit { index: usize },
    WrongLength { expected: usize, got: usize },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::OddLength => write!(f, "hex text has an odd number of digits"),
            HexError::BadDigit { index } => write!(f, "not a hex digit at position {index}"),
            HexError::WrongLength { expected, got } => {
                write!(f, "expected {expected} bytes of hex, got {got}")
            }
        }
    }
}

impl std::error::Error for HexError {}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex, no prefix.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Lowercase hex with a `0x` prefix.
pub fn encode_prefixed(bytes: &[u8]) -> String {
    format!("0x{}", encode(bytes))
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Strips an optional `0x`/`0X` prefix.
pub fn strip_prefix(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

/// Decodes hex text, with or without `0x`, in either case.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let digits = strip_prefix(s).as_bytes();
    if digits.len() % 2 != 0 {
        return Err(HexError::OddLength);
    }
    let offset = s.len() - digits.len();
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let hi = nibble(pair[0]).ok_or(HexError::BadDigit {
                index: offset + 2 * i,
            })?;
            let lo = nibble(pair[1]).ok_or(HexError::BadDigit {
                index: offset + 2 * i + 1,
            })?;
            Ok(hi << 4 | lo)
        })
        .collect()
}

/// Decodes hex text of exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let v = decode(s)?;
    v.as_slice().try_into().map_err(|_| HexError::WrongLength {
        expected: N,
        got: v.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_prefixes() {
        assert_eq!(encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(encode_prefixed(&[]), "0x");
        assert_eq!(decode("0x00ABff").unwrap(), vec![0, 0xab, 0xff]);
        assert_eq!(decode("0X01").unwrap(), vec![1]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode("0x123"), Err(HexError::OddLength));
        assert_eq!(decode("0x12g4"), Err(HexError::BadDigit { index: 4 }));
        assert_eq!(
            decode_array::<2>("0x010203"),
            Err(HexError::WrongLength {
                expected: 2,
                got: 3
            })
        );
    }
}
