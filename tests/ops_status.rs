//! `aqueduct status` for a node: the chain's view (heartbeats and slots this epoch) and,
//! for a running node, what its metrics endpoint says, through `--metrics URL` or the
//! node's own config; clear when the node is not running.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, ops, proxy};

use anvil::{aqueduct, cast, dev_key, path_str, Anvil, DEV_KEYS};
use std::fs;

struct Net {
    anvil: Anvil,
    contract: String,
    node: String,
}

/// `deploy --dev` with one-hour epochs and half-hour slots; dev account 1 whitelisted
/// as a node, and the chain moved to the start of epoch 1, the first the node earns in.
fn net() -> Net {
    let anvil = Anvil::start();
    let d = anvil.deploy_dev(&["--epoch", "1h", "--slot", "30m"]);
    let contract = d.contract.to_string();
    let node = dev_key(1).address().to_string();
    let owner = anvil.key_file(0);
    let added = aqueduct(&[
        "add-node",
        "--node",
        &node,
        "--endpoint",
        "127.0.0.1:1080",
        "--rpc",
        &anvil.url,
        "--contract",
        &contract,
        "--key",
        path_str(&owner),
    ]);
    assert!(added.ok, "{}", added.stderr);
    let genesis: u64 = cast(&[
        "call",
        "--rpc-url",
        &anvil.url,
        &contract,
        "genesis()(uint64)",
    ])
    .split_whitespace()
    .next()
    .unwrap()
    .parse()
    .unwrap();
    anvil.warp_to(genesis + 3600);
    Net {
        anvil,
        contract,
        node,
    }
}

impl Net {
    fn status(&self, extra: &[&str]) -> anvil::Run {
        let mut args = vec![
            "status",
            "--address",
            &self.node,
            "--rpc",
            &self.anvil.url,
            "--contract",
            &self.contract,
        ];
        args.extend(extra);
        aqueduct(&args)
    }
}

#[test]
fn chain_view_counts_heartbeats_against_the_slots_of_this_epoch() {
    let net = net();
    let text = net.status(&[]).stdout;
    assert!(text.contains("last heartbeat: never"), "{text}");
    assert!(
        text.contains("heartbeats this epoch: 0 of 1 slot so far (2 per epoch)"),
        "{text}"
    );
    assert!(
        text.contains("running node: not checked (pass --metrics URL"),
        "{text}"
    );
    cast(&[
        "send",
        "--rpc-url",
        &net.anvil.url,
        "--private-key",
        DEV_KEYS[1],
        &net.contract,
        "imOnline(uint64,uint64,uint64)",
        "0",
        "0",
        "0",
    ]);
    // Half an hour on: the second slot of the epoch has begun.
    net.anvil.warp(1800);
    let json = net.status(&["--json"]).json();
    assert_eq!(json["heartbeats_this_epoch"], 1);
    assert_eq!(json["slots_this_epoch"], 2);
    assert_eq!(json["slots_per_epoch"], 2);
    assert_eq!(json["last_heartbeat_slot"], 2);
    assert!(json["running"].is_null(), "{json}");
    let text = net.status(&[]).stdout;
    assert!(text.contains("last heartbeat: slot 2 (begun "), "{text}");
    assert!(
        text.contains("heartbeats this epoch: 1 of 2 slots so far (2 per epoch)"),
        "{text}"
    );
}

#[test]
fn a_running_node_reports_its_sessions_and_a_stopped_one_says_so() {
    let net = net();
    let echo = proxy::Echo::start();
    let (node, url) = ops::node_with_metrics();

    let json = net.status(&["--metrics", &url, "--json"]).json();
    assert_eq!(json["running"]["running"], true, "{json}");
    assert_eq!(json["running"]["sessions_open"], 0);
    // A static node runs no chain side.
    assert!(json["running"]["members_known"].is_null(), "{json}");

    let (mut tunnel, _) = proxy::socks_tunnel(node.addr(), proxy::SocksTarget::Addr(echo.addr));
    assert_eq!(proxy::round_trip(&mut tunnel, b"hi"), b"hi");
    let text = net.status(&["--metrics", &url]).stdout;
    assert!(
        text.contains(&format!("running node: yes ({url})")),
        "{text}"
    );
    assert!(text.contains("  sessions open: 1\n"), "{text}");
    assert!(text.contains("chain side: not running"), "{text}");

    // The same through the node's config file: [chain] for the chain, [metrics] listen
    // for the node.
    let dir = proxy::TempDir::new("status-config");
    let config = dir.path().join("node.toml");
    let listen = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    fs::write(
        &config,
        format!(
            "[chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\n[metrics]\nlisten = \"{listen}\"\n",
            net.anvil.url, net.contract
        ),
    )
    .unwrap();
    let json = aqueduct(&[
        "status",
        "--address",
        &net.node,
        "--config",
        path_str(&config),
        "--json",
    ])
    .json();
    assert_eq!(json["running"]["url"], url.as_str());
    assert_eq!(json["running"]["sessions_open"], 1);
    drop(tunnel);

    drop(node);
    let run = net.status(&["--metrics", &url]);
    assert!(
        run.ok,
        "status still works without the node: {}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains(&format!("running node: none answering at {url} (")),
        "{}",
        run.stdout
    );
    let json = net.status(&["--metrics", &url, "--json"]).json();
    assert_eq!(json["running"]["running"], false);
    assert!(json["running"]["error"].is_string());
}

#[test]
fn metrics_flags_are_checked() {
    let net = net();
    let run = net.status(&["--metrics", "127.0.0.1:9464"]);
    assert!(!run.ok);
    assert!(run.stderr.contains("not an http(s) URL"), "{}", run.stderr);
    // Port 0 in the config: only the node knows the port.
    let dir = proxy::TempDir::new("status-port0");
    let config = dir.path().join("node.toml");
    fs::write(&config, "[metrics]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let run = net.status(&["--config", path_str(&config)]);
    assert!(!run.ok);
    assert!(run.stderr.contains("port 0"), "{}", run.stderr);
}
