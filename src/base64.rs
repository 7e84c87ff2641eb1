//! Standard base64 with padding (RFC 4648 §4): `Proxy-Authorization: Basic` both ways,
//! the TLS pin's `sha256//` text and PEM files.

/// Standard base64 with padding (RFC 4648 §4).
pub fn encode(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Strict base64 (RFC 4648 §4): standard alphabet, length a multiple of four, `=` only as
/// the last one or two characters, and unused bits of the last symbol zero, so each byte
/// string has exactly one accepted encoding. Returns the decoded length.
pub fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    if input.is_empty() || input.len() % 4 != 0 {
        return None;
    }
    let padding = match input {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    let len = input.len() / 4 * 3 - padding;
    let out = out.get_mut(..len)?;
    let last_quad = input.len() / 4 - 1;
    for (i, quad) in input.chunks_exact(4).enumerate() {
        let pad_here = if i == last_quad { padding } else { 0 };
        let mut n = 0u32;
        for (j, &c) in quad.iter().enumerate() {
            let v = if j >= 4 - pad_here { 0 } else { sextet(c)? };
            n = n << 6 | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Non-canonical: bits that padding says are unused must be zero.
        if (pad_here == 2 && bytes[1] != 0) || (pad_here >= 1 && bytes[2] != 0) {
            return None;
        }
        let dst = out.get_mut(i * 3..)?;
        for (d, s) in dst.iter_mut().zip(&bytes[..3 - pad_here]) {
            *d = *s;
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(input.as_bytes()), want);
        }
    }

    #[test]
    fn base64_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        let mut out = [0u8; 512];
        for len in 1..=256 {
            let enc = encode(&data[..len]);
            assert_eq!(decode(enc.as_bytes(), &mut out), Some(len), "len {len}");
            assert_eq!(&out[..len], &data[..len]);
        }
        assert_eq!(decode(b"", &mut out), None);
        assert_eq!(decode(b"QUJD", &mut out[..2]), None, "output too small");
    }
}
