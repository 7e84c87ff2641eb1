//! The node's heartbeats against a real anvil: one per slot, never two in a slot across
//! restarts of the node or of anvil, none once the node is removed or draining, and the
//! claim they earn.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, node, proxy};

use anvil::Anvil;
use node::{dev, heartbeats, ChainNet, RestartedAnvil, MEMBER, NODE_KEY};
use proxy::{Echo, TempDir};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

const SENT: &str = "heartbeat sent for slot";

/// No two heartbeats share a slot, and every transaction the node's key sent was a
/// heartbeat that landed (none wasted on a revert).
fn assert_one_per_slot(net: &ChainNet) -> usize {
    let beats = heartbeats(net, dev(NODE_KEY));
    let slots: HashSet<u64> = beats.iter().map(|h| h.slot).collect();
    assert_eq!(
        slots.len(),
        beats.len(),
        "two heartbeats in one slot: {beats:?}"
    );
    assert_eq!(
        net.nonce(dev(NODE_KEY)),
        beats.len() as u64,
        "a transaction was wasted"
    );
    beats.len()
}

#[test]
fn heartbeats_land_once_per_slot_across_node_and_anvil_restarts() {
    // One-minute slots, the shortest the contract takes, moved on by warping the chain's
    // clock; anvil dumps its state every second so it can come back.
    let state_dir = TempDir::new("anvil-state");
    let state = state_dir.path().join("anvil.json");
    let state_arg = state.to_str().unwrap().to_string();
    // Blocks every second, as on a real chain: the contract's clock is the block's.
    let anvil = Anvil::start_with(&[
        "--block-time",
        "1",
        "--state",
        &state_arg,
        "--state-interval",
        "1",
    ]);
    let mut net = ChainNet::deploy_on(anvil, &["--period", "1h", "--epoch", "1h", "--slot", "1m"]);

    let first = net.start_node("", "");
    first.wait_log(SENT, 1);
    net.anvil.warp(60);
    first.wait_log(SENT, 2);
    drop(first);
    assert_eq!(assert_one_per_slot(&net), 2);

    // A restarted node reads the chain before sending: the current slot's heartbeat is
    // seen, not repeated; the next slot's is sent.
    let second = net.start_node("", "");
    second.wait_log("is on chain", 1);
    assert_eq!(assert_one_per_slot(&net), 2);
    net.anvil.warp(60);
    second.wait_log(SENT, 1);
    let before_outage = assert_one_per_slot(&net);
    assert_eq!(before_outage, 3);

    // anvil dies (after its next state dump) and comes back on the same port. It restarts
    // its clock from the wall's, behind the warped one, so the test moves it past the
    // last slot the chain saw.
    std::thread::sleep(Duration::from_secs(2));
    let port = net.anvil.port;
    let head = net
        .anvil
        .client()
        .block(aqueduct::eth::rpc::BlockId::Latest)
        .unwrap()
        .unwrap()
        .timestamp;
    net.anvil.kill();
    second.wait_log("chain RPC unreachable", 1);
    let _back = RestartedAnvil::start(port, &state);
    second.wait_log("chain RPC answers again", 1);
    Anvil::attach(&format!("http://127.0.0.1:{port}")).warp_to(head + 60);
    second.wait_log(SENT, 2);
    let after = assert_one_per_slot(&net);
    assert!(after > before_outage);
}

#[test]
fn removed_node_stops_heartbeats_with_a_clear_log_line() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    let node = net.start_node("", "");
    node.wait_log(SENT, 1);
    net.run_ok(0, &["remove-node", "--node", &dev(NODE_KEY).to_string()]);
    net.anvil.warp(60);
    node.wait_log(
        "skipped: this node is not an active node of the contract",
        1,
    );
    // A few more rounds: still nothing sent.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(assert_one_per_slot(&net), 1);
    assert_eq!(node.log().matches(SENT).count(), 1);
}

/// A node (re)added in the current epoch earns from the next one: it waits for it, saying
/// so once, without spending anything, then heartbeats.
#[test]
fn a_node_added_this_epoch_waits_for_the_next_one_without_spending_gas() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    let address = dev(NODE_KEY).to_string();
    net.run_ok(0, &["remove-node", "--node", &address]);
    net.run_ok(
        0,
        &[
            "add-node",
            "--node",
            &address,
            "--endpoint",
            "127.0.0.1:1080",
        ],
    );
    let node = net.start_node("", "");
    node.wait_log("earns from epoch 2; heartbeats start then", 1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(assert_one_per_slot(&net), 0);
    assert_eq!(node.log().matches("earns from epoch 2").count(), 1);
    net.warp_to_next_epoch();
    node.wait_log(SENT, 1);
    assert_eq!(assert_one_per_slot(&net), 1);
}

/// A heartbeat carries what the node served since the one before: the sessions members
/// opened, the distinct members, and the payload bytes from its own metrics endpoint.
#[test]
fn heartbeats_carry_what_the_node_served_since_the_last_one() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "[metrics]\nlisten = \"127.0.0.1:0\"\n");
    node.wait_log(SENT, 1);
    let echo = Echo::start();
    for _ in 0..2 {
        let mut tunnel = net.open_tunnel(&node, MEMBER, echo.addr);
        assert_eq!(
            proxy::round_trip(&mut tunnel, &[7u8; 1000]),
            vec![7u8; 1000]
        );
    }
    // The sessions end (their bytes are counted then) before the next slot begins.
    node::eventually("both sessions closed", &node, || {
        node.log().matches("session client=").count() >= 2
    });
    net.anvil.warp(60);
    node.wait_log(SENT, 2);
    let beats = heartbeats(&net, dev(NODE_KEY));
    assert_eq!(beats.len(), 2);
    assert_eq!(beats[0].usage.sessions, 0);
    assert_eq!(beats[1].usage.sessions, 2);
    assert_eq!(beats[1].usage.members, 1);
    assert_eq!(beats[1].usage.bytes_relayed, 4000);
    // Reported once: the next heartbeat starts from zero.
    net.anvil.warp(60);
    node.wait_log(SENT, 3);
    let beats = heartbeats(&net, dev(NODE_KEY));
    assert_eq!(beats[2].usage, aqueduct::contract::Usage::default());
}

#[test]
fn draining_node_sends_no_heartbeat() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "");
    node.wait_log(SENT, 1);
    // A live session keeps the node draining after SIGTERM.
    let echo = Echo::start();
    let _live = net.open_tunnel(&node, MEMBER, echo.addr);
    node.signal(libc::SIGTERM);
    node.wait_log("no longer accepting", 1);
    net.anvil.warp(60);
    node.wait_log("heartbeats paused: the node is not serving", 1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(assert_one_per_slot(&net), 1);
}

#[test]
fn heartbeats_over_several_slots_then_claim_after_the_epoch_pays_the_share() {
    const PERIOD: u64 = 3600;
    const EPOCH: u64 = 3600;
    const SUBUNITS: u128 = 1 << 32;
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "");
    node.wait_log(SENT, 1);
    for n in 2..=3 {
        net.anvil.warp(60);
        node.wait_log(SENT, n);
    }
    drop(node);
    assert_eq!(assert_one_per_slot(&net), 3);

    let client = net.anvil.client();
    let c = net.contract(&client);
    let beats = heartbeats(&net, dev(NODE_KEY));
    let epoch = beats[0].epoch;
    assert!(beats.iter().all(|h| h.epoch == epoch));
    assert_eq!(c.heartbeats_in_epoch(dev(NODE_KEY), epoch).unwrap(), 3);
    // The fee streams over the seconds of the paid access; this node was the only one
    // online in its epoch, so it earns what the stream delivered in that epoch, split
    // over its three slots (each rounded up to a sub-unit of 2^-32 token units).
    let genesis = c.genesis().unwrap();
    let until = c.member_until(dev(MEMBER)).unwrap();
    let start = until - PERIOD;
    assert_eq!(epoch, (start - genesis) / EPOCH);
    let epoch_end = genesis + (epoch + 1) * EPOCH;
    // What the stream delivered before the epoch's end (all of it, the division's dust
    // included, if the access ended there).
    let scaled = 10_000_000 * SUBUNITS;
    let rate = scaled / u128::from(PERIOD);
    let pool = if until <= epoch_end {
        scaled
    } else {
        rate * u128::from(epoch_end - start)
    };
    let expected = pool.div_ceil(3) * 3 / SUBUNITS;

    // Settled one full epoch after it ends (the monitor's challenge window).
    net.anvil.warp_to(epoch_end + EPOCH);
    assert_eq!(c.claimable(dev(NODE_KEY)).unwrap(), expected);
    let claimed = net.run_ok(NODE_KEY, &["claim", "--json"]).json();
    assert_eq!(claimed["paid"]["base_units"], expected.to_string());
    assert_eq!(c.claimable(dev(NODE_KEY)).unwrap(), 0);
}

#[test]
fn low_balance_is_warned_and_an_empty_one_skips_the_heartbeat() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    let node_addr = dev(NODE_KEY).to_lower_hex();
    // 0.001 ETH: a few heartbeats, far from a week's worth at one a minute.
    net.anvil
        .rpc("anvil_setBalance", json!([node_addr, "0x38d7ea4c68000"]));
    let node = net.start_node("", "");
    node.wait_log(SENT, 1);
    // In ETH, as the operator funds it, not in wei.
    node.wait_log("low balance: 0.001 ETH pays for fewer than", 1);

    net.anvil.rpc("anvil_setBalance", json!([node_addr, "0x0"]));
    net.anvil.warp(60);
    let log = node.wait_log("balance 0 ETH cannot pay one heartbeat (about 0.", 1);
    assert!(!log.contains(" wei"), "{log}");
    assert_eq!(assert_one_per_slot(&net), 1);
}

#[test]
fn node_key_from_a_keystore_with_a_password_file() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    let dir = &net.anvil.dir;
    anvil::cast(&[
        "wallet",
        "import",
        "node",
        "--keystore-dir",
        anvil::path_str(dir),
        "--private-key",
        anvil::DEV_KEYS[NODE_KEY],
        "--unsafe-password",
        "node pass",
    ]);
    let keystore = dir.join("node").display().to_string();
    let raw_key = net.anvil.key_file(NODE_KEY).display().to_string();
    let pw = dir.join("pw");
    std::fs::write(&pw, "node pass\n").unwrap();
    let chain = net.chain_section().replace(&raw_key, &keystore)
        + &format!("password_file = \"{}\"\n", pw.display());
    let node = net.start_node_with("", "", &chain);
    let log = node.wait_log(SENT, 1);
    assert!(log.contains(&dev(NODE_KEY).to_string()), "{log}");
    drop(node);

    // A wrong password stops the node at startup with a clear line.
    std::fs::write(&pw, "nope\n").unwrap();
    let config = dir.join("wrong.toml");
    std::fs::write(
        &config,
        format!("[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"chain\"\n{chain}"),
    )
    .unwrap();
    let run = anvil::aqueduct(&["node", "--config", anvil::path_str(&config)]);
    assert!(!run.ok);
    assert!(run.stderr.contains("wrong password"), "{}", run.stderr);
}
