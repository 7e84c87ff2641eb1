//! The node's `/metrics` endpoint, scraped with curl while real curl traffic goes through
//! the node: counters move by exactly what was done, the text parses as Prometheus
//! exposition, and scrapers (too many, too large, wrong path) never disturb sessions.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{ops, proxy};

use ops::{finished, get, node_with_metrics, scrape, scrape_until};
use proxy::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// The address in `http://IP:PORT/metrics`.
fn socket_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap()
}

fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn counters_move_by_what_curl_did() {
    let origin = Origin::start("127.0.0.1:0");
    let (node, url) = node_with_metrics();
    let proxy = node.addr().to_string();
    let before = scrape(&url);
    assert_eq!(get(&before, "aqueduct_sessions_open"), 0.0);
    // A static node runs no chain thread, so it publishes no chain series.
    assert!(
        !before.keys().any(|k| k.contains("heartbeat")),
        "{before:#?}"
    );

    // Two pages over SOCKS5 from `/echo`, which answers with the request it got: the
    // body is exactly what went up, the whole response exactly what came down.
    let echo = format!("http://{}/echo", origin.addr);
    let mut up = 0;
    let mut down = 0;
    for _ in 0..2 {
        let body = curl_ok(&["--socks5", &proxy, "-U", "alice:s3cret:pw", &echo]);
        assert!(body.starts_with("GET /echo HTTP/1.1\r\n"), "{body}");
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        up += body.len();
        down += head.len() + body.len();
    }
    // Refusals, one per reason.
    let page = format!("http://{}/", origin.addr);
    let http = format!("http://{proxy}");
    assert_eq!(curl_status(&["-x", &http, "-U", "alice:wrong", &page]), 407);
    assert_eq!(curl_status(&["-x", &http, &page]), 407);
    assert!(!curl(&["--socks5", &proxy, &page]).status.success());
    // A refused upstream connection.
    let dead = format!("http://{}/", closed_port());
    assert_eq!(
        curl_status(&["-x", &http, "-U", "alice:s3cret:pw", &dead]),
        502
    );

    let after = scrape_until(&url, |m| finished(m) >= finished(&before) + 6.0);
    let delta = |s: &str| get(&after, s) - get(&before, s);
    assert_eq!(finished(&after) - finished(&before), 6.0, "{after:#?}");
    assert_eq!(delta("aqueduct_sessions_total{outcome=\"ok\"}"), 2.0);
    assert_eq!(
        delta("aqueduct_sessions_total{outcome=\"auth_failed\"}"),
        3.0
    );
    assert_eq!(
        delta("aqueduct_sessions_total{outcome=\"connect_failed\"}"),
        1.0
    );
    assert_eq!(
        delta("aqueduct_auth_failures_total{reason=\"rejected\"}"),
        1.0
    );
    assert_eq!(
        delta("aqueduct_auth_failures_total{reason=\"no_credentials\"}"),
        1.0
    );
    assert_eq!(
        delta("aqueduct_auth_failures_total{reason=\"no_acceptable_method\"}"),
        1.0
    );
    assert_eq!(delta("aqueduct_bytes_total{direction=\"up\"}"), up as f64);
    assert_eq!(
        delta("aqueduct_bytes_total{direction=\"down\"}"),
        down as f64
    );
    // Only the two sessions that reached the relay have a handshake latency.
    assert_eq!(delta("aqueduct_handshake_seconds_count"), 2.0);
    assert_eq!(delta("aqueduct_handshake_seconds_bucket{le=\"+Inf\"}"), 2.0);
    assert!(delta("aqueduct_handshake_seconds_sum") > 0.0);
    assert!(
        get(&after, "aqueduct_handshake_seconds_bucket{le=\"0.001\"}")
            <= get(&after, "aqueduct_handshake_seconds_bucket{le=\"10\"}")
    );
    assert_eq!(get(&after, "aqueduct_sessions_open"), 0.0);

    // An open tunnel shows in the gauge while it lasts.
    let echo_server = Echo::start();
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo_server.addr));
    assert_eq!(round_trip(&mut tunnel, b"ping"), b"ping");
    assert_eq!(get(&scrape(&url), "aqueduct_sessions_open"), 1.0);
    drop(tunnel);
    scrape_until(&url, |m| get(m, "aqueduct_sessions_open") == 0.0);
}

/// Sends raw bytes to the metrics port and returns the whole answer.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn only_get_and_head_are_served_and_requests_are_bounded() {
    let (_node, url) = node_with_metrics();
    let addr = socket_of(&url);
    let base = url.trim_end_matches("/metrics");
    // `/` points a person at /metrics.
    let index = curl_ok(&[&format!("{base}/")]);
    assert!(index.contains("/metrics"), "{index}");
    assert_eq!(curl_status(&[&format!("{base}/metrics/x")]), 404);
    // HEAD: the head GET would get, with its length, and no body.
    let head = raw(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "no body after the head: {head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("Content-Length");
    assert!(length > 100);
    let metrics = curl_ok(&[&url]);
    assert!(
        metrics.contains(&format!(
            "aqueduct_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    assert_eq!(curl_status(&["-X", "POST", &url]), 405);
    assert!(raw(addr, b"HELLO\r\n\r\n").starts_with("HTTP/1.1 400 "));
    // A head that never ends within the bound gets 431, not an endless read.
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 4000));
    assert!(raw(addr, &huge).starts_with("HTTP/1.1 431 "));
    // HTTP/1.0 and a query string are fine; the answer closes the connection.
    let answer = raw(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Connection: close\r\n"));
    assert!(answer.contains("# TYPE aqueduct_sessions_open gauge\n"));
}

#[test]
fn stalled_scrapers_do_not_disturb_the_proxy() {
    let origin = Origin::start("127.0.0.1:0");
    let (node, url) = node_with_metrics();
    let addr = socket_of(&url);
    // More silent scrapers than the node serves at once; the extra ones are closed.
    let mut stalled: Vec<TcpStream> = (0..6)
        .map(|_| {
            let s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let closed = stalled
        .iter_mut()
        .map(closed_by_peer)
        .filter(|&c| c)
        .count();
    assert_eq!(closed, 2, "four are held, the rest closed");
    // Meanwhile the proxy serves as usual.
    let page = format!("http://{}/", origin.addr);
    let proxy = node.addr().to_string();
    assert_eq!(
        curl_ok(&["--socks5", &proxy, "-U", "alice:s3cret:pw", &page]),
        PAGE
    );
    // Once they hang up, scraping works again.
    drop(stalled);
    let m = scrape_until(&url, |m| {
        get(m, "aqueduct_sessions_total{outcome=\"ok\"}") == 1.0
    });
    assert_eq!(get(&m, "aqueduct_sessions_open"), 0.0);
}

#[test]
fn a_bad_metrics_address_is_a_config_error() {
    let (_, err) = refused_config(&format!("{ALICE}[metrics]\nlisten = \"localhost:9464\"\n"));
    assert!(err.contains("metrics.listen"), "{err}");
}
