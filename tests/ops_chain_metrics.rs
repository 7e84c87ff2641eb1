//! A chain-mode node's `/metrics` and `aqueduct status`: the chain thread's numbers
//! (heartbeats, members known, RPC errors) next to the loop's, after real curl traffic
//! from a member and a stranger, against a real anvil.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, node, ops, proxy};

use node::{dev, http_status, unix_now, ChainNet, MEMBER, NODE_KEY};
use ops::{get, metrics_url, scrape_until};

/// Never subscribes.
const STRANGER: usize = 5;

#[test]
fn chain_numbers_and_sessions_show_on_metrics_and_in_status() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "30m"]);
    net.subscribe(MEMBER, 1);
    let started = unix_now();
    let node = net.start_node("", "[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let url = metrics_url(&node);
    node.wait_log("heartbeat sent for slot", 1);

    let m = scrape_until(&url, |m| {
        m.get("aqueduct_members_known") == Some(&1.0)
            && m.get("aqueduct_heartbeats_total{result=\"sent\"}") == Some(&1.0)
    });
    assert_eq!(get(&m, "aqueduct_heartbeats_total{result=\"failed\"}"), 0.0);
    let last = get(&m, "aqueduct_last_heartbeat_timestamp_seconds");
    assert!(
        last as u64 >= started,
        "last heartbeat {last}, started {started}"
    );
    // A dev account holds 10,000 ETH, less the gas of what it sent.
    let eth = get(&m, "aqueduct_eth_balance");
    assert!(eth > 9_000.0 && eth <= 10_000.0, "balance {eth}");
    let before = m;

    let origin = proxy::Origin::start("127.0.0.1:0");
    let page = format!("http://{}/", origin.addr);
    assert_eq!(http_status(&node, &net.good(MEMBER), &page), 200);
    assert_eq!(http_status(&node, &net.good(STRANGER), &page), 407);
    let after = scrape_until(&url, |m| {
        get(m, "aqueduct_sessions_total{outcome=\"auth_failed\"}")
            > get(&before, "aqueduct_sessions_total{outcome=\"auth_failed\"}")
            && get(m, "aqueduct_sessions_total{outcome=\"ok\"}")
                > get(&before, "aqueduct_sessions_total{outcome=\"ok\"}")
    });
    let delta = |s: &str| get(&after, s) - get(&before, s);
    assert_eq!(delta("aqueduct_sessions_total{outcome=\"ok\"}"), 1.0);
    assert_eq!(
        delta("aqueduct_sessions_total{outcome=\"auth_failed\"}"),
        1.0
    );
    assert_eq!(
        delta("aqueduct_auth_failures_total{reason=\"rejected\"}"),
        1.0
    );
    assert_eq!(delta("aqueduct_handshake_seconds_count"), 1.0);
    // The chain asked once about the stranger; the table still holds only the member.
    assert_eq!(get(&after, "aqueduct_members_known"), 1.0);

    let status = anvil::aqueduct(&[
        "status",
        "--address",
        &dev(NODE_KEY).to_string(),
        "--rpc",
        &net.anvil.url,
        "--contract",
        &net.contract.to_string(),
        "--metrics",
        &url,
    ]);
    assert!(status.ok, "{}", status.stderr);
    let text = status.stdout;
    assert!(
        text.contains("heartbeats this epoch: 1 of 1 slot so far"),
        "{text}"
    );
    assert!(
        text.contains(&format!("running node: yes ({url})")),
        "{text}"
    );
    assert!(text.contains("  members known: 1\n"), "{text}");
    assert!(text.contains("since start: 1 sent, 0 failed"), "{text}");

    // The RPC goes away: the chain thread's failures are counted.
    let mut net = net;
    net.anvil.kill();
    let m = scrape_until(&url, |m| get(m, "aqueduct_rpc_errors_total") > 0.0);
    // Members already known stay known (and served) through the outage.
    assert_eq!(get(&m, "aqueduct_members_known"), 1.0);
}
