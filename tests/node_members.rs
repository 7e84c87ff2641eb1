//! The node's member table against a real anvil: kept across restarts (even with the
//! RPC down at startup), tolerant of reorgs, and recovering by itself after an outage.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, node, proxy};

use anvil::Anvil;
use node::{eventually, http_status, socks_get, ChainNet, RestartedAnvil, MEMBER};
use proxy::{closed_by_peer, Echo, Origin, TempDir, PAGE};
use serde_json::json;

const FLAGS: [&str; 6] = ["--period", "1h", "--epoch", "1h", "--slot", "1m"];
const NO_HEARTBEATS: &str = "[heartbeat]\nenabled = false\n";

#[test]
fn member_table_survives_a_restart_and_serves_with_the_rpc_down_at_startup() {
    let mut net = ChainNet::deploy(&FLAGS);
    net.subscribe(MEMBER, 1);
    // Enough blocks that the subscription is past the reorg window and saved.
    for _ in 0..3 {
        net.anvil.rpc("evm_mine", json!([]));
    }
    let first = net.start_node("", NO_HEARTBEATS);
    first.wait_log("chain: 1 members known", 1);
    drop(first);
    let saved = std::fs::read_to_string(&net.state_file).unwrap();
    assert!(
        saved.contains(&node::dev(MEMBER).to_lower_hex()),
        "state file lists the member: {saved}"
    );

    net.anvil.kill();
    let second = net.start_node("", NO_HEARTBEATS);
    let log = second.wait_log("chain RPC unreachable at startup", 1);
    assert!(log.contains("1 members from"), "{log}");
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    assert_eq!(socks_get(&second, &net.good(MEMBER), &url).unwrap(), PAGE);
    assert_eq!(http_status(&second, &net.good(3), &url), 407);
}

#[test]
fn node_without_chain_or_state_refuses_to_start_with_a_clear_error() {
    let mut net = ChainNet::deploy(&FLAGS);
    net.anvil.kill();
    let dir = TempDir::new("nochain");
    let config = dir.path().join("node.toml");
    let text = format!(
        "[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"chain\"\n{}",
        net.chain_section()
    );
    std::fs::write(&config, text).unwrap();
    let run = anvil::aqueduct(&["node", "--config", config.to_str().unwrap()]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("cannot learn the chain id"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_reorg_that_removes_a_subscription_removes_the_member() {
    let net = ChainNet::deploy(&FLAGS);
    let node = net.start_node("negative_cache_secs = 1", NO_HEARTBEATS);
    node.wait_log("chain: 0 members known", 1);
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);

    // Shallow: the subscription is still inside the 2-block reorg window when it goes.
    let snapshot = net.anvil.rpc("evm_snapshot", json!([]));
    net.subscribe(MEMBER, 1);
    node.wait_log("chain: 1 members known", 1);
    let echo = Echo::start();
    let mut live = net.open_tunnel(&node, MEMBER, echo.addr);
    net.anvil.rpc("evm_revert", json!([snapshot]));
    for _ in 0..3 {
        net.anvil.rpc("evm_mine", json!([]));
    }
    node.wait_log("chain: 0 members known", 2);
    assert!(
        closed_by_peer(&mut live),
        "the reorged-away member's session ends"
    );
    eventually("the member is refused", &node, || {
        http_status(&node, &net.good(MEMBER), &url) == 407
    });

    // Deep: the subscription was folded into the saved table, then the chain below it
    // changes. The node notices the changed block hash and rescans.
    let snapshot = net.anvil.rpc("evm_snapshot", json!([]));
    net.subscribe(MEMBER, 1);
    for _ in 0..5 {
        net.anvil.rpc("evm_mine", json!([]));
    }
    node.wait_log("chain: 1 members known", 2);
    eventually("the member is served", &node, || {
        http_status(&node, &net.good(MEMBER), &url) == 200
    });
    net.anvil.rpc("evm_revert", json!([snapshot]));
    for _ in 0..10 {
        net.anvil.rpc("evm_mine", json!([]));
    }
    node.wait_log("a reorg deeper than chain.reorg_depth", 1);
    node.wait_log("chain: 0 members known", 3);
    eventually("the member is refused again", &node, || {
        http_status(&node, &net.good(MEMBER), &url) == 407
    });
}

#[test]
fn after_an_rpc_outage_unknown_addresses_are_checked_again() {
    let state_dir = TempDir::new("anvil-state");
    let state = state_dir.path().join("anvil.json");
    let state_arg = state.to_str().unwrap().to_string();
    let anvil = Anvil::start_with(&["--state", &state_arg, "--state-interval", "1"]);
    let mut net = ChainNet::deploy_on(anvil, &FLAGS);
    net.subscribe(3, 1);
    let node = net.start_node("", NO_HEARTBEATS);
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    // Let anvil dump the subscription before it goes away.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let port = net.anvil.port;
    net.anvil.kill();
    node.wait_log("chain RPC unreachable", 1);
    assert_eq!(http_status(&node, &net.good(3), &url), 200, "known member");
    assert_eq!(
        http_status(&node, &net.good(4), &url),
        407,
        "unknown address"
    );

    let _back = RestartedAnvil::start(port, &state);
    node.wait_log("chain RPC answers again", 1);
    net.subscribe(4, 1);
    eventually("the new member is served", &node, || {
        http_status(&node, &net.good(4), &url) == 200
    });
}

#[test]
fn during_an_outage_a_known_member_is_served_until_their_access_ends() {
    let mut net = ChainNet::deploy(&FLAGS);
    net.subscribe(MEMBER, 1);
    // Bring the chain's clock to ten seconds before the membership ends.
    let client = net.anvil.client();
    let until = net
        .contract(&client)
        .member_until(node::dev(MEMBER))
        .unwrap();
    let head = client
        .block(aqueduct::eth::rpc::BlockId::Latest)
        .unwrap()
        .unwrap();
    net.anvil.warp(until - head.timestamp - 10);
    let node = net.start_node("", NO_HEARTBEATS);
    node.wait_log("chain: 1 members known (1 active)", 1);
    let echo = Echo::start();
    let mut live = net.open_tunnel(&node, MEMBER, echo.addr);

    net.anvil.kill();
    node.wait_log("chain RPC unreachable", 1);
    // No chain to ask: the node runs the chain's clock on and ends the session itself.
    assert!(
        closed_by_peer(&mut live),
        "the session ends with the membership"
    );
    let log = node.wait_log("outcome=access_ended", 1);
    assert!(log.contains("access of"), "{log}");
}

#[test]
fn members_are_synced_in_chunks_from_the_deploy_block() {
    let net = ChainNet::deploy(&FLAGS);
    net.subscribe(MEMBER, 1);
    // 30 blocks after the subscription, read in ranges of 8.
    net.anvil.rpc("anvil_mine", json!(["0x1e"]));
    net.subscribe(3, 1);
    let chain = net.chain_section() + "log_chunk = 8\n";
    let node = net.start_node_with("", NO_HEARTBEATS, &chain);
    node.wait_log("chain: members synced to block", 3);
    node.wait_log("chain: 2 members known (2 active)", 1);
    // Both were found by the scan, not by a lookup.
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    assert_eq!(http_status(&node, &net.good(MEMBER), &url), 200);
    assert_eq!(http_status(&node, &net.good(3), &url), 200);
    assert!(!node.log().contains("lookup of"), "{}", node.log());
    // Saved: what is past the reorg window; the newest subscription is re-read instead.
    let saved = std::fs::read_to_string(&net.state_file).unwrap();
    assert!(saved.contains(&node::dev(MEMBER).to_lower_hex()), "{saved}");
    assert!(!saved.contains(&node::dev(3).to_lower_hex()), "{saved}");
}
