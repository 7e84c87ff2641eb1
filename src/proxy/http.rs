//! The HTTP proxy side of the node as pure functions over byte slices: the client's request
//! head (RFC 9112 §2–§5, proxy forms of RFC 9110 §7.1 and §9.3.6), Basic proxy credentials
//! (RFC 7617), the head forwarded to an origin, and the node's canned responses. Nothing here
//! does I/O; only `write_forward_head` writes, into the caller's Vec.
//!
//! The head is parsed strictly: lines end in CRLF (a bare CR or LF is an error, not a line
//! end), single spaces separate the request-line parts, obs-fold is refused, field names
//! are tokens with no space before the colon. Leniency in a proxy is how requests get
//! smuggled past it.
//!
//! Compiled into `fuzz/` as well (fuzz/src/lib.rs): it may use only `std` and the other
//! parser files there, so that it builds on its own and its invariants are fuzzed.

use std::fmt;
use std::net::SocketAddr;

use super::codec::{parse_host, Parsed, Target};
use super::http_body::Framing;

/// What the client asked the proxy to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `CONNECT host:port`: open a tunnel.
    Connect,
    /// `METHOD http://host[:port]/path`: forward one request to an origin server.
    Forward,
}

/// A parsed request head. Slices borrow from the buffer given to `parse_request_head`.
///
/// ```text
/// request-line   = method SP request-target SP HTTP-version CRLF    (RFC 9112 §3)
/// request-target = authority-form                 ; CONNECT only: host ":" port, port required
///                / absolute-form                  ; "http://" authority [ path ] [ "?" query ]
/// header section = *( field-name ":" OWS field-value OWS CRLF ) CRLF (RFC 9112 §5)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub kind: RequestKind,
    pub target: Target<'a>,
    /// The Proxy-Authorization value with surrounding whitespace removed.
    pub proxy_authorization: Option<&'a [u8]>,
    /// Bytes of the head including the blank line; what follows is body or tunnel data.
    pub head_len: usize,
    /// How the body after the head ends; only bytes up to that end go to the origin.
    pub framing: Framing,
    method: &'a str,
    /// Forward only: the path and query as sent, possibly empty or starting with `?`.
    path: &'a [u8],
    /// The authority as the client wrote it: what the forwarded Host header carries.
    authority: &'a [u8],
    version: &'a [u8],
    /// Where the first field line starts.
    fields_start: usize,
}

impl<'a> RequestHead<'a> {
    /// The request method, for log lines.
    pub fn method(&self) -> &'a str {
        self.method
    }
}

/// Shows whether credentials were sent, never the credentials.
impl fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHead")
            .field("kind", &self.kind)
            .field("method", &self.method)
            .field("target", &self.target)
            .field(
                "proxy_authorization",
                &self.proxy_authorization.map(|_| "<hidden>"),
            )
            .field("head_len", &self.head_len)
            .finish_non_exhaustive()
    }
}

/// Everything that can be wrong with a client's request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// A CR not followed by LF, or an LF not preceded by CR.
    BadLineEnding,
    /// The method is not a token.
    BadMethod,
    /// Not exactly `method SP target SP version`.
    BadRequestLine,
    /// HTTP-version other than HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// The request-target has bytes outside visible ASCII, a fragment, or is not a form a
    /// proxy accepts (`*`).
    BadTarget,
    /// An origin-form target (`GET /path`): a request for a server, not a proxy.
    NotProxyRequest,
    /// `https://` or another scheme in absolute form: a proxy cannot forward TLS in plain
    /// text; clients must use CONNECT for those.
    UnsupportedScheme,
    /// User info (`user:pass@`) in the target URI (RFC 9110 §4.2.4).
    UserInfo,
    /// The host is not a host name or IP literal.
    BadHost,
    /// CONNECT without a port (RFC 9110 §9.3.6: there is no default).
    MissingPort,
    /// A port that is not 1..=65535 in decimal.
    BadPort,
    /// A field line starting with whitespace (obs-fold, RFC 9112 §5.2).
    ObsFold,
    /// A field line without a colon, an empty name, a name that is not a token, or space
    /// between the name and the colon.
    BadFieldName,
    /// A control character in a field value.
    BadFieldValue,
    /// More than one Host or Proxy-Authorization field.
    DuplicateField,
    /// Both Content-Length and Transfer-Encoding (RFC 9112 §6.3: a smuggling sign).
    ConflictingLength,
    /// A Content-Length that is not one decimal number (or repeated with another value).
    BadContentLength,
    /// A Transfer-Encoding whose final coding is not `chunked` (RFC 9112 §6.3).
    BadTransferEncoding,
    /// No complete head within the size limit.
    HeadTooLarge,
}

impl HttpError {
    /// The one place HTTP errors meet status codes.
    pub fn status(&self) -> Status {
        match self {
            HttpError::HeadTooLarge => Status::HeadTooLarge,
            HttpError::UnsupportedScheme => Status::NotImplemented,
            HttpError::BadLineEnding
            | HttpError::BadMethod
            | HttpError::BadRequestLine
            | HttpError::UnsupportedVersion
            | HttpError::BadTarget
            | HttpError::NotProxyRequest
            | HttpError::UserInfo
            | HttpError::BadHost
            | HttpError::MissingPort
            | HttpError::BadPort
            | HttpError::ObsFold
            | HttpError::BadFieldName
            | HttpError::BadFieldValue
            | HttpError::DuplicateField
            | HttpError::ConflictingLength
            | HttpError::BadContentLength
            | HttpError::BadTransferEncoding => Status::BadRequest,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::BadLineEnding => "bare CR or LF in request head",
            HttpError::BadMethod => "method is not a token",
            HttpError::BadRequestLine => "malformed request line",
            HttpError::UnsupportedVersion => "HTTP version is not 1.0 or 1.1",
            HttpError::BadTarget => "malformed request target",
            HttpError::NotProxyRequest => "origin-form request sent to a proxy",
            HttpError::UnsupportedScheme => "only http:// is forwarded; use CONNECT for https",
            HttpError::UserInfo => "user info in request target",
            HttpError::BadHost => "invalid host",
            HttpError::MissingPort => "CONNECT target has no port",
            HttpError::BadPort => "invalid port",
            HttpError::ObsFold => "folded header line",
            HttpError::BadFieldName => "invalid header name",
            HttpError::BadFieldValue => "control character in header value",
            HttpError::DuplicateField => "repeated Host or Proxy-Authorization header",
            HttpError::ConflictingLength => "both Content-Length and Transfer-Encoding",
            HttpError::BadContentLength => "invalid Content-Length",
            HttpError::BadTransferEncoding => "Transfer-Encoding does not end in chunked",
            HttpError::HeadTooLarge => "request head too large",
        })
    }
}

impl std::error::Error for HttpError {}

/// Parses a request head from the front of `buf`. A head longer than `max_head` bytes
/// (blank line included) is `HeadTooLarge` as soon as `max_head` bytes have arrived without
/// one. Errors in a line are reported once that line is complete and never depend on bytes
/// after it, so a truncated valid head is always `NeedMore`.
pub fn parse_request_head(
    buf: &[u8],
    max_head: usize,
) -> Result<Parsed<RequestHead<'_>>, HttpError> {
    let window = buf.get(..max_head).unwrap_or(buf);
    let incomplete = || {
        if buf.len() >= max_head {
            Err(HttpError::HeadTooLarge)
        } else {
            Ok(Parsed::NeedMore)
        }
    };

    // The method is judged first and as soon as it has arrived: a client speaking another
    // protocol entirely is turned away without waiting for a line end.
    check_method(window)?;
    let Some((line, mut pos)) = next_line(window, 0)? else {
        // A CR followed by anything but LF is wrong whatever comes next.
        if window.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n') {
            return Err(HttpError::BadLineEnding);
        }
        return incomplete();
    };
    let line = parse_request_line(line)?;

    let fields_start = pos;
    let mut proxy_authorization = None;
    let mut host_seen = false;
    let mut content_length: Option<u64> = None;
    let mut chunked: Option<bool> = None;
    loop {
        let Some((field, next)) = next_line(window, pos)? else {
            return incomplete();
        };
        pos = next;
        if field.is_empty() {
            break;
        }
        let (name, value) = parse_field(field)?;
        if name.eq_ignore_ascii_case(b"proxy-authorization") {
            if proxy_authorization.replace(value).is_some() {
                return Err(HttpError::DuplicateField);
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            if host_seen {
                return Err(HttpError::DuplicateField);
            }
            host_seen = true;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_content_length(value)?;
            if content_length.replace(length).is_some_and(|l| l != length) {
                return Err(HttpError::BadContentLength);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // A later field's codings follow an earlier one's: only the last field's last
            // coding says whether the body is chunked.
            chunked = Some(last_coding_is_chunked(value));
        }
    }
    let framing = match (content_length, chunked) {
        (Some(_), Some(_)) => return Err(HttpError::ConflictingLength),
        (_, Some(false)) => return Err(HttpError::BadTransferEncoding),
        (_, Some(true)) => Framing::Chunked,
        (Some(length), None) => Framing::Length(length),
        (None, None) => Framing::Length(0),
    };
    Ok(Parsed::Done {
        value: RequestHead {
            kind: line.kind,
            target: line.target,
            proxy_authorization,
            head_len: pos,
            framing,
            method: line.method,
            path: line.path,
            authority: line.authority,
            version: line.version,
            fields_start,
        },
        consumed: pos,
    })
}

/// The line starting at `start` without its CRLF, and where the next line starts; `None`
/// if no LF has arrived yet.
fn next_line(window: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, HttpError> {
    let rest = window.get(start..).unwrap_or_default();
    let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = rest
        .get(..lf)
        .and_then(|l| l.strip_suffix(b"\r"))
        .ok_or(HttpError::BadLineEnding)?;
    if line.contains(&b'\r') {
        return Err(HttpError::BadLineEnding);
    }
    Ok(Some((line, start + lf + 1)))
}

/// tchar of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct RequestLine<'a> {
    kind: RequestKind,
    target: Target<'a>,
    method: &'a str,
    path: &'a [u8],
    authority: &'a [u8],
    version: &'a [u8],
}

/// The method is the bytes before the first SP, CR or LF: a non-empty run of tchars. It
/// can be judged empty only once its end has arrived.
fn check_method(window: &[u8]) -> Result<(), HttpError> {
    let end = window
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'));
    let method = window
        .get(..end.unwrap_or(window.len()))
        .unwrap_or_default();
    if !method.iter().all(|&b| is_tchar(b)) || (end.is_some() && method.is_empty()) {
        return Err(HttpError::BadMethod);
    }
    Ok(())
}

fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, HttpError> {
    check_method(line)?;
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequestLine);
    };
    let method = std::str::from_utf8(method).map_err(|_| HttpError::BadMethod)?;
    if target.is_empty() || version.contains(&b' ') {
        return Err(HttpError::BadRequestLine);
    }
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(HttpError::UnsupportedVersion)
        }
        _ => return Err(HttpError::BadRequestLine),
    }
    if !target.iter().all(|b| (0x21..=0x7e).contains(b)) || target.contains(&b'#') {
        return Err(HttpError::BadTarget);
    }

    if method == "CONNECT" {
        let target_addr = parse_authority(target, None)?;
        return Ok(RequestLine {
            kind: RequestKind::Connect,
            target: target_addr,
            method,
            path: b"",
            authority: target,
            version,
        });
    }
    let Some(rest) = strip_prefix_ignore_case(target, b"http://") else {
        return Err(if target.starts_with(b"/") || target == b"*" {
            HttpError::NotProxyRequest
        } else if target.windows(3).any(|w| w == b"://") {
            HttpError::UnsupportedScheme
        } else {
            HttpError::BadTarget
        });
    };
    let authority_len = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_len);
    Ok(RequestLine {
        kind: RequestKind::Forward,
        target: parse_authority(authority, Some(80))?,
        method,
        path,
        authority,
        version,
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// `host [":" port]` where host is a name, an IPv4 address or a bracketed IPv6 address.
/// `default_port` is `None` for CONNECT, where the port is required; an empty port after
/// the colon means the default (RFC 3986 §3.2.3).
fn parse_authority(authority: &[u8], default_port: Option<u16>) -> Result<Target<'_>, HttpError> {
    if authority.contains(&b'@') {
        return Err(HttpError::UserInfo);
    }
    // The port separator is the colon after the closing bracket, or the only colon.
    let host_end = match authority.first() {
        Some(b'[') => authority
            .iter()
            .position(|&b| b == b']')
            .map(|i| i + 1)
            .ok_or(HttpError::BadHost)?,
        _ => authority
            .iter()
            .position(|&b| b == b':')
            .unwrap_or(authority.len()),
    };
    let (host, port_part) = authority.split_at(host_end);
    // The host is judged first: "/x" is a bad host before it is a missing port.
    let target = parse_host(host, 0).map_err(|_| HttpError::BadHost)?;
    let port = match port_part {
        [] | [b':'] => default_port.ok_or(HttpError::MissingPort)?,
        [b':', digits @ ..] => parse_port(digits)?,
        _ => return Err(HttpError::BadHost),
    };
    Ok(match target {
        Target::Ip(addr) => Target::Ip(SocketAddr::new(addr.ip(), port)),
        Target::Domain(name, _) => Target::Domain(name, port),
    })
}

fn parse_port(digits: &[u8]) -> Result<u16, HttpError> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadPort);
    }
    let value = digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    match u16::try_from(value) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(HttpError::BadPort),
    }
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), also as the list `n, n` some senders
/// write, whose members must all agree.
pub(super) fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    let mut length = None;
    for member in value.split(|&b| b == b',') {
        let digits = trim_ows(member);
        if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(HttpError::BadContentLength);
        }
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if length.replace(n).is_some_and(|l| l != n) {
            return Err(HttpError::BadContentLength);
        }
    }
    length.ok_or(HttpError::BadContentLength)
}

/// Whether the last coding of a Transfer-Encoding list is `chunked` (parameters aside).
pub(super) fn last_coding_is_chunked(value: &[u8]) -> bool {
    value
        .rsplit(|&b| b == b',')
        .next()
        .map(|coding| trim_ows(coding.split(|&b| b == b';').next().unwrap_or_default()))
        .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"))
}

/// Splits a field line into its name and its value without surrounding whitespace.
pub(super) fn parse_field(line: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(HttpError::ObsFold);
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HttpError::BadFieldName)?;
    let (name, value) = line.split_at(colon);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(HttpError::BadFieldName);
    }
    let value = trim_ows(value.get(1..).unwrap_or_default());
    // field-vchar = VCHAR / obs-text, with SP and HTAB allowed between them.
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(HttpError::BadFieldValue);
    }
    Ok((name, value))
}

pub(super) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Decodes `Basic <base64 of user:pass>` (RFC 7617) into `out`. The scheme is matched
/// without regard to case; the base64 must be canonical standard base64 with padding.
/// `None` for anything else: another scheme, bad base64, no colon, more than 512 decoded
/// bytes, or a control character in the decoded text (RFC 7617 §2 forbids them).
pub fn decode_basic<'o>(value: &[u8], out: &'o mut [u8; 512]) -> Option<(&'o [u8], &'o [u8])> {
    let value = trim_ows(value);
    let rest = strip_prefix_ignore_case(value, b"basic ")?;
    let encoded = trim_ows(rest);
    let len = crate::base64::decode(encoded, out)?;
    let decoded: &'o [u8] = out.get(..len)?;
    if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let colon = decoded.iter().position(|&b| b == b':')?;
    let (user, pass) = decoded.split_at(colon);
    Some((user, pass.get(1..).unwrap_or_default()))
}

/// Field names that never go upstream: hop-by-hop fields (RFC 9110 §7.6.1), the proxy's own
/// credentials, and Host, which is rewritten from the request-target.
const DROPPED_FIELDS: [&[u8]; 5] = [
    b"proxy-authorization",
    b"proxy-connection",
    b"connection",
    b"keep-alive",
    b"host",
];

/// Fields a `Connection` list may not remove: they frame the body that is relayed as-is.
const FRAMING_FIELDS: [&[u8]; 2] = [b"content-length", b"transfer-encoding"];

/// Writes the head to send upstream for a Forward request: origin-form request line, hop-by-hop
/// and Proxy-* headers removed, `Connection: close` added. The body after head_len is relayed
/// as-is, up to where its framing says it ends.
///
/// `buf` must be the buffer `head` was parsed from. The request line keeps the client's
/// HTTP version, because the origin's response is relayed to the client unchanged and must
/// be in a form the client reads. Host is generated from the request-target, as RFC 9112
/// §3.2.2 requires of a proxy, replacing any Host the client sent; every field named in a
/// Connection field is dropped too, except the framing fields Content-Length and
/// Transfer-Encoding. Writes nothing for CONNECT.
pub fn write_forward_head(buf: &[u8], head: &RequestHead<'_>, out: &mut Vec<u8>) {
    if head.kind != RequestKind::Forward {
        return;
    }
    let Some(fields) = buf.get(head.fields_start..head.head_len) else {
        return;
    };
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    if !head.path.starts_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(head.path);
    out.push(b' ');
    out.extend_from_slice(head.version);
    out.extend_from_slice(b"\r\nHost: ");
    out.extend_from_slice(head.authority);
    out.extend_from_slice(b"\r\n");
    write_end_to_end_fields(fields, &DROPPED_FIELDS, out);
    out.extend_from_slice(b"Connection: close\r\n\r\n");
}

/// Copies the field lines of `fields` to `out`, less those named in `dropped` and those a
/// Connection field names (but never the framing fields). Linear in the head's size up to
/// a log factor: the Connection options are collected once and sorted, so a head of many
/// tiny fields costs no more per field than a normal one.
pub(super) fn write_end_to_end_fields(fields: &[u8], dropped: &[&[u8]], out: &mut Vec<u8>) {
    let mut named: Vec<&[u8]> = field_lines(fields)
        .filter_map(|l| parse_field(l).ok())
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"connection"))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|option| !option.is_empty())
        .collect();
    named.sort_unstable_by(|a, b| cmp_ignore_case(a, b));
    for line in field_lines(fields) {
        let Ok((name, _)) = parse_field(line) else {
            continue;
        };
        let dropped = dropped.iter().any(|d| name.eq_ignore_ascii_case(d))
            || (!FRAMING_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f))
                && named
                    .binary_search_by(|option| cmp_ignore_case(option, name))
                    .is_ok());
        if !dropped {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Orders byte strings as their ASCII-lowercase forms would order.
fn cmp_ignore_case(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// Field lines of an already validated header section, without their CRLF.
pub(super) fn field_lines(fields: &[u8]) -> impl Iterator<Item = &[u8]> {
    fields
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// The responses the proxy itself gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    ConnectionEstablished,
    BadRequest,
    Forbidden,
    ProxyAuthRequired,
    BadGateway,
    GatewayTimeout,
    HeadTooLarge,
    NotImplemented,
    ServiceUnavailable,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::ConnectionEstablished => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::ProxyAuthRequired => 407,
            Status::BadGateway => 502,
            Status::GatewayTimeout => 504,
            Status::HeadTooLarge => 431,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
        }
    }
}

/// An error response whose body says why, in one plain-text line or two: what a person
/// sees in the browser or in `curl -v` when a tunnel fails after they were let in.
pub fn error_response(status: Status, why: &dyn fmt::Display) -> Vec<u8> {
    let body = format!("{why}\n");
    let reason = match status {
        Status::ConnectionEstablished => "OK",
        Status::BadRequest => "Bad Request",
        Status::Forbidden => "Forbidden",
        Status::ProxyAuthRequired => "Proxy Authentication Required",
        Status::BadGateway => "Bad Gateway",
        Status::GatewayTimeout => "Gateway Timeout",
        Status::HeadTooLarge => "Request Header Fields Too Large",
        Status::NotImplemented => "Not Implemented",
        Status::ServiceUnavailable => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        status.code(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Full response bytes. Errors carry `Content-Length: 0` and `Connection: close` (the node
/// closes after them); 407 carries the challenge. The CONNECT success response has neither:
/// RFC 9110 §9.3.6 forbids Content-Length on a 2xx to CONNECT, and the tunnel follows it.
pub fn response(status: Status) -> &'static [u8] {
    match status {
        Status::ConnectionEstablished => b"HTTP/1.1 200 Connection established\r\n\r\n",
        Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::Forbidden => b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::ProxyAuthRequired => b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"aqueduct\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::BadGateway => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::GatewayTimeout => b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::HeadTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::NotImplemented => b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Status::ServiceUnavailable => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses_say_why_with_an_exact_length() {
        let out = error_response(Status::BadGateway, &"aqueduct: connection refused\nretry");
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\nContent-Length: {}", body.len())),
            "{head}"
        );
        assert_eq!(body, "aqueduct: connection refused\nretry\n");
    }

    const MAX: usize = 8192;

    fn ip(s: &str) -> Target<'static> {
        Target::Ip(s.parse::<SocketAddr>().unwrap())
    }

    fn parse_ok(msg: &[u8]) -> RequestHead<'_> {
        match parse_request_head(msg, MAX) {
            Ok(Parsed::Done { value, consumed }) => {
                assert_eq!(consumed, value.head_len);
                value
            }
            other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(msg)),
        }
    }

    /// Every proper prefix of a valid head is NeedMore; the head followed by body bytes
    /// parses to the same value and consumes exactly the head.
    fn assert_split_and_pipelined(msg: &[u8]) {
        for cut in 0..msg.len() {
            assert_eq!(
                parse_request_head(&msg[..cut], MAX),
                Ok(Parsed::NeedMore),
                "prefix {cut} of {:?}",
                String::from_utf8_lossy(msg)
            );
        }
        let whole = parse_ok(msg);
        assert_eq!(whole.head_len, msg.len());
        let mut more = msg.to_vec();
        more.extend_from_slice(b"body bytes\r\n\r\nGET http://other/ HTTP/1.1\r\n\r\n");
        assert_eq!(
            parse_request_head(&more, MAX),
            Ok(Parsed::Done {
                value: whole,
                consumed: msg.len()
            })
        );
    }

    #[test]
    fn connect_requests() {
        let cases: &[(&str, Target, Option<&str>)] = &[
            ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", Target::Domain("example.com", 443), None),
            ("CONNECT example.com:443 HTTP/1.0\r\n\r\n", Target::Domain("example.com", 443), None),
            ("CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n", ip("127.0.0.1:22"), None),
            ("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", ip("[::1]:8443"), None),
            ("CONNECT [2001:db8::5]:1 HTTP/1.1\r\n\r\n", ip("[2001:db8::5]:1"), None),
            ("CONNECT a:65535 HTTP/1.1\r\n\r\n", Target::Domain("a", 65535), None),
            (
                "CONNECT h.example:443 HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\n\r\n",
                Target::Domain("h.example", 443),
                Some("Basic YTpi"),
            ),
            (
                "CONNECT h.example:443 HTTP/1.1\r\nUser-Agent: x\r\nproxy-AUTHORIZATION:\t  Basic YTpi \t\r\nAccept: */*\r\n\r\n",
                Target::Domain("h.example", 443),
                Some("Basic YTpi"),
            ),
            (
                "CONNECT h.example:443 HTTP/1.1\r\nProxy-Authorization:\r\n\r\n",
                Target::Domain("h.example", 443),
                Some(""),
            ),
        ];
        for (msg, target, auth) in cases {
            assert_split_and_pipelined(msg.as_bytes());
            let head = parse_ok(msg.as_bytes());
            assert_eq!(head.kind, RequestKind::Connect, "{msg}");
            assert_eq!(head.method(), "CONNECT");
            assert_eq!(&head.target, target, "{msg}");
            assert_eq!(head.proxy_authorization, auth.map(str::as_bytes), "{msg}");
            let mut out = Vec::new();
            write_forward_head(msg.as_bytes(), &head, &mut out);
            assert!(out.is_empty(), "nothing is forwarded for CONNECT");
        }
    }

    #[test]
    fn forward_requests() {
        let cases: &[(&str, Target)] = &[
            (
                "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
                Target::Domain("example.com", 80),
            ),
            (
                "GET http://example.com HTTP/1.1\r\n\r\n",
                Target::Domain("example.com", 80),
            ),
            (
                "GET HTTP://Example.COM:8080/a?b=c HTTP/1.1\r\n\r\n",
                Target::Domain("Example.COM", 8080),
            ),
            (
                "GET http://example.com:/x HTTP/1.0\r\n\r\n",
                Target::Domain("example.com", 80),
            ),
            (
                "GET http://example.com?q HTTP/1.1\r\n\r\n",
                Target::Domain("example.com", 80),
            ),
            (
                "POST http://127.0.0.1:3000/submit HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
                ip("127.0.0.1:3000"),
            ),
            ("HEAD http://[::1]/ HTTP/1.1\r\n\r\n", ip("[::1]:80")),
            ("DELETE http://[::1]:81/x HTTP/1.1\r\n\r\n", ip("[::1]:81")),
            (
                "M-SEARCH http://a.b/ HTTP/1.1\r\nX-Empty:\r\nX-Obs-Text: café\r\n\r\n",
                Target::Domain("a.b", 80),
            ),
        ];
        for (msg, target) in cases {
            assert_split_and_pipelined(msg.as_bytes());
            let head = parse_ok(msg.as_bytes());
            assert_eq!(head.kind, RequestKind::Forward, "{msg}");
            assert_eq!(&head.target, target, "{msg}");
            assert_eq!(head.proxy_authorization, None);
        }
    }

    fn assert_errors(cases: &[(&[u8], HttpError)]) {
        for (msg, err) in cases {
            assert_eq!(
                parse_request_head(msg, MAX),
                Err(*err),
                "{:?}",
                String::from_utf8_lossy(msg)
            );
        }
    }

    #[test]
    fn request_line_errors() {
        let cases: &[(&[u8], HttpError)] = &[
            (
                b"GET  http://a/ HTTP/1.1\r\n\r\n",
                HttpError::BadRequestLine,
            ),
            (
                b"GET http://a/  HTTP/1.1\r\n\r\n",
                HttpError::BadRequestLine,
            ),
            (
                b"GET http://a/ HTTP/1.1 \r\n\r\n",
                HttpError::BadRequestLine,
            ),
            (b"GET http://a/\r\n\r\n", HttpError::BadRequestLine),
            (b"GET\r\n\r\n", HttpError::BadRequestLine),
            (b"\r\n\r\n", HttpError::BadMethod),
            (b" GET http://a/ HTTP/1.1\r\n\r\n", HttpError::BadMethod),
            (b"G(T http://a/ HTTP/1.1\r\n\r\n", HttpError::BadMethod),
            (b"GET\x00", HttpError::BadMethod),
            (b"G\x16\x03\x01", HttpError::BadMethod),
            (b"GET http://a/ http/1.1\r\n\r\n", HttpError::BadRequestLine),
            (
                b"GET http://a/ HTTP/1.10\r\n\r\n",
                HttpError::BadRequestLine,
            ),
            (
                b"GET http://a/ HTTP/2.0\r\n\r\n",
                HttpError::UnsupportedVersion,
            ),
            (
                b"GET http://a/ HTTP/0.9\r\n\r\n",
                HttpError::UnsupportedVersion,
            ),
            (b"GET http://a/\x7f HTTP/1.1\r\n\r\n", HttpError::BadTarget),
            (b"GET http://a/\xff HTTP/1.1\r\n\r\n", HttpError::BadTarget),
            (b"GET http://a/#frag HTTP/1.1\r\n\r\n", HttpError::BadTarget),
            (b"GET http://a/\tx HTTP/1.1\r\n\r\n", HttpError::BadTarget),
            (b"GET example.com:80 HTTP/1.1\r\n\r\n", HttpError::BadTarget),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                HttpError::NotProxyRequest,
            ),
            (b"OPTIONS * HTTP/1.1\r\n\r\n", HttpError::NotProxyRequest),
            (
                b"GET https://a/ HTTP/1.1\r\n\r\n",
                HttpError::UnsupportedScheme,
            ),
            (
                b"GET ftp://a/ HTTP/1.1\r\n\r\n",
                HttpError::UnsupportedScheme,
            ),
            (
                b"GET http://user:pw@a/ HTTP/1.1\r\n\r\n",
                HttpError::UserInfo,
            ),
            (b"GET http:///x HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"GET http://a_b$/ HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"GET http://[::1/ HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"GET http://[::1]x/ HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"GET http://::1/ HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"GET http://127.1/ HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"GET http://a:0/ HTTP/1.1\r\n\r\n", HttpError::BadPort),
            (b"GET http://a:65536/ HTTP/1.1\r\n\r\n", HttpError::BadPort),
            (
                b"GET http://a:99999999999999999999/ HTTP/1.1\r\n\r\n",
                HttpError::BadPort,
            ),
            (b"GET http://a:8o/ HTTP/1.1\r\n\r\n", HttpError::BadPort),
            (b"GET http://a:-1/ HTTP/1.1\r\n\r\n", HttpError::BadPort),
            (b"GET http://a:1:2/ HTTP/1.1\r\n\r\n", HttpError::BadPort),
            (
                b"CONNECT example.com HTTP/1.1\r\n\r\n",
                HttpError::MissingPort,
            ),
            (
                b"CONNECT example.com: HTTP/1.1\r\n\r\n",
                HttpError::MissingPort,
            ),
            (b"CONNECT [::1] HTTP/1.1\r\n\r\n", HttpError::MissingPort),
            (b"CONNECT [::1]443 HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"CONNECT ::1:443 HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (b"CONNECT :443 HTTP/1.1\r\n\r\n", HttpError::BadHost),
            (
                b"CONNECT u@example.com:443 HTTP/1.1\r\n\r\n",
                HttpError::UserInfo,
            ),
            (
                b"CONNECT example.com:0 HTTP/1.1\r\n\r\n",
                HttpError::BadPort,
            ),
            (
                b"CONNECT example.com:+443 HTTP/1.1\r\n\r\n",
                HttpError::BadPort,
            ),
            (
                b"CONNECT http://example.com:443 HTTP/1.1\r\n\r\n",
                HttpError::BadPort,
            ),
            (b"CONNECT /x HTTP/1.1\r\n\r\n", HttpError::BadHost),
        ];
        assert_errors(cases);
    }

    #[test]
    fn field_errors_and_injection_attempts() {
        let cases: &[(&[u8], HttpError)] = &[
            (b"GET http://a/ HTTP/1.1\r\nX: 1\r\n  folded\r\n\r\n", HttpError::ObsFold),
            (b"GET http://a/ HTTP/1.1\r\n\tX: 1\r\n\r\n", HttpError::ObsFold),
            (b"GET http://a/ HTTP/1.1\r\nX : 1\r\n\r\n", HttpError::BadFieldName),
            (b"GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n", HttpError::BadFieldName),
            (b"GET http://a/ HTTP/1.1\r\n: v\r\n\r\n", HttpError::BadFieldName),
            (b"GET http://a/ HTTP/1.1\r\nX(y): v\r\n\r\n", HttpError::BadFieldName),
            (b"GET http://a/ HTTP/1.1\r\nX\x00: v\r\n\r\n", HttpError::BadFieldName),
            (b"GET http://a/ HTTP/1.1\r\nX: a\x00b\r\n\r\n", HttpError::BadFieldValue),
            (b"GET http://a/ HTTP/1.1\r\nX: a\x1bb\r\n\r\n", HttpError::BadFieldValue),
            (b"GET http://a/ HTTP/1.1\r\nX: a\x7f\r\n\r\n", HttpError::BadFieldValue),
            // A CR or LF inside a value is never a line end: no header can be smuggled in.
            (b"GET http://a/ HTTP/1.1\r\nX: a\rInjected: 1\r\n\r\n", HttpError::BadLineEnding),
            (b"GET http://a/ HTTP/1.1\r\nX: a\nInjected: 1\r\n\r\n", HttpError::BadLineEnding),
            (b"GET http://a/ HTTP/1.1\nHost: a\n\n", HttpError::BadLineEnding),
            (b"GET http://a/ HTTP/1.1\r\n\n", HttpError::BadLineEnding),
            (b"GET http://a/ HTTP/1.1\r\r\n\r\n", HttpError::BadLineEnding),
            (b"GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HttpError::DuplicateField),
            (
                b"GET http://a/ HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\nproxy-authorization: Basic Yzpk\r\n\r\n",
                HttpError::DuplicateField,
            ),
            (
                b"POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpError::ConflictingLength,
            ),
        ];
        assert_errors(cases);
        assert!(cases.iter().all(|(_, e)| e.status() == Status::BadRequest));
    }

    #[test]
    fn errors_do_not_wait_for_the_rest_of_the_head() {
        // A complete bad line is reported at once, with no blank line yet.
        assert_eq!(
            parse_request_head(b"GET http://a/ HTTP/1.1\r\n folded\r\n", MAX),
            Err(HttpError::ObsFold)
        );
        assert_eq!(
            parse_request_head(b"GET https://a/ HTTP/1.1\r\n", MAX),
            Err(HttpError::UnsupportedScheme)
        );
    }

    /// An error seen in a prefix is the error of every longer input: it never depends on
    /// bytes that have not arrived.
    #[test]
    fn errors_are_stable_as_bytes_arrive() {
        let cases: &[&[u8]] = &[
            b"G(T http://a/ HTTP/1.1\r\n\r\n",
            b"G(T\rX\r\n\r\n",
            b"GET\rX\r\n\r\n",
            b"GET \rX\r\n\r\n",
            b"\x16\x03\x01\x02\x00",
            b" GET http://a/ HTTP/1.1\r\n\r\n",
            b"\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nX: y\rZ\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nX: y\r\n z\r\n\r\n",
        ];
        for msg in cases {
            let Err(last) = parse_request_head(msg, MAX) else {
                panic!("{:?} parsed", String::from_utf8_lossy(msg));
            };
            for cut in 0..msg.len() {
                match parse_request_head(&msg[..cut], MAX) {
                    Ok(Parsed::NeedMore) => {}
                    Err(e) => assert_eq!(
                        e,
                        last,
                        "prefix {cut} of {:?}",
                        String::from_utf8_lossy(msg)
                    ),
                    Ok(done) => panic!("prefix {cut} of {msg:?} gave {done:?}"),
                }
            }
        }
    }

    #[test]
    fn head_size_limit() {
        let head = b"GET http://a/ HTTP/1.1\r\nX: 12345\r\n\r\n";
        let n = head.len();
        // Exactly at the limit is fine; one byte over is too large, whatever follows.
        assert!(
            matches!(parse_request_head(head, n), Ok(Parsed::Done { consumed, .. }) if consumed == n)
        );
        assert_eq!(
            parse_request_head(head, n - 1),
            Err(HttpError::HeadTooLarge)
        );
        assert_eq!(
            parse_request_head(&head[..n - 2], n - 1),
            Ok(Parsed::NeedMore)
        );
        assert_eq!(
            parse_request_head(&head[..n - 1], n - 1),
            Err(HttpError::HeadTooLarge)
        );
        assert_eq!(parse_request_head(b"", 0), Err(HttpError::HeadTooLarge));

        // A long request line and a long field, each just over an 8 KiB limit.
        let long_line = format!("GET http://a/{} HTTP/1.1\r\n\r\n", "x".repeat(MAX));
        assert_eq!(
            parse_request_head(long_line.as_bytes(), MAX),
            Err(HttpError::HeadTooLarge)
        );
        let long_field = format!(
            "GET http://a/ HTTP/1.1\r\nCookie: {}\r\n\r\n",
            "c".repeat(MAX)
        );
        assert_eq!(
            parse_request_head(long_field.as_bytes(), MAX),
            Err(HttpError::HeadTooLarge)
        );
        assert_eq!(
            parse_request_head(&long_field.as_bytes()[..MAX - 1], MAX),
            Ok(Parsed::NeedMore)
        );
        // Many small fields count too, and a large limit accepts the same head.
        let many = format!("GET http://a/ HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(2000));
        assert_eq!(
            parse_request_head(many.as_bytes(), MAX),
            Err(HttpError::HeadTooLarge)
        );
        assert!(matches!(
            parse_request_head(many.as_bytes(), 64 * 1024),
            Ok(Parsed::Done { consumed, .. }) if consumed == many.len()
        ));
    }

    fn forwarded(msg: &[u8]) -> String {
        let head = parse_ok(msg);
        let mut out = b"existing|".to_vec();
        write_forward_head(msg, &head, &mut out);
        let out = String::from_utf8(out).unwrap();
        out.strip_prefix("existing|")
            .expect("appends, never clears")
            .to_string()
    }

    #[test]
    fn forward_head_rewrites() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
                "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET http://example.com HTTP/1.0\r\n\r\n",
                "GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET http://example.com:8080?q=1 HTTP/1.1\r\n\r\n",
                "GET /?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n",
            ),
            (
                b"GET http://[::1]:8080/ HTTP/1.1\r\nhost: [::1]:8080\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
            ),
            // Hop-by-hop, proxy credentials, and whatever Connection names all go; the
            // client's Host is replaced by the target's authority.
            (
                b"POST http://a.example/p HTTP/1.1\r\nHost: evil.example\r\nProxy-Authorization: Basic YTpi\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Secret , Upgrade\r\nKeep-Alive: 300\r\nX-Secret: 1\r\nupgrade: h2c\r\nContent-Length: 2\r\nX-Keep: yes\r\n\r\n",
                "POST /p HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\nX-Keep: yes\r\nConnection: close\r\n\r\n",
            ),
            // Two Connection fields both count; framing fields survive being named in one.
            (
                b"PUT http://a.example/ HTTP/1.1\r\nConnection: x-a\r\nconnection: TRANSFER-ENCODING, content-length\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nX-B:2\r\n\r\n",
                "PUT / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nX-B:2\r\nConnection: close\r\n\r\n",
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(forwarded(msg), *want, "{:?}", String::from_utf8_lossy(msg));
        }
    }

    #[test]
    fn forwarded_head_parses_as_one_clean_head() {
        let msg = b"GET http://a.example/ HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\nX: 1\r\n\r\nBODY";
        let out = forwarded(msg);
        assert_eq!(out.matches("\r\n\r\n").count(), 1);
        assert!(out.ends_with("\r\n\r\n"));
        assert!(!out.to_ascii_lowercase().contains("proxy-"));
        assert!(
            !out.contains("BODY"),
            "the body is relayed, not part of the head"
        );
    }

    #[test]
    fn basic_credentials() {
        let long_user = "u".repeat(511);
        let max_b64 = format!(
            "Basic {}",
            crate::base64::encode(format!("{long_user}:").as_bytes())
        );
        let over_b64 = format!(
            "Basic {}",
            crate::base64::encode(format!("{long_user}:p").as_bytes())
        );
        type UserAndPass<'a> = Option<(&'a [u8], &'a [u8])>;
        let cases: &[(&[u8], UserAndPass)] = &[
            // RFC 7617 §2's example.
            (
                b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                Some((b"Aladdin", b"open sesame")),
            ),
            (b"basic YWxpY2U6c2VjcmV0", Some((b"alice", b"secret"))),
            (b"BASIC   YWxpY2U6c2VjcmV0  ", Some((b"alice", b"secret"))),
            (b"Basic YTpiOmM=", Some((b"a", b"b:c"))),
            (b"Basic Og==", Some((b"", b""))),
            (b"Basic YTo=", Some((b"a", b""))),
            (
                b"Basic w6k6w6k=",
                Some(("\u{e9}".as_bytes(), "\u{e9}".as_bytes())),
            ),
            (max_b64.as_bytes(), Some((long_user.as_bytes(), b""))),
            (over_b64.as_bytes(), None),
            (b"Basic", None),
            (b"Basic ", None),
            (b"Bearer YWxpY2U6c2VjcmV0", None),
            (b"BasicYWxpY2U6c2VjcmV0", None),
            (b"Basic YWxpY2U", None),
            (b"Basic YWxpY2U=", None),
            (b"Basic YTo", None),
            (b"Basic YTo==", None),
            (b"Basic YT=6", None),
            (b"Basic =YTo", None),
            (b"Basic Y===", None),
            (b"Basic ====", None),
            (b"Basic YTpi YTpi", None),
            (b"Basic YTp-", None),
            (b"Basic YTp_", None),
            (b"Basic YTpi\x00", None),
            (b"Basic YR==", None),
            (b"Basic YTr=", None),
            (b"Basic YWxpY2U6c2Vj\ncmV0", None),
            (b"Basic YQ0KOmI=", None),
        ];
        for (value, want) in cases {
            let mut out = [0u8; 512];
            assert_eq!(
                decode_basic(value, &mut out),
                *want,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn responses_are_complete() {
        let all = [
            Status::ConnectionEstablished,
            Status::BadRequest,
            Status::Forbidden,
            Status::ProxyAuthRequired,
            Status::BadGateway,
            Status::GatewayTimeout,
            Status::HeadTooLarge,
            Status::NotImplemented,
            Status::ServiceUnavailable,
        ];
        for status in all {
            let text = std::str::from_utf8(response(status)).unwrap();
            assert!(
                text.starts_with(&format!("HTTP/1.1 {} ", status.code())),
                "{text}"
            );
            assert!(text.ends_with("\r\n\r\n"));
            assert_eq!(text.matches("\r\n\r\n").count(), 1);
            assert!(!text.replace("\r\n", "").contains(['\r', '\n']));
            if status == Status::ConnectionEstablished {
                assert!(!text.contains("Content-Length"));
            } else {
                assert!(text.contains("\r\nContent-Length: 0\r\n"), "{text}");
                assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
            }
        }
        let auth = std::str::from_utf8(response(Status::ProxyAuthRequired)).unwrap();
        assert!(auth.contains("\r\nProxy-Authenticate: Basic realm=\"aqueduct\"\r\n"));
        assert_eq!(HttpError::HeadTooLarge.status().code(), 431);
        assert_eq!(HttpError::UnsupportedScheme.status().code(), 501);
    }

    /// A bounded pseudo-random walk of byte edits over real heads (the fuzz/ targets do
    /// this at length): no panic, `consumed` within bounds, the consumed prefix alone parses
    /// the same, and a forwarded head always ends in exactly one blank line.
    #[test]
    fn mutated_heads_keep_invariants() {
        let seeds: &[&[u8]] = &[
            b"CONNECT example.com:443 HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\n\r\n",
            b"GET http://[::1]:8080/a?b HTTP/1.1\r\nHost: x\r\nConnection: x-a\r\nX-A: 1\r\n\r\nbody",
        ];
        let alphabet = b"\r\n :/[]@?#=\t\x00\x7fA";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..20_000 {
            let mut input = seeds[i % seeds.len()].to_vec();
            for _ in 0..1 + i % 4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state >> 8) as usize % input.len();
                let byte = alphabet[(state >> 40) as usize % alphabet.len()];
                match state % 3 {
                    0 => input[at] = byte,
                    1 => input.insert(at, byte),
                    _ => {
                        input.remove(at);
                    }
                }
            }
            let max = 16 + (state >> 20) as usize % 128;
            if let Ok(Parsed::Done { value, consumed }) = parse_request_head(&input, max) {
                assert!(consumed <= input.len() && consumed <= max);
                assert_eq!(
                    parse_request_head(&input[..consumed], max),
                    Ok(Parsed::Done {
                        value: value.clone(),
                        consumed
                    })
                );
                let mut out = Vec::new();
                write_forward_head(&input, &value, &mut out);
                if value.kind == RequestKind::Forward {
                    assert!(out.ends_with(b"\r\n\r\n"));
                    assert_eq!(out.windows(4).filter(|w| w == b"\r\n\r\n").count(), 1);
                }
            }
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let head = parse_ok(
            b"CONNECT a.example:443 HTTP/1.1\r\nProxy-Authorization: Basic c2VjcmV0OnB3\r\n\r\n",
        );
        let shown = format!("{head:?}");
        assert!(!shown.contains("c2VjcmV0OnB3"), "{shown}");
        assert!(shown.contains("<hidden>"));
    }
}
