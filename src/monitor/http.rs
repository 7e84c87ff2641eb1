//! The few HTTP/1.1 messages the monitor reads and writes, as pure functions over byte
//! slices: origin-form GET request heads (its echo endpoint and its dashboard) and
//! response heads (what a probe reads back through a node). Heads are bounded; a body
//! is never parsed here, only its announced length.

use crate::proxy::codec::Parsed;
use std::fmt;

/// Longest head accepted either way.
pub const MAX_HEAD: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    HeadTooLarge,
    BadRequestLine,
    BadStatusLine,
    /// A field line without `:`, or a non-ASCII head.
    BadField,
    /// A request with a body (none of the monitor's endpoints takes one).
    UnexpectedBody,
    BadContentLength,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::HeadTooLarge => "head too large",
            HttpError::BadRequestLine => "malformed request line",
            HttpError::BadStatusLine => "malformed status line",
            HttpError::BadField => "malformed header field",
            HttpError::UnexpectedBody => "request has a body",
            HttpError::BadContentLength => "bad Content-Length",
        })
    }
}

/// `GET /path HTTP/1.1` and what matters of its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path and query as sent (starts with `/`).
    pub target: &'a str,
    /// `Connection: close`, or HTTP/1.0 without keep-alive.
    pub close: bool,
}

impl Request<'_> {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The value of `name` in the query string, if present (no percent-decoding: the
    /// monitor's own links use plain words).
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, q) = self.target.split_once('?')?;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub content_length: Option<u64>,
}

/// The head (up to and including the blank line) at the front of `buf`, as text lines.
fn head_lines(buf: &[u8]) -> Result<Parsed<(Vec<&str>, usize)>, HttpError> {
    let window = buf.get(..MAX_HEAD).unwrap_or(buf);
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() >= MAX_HEAD {
            Err(HttpError::HeadTooLarge)
        } else {
            Ok(Parsed::NeedMore)
        };
    };
    let head = window.get(..end).unwrap_or_default();
    let text = std::str::from_utf8(head).map_err(|_| HttpError::BadField)?;
    if !text.is_ascii() {
        return Err(HttpError::BadField);
    }
    Ok(Parsed::Done {
        value: (text.split("\r\n").collect(), end + 4),
        consumed: end + 4,
    })
}

fn fields<'a>(lines: &[&'a str]) -> Result<Vec<(&'a str, &'a str)>, HttpError> {
    lines
        .iter()
        .skip(1)
        .map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, _)| !k.is_empty() && !k.contains(' '))
                .ok_or(HttpError::BadField)
        })
        .collect()
}

/// Parses a request head; `consumed` is its length.
pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request<'_>>, HttpError> {
    let (lines, len) = match head_lines(buf)? {
        Parsed::NeedMore => return Ok(Parsed::NeedMore),
        Parsed::Done { value, .. } => value,
    };
    let first = lines.first().copied().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequestLine);
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
        || !(version == "HTTP/1.1" || version == "HTTP/1.0")
    {
        return Err(HttpError::BadRequestLine);
    }
    let mut close = version == "HTTP/1.0";
    for (k, v) in fields(&lines)? {
        if k.eq_ignore_ascii_case("connection") {
            close = v.eq_ignore_ascii_case("close")
                || (version == "HTTP/1.0" && !v.eq_ignore_ascii_case("keep-alive"));
        } else if (k.eq_ignore_ascii_case("content-length") && v != "0")
            || k.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(HttpError::UnexpectedBody);
        }
    }
    Ok(Parsed::Done {
        value: Request {
            method,
            target,
            close,
        },
        consumed: len,
    })
}

/// Parses a response head; `consumed` is its length (the body follows).
pub fn parse_response_head(buf: &[u8]) -> Result<Parsed<ResponseHead>, HttpError> {
    let (lines, len) = match head_lines(buf)? {
        Parsed::NeedMore => return Ok(Parsed::NeedMore),
        Parsed::Done { value, .. } => value,
    };
    let first = lines.first().copied().unwrap_or("");
    let mut parts = first.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(HttpError::BadStatusLine);
    };
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(HttpError::BadStatusLine);
    }
    let status: u16 = code.parse().map_err(|_| HttpError::BadStatusLine)?;
    let mut content_length = None;
    for (k, v) in fields(&lines)? {
        if k.eq_ignore_ascii_case("content-length") {
            let n: u64 = v.parse().map_err(|_| HttpError::BadContentLength)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HttpError::BadContentLength);
            }
            content_length = Some(n);
        }
    }
    Ok(Parsed::Done {
        value: ResponseHead {
            status,
            content_length,
        },
        consumed: len,
    })
}

/// A whole response head with a body length; `extra` holds more header lines, each
/// ending in CRLF.
pub fn response_head(status: u16, content_type: &str, len: usize, extra: &str) -> String {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nCache-Control: no-store\r\n{extra}\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        let buf = b"GET /echo/abc?x=1&sort=p95 HTTP/1.1\r\nHost: h\r\n\r\nrest";
        let Parsed::Done { value, consumed } = parse_request(buf).unwrap() else {
            panic!()
        };
        assert_eq!(consumed, buf.len() - 4);
        assert_eq!(value.path(), "/echo/abc");
        assert_eq!(value.query("sort"), Some("p95"));
        assert_eq!(value.query("y"), None);
        assert!(!value.close);
        let Parsed::Done { value, .. } = parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap() else {
            panic!()
        };
        assert!(value.close);
        // Every prefix of a valid head needs more, never errs.
        for i in 0..buf.len() - 4 {
            assert_eq!(parse_request(&buf[..i]), Ok(Parsed::NeedMore), "{i}");
        }
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        for bad in [
            &b"GET http://x/ HTTP/1.1\r\n\r\n"[..],
            b"get / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2\r\n\r\n",
            b"GET /  HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nnocolon\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n",
        ] {
            assert!(
                parse_request(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse_request(&vec![b'G'; MAX_HEAD]),
            Err(HttpError::HeadTooLarge)
        );
    }

    #[test]
    fn response_heads() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nbody";
        assert_eq!(
            parse_response_head(buf).unwrap(),
            Parsed::Done {
                value: ResponseHead {
                    status: 200,
                    content_length: Some(12)
                },
                consumed: buf.len() - 4
            }
        );
        assert_eq!(
            parse_response_head(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                .unwrap()
                .map(|h| h.status),
            Parsed::Done {
                value: 407,
                consumed: 46
            }
        );
        for bad in [
            &b"SSH-2.0\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert!(parse_response_head(bad).is_err());
        }
        let head = response_head(200, "text/plain", 3, "");
        assert!(matches!(
            parse_response_head(head.as_bytes()),
            Ok(Parsed::Done {
                value: ResponseHead {
                    status: 200,
                    content_length: Some(3)
                },
                ..
            })
        ));
    }
}
