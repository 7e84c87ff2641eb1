//! HTTP forwarding on a kept-alive client connection (issue 11, item 1): every request
//! reaches only its own origin, without the proxy credential; the node answers each one
//! with `Connection: close` and never relays a client's later bytes to the first origin.
//! The origins here keep their connections alive and record every request they get.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request as an origin received it.
#[derive(Debug, Clone)]
struct Seen {
    /// Which of the origin's connections it came on.
    conn: usize,
    head: String,
    body: Vec<u8>,
}

/// A keep-alive HTTP/1.1 origin that answers `<name> <path> <body length>` and records
/// every request. It answers `100 Continue` to `Expect: 100-continue` before reading.
struct KeepAliveOrigin {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl KeepAliveOrigin {
    fn start(name: &'static str) -> KeepAliveOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        thread::spawn(move || {
            for (conn, stream) in listener.incoming().enumerate().take(64) {
                let Ok(stream) = stream else { continue };
                let record = record.clone();
                thread::spawn(move || serve(name, conn, stream, record));
            }
        });
        KeepAliveOrigin { addr, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn serve(name: &str, conn: usize, stream: TcpStream, record: Arc<Mutex<Vec<Seen>>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    for _ in 0..16 {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            head.push_str(&line);
            if line == "\r\n" || head.len() > 65536 {
                break;
            }
        }
        let field = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        if field("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            let _ = out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let mut body = Vec::new();
        if field("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            // Decoded here, so a test sees the body the client meant.
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let digits = size.split(';').next().unwrap_or("").trim();
                let n = usize::from_str_radix(digits, 16).unwrap_or(0);
                if n == 0 {
                    // Trailer lines up to the blank line.
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    break;
                }
                let mut chunk = vec![0u8; n + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = field("content-length").and_then(|v| v.parse().ok()) {
            body = vec![0u8; n];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let answer = format!("{name} {path} {}", body.len());
        record.lock().unwrap().push(Seen { conn, head, body });
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=30\r\n\r\n{answer}",
            answer.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn node() -> Node {
    Node::start(&format!("{ALICE}[policy]\nallow_private = true\n"))
}

fn assert_no_proxy_fields(seen: &[Seen]) {
    for s in seen {
        let head = s.head.to_ascii_lowercase();
        assert!(!head.contains("proxy-authorization"), "{}", s.head);
        assert!(!head.contains("s3cret"), "{}", s.head);
        assert!(!head.contains("keep-alive"), "{}", s.head);
    }
}

/// Reads one HTTP response (head, then its Content-Length body) and whether the node
/// closed the connection after it.
fn read_response(s: &mut TcpStream) -> (String, bool) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&all).into_owned(), true),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&all).into_owned(), false),
        }
    }
}

#[test]
fn two_urls_in_one_curl_call_reach_each_their_own_origin() {
    let (a, b) = (KeepAliveOrigin::start("A"), KeepAliveOrigin::start("B"));
    let node = node();
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    let out = curl_ok(&[
        "-x",
        &proxy,
        &a.url("/first"),
        &b.url("/second"),
        &a.url("/third"),
    ]);
    assert_eq!(out, "A /first 0B /second 0A /third 0");
    let (seen_a, seen_b) = (a.seen(), b.seen());
    let paths = |seen: &[Seen]| -> Vec<String> {
        seen.iter()
            .map(|s| s.head.lines().next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        paths(&seen_a),
        ["GET /first HTTP/1.1", "GET /third HTTP/1.1"],
        "A saw only its own requests"
    );
    assert_eq!(paths(&seen_b), ["GET /second HTTP/1.1"]);
    assert_ne!(seen_a[0].conn, seen_a[1].conn, "one request per connection");
    assert_no_proxy_fields(&seen_a);
    assert_no_proxy_fields(&seen_b);
    node.wait_log("outcome=ok", 3);
}

#[test]
fn responses_say_the_connection_closes_and_the_node_closes_it() {
    let a = KeepAliveOrigin::start("A");
    let node = node();
    let head = curl_ok(&[
        "-x",
        &format!("http://{}", node.addr()),
        "-U",
        "alice:s3cret:pw",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &a.url("/"),
    ]);
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nconnection: close\r\n"), "{head}");
    assert!(!lower.contains("keep-alive"), "{head}");
}

#[test]
fn pipelined_requests_go_no_further_than_the_first() {
    let (a, b) = (KeepAliveOrigin::start("A"), KeepAliveOrigin::start("B"));
    let node = node();
    let auth = "Proxy-Authorization: Basic YWxpY2U6czNjcmV0OnB3\r\n"; // alice:s3cret:pw
    let pipelined = format!(
        "POST {} HTTP/1.1\r\nHost: a\r\n{auth}Content-Length: 5\r\n\r\nhello\
         GET {} HTTP/1.1\r\nHost: b\r\n{auth}\r\n\
         GET {} HTTP/1.1\r\nHost: a\r\n{auth}\r\n",
        a.url("/one"),
        b.url("/two"),
        a.url("/three")
    );
    let mut s = connect(node.addr());
    s.write_all(pipelined.as_bytes()).unwrap();
    let (response, closed) = read_response(&mut s);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nA /one 5"), "{response}");
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
    assert!(closed, "the node closed after the first response");
    let seen = a.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].body, b"hello");
    assert!(b.seen().is_empty(), "B got nothing: {:?}", b.seen());
}

#[test]
fn a_second_request_for_a_denied_target_is_refused_and_sent_nowhere() {
    let a = KeepAliveOrigin::start("A");
    let node = node();
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    // Port 25 is on the default exit reject list.
    let out = curl(&[
        "-x",
        &proxy,
        "-w",
        " %{http_code}",
        &a.url("/ok"),
        "http://127.0.0.1:25/smtp",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("A /ok 0 200"), "{text}");
    assert!(text.ends_with(" 403"), "{text}");
    let seen = a.seen();
    assert_eq!(seen.len(), 1, "A got only its own request: {seen:?}");
    node.wait_log("denied by policy", 1);
}

#[test]
fn bodies_framed_by_length_and_by_chunks_arrive_whole_and_alone() {
    let a = KeepAliveOrigin::start("A");
    let node = node();
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    let data = "x".repeat(100_000);
    // Content-Length, twice in one call: two connections, each with one whole body.
    let out = curl_ok(&[
        "-x",
        &proxy,
        "--data-binary",
        &data,
        &a.url("/len1"),
        &a.url("/len2"),
    ]);
    assert_eq!(out, "A /len1 100000A /len2 100000");
    // Chunked: curl streams the body in chunks; the origin decodes it.
    let out = curl_ok(&[
        "-x",
        &proxy,
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &data,
        &a.url("/chunked"),
        &a.url("/after"),
    ]);
    assert_eq!(out, "A /chunked 100000A /after 100000");
    let seen = a.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|s| s.body == data.as_bytes()));
    let mut conns: Vec<usize> = seen.iter().map(|s| s.conn).collect();
    conns.dedup();
    assert_eq!(conns.len(), 4, "every request on its own origin connection");
    assert_no_proxy_fields(&seen);
}

#[test]
fn a_chunked_body_followed_by_a_pipelined_request_stops_at_the_last_chunk() {
    let (a, b) = (KeepAliveOrigin::start("A"), KeepAliveOrigin::start("B"));
    let node = node();
    let auth = "Proxy-Authorization: Basic YWxpY2U6czNjcmV0OnB3\r\n";
    let request = format!(
        "PUT {} HTTP/1.1\r\nHost: a\r\n{auth}Transfer-Encoding: chunked\r\n\r\n\
         3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nTrailer: 1\r\n\r\n\
         GET {} HTTP/1.1\r\nHost: b\r\n{auth}\r\n",
        a.url("/put"),
        b.url("/steal")
    );
    let mut s = connect(node.addr());
    // In two writes, split inside a chunk, so the end is found across reads.
    let bytes = request.as_bytes();
    s.write_all(&bytes[..90]).unwrap();
    thread::sleep(Duration::from_millis(100));
    s.write_all(&bytes[90..]).unwrap();
    let (response, closed) = read_response(&mut s);
    assert!(response.ends_with("A /put 7"), "{response}");
    assert!(closed);
    assert_eq!(a.seen().len(), 1);
    assert_eq!(a.seen()[0].body, b"abcdefg");
    assert!(b.seen().is_empty());
}

#[test]
fn a_malformed_chunked_body_is_refused() {
    let a = KeepAliveOrigin::start("A");
    let node = node();
    let request = format!(
        "POST {} HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0OnB3\r\n\
         Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        a.url("/bad")
    );
    let mut s = connect(node.addr());
    s.write_all(request.as_bytes()).unwrap();
    let (response, closed) = read_response(&mut s);
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(closed);
    assert!(a.seen().is_empty(), "nothing reached the origin");
    node.wait_log("malformed chunked body", 1);
}

#[test]
fn expect_100_continue_gets_the_interim_response_then_the_final_one() {
    let a = KeepAliveOrigin::start("A");
    let node = node();
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    let data = "y".repeat(2_000_000);
    let path = TempDir::new("expect");
    let file = path.path().join("body");
    std::fs::write(&file, &data).unwrap();
    let out = curl(&[
        "-x",
        &proxy,
        "-v",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &format!("@{}", file.display()),
        &a.url("/big"),
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A /big 2000000");
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(verbose.contains("HTTP/1.1 100 Continue"), "{verbose}");
    assert_eq!(a.seen().len(), 1);
    assert!(a.seen()[0].head.contains("Expect: 100-continue"));
}

#[test]
fn a_response_without_length_ends_when_the_origin_closes() {
    // The shared test origin answers with Connection: close and no keep-alive; a HEAD
    // request's response has no body however long its Content-Length says.
    let origin = Origin::start("127.0.0.1:0");
    let node = node();
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    let url = format!("http://{}/", origin.addr);
    assert_eq!(curl_ok(&["-x", &proxy, &url]), PAGE);
    let head = curl_ok(&["-x", &proxy, "-I", &url, &url]);
    assert_eq!(head.matches("HTTP/1.1 200 OK").count(), 2, "{head}");
}
