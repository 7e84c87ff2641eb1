//! The monthly allowance in chain mode, against a real anvil: once it is used up the node
//! refuses members' new sessions and stops sending heartbeats (a node that does not serve
//! is not paid). Their resuming when the month turns is in `limits_month.rs`, under a
//! faked wall clock.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, node, ops, proxy};

use node::{dev, heartbeats, ChainNet, MEMBER, NODE_KEY};
use proxy::{connect, read_socks_replies, socks_handshake_bytes, Echo, SocksTarget, TempDir};
use std::io::Write;
use std::time::Duration;

const SENT: &str = "heartbeat sent for slot";

#[test]
fn a_used_up_allowance_stops_heartbeats_and_members_new_sessions() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let dir = TempDir::new("allowance-chain");
    // 10 kB a month.
    let node = net.start_node(
        "",
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\nmonthly_gb = 0.00001\nallowance_file = \"{}\"\n",
            dir.path().join("allowance.json").display()
        ),
    );
    node.wait_log(SENT, 1);
    let echo = Echo::start();
    let mut tunnel = net.open_tunnel(&node, MEMBER, echo.addr);
    assert_eq!(
        proxy::round_trip(&mut tunnel, &[1u8; 20_000]),
        vec![1u8; 20_000]
    );
    node.wait_log("monthly allowance used up", 1);

    // The next slot passes without a heartbeat.
    net.anvil.warp(60);
    node.wait_log(
        "heartbeats paused: the monthly allowance (limits.monthly_gb) is used up",
        1,
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        heartbeats(&net, dev(NODE_KEY)).len(),
        1,
        "no heartbeat after 100%"
    );

    // A member's new session: "connection not allowed by ruleset".
    let (u, p) = net.good(MEMBER);
    let mut s = connect(node.addr());
    s.write_all(&socks_handshake_bytes(
        &u,
        &p,
        &SocksTarget::Addr(echo.addr),
    ))
    .unwrap();
    assert_eq!(read_socks_replies(&mut s).unwrap().0, 2);

    // `aqueduct status` tells the operator why, and when it ends.
    let url = ops::metrics_url(&node);
    let node_address = dev(NODE_KEY).to_string();
    let contract = net.contract.to_string();
    let status = anvil::aqueduct(&[
        "status",
        "--address",
        &node_address,
        "--rpc",
        &net.anvil.url,
        "--contract",
        &contract,
        "--metrics",
        &url,
    ]);
    assert!(
        status
            .stdout
            .contains("monthly allowance: 0.00 of 0.00 GB used")
            && status
                .stdout
                .contains("used up: new sessions refused, heartbeats paused; resets 20"),
        "{}{}",
        status.stdout,
        status.stderr
    );
}
