//! `[limits]` end to end, with curl through a real node on loopback: the rate ceiling,
//! the monthly allowance (refusals by SOCKS5 and HTTP, surviving a restart), and the
//! metrics that show both.
//!
//! The ceiling is checked one-sidedly: a bounded transfer never finishes sooner than the
//! ceiling allows (a loaded machine can only make it slower, so this cannot flake). How
//! close to the ceiling the node gets is measured in `cargo bench --bench limits`.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{ops, proxy};

use ops::{get, metrics_url, scrape};
use proxy::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Instant;

/// An origin answering `GET /bytes/N` with N bytes.
fn serve_bytes(conn: TcpStream) {
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let n: usize = request
        .split(' ')
        .nth(1)
        .and_then(|p| p.strip_prefix("/bytes/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
    );
    let chunk = vec![b'x'; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len());
        if conn.write_all(&chunk[..k]).is_err() {
            return;
        }
        left -= k;
    }
}

fn node(limits: &str) -> (Node, String) {
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\n{limits}\n"
    ));
    let url = metrics_url(&node);
    (node, url)
}

/// Downloads `n` bytes through the node over SOCKS5 (or as a forwarded HTTP request);
/// returns curl's byte count.
fn download_via(node: &Node, origin: &TestServer, n: usize, http: bool) -> u64 {
    let url = format!("http://{}/bytes/{n}", origin.addr);
    let proxy = if http {
        format!("http://{}", node.addr())
    } else {
        format!("socks5h://{}", node.addr())
    };
    let out = curl_ok(&[
        "-x",
        &proxy,
        "-U",
        "alice:s3cret:pw",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &url,
    ]);
    out.trim().parse().unwrap()
}

fn download(node: &Node, origin: &TestServer, n: usize) -> u64 {
    download_via(node, origin, n, false)
}

#[test]
fn the_ceiling_holds_a_download_to_max_mbit() {
    let origin = TestServer::start("127.0.0.1:0", serve_bytes);
    // 40 Mbit/s = 5 MB/s: 6 MB take at least 1.2 s, less the first bucketful (20 ms).
    let (node, url) = node("max_mbit = 40");
    let total = 6_000_000usize;
    let floor = (total as f64 - 100_000.0) / 5_000_000.0;
    // A tunnel (SOCKS5), then a forwarded plain-HTTP request, which relays its own way.
    for http in [false, true] {
        let started = Instant::now();
        assert_eq!(download_via(&node, &origin, total, http), total as u64);
        let took = started.elapsed();
        assert!(
            took.as_secs_f64() >= floor * 0.98,
            "6 MB in {took:?} (http forward: {http}): faster than 40 Mbit/s allows"
        );
    }
    let m = scrape(&url);
    assert_eq!(
        get(
            &m,
            "aqueduct_ceiling_bytes_per_second{reason=\"configured\"}"
        ),
        5_000_000.0
    );
    assert!(get(&m, "aqueduct_relayed_bytes_total") >= 2.0 * total as f64);
}

#[test]
fn a_used_up_allowance_refuses_new_sessions_until_the_month_turns_even_after_a_restart() {
    let origin = TestServer::start("127.0.0.1:0", serve_bytes);
    let dir = TempDir::new("allowance");
    let file = dir.path().join("allowance.json");
    // 100 kB a month.
    let limits = format!(
        "monthly_gb = 0.0001\nallowance_file = \"{}\"",
        file.display()
    );
    let (mut node, url) = node(&limits);
    assert_eq!(download(&node, &origin, 85_000), 85_000);
    node.wait_log("monthly allowance 80% used", 1);
    // The session that crosses 100% finishes: live sessions are let be.
    assert_eq!(download(&node, &origin, 150_000), 150_000);
    node.wait_log("monthly allowance used up", 1);

    let refused = |node: &Node| {
        // SOCKS5: reply 2, "connection not allowed by ruleset".
        let mut s = connect(node.addr());
        let target = SocksTarget::Addr(origin.addr);
        s.write_all(&socks_handshake_bytes("alice", "s3cret:pw", &target))
            .unwrap();
        let (reply, _) = read_socks_replies(&mut s).unwrap();
        assert_eq!(reply, 2, "not allowed by ruleset");
        // HTTP: 503 with the reason as a one-line body.
        let http = format!("http://{}", node.addr());
        let page = format!("http://{}/bytes/10", origin.addr);
        let out = curl(&[
            "-x",
            &http,
            "-U",
            "alice:s3cret:pw",
            "-w",
            "\n%{http_code}",
            &page,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.ends_with("\n503"), "{text}");
        assert!(
            text.contains("monthly traffic allowance is used up"),
            "{text}"
        );
    };
    refused(&node);
    let m = scrape(&url);
    assert_eq!(get(&m, "aqueduct_allowance_level_percent"), 100.0);
    assert_eq!(
        get(
            &m,
            "aqueduct_limit_refusals_total{limit=\"monthly_allowance\"}"
        ),
        2.0
    );
    assert!(get(&m, "aqueduct_allowance_used_bytes") >= 235_000.0);
    assert!(get(&m, "aqueduct_sessions_total{outcome=\"limited\"}") >= 1.0);

    // A restart keeps the count (written on exit).
    node.signal(libc::SIGTERM);
    assert!(node.wait_exit().success());
    let (node, _) = self::node(&limits);
    refused(&node);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("\"used_bytes\":"), "{saved}");
}

#[test]
fn limits_that_are_not_reached_change_nothing() {
    let origin = TestServer::start("127.0.0.1:0", serve_bytes);
    let (node, url) = node("max_mbit = 10000\nmonthly_gb = 1000\nper_member_mbit = 10000");
    assert_eq!(download(&node, &origin, 5_000_000), 5_000_000);
    let m = scrape(&url);
    assert_eq!(get(&m, "aqueduct_allowance_level_percent"), 0.0);
}

#[test]
fn live_sessions_get_the_grace_time_once_the_allowance_is_used_up() {
    let origin = TestServer::start("127.0.0.1:0", serve_bytes);
    let dir = TempDir::new("allowance-grace");
    let limits = format!(
        "monthly_gb = 0.0001\nmax_mbit = 80\nallowance_file = \"{}\"\n[timeouts]\nshutdown_grace_secs = 1",
        dir.path().join("allowance.json").display()
    );
    let (node, _) = node(&limits);
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(origin.addr));
    tunnel
        .write_all(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The download runs past 100% and is closed a grace time later, far from its end.
    let got = read_to_end(&mut tunnel);
    assert!(got.len() < 100_000_000, "{} bytes", got.len());
    let log = node.wait_log("closing the 1 sessions still open", 1);
    assert!(log.contains("outcome=limited"), "{log}");
}

#[test]
fn a_member_past_its_daily_quota_is_refused_and_others_are_not() {
    let origin = TestServer::start("127.0.0.1:0", serve_bytes);
    let node = Node::start(
        "[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"alice\"\npassword = \"s3cret:pw\"\n[[auth.users]]\nname = \"bob\"\npassword = \"pw\"\n[policy]\nallow_private = true\n[limits]\nper_member_daily_gb = 0.0001\n",
    );
    assert_eq!(download(&node, &origin, 150_000), 150_000);
    let http = format!("http://{}", node.addr());
    let page = format!("http://{}/bytes/10", origin.addr);
    let out = curl(&[
        "-x",
        &http,
        "-U",
        "alice:s3cret:pw",
        "-w",
        "\n%{http_code}",
        &page,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.ends_with("\n503"), "{text}");
    assert!(
        text.contains("daily traffic quota at this node is used up"),
        "{text}"
    );
    assert_eq!(
        curl_status(&["-x", &http, "-U", "bob:pw", &page]),
        200,
        "bob has his own"
    );
}

#[test]
fn sighup_applies_new_limits_to_the_running_node() {
    let (node, url) = node("max_mbit = 40");
    let ceiling = |m: &std::collections::HashMap<String, f64>| {
        get(
            m,
            "aqueduct_ceiling_bytes_per_second{reason=\"configured\"}",
        )
    };
    assert_eq!(ceiling(&scrape(&url)), 5_000_000.0);
    let path = node.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("max_mbit = 40", "max_mbit = 80")).unwrap();
    node.signal(libc::SIGHUP);
    node.wait_log("reloaded: policy, users", 1);
    assert_eq!(ceiling(&scrape(&url)), 10_000_000.0);
}
