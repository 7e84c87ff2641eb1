//! The invariants the fuzz targets check, shared with the stable `mutate` runner.
//!
//! The parsers are compiled straight from the node's source files: they use only std, and
//! including them spares every fuzz build the node's ~150 dependencies built again with
//! sanitizer instrumentation.
//!
//! For every parser and every input:
//! - no panic;
//! - `Done { consumed }` has `0 < consumed <= input.len()`, and parsing exactly the consumed
//!   prefix gives the same value, while any shorter prefix gives `NeedMore`;
//! - more bytes after the input never change an answer that was `Done` or an error
//!   (errors never depend on bytes not yet read), and a prefix of a `NeedMore` input is
//!   `NeedMore` too.

#[path = "../../src/proxy"]
pub mod proxy {
    pub mod codec;
    pub mod http;
    pub mod http_body;
    pub mod http_response;
    pub mod socks5;
}

/// The node's TLS layer, compiled from its source like the parsers (all of it but the
/// config section, which needs the node's config types).
#[path = "../../src/base64.rs"]
pub mod base64;
#[path = "../../src/endpoint.rs"]
pub mod endpoint;
#[path = "../../src/host_port.rs"]
pub mod host_port;
#[path = "../../src/tls"]
pub mod tls {
    pub mod cert;
    pub mod configs;
    pub mod conn;
    pub mod pin;
    pub use pin::Pin;
}

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, OnceLock};

use proxy::codec::{Parsed, Target};
use proxy::http::{self, RequestKind};
use proxy::http_body::{Body, Framing};
use proxy::http_response::{parse_response_head, write_response_head};
use proxy::socks5::{self, Command, Reply};

/// Bytes appended to check that answers do not depend on what follows.
const TAIL: &[u8] = b"\x05\x01\x00\x03\r\n\r\nGET http://tail/ HTTP/1.1\r\n\r\n\x00\xff";

/// The stream-parser invariants of this crate's doc, for one parser. A macro because each
/// parser's value borrows from its input, which a generic closure bound cannot express.
macro_rules! check_stream {
    ($data:expr, $all_prefixes:expr, $parse:path $(, $arg:expr)*) => {{
        let data: &[u8] = $data;
        let whole = $parse(data $(, $arg)*);
        let mut extended = data.to_vec();
        extended.extend_from_slice(TAIL);
        match &whole {
            Ok(Parsed::Done { consumed, .. }) => {
                let consumed = *consumed;
                assert!(consumed > 0 && consumed <= data.len(), "consumed {consumed} of {}", data.len());
                assert_eq!($parse(&data[..consumed] $(, $arg)*), whole, "consumed prefix alone");
                assert_eq!($parse(&extended $(, $arg)*), whole, "with bytes after");
                let cuts: Vec<usize> = if $all_prefixes {
                    (0..consumed).collect()
                } else {
                    vec![0, consumed / 2, consumed - 1]
                };
                for cut in cuts {
                    assert_eq!($parse(&data[..cut] $(, $arg)*), Ok(Parsed::NeedMore), "prefix {cut}");
                }
            }
            Ok(Parsed::NeedMore) => {
                assert_eq!($parse(&data[..data.len() / 2] $(, $arg)*), Ok(Parsed::NeedMore), "half");
            }
            Err(_) => {
                assert_eq!($parse(&extended $(, $arg)*), whole, "error changed by later bytes");
            }
        }
        whole
    }};
}

/// Runs every SOCKS5 parser and the reply encoder over `data`.
pub fn check_socks5(data: &[u8]) {
    if let Ok(Parsed::Done { consumed, .. }) = check_stream!(data, true, socks5::parse_greeting) {
        assert_eq!(consumed, 2 + usize::from(data[1]));
    }
    if let Ok(Parsed::Done { value, consumed }) = check_stream!(data, true, socks5::parse_user_pass)
    {
        assert_eq!(consumed, 3 + value.username.len() + value.password.len());
        assert!(!value.username.is_empty());
    }
    if let Ok(Parsed::Done { value, .. }) = check_stream!(data, true, socks5::parse_request) {
        check_target(&value.target);
    }
    for e in [
        socks5::parse_greeting(data).err(),
        socks5::parse_user_pass(data).err(),
        socks5::parse_request(data).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!e.to_string().is_empty());
        let _ = e.reply();
    }
    check_reply_encoding(data);
}

/// A reply has a request's layout with REP where CMD was, so the request parser must read
/// back exactly the address the encoder wrote.
fn check_reply_encoding(data: &[u8]) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let reply = Reply::from_u8(byte(0) % 9).unwrap_or(Reply::GeneralFailure);
    let port = u16::from_be_bytes([byte(1), byte(2)]);
    let bound = if byte(3) & 1 == 0 {
        SocketAddr::from((Ipv4Addr::new(byte(4), byte(5), byte(6), byte(7)), port))
    } else {
        let mut octets = [0u8; 16];
        for (i, o) in octets.iter_mut().enumerate() {
            *o = byte(4 + i);
        }
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, 0))
    };
    let encoded = socks5::encode_reply(reply, bound);
    let bytes = encoded.as_ref();
    assert_eq!(bytes.len(), if bound.is_ipv4() { 10 } else { 22 });
    assert_eq!(bytes[1], reply.as_u8());
    let mut as_request = bytes.to_vec();
    as_request[1] = Command::Connect.as_u8();
    let parsed = socks5::parse_request(&as_request);
    let want = socks5::Request {
        command: Command::Connect,
        target: Target::Ip(bound),
    };
    assert_eq!(
        parsed,
        Ok(Parsed::Done {
            value: want,
            consumed: bytes.len()
        })
    );
}

fn check_target(target: &Target<'_>) {
    if let Target::Domain(name, _) = target {
        assert!((1..=255).contains(&name.len()));
        assert!(name.bytes().all(|b| b.is_ascii_graphic()), "{name:?}");
        assert!(
            name.parse::<std::net::IpAddr>().is_err(),
            "IP literal left as a name: {name}"
        );
    }
    let owned = target.to_owned();
    assert_eq!(&owned.as_target(), target);
    assert_eq!(owned.port(), target.port());
    assert!(!owned.to_string().is_empty());
}

/// The head limit the node is expected to use.
pub const MAX_HEAD: usize = 8192;

/// Runs the HTTP head parser (at two size limits), the forwarded-head writer and the Basic
/// decoder over `data`.
pub fn check_http(data: &[u8]) {
    let small_limit = data.len() / 2 + 1;
    for max_head in [MAX_HEAD, small_limit] {
        let result = check_stream!(data, data.len() <= 512, http::parse_request_head, max_head);
        match result {
            Ok(Parsed::Done { value, consumed }) => {
                assert!(consumed <= max_head);
                assert_eq!(value.head_len, consumed);
                check_target(&value.target);
                if let Some(auth) = value.proxy_authorization {
                    check_basic(auth);
                }
                check_forward(data, &value);
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                check_response(http::response(e.status()));
            }
            Ok(Parsed::NeedMore) => assert!(data.len() < max_head),
        }
    }
    check_basic(data);
    check_body(data);
    check_response_head(data);
}

/// The body scanner gives the same answer however the stream is cut into reads, never
/// takes more than it is given, and once done takes nothing more.
fn check_body(data: &[u8]) {
    let cut = data.first().map_or(1, |&b| usize::from(b % 7) + 1);
    for framing in [Framing::Chunked, Framing::Length(data.len() as u64 / 2)] {
        let mut whole = Body::new(framing);
        let at_once = whole.advance(data);
        let mut pieces = Body::new(framing);
        let mut taken = 0;
        let mut result = Ok(0);
        for piece in data.chunks(cut) {
            match pieces.advance(piece) {
                Ok(n) => {
                    assert!(n <= piece.len());
                    taken += n;
                    if n < piece.len() {
                        assert!(pieces.is_done(), "stopped early without being done");
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        match (at_once, result) {
            (Ok(n), Ok(_)) => {
                assert_eq!(n, taken, "cut into reads of {cut}");
                assert_eq!(whole.is_done(), pieces.is_done());
                if whole.is_done() {
                    assert_eq!(whole.advance(b"more"), Ok(0));
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("{a:?} at once, {b:?} in pieces of {cut}"),
        }
    }
}

/// A response head parses as a stream parser must, and its rewrite is one clean head that
/// says the connection closes and parses to the same status.
fn check_response_head(data: &[u8]) {
    let Ok(Parsed::Done { value, consumed }) =
        check_stream!(data, data.len() <= 512, parse_response_head, MAX_HEAD)
    else {
        return;
    };
    assert_eq!(value.len, consumed);
    let mut out = Vec::new();
    write_response_head(data, &value, &mut out);
    if value.is_interim() {
        assert_eq!(out, &data[..consumed]);
        return;
    }
    assert!(out.ends_with(b"\r\nConnection: close\r\n\r\n"));
    assert_eq!(count(&out, b"\r\n\r\n"), 1);
    assert_eq!(count(&out, b"\n"), count(&out, b"\r\n"), "bare LF written");
    let lower = out.to_ascii_lowercase();
    assert_eq!(count(&lower, b"\r\nconnection:"), 1);
    assert_eq!(count(&lower, b"\r\nkeep-alive:"), 0);
    match parse_response_head(&out, usize::MAX) {
        Ok(Parsed::Done { value: again, .. }) => assert_eq!(again.status, value.status),
        other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(&out)),
    }
}

fn check_response(bytes: &[u8]) {
    assert!(bytes.starts_with(b"HTTP/1.1 "));
    assert!(bytes.ends_with(b"\r\n\r\n"));
}

/// The forwarded head is one clean head without proxy fields; turned back into absolute
/// form it parses to the same target and forwards to exactly the same bytes again.
fn check_forward(buf: &[u8], head: &http::RequestHead<'_>) {
    let mut out = Vec::new();
    http::write_forward_head(buf, head, &mut out);
    if head.kind == RequestKind::Connect {
        assert!(out.is_empty());
        return;
    }
    assert!(out.ends_with(b"\r\nConnection: close\r\n\r\n"));
    assert_eq!(
        count(&out, b"\r\n\r\n"),
        1,
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(count(&out, b"\n"), count(&out, b"\r\n"), "bare LF written");
    let lower = out.to_ascii_lowercase();
    for banned in [
        &b"\r\nproxy-authorization:"[..],
        b"\r\nproxy-connection:",
        b"\r\nkeep-alive:",
    ] {
        assert_eq!(count(&lower, banned), 0);
    }
    assert_eq!(count(&lower, b"\r\nconnection:"), 1);
    assert_eq!(count(&lower, b"\r\nhost:"), 1);

    // "M /p V\r\nHost: A\r\nrest" -> "M http://A/p V\r\nrest"
    let line_end = find(&out, b"\r\n").expect("request line");
    let line = &out[..line_end];
    let sp1 = find(line, b" ").expect("SP");
    let host_line_end = line_end + 2 + find(&out[line_end + 2..], b"\r\n").expect("Host line");
    let authority = out[line_end + 2..host_line_end]
        .strip_prefix(b"Host: ")
        .expect("Host first");
    let mut absolute = Vec::new();
    absolute.extend_from_slice(&line[..sp1 + 1]);
    absolute.extend_from_slice(b"http://");
    absolute.extend_from_slice(authority);
    absolute.extend_from_slice(&line[sp1 + 1..]);
    absolute.extend_from_slice(&out[host_line_end..]);
    let again = match http::parse_request_head(&absolute, usize::MAX) {
        Ok(Parsed::Done { value, .. }) => value,
        other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(&absolute)),
    };
    assert_eq!(again.kind, RequestKind::Forward);
    assert_eq!(again.target, head.target);
    assert_eq!(again.method(), head.method());
    assert_eq!(again.proxy_authorization, None);
    let mut out2 = Vec::new();
    http::write_forward_head(&absolute, &again, &mut out2);
    assert_eq!(out2, out, "forwarding is not idempotent");
}

/// A decoded credential has no control bytes and a user without ':', and re-encoding it
/// gives back exactly the base64 that was sent (one accepted encoding per credential).
fn check_basic(value: &[u8]) {
    let mut out = [0u8; 512];
    let Some((user, pass)) = http::decode_basic(value, &mut out) else {
        return;
    };
    assert!(!user.contains(&b':'));
    assert!(user.len() + pass.len() < 512);
    assert!(user.iter().chain(pass).all(|&b| b >= 0x20 && b != 0x7f));
    let mut plain = user.to_vec();
    plain.push(b':');
    plain.extend_from_slice(pass);
    let sent = trim_ows(trim_ows(value).get(b"basic ".len()..).expect("scheme"));
    assert_eq!(base64_encode(&plain).as_bytes(), sent);
}

/// Reference encoder for the round-trip check (RFC 4648 §4).
pub fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// One self-signed server config for every input (making a key per input would drown
/// the parser's work in key generation).
fn tls_config() -> &'static Arc<rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let pair = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(vec!["fuzz.invalid".to_string()]).expect("params");
        let cert = params
            .self_signed(&pair)
            .expect("certificate")
            .der()
            .clone();
        let identity = tls::cert::Identity {
            pin: tls::Pin::of_certificate(&cert).expect("pin"),
            chain: vec![cert],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der())),
            origin: tls::cert::Origin::Generated,
        };
        tls::configs::server_config(&identity).expect("server config")
    })
}

/// A client's bytes to the node's TLS server connection, in two pieces split where the
/// first byte says (as a socket may deliver them): no panic; `receive` never takes more
/// than offered and stops taking only while decrypted bytes wait; `read_plain` and
/// `transmit` stay within their buffers; after a failure only the alert is taken.
pub fn check_tls(data: &[u8]) {
    use tls::conn::{Plain, TlsConn};
    let mut conn = TlsConn::server(tls_config()).expect("connection");
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (first, second) = data.split_at(split);
    let mut wire = vec![0u8; 1 << 16];
    let mut plain = vec![0u8; 4096];
    for piece in [first, second] {
        let mut rest = piece;
        for _ in 0..rest.len() + 1 {
            if rest.is_empty() {
                break;
            }
            match conn.receive(rest) {
                Ok(n) => {
                    assert!(n <= rest.len(), "took {n} of {}", rest.len());
                    rest = &rest[n..];
                    if n == 0 {
                        assert!(!conn.wants_receive() || rest.is_empty());
                    }
                }
                Err(_) => {
                    let n = conn.transmit(&mut wire);
                    assert!(n <= wire.len());
                    return;
                }
            }
            let mut reads = 0;
            while let Plain::Data(n) = conn.read_plain(&mut plain) {
                assert!(n > 0 && n <= plain.len());
                reads += 1;
                assert!(reads < 1 << 12, "plaintext without end");
            }
            let n = conn.transmit(&mut wire);
            assert!(n <= wire.len());
        }
    }
    let _ = conn.receive_eof();
    let _ = conn.read_plain(&mut plain);
}

/// A node's registry entry as read from the chain (any node may write any bytes there):
/// no panic; an entry that parses writes back within the contract's length limit and
/// parses again to the same value.
pub fn check_endpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = text.parse::<endpoint::Endpoint>() {
        let written = parsed.to_string();
        assert!(
            written.len() <= host_port::MAX_ENDPOINT_LENGTH,
            "{written:?}"
        );
        assert_eq!(
            written.parse::<endpoint::Endpoint>().as_ref(),
            Ok(&parsed),
            "{written:?}"
        );
    }
}
