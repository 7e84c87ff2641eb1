//! The monthly allowance and the daily quota turning over, with the real binary under
//! Debian's `faketime`: the node's wall clock starts seconds before a UTC midnight and
//! runs on (its monotonic clock stays real). Without a restart, a node whose allowance is
//! used up serves again once the month turns, and says so in its metrics; in chain mode
//! its heartbeats resume; a member's daily quota starts again at the day's turn.
//!
//! Every wait is bounded; the turn is polled for, never slept through.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{faketime, node, ops, proxy};

use node::{dev, heartbeats, ChainNet, NODE_KEY};
use ops::{get, metrics_url, scrape};
use proxy::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// 2027-01-01 00:00:00 UTC and 2027-02-01 00:00:00 UTC.
const JAN_1: f64 = 1_798_761_600.0;
const FEB_1: f64 = 1_801_440_000.0;

/// A state file saying December 2026's 100 kB allowance is used up (200 kB).
fn used_up_in_december(dir: &Path) -> String {
    let file = dir.join("allowance.json");
    std::fs::write(
        &file,
        "{\"version\":1,\"period_start\":\"2026-12-01\",\"used_bytes\":200000}",
    )
    .unwrap();
    format!(
        "monthly_gb = 0.0001\nmonth_starts_on = 1\nallowance_file = \"{}\"\n",
        file.display()
    )
}

/// The SOCKS5 reply code to a CONNECT to `target` as `user`.
fn socks_reply(node: &Node, user: &str, pass: &str, target: SocketAddr) -> u8 {
    let mut s = connect(node.addr());
    s.write_all(&socks_handshake_bytes(
        user,
        pass,
        &SocksTarget::Addr(target),
    ))
    .unwrap();
    read_socks_replies(&mut s).unwrap().0
}

/// A plain-HTTP request through the node: (status, body).
fn http_get(node: &Node, user: &str, target: SocketAddr) -> (u16, String) {
    let proxy = format!("http://{}", node.addr());
    let out = curl(&[
        "-x",
        &proxy,
        "-U",
        user,
        "-w",
        "\n%{http_code}",
        &format!("http://{target}/"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.parse().unwrap_or(0), body.to_string())
}

/// Polls (every 250 ms, at most 30 s past the turn) until a SOCKS5 CONNECT is accepted.
fn accepted_after_the_turn(node: &Node, user: &str, pass: &str, target: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        if socks_reply(node, user, pass, target) == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still refused long after midnight:\n{}",
            node.log()
        );
        thread::sleep(Duration::from_millis(250));
    }
}

fn allowance_metrics(m: &HashMap<String, f64>) -> (f64, f64, f64) {
    (
        get(m, "aqueduct_allowance_used_bytes"),
        get(m, "aqueduct_allowance_level_percent"),
        get(m, "aqueduct_allowance_resets_at_seconds"),
    )
}

#[test]
fn a_used_up_allowance_serves_again_once_the_month_turns_without_a_restart() {
    let _serial = faketime::serial();
    let origin = Origin::start("127.0.0.1:0");
    let dir = TempDir::new("month-turn");
    let limits = used_up_in_december(dir.path());
    let node = faketime::started_at("2026-12-31 23:59:48", || {
        Node::start(&format!(
            "{ALICE}[policy]\nallow_private = true\n[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\nmax_mbit = 40\n{limits}"
        ))
    });
    let url = metrics_url(&node);
    // The node's wall clock is the faked one (its log's timestamps say so).
    let log = node.wait_log(
        "monthly allowance: 200000 of 100000 bytes used since 2026-12-01",
        1,
    );
    assert!(log.contains("[2026-12-31T23:59:"), "{log}");

    // Before midnight: refused both ways, and the metrics say why and until when.
    assert_eq!(socks_reply(&node, "alice", "s3cret:pw", origin.addr), 2);
    let (code, body) = http_get(&node, "alice:s3cret:pw", origin.addr);
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("monthly traffic allowance is used up"),
        "{body}"
    );
    let m = scrape(&url);
    assert_eq!(allowance_metrics(&m), (200_000.0, 100.0, JAN_1));
    assert_eq!(
        get(
            &m,
            "aqueduct_ceiling_bytes_per_second{reason=\"allowance_used_up\"}"
        ),
        0.0
    );
    assert!(
        !node.log().contains("[2027-01-01T"),
        "midnight passed before the refusals were checked:\n{}",
        node.log()
    );

    // Past midnight, by itself: a new period, sessions accepted again.
    accepted_after_the_turn(&node, "alice", "s3cret:pw", origin.addr);
    let log = node.wait_log("a new allowance period began", 1);
    assert!(
        log.contains("counting from zero until 2027-02-01; serving again"),
        "{log}"
    );
    let (code, body) = http_get(&node, "alice:s3cret:pw", origin.addr);
    assert_eq!((code, body.as_str()), (200, PAGE));
    let m = scrape(&url);
    let (used, level, resets) = allowance_metrics(&m);
    assert!(used < 10_000.0, "this period's count: {used}");
    assert_eq!((level, resets), (0.0, FEB_1));
    assert_eq!(
        get(
            &m,
            "aqueduct_ceiling_bytes_per_second{reason=\"configured\"}"
        ),
        5_000_000.0
    );
}

#[test]
fn a_members_daily_quota_starts_again_at_the_utc_day_turn() {
    let _serial = faketime::serial();
    let origin = TestServer::start("127.0.0.1:0", serve_endless);
    // 10 kB a day for each member.
    let node = faketime::started_at("2027-03-14 23:59:45", || {
        Node::start(&format!(
            "{ALICE}[policy]\nallow_private = true\n[limits]\nper_member_daily_gb = 0.00001\n"
        ))
    });
    node.wait_log("listening on", 1);
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(origin.addr));
    tunnel
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = vec![0u8; 50_000];
    tunnel.read_exact(&mut got).unwrap();
    drop(tunnel);

    // Used up: refused until the day turns (the counting is at most a second behind).
    let deadline = Instant::now() + WAIT;
    while socks_reply(&node, "alice", "s3cret:pw", origin.addr) != 2 {
        assert!(Instant::now() < deadline, "never refused:\n{}", node.log());
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !node.log().contains("[2027-03-15T"),
        "midnight passed before the refusal was checked:\n{}",
        node.log()
    );
    accepted_after_the_turn(&node, "alice", "s3cret:pw", origin.addr);
}

#[test]
fn in_chain_mode_heartbeats_pause_while_the_allowance_is_used_up_and_resume_when_the_month_turns() {
    let _serial = faketime::serial();
    // anvil keeps the real clock: heartbeat slots are the chain's, the month the node's.
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    let dir = TempDir::new("month-turn-chain");
    let limits = used_up_in_december(dir.path());
    let node = faketime::started_at("2026-12-31 23:59:45", || {
        net.start_node(
            "",
            &format!("[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\n{limits}"),
        )
    });
    node.wait_log(
        "heartbeats paused: the monthly allowance (limits.monthly_gb) is used up",
        1,
    );
    let log = node.log();
    assert!(log.contains("[2026-12-31T23:59:"), "{log}");
    assert!(!log.contains("heartbeat sent for slot"), "{log}");
    assert!(heartbeats(&net, dev(NODE_KEY)).is_empty(), "{log}");

    node.wait_log("a new allowance period began", 1);
    node.wait_log("heartbeat sent for slot", 1);
    assert_eq!(heartbeats(&net, dev(NODE_KEY)).len(), 1);
    let m = scrape(&metrics_url(&node));
    assert_eq!(allowance_metrics(&m).2, FEB_1);
}
