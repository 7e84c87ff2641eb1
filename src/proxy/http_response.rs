//! The origin's response head to a forwarded request, as pure functions over byte slices:
//! found (RFC 9112 §4), then rewritten so that it tells the client the connection closes
//! after this response. A forwarded request's connection carries exactly one request: the
//! node never relays a client's later bytes to the first request's origin, so the client
//! must learn not to send them on this connection.
//!
//! Fuzzed: this file is compiled by `fuzz/` as part of the parser set.
//!
//! Compiled into `fuzz/` as well (fuzz/src/lib.rs): it may use only `std` and the other
//! parser files there, so that it builds on its own and its invariants are fuzzed.

use std::fmt;

use super::codec::Parsed;
use super::http::{
    field_lines, last_coding_is_chunked, parse_content_length, parse_field, write_end_to_end_fields,
};
use super::http_body::Framing;

/// A complete response head at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Bytes of the head, blank line included.
    pub len: usize,
    /// Where the status line ends (its line terminator included).
    status_line_end: usize,
    content_length: Option<u64>,
    /// `Some(true)` if Transfer-Encoding's last coding is chunked.
    chunked: Option<bool>,
}

impl ResponseHead {
    /// A 1xx response other than 101: another head follows it (RFC 9110 §15.2).
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// How the body ends (RFC 9112 §6.3), `None` for "when the origin closes". A response
    /// to HEAD, a 1xx, 204 or 304 has none; Transfer-Encoding wins over Content-Length.
    pub fn framing(&self, to_head_request: bool) -> Option<Framing> {
        if to_head_request || self.status < 200 || self.status == 204 || self.status == 304 {
            return Some(Framing::Length(0));
        }
        match (self.chunked, self.content_length) {
            (Some(true), _) => Some(Framing::Chunked),
            (Some(false), _) => None,
            (None, Some(length)) => Some(Framing::Length(length)),
            (None, None) => None,
        }
    }
}

/// Why a response head cannot be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// Not `HTTP/1.x NNN ...`: not an HTTP/1 response at all.
    BadStatusLine,
    /// A field line that does not parse.
    BadField,
    /// No complete head within the size limit.
    TooLarge,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::BadStatusLine => "origin sent no HTTP/1 status line",
            ResponseError::BadField => "origin sent a malformed header",
            ResponseError::TooLarge => "origin's response head too large",
        })
    }
}

/// Finds the response head at the front of `buf`. Lines may end in CRLF or a bare LF (RFC
/// 9112 §2.2 lets a recipient accept that); any other control character is an error.
pub fn parse_response_head(buf: &[u8], max: usize) -> Result<Parsed<ResponseHead>, ResponseError> {
    let window = buf.get(..max).unwrap_or(buf);
    let incomplete = || {
        if buf.len() >= max {
            Err(ResponseError::TooLarge)
        } else {
            Ok(Parsed::NeedMore)
        }
    };
    // Judge the status line as soon as its first bytes are in: a non-HTTP answer is
    // refused without waiting for a line end that may never come.
    let prefix = b"HTTP/1.";
    let seen = window.len().min(prefix.len());
    if window.get(..seen) != prefix.get(..seen) {
        return Err(ResponseError::BadStatusLine);
    }
    let Some((line, mut pos)) = next_line(window, 0) else {
        return incomplete();
    };
    let status = parse_status_line(line)?;
    let status_line_end = pos;
    let mut content_length = None;
    let mut chunked = None;
    loop {
        let Some((field, next)) = next_line(window, pos) else {
            return incomplete();
        };
        pos = next;
        if field.is_empty() {
            break;
        }
        let (name, value) = parse_field(field).map_err(|_| ResponseError::BadField)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_content_length(value).map_err(|_| ResponseError::BadField)?;
            if content_length.replace(length).is_some_and(|l| l != length) {
                return Err(ResponseError::BadField);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = Some(last_coding_is_chunked(value));
        }
    }
    Ok(Parsed::Done {
        value: ResponseHead {
            status,
            len: pos,
            status_line_end,
            content_length,
            chunked,
        },
        consumed: pos,
    })
}

/// The line at `start` without its terminator, and where the next line starts.
fn next_line(window: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let rest = window.get(start..)?;
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let line = rest.get(..lf)?;
    Some((line.strip_suffix(b"\r").unwrap_or(line), start + lf + 1))
}

/// `HTTP-version SP 3DIGIT [ SP reason-phrase ]` (RFC 9112 §4; the reason may be absent).
fn parse_status_line(line: &[u8]) -> Result<u16, ResponseError> {
    let bad = ResponseError::BadStatusLine;
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(bad)?;
    let (minor, rest) = rest.split_first().ok_or(bad)?;
    if !minor.is_ascii_digit() {
        return Err(bad);
    }
    let rest = rest.strip_prefix(b" ").ok_or(bad)?;
    let (code, reason) = rest.split_at(rest.len().min(3));
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    if !(reason.is_empty() || reason.starts_with(b" ")) {
        return Err(bad);
    }
    if reason
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(bad);
    }
    Ok(code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

/// Hop-by-hop fields of a response (RFC 9110 §7.6.1), replaced by `Connection: close`.
const DROPPED_FIELDS: [&[u8]; 3] = [b"connection", b"keep-alive", b"proxy-connection"];

/// Writes the head the client gets: an interim head as it came; a final head with its
/// hop-by-hop fields (and those its Connection field names) removed and `Connection: close`
/// added, every line ending in CRLF. `buf` must be the buffer `head` was parsed from.
pub fn write_response_head(buf: &[u8], head: &ResponseHead, out: &mut Vec<u8>) {
    let Some(bytes) = buf.get(..head.len) else {
        return;
    };
    if head.is_interim() {
        out.extend_from_slice(bytes);
        return;
    }
    let (status_line, fields) = bytes.split_at(head.status_line_end.min(bytes.len()));
    if let Some(line) = field_lines(status_line).next() {
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"\r\n");
    write_end_to_end_fields(fields, &DROPPED_FIELDS, out);
    out.extend_from_slice(b"Connection: close\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> ResponseHead {
        match parse_response_head(buf, 4096) {
            Ok(Parsed::Done { value, consumed }) => {
                assert_eq!(consumed, value.len);
                value
            }
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn rewritten(buf: &[u8]) -> String {
        let head = parse(buf);
        let mut out = Vec::new();
        write_response_head(buf, &head, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn final_heads_say_the_connection_closes() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhi",
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
            ),
            (
                b"HTTP/1.1 204\r\nConnection: X-Hop\r\nX-Hop: 1\r\nX-End: 2\r\n\r\n",
                "HTTP/1.1 204\r\nX-End: 2\r\nConnection: close\r\n\r\n",
            ),
            // Bare LF line ends are accepted and written as CRLF.
            (
                b"HTTP/1.0 404 Not Found\nContent-Type: text/plain\n\n",
                "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: transfer-encoding\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(rewritten(input), want);
        }
    }

    #[test]
    fn interim_heads_pass_unchanged_and_are_told_apart() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
        let head = parse(input);
        assert!(head.is_interim());
        assert_eq!(head.len, 25);
        assert_eq!(rewritten(input), "HTTP/1.1 100 Continue\r\n\r\n");
        assert!(!parse(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").is_interim());
        assert!(!parse(b"HTTP/1.1 200 OK\r\n\r\n").is_interim());
    }

    #[test]
    fn the_body_is_framed_as_rfc_9112_says() {
        let cases: [(&[u8], bool, Option<Framing>); 8] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
                false,
                Some(Framing::Length(12)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
                true,
                Some(Framing::Length(0)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
                false,
                Some(Framing::Chunked),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                false,
                None,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", false, None),
            (
                b"HTTP/1.1 204 No Content\r\n\r\n",
                false,
                Some(Framing::Length(0)),
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false,
                Some(Framing::Length(0)),
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\n",
                false,
                Some(Framing::Length(0)),
            ),
        ];
        for (input, head_request, want) in cases {
            assert_eq!(
                parse(input).framing(head_request),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            parse_response_head(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                4096
            ),
            Err(ResponseError::BadField)
        );
    }

    #[test]
    fn partial_heads_need_more_and_garbage_is_refused_early() {
        let full = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(
                parse_response_head(&full[..cut], 4096),
                Ok(Parsed::NeedMore),
                "cut at {cut}"
            );
        }
        let bad: [(&[u8], ResponseError); 6] = [
            (b"SSH-2.0", ResponseError::BadStatusLine),
            (b"HTTP/2 200\r\n\r\n", ResponseError::BadStatusLine),
            (b"HTTP/1.1 20 OK\r\n\r\n", ResponseError::BadStatusLine),
            (b"HTTP/1.1 200OK\r\n\r\n", ResponseError::BadStatusLine),
            (
                b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
                ResponseError::BadField,
            ),
            (
                b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
                ResponseError::BadField,
            ),
        ];
        for (input, want) in bad {
            assert_eq!(parse_response_head(input, 4096), Err(want));
        }
        assert_eq!(
            parse_response_head(b"HTTP/1.1 200 OK\r\nX: 1234567890", 20),
            Err(ResponseError::TooLarge)
        );
    }
}
