//! Where a forwarded HTTP/1.1 request's body ends (RFC 9112 §6): a pure, incremental
//! scanner over the bytes the client sends after the head. The body is relayed unchanged;
//! the scanner only tells the session how many of the bytes it has been given still belong
//! to this request, so that nothing after it (a pipelined second request, with its own
//! credentials and perhaps another origin) is ever sent to this request's origin.
//!
//! Fuzzed: this file is compiled by `fuzz/` as part of the parser set.
//!
//! Compiled into `fuzz/` as well (fuzz/src/lib.rs): it may use only `std` and the other
//! parser files there, so that it builds on its own and its invariants are fuzzed.

use std::fmt;

/// A chunked body that breaks RFC 9112 §7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadChunk;

impl fmt::Display for BadChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed chunked body")
    }
}

/// How a request frames its body (RFC 9112 §6.3), decided from its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`, or no body at all (`Length(0)`).
    Length(u64),
    /// `Transfer-Encoding: chunked` as the final coding.
    Chunked,
}

/// Where the scanner is inside a chunked body (RFC 9112 §7.1):
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of a chunk size; `digits` so far, `size` their value.
    Size { size: u64, digits: u8 },
    /// After the size: a chunk extension up to the CR (passed through, not interpreted).
    Ext { size: u64 },
    /// The CR of the size line was seen; LF next.
    SizeLf { size: u64 },
    /// Chunk data still to come.
    Data(u64),
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final blank line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// A trailer line's CR; `blank` if the line was empty (the end of the body).
    TrailerLf { blank: bool },
}

/// The scanner's state: what is left of this request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    state: BodyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Length(u64),
    Chunked(Chunk),
    Done,
}

/// Longest chunk size in hex digits: 15 keeps the value below 2^60, far above any body.
const MAX_SIZE_DIGITS: u8 = 15;

impl Body {
    pub fn new(framing: Framing) -> Body {
        let state = match framing {
            Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(Chunk::Size { size: 0, digits: 0 }),
        };
        Body { state }
    }

    /// The whole body has been seen: nothing more from the client belongs to this request.
    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    /// Scans the next bytes of the stream and returns how many of them belong to the body
    /// (all of them unless the body ends inside `input`). Work is linear in `input`, and
    /// chunk data is skipped without looking at it.
    pub fn advance(&mut self, input: &[u8]) -> Result<usize, BadChunk> {
        let mut pos = 0;
        while pos < input.len() {
            match &mut self.state {
                BodyState::Done => break,
                BodyState::Length(left) => {
                    let rest = (input.len() - pos) as u64;
                    let take = rest.min(*left);
                    *left -= take;
                    pos += take as usize;
                    if *left == 0 {
                        self.state = BodyState::Done;
                    }
                }
                BodyState::Chunked(Chunk::Data(left)) => {
                    let rest = (input.len() - pos) as u64;
                    let take = rest.min(*left);
                    *left -= take;
                    pos += take as usize;
                    if *left == 0 {
                        self.state = BodyState::Chunked(Chunk::DataCr);
                    }
                }
                BodyState::Chunked(chunk) => {
                    let byte = input[pos];
                    pos += 1;
                    match chunk_step(*chunk, byte)? {
                        Some(next) => *chunk = next,
                        None => self.state = BodyState::Done,
                    }
                }
            }
        }
        Ok(pos)
    }
}

/// One byte of the chunked syntax outside chunk data; `None` once the body has ended.
fn chunk_step(chunk: Chunk, byte: u8) -> Result<Option<Chunk>, BadChunk> {
    let bad = Err(BadChunk);
    let next = match (chunk, byte) {
        (Chunk::Size { size, digits }, _) if byte.is_ascii_hexdigit() => {
            if digits == MAX_SIZE_DIGITS {
                return bad;
            }
            let value = u64::from(hex_value(byte));
            Chunk::Size {
                size: size << 4 | value,
                digits: digits + 1,
            }
        }
        (Chunk::Size { digits: 0, .. }, _) => return bad,
        (Chunk::Size { size, .. }, b';' | b' ' | b'\t') => Chunk::Ext { size },
        (Chunk::Size { size, .. } | Chunk::Ext { size }, b'\r') => Chunk::SizeLf { size },
        (Chunk::Size { .. }, _) => return bad,
        (Chunk::Ext { size }, _) if is_ext_byte(byte) => Chunk::Ext { size },
        (Chunk::Ext { .. }, _) => return bad,
        (Chunk::SizeLf { size: 0 }, b'\n') => Chunk::TrailerStart,
        (Chunk::SizeLf { size }, b'\n') => Chunk::Data(size),
        (Chunk::DataCr, b'\r') => Chunk::DataLf,
        (Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
        (Chunk::TrailerStart, b'\r') => Chunk::TrailerLf { blank: true },
        (Chunk::Trailer, b'\r') => Chunk::TrailerLf { blank: false },
        (Chunk::TrailerStart | Chunk::Trailer, _) if is_field_byte(byte) => Chunk::Trailer,
        (Chunk::TrailerLf { blank: true }, b'\n') => return Ok(None),
        (Chunk::TrailerLf { blank: false }, b'\n') => Chunk::TrailerStart,
        _ => return bad,
    };
    Ok(Some(next))
}

fn hex_value(byte: u8) -> u8 {
    match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        _ => byte - b'A' + 10,
    }
}

/// Bytes a chunk extension may hold: visible ASCII, obs-text, space and tab, no CR or LF.
fn is_ext_byte(byte: u8) -> bool {
    byte == b'\t' || (byte >= 0x20 && byte != 0x7f)
}

/// Bytes of a trailer field line; its syntax is the origin's to judge, but no bare CR/LF.
fn is_field_byte(byte: u8) -> bool {
    is_ext_byte(byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes and returns how many bytes were body.
    fn scan(framing: Framing, input: &[u8], step: usize) -> Result<(usize, bool), BadChunk> {
        let mut body = Body::new(framing);
        let mut total = 0;
        for piece in input.chunks(step.max(1)) {
            let n = body.advance(piece)?;
            total += n;
            if n < piece.len() {
                break;
            }
        }
        Ok((total, body.is_done()))
    }

    #[test]
    fn content_length_ends_exactly_where_it_says() {
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(
                scan(Framing::Length(5), b"helloGET http://b/", step),
                Ok((5, true))
            );
            assert_eq!(scan(Framing::Length(5), b"hel", step), Ok((3, false)));
        }
        assert!(Body::new(Framing::Length(0)).is_done(), "no body at all");
        assert_eq!(Body::new(Framing::Length(0)).advance(b"GET"), Ok(0));
    }

    #[test]
    fn chunked_ends_after_the_last_chunk_and_trailers() {
        let cases: [(&[u8], usize); 5] = [
            (b"5\r\nhello\r\n0\r\n\r\n", 15),
            (b"5;ext=1\r\nhello\r\n000\r\n\r\n", 23),
            (
                b"A\r\n0123456789\r\n1\r\nx\r\n0\r\nTrailer: yes\r\n\r\n",
                40,
            ),
            (b"0\r\n\r\n", 5),
            (b"1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n", 42),
        ];
        for (body, len) in cases {
            assert_eq!(body.len(), len, "{:?}", String::from_utf8_lossy(body));
            let mut input = body.to_vec();
            input.extend_from_slice(b"GET http://other.example/ HTTP/1.1\r\n\r\n");
            for step in [1, 2, 5, 1000] {
                assert_eq!(
                    scan(Framing::Chunked, &input, step),
                    Ok((len, true)),
                    "{:?} in steps of {step}",
                    String::from_utf8_lossy(body)
                );
                assert_eq!(
                    scan(Framing::Chunked, &body[..len - 1], step),
                    Ok((len - 1, false)),
                    "one byte short is not done"
                );
            }
        }
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        let cases: [&[u8]; 8] = [
            b"\r\n",                 // no size
            b"g\r\n",                // not hex
            b"5\nhello\r\n",         // bare LF after the size
            b"5\r\nhelloX\r\n",      // data longer than its size
            b"5\r\nhello\r\r",       // CR CR
            b"1000000000000000\r\n", // 16 hex digits: over the bound
            b"0\r\nTrailer\nx",      // bare LF in a trailer
            b"-5\r\n",               // signs are not hex
        ];
        for input in cases {
            assert_eq!(
                scan(Framing::Chunked, input, 1).map(|_| ()),
                Err(BadChunk),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn chunk_data_is_skipped_in_one_step() {
        // A 2^40-byte chunk declared and 1 MiB of it sent: one call consumes it all.
        let mut body = Body::new(Framing::Chunked);
        assert_eq!(body.advance(b"10000000000\r\n"), Ok(13));
        let data = vec![b'x'; 1 << 20];
        assert_eq!(body.advance(&data), Ok(data.len()));
        assert!(!body.is_done());
    }
}
