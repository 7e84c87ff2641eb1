//! What a new operator or member trips over on the chain commands (issue 17), each with
//! the real command against anvil: flags a command does not take, a contract that is not
//! Aqueduct's, ETH for gas, credential lifetimes, hints, units and plurals, role-aware
//! `status`, `claim` with nothing due, `local --list` with no usable node, and the
//! node refusing the example's placeholder password.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, proxy};

use anvil::{aqueduct, dev_key, path_str, Anvil, Run};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Net {
    anvil: Anvil,
    contract: String,
    token: String,
}

/// `deploy --dev` with the defaults (10 tUSD per 30d period, 1d epochs, 1h slots).
fn net() -> Net {
    let anvil = Anvil::start();
    let d = anvil.deploy_dev(&[]);
    Net {
        contract: d.contract.to_string(),
        token: d.token.to_string(),
        anvil,
    }
}

impl Net {
    /// `aqueduct <args> --rpc … --contract CONTRACT [--key FILE]`.
    fn run_at(&self, contract: &str, key: Option<&Path>, args: &[&str]) -> Run {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--rpc", &self.anvil.url, "--contract", contract]);
        if let Some(k) = key {
            full.extend(["--key", path_str(k)]);
        }
        aqueduct(&full)
    }

    /// As dev account `key`, against the deployed contract.
    fn run(&self, key: usize, args: &[&str]) -> Run {
        self.run_at(&self.contract, Some(&self.anvil.key_file(key)), args)
    }

    /// The owner (dev 0) whitelists `node` at `endpoint`.
    fn add_node(&self, node: &str, endpoint: &str) {
        let run = self.run(0, &["add-node", "--node", node, "--endpoint", endpoint]);
        assert!(run.ok, "add-node: {}", run.stderr);
    }

    /// A key file of a fresh account that holds nothing.
    fn fresh_key(&self, name: &str) -> (PathBuf, String) {
        let path = self.anvil.dir.join(name);
        let made = aqueduct(&["keygen", "--out", path_str(&path), "--json"]).json();
        (path, made["address"].as_str().unwrap().to_string())
    }
}

fn dev(i: usize) -> String {
    dev_key(i).address().to_string()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs `aqueduct node --config FILE` until it exits (at most 30 s: a node that keeps
/// running is killed and the test fails); returns its exit code and stderr.
fn node_exit(toml: &str) -> (Option<i32>, String) {
    let dir = proxy::TempDir::new("cli-chain-node");
    let config = dir.path().join("node.toml");
    std::fs::write(&config, format!("{toml}{}", proxy::base_config(dir.path()))).unwrap();
    let log = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["node", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the node kept running: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[test]
fn flags_a_command_does_not_take_are_usage_errors() {
    let dir = proxy::TempDir::new("cli-flags");
    let out = dir.path().join("k.key");
    for (args, flag) in [
        (
            vec![
                "keygen",
                "--out",
                path_str(&out),
                "--rpc",
                "http://127.0.0.1:1",
            ],
            "--rpc",
        ),
        (
            vec!["keygen", "--out", path_str(&out), "--contract", "0x0"],
            "--contract",
        ),
        (
            vec!["nodes", "--rpc", "http://127.0.0.1:1", "--key", "k.key"],
            "--key",
        ),
        (
            vec!["deploy", "--dev", "--contract", "0x0", "--key", "k.key"],
            "--contract",
        ),
    ] {
        let run = aqueduct(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("error: `{}` does not take {flag}", args[0])),
            "{args:?}: {}",
            run.stderr
        );
    }
    // Nothing was written by the refused keygen.
    assert!(!out.exists());
}

#[test]
fn a_contract_that_is_not_aqueduct_is_named_by_every_command_and_the_node() {
    let net = net();
    // The test token is a contract, but not an Aqueduct contract.
    let want = format!("{} is not an Aqueduct contract (", net.token);
    let node = dev(1);
    let commands: [&[&str]; 11] = [
        &["status"],
        &["nodes"],
        &["subscribe", "--periods", "1"],
        &["token", "--node", "any", "--ttl", "1h"],
        &["claim"],
        &["refund"],
        &["settle"],
        &["add-node", "--node", &node, "--endpoint", "n.example:1"],
        &["remove-node", "--node", &node],
        &["set-endpoint", "--endpoint", "n.example:1"],
        &["local", "--list"],
    ];
    for args in commands {
        let key = net.anvil.key_file(0);
        let key = (args[0] != "nodes").then_some(key.as_path());
        let run = net.run_at(&net.token, key, args);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.lines().any(|l| l.contains(&want)),
            "{args:?}: {}",
            run.stderr
        );
    }
    // The node refuses to start instead of retrying the sync forever.
    let (code, stderr) = node_exit(&format!(
        "[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"chain\"\n[chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\nkey = \"{}\"\nstate_file = \"{}\"\n",
        net.anvil.url,
        net.token,
        net.anvil.key_file(1).display(),
        net.anvil.dir.join("state.json").display()
    ));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn not_enough_eth_for_gas_is_said_before_sending_with_the_amount() {
    let net = net();
    let (key, address) = net.fresh_key("no-eth.key");
    let run = net.run_at(&net.contract, Some(&key), &["settle"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "error: {address} holds 0 ETH; settle needs up to 0."
        )),
        "{}",
        run.stderr
    );
    assert!(first.contains(" ETH for gas ("), "{first}");
    assert!(first.contains(" gas at up to "), "{first}");
    assert!(
        run.stderr.contains("hint: send at least 0."),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(" wei"), "{}", run.stderr);
    let nonce = net
        .anvil
        .client()
        .pending_nonce(address.parse().unwrap())
        .unwrap();
    assert_eq!(nonce, 0, "nothing was sent");
}

#[test]
fn a_credential_longer_than_nodes_accept_is_refused() {
    let net = net();
    let run = net.run(2, &["token", "--node", "any", "--ttl", "31d"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--ttl 31d is longer than nodes accept (30d by default)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing signed: {}", run.stdout);
    let run = net.run(2, &["token", "--node", "any", "--ttl", "30d", "--json"]);
    assert!(run.json()["password"].is_string());
}

#[test]
fn the_node_refuses_the_example_placeholder_password() {
    let (code, stderr) = node_exit(
        "[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"alice\"\npassword = \"change-me\"\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("user `alice` still has the example's placeholder password \"change-me\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: set a password of your own"),
        "{stderr}"
    );
}

#[test]
fn hints_are_said_once_and_fit_the_error() {
    let net = net();
    // A checksum typo: the error says so, and the hint is not the format's.
    let mut typo = dev(1);
    let flipped = typo
        .char_indices()
        .skip(2)
        .find(|(_, c)| c.is_ascii_alphabetic())
        .unwrap();
    let c = typo.as_bytes()[flipped.0] as char;
    let swapped = if c.is_ascii_uppercase() {
        c.to_ascii_lowercase()
    } else {
        c.to_ascii_uppercase()
    };
    typo.replace_range(flipped.0..=flipped.0, &swapped.to_string());
    let run = net.run(2, &["token", "--node", &typo, "--ttl", "1h"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("checksum"), "{}", run.stderr);
    assert!(!run.stderr.contains("40 hex digits"), "{}", run.stderr);
    // A malformed address: what an address looks like, once.
    let run = net.run(2, &["token", "--node", "0x12", "--ttl", "1h"]);
    assert_eq!(
        run.stderr.matches("40 hex digits").count(),
        1,
        "{}",
        run.stderr
    );
    // A key readable by others: the chmod advice once.
    let key = net.anvil.dir.join("open.key");
    std::fs::copy(net.anvil.key_file(2), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = net.run_at(&net.contract, Some(&key), &["settle"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.matches("chmod").count(), 1, "{}", run.stderr);
    // A count too large is too large, not "not a whole number".
    let run = net.run(2, &["subscribe", "--periods", "99999999999999999999999"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("far too large"), "{}", run.stderr);
    assert!(!run.stderr.contains("not a whole number"), "{}", run.stderr);
    // An RPC URL without a host is a usage error about the URL.
    for url in [
        "http://",
        "http://:8545",
        "https:///x",
        "http://127.0.0.1:port",
    ] {
        let run = aqueduct(&["nodes", "--rpc", url, "--contract", &net.contract]);
        assert_eq!(run.code, Some(2), "{url}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("RPC URL `{url}`")),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("chain node is running"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn amounts_carry_the_token_symbol_durations_are_as_given_and_plurals_are_right() {
    let anvil = Anvil::start();
    let key = anvil.key_file(0);
    let run = aqueduct(&[
        "deploy",
        "--dev",
        "--rpc",
        &anvil.url,
        "--key",
        path_str(&key),
        "--price",
        "2.5",
        "--max-periods",
        "1",
    ]);
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "price: 2.5 tUSD per 30d period, at most 1 period ahead; epoch 1d; slot 1h\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("minted 1000 tUSD to "),
        "{}",
        run.stdout
    );
    let contract = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("contract: "))
        .unwrap()
        .to_string();
    let net = Net {
        anvil,
        token: String::new(),
        contract,
    };
    let run = net.run(2, &["subscribe", "--periods", "1"]);
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!(
            "member {} paid 2.5 tUSD for 1 period; access until ",
            dev(2)
        )),
        "{}",
        run.stdout
    );
    let json = net.run(2, &["status", "--json"]).json();
    assert_eq!(
        json["token_balance"],
        serde_json::json!({"base_units": "997500000", "decimal": "997.5", "symbol": "tUSD"})
    );
    assert_eq!(json["eth_balance"]["symbol"], "ETH");
    assert!(json["eth_balance"]["base_units"].is_string(), "{json}");
    let refund = net.run(2, &["refund", "--json"]).json();
    assert_eq!(refund["refunded"]["symbol"], "tUSD");
    assert!(net
        .run(2, &["refund"])
        .stdout
        .contains("none of the 1 payment by "));
}

#[test]
fn status_shows_what_the_address_is() {
    let net = net();
    let node = dev(1);
    net.add_node(&node, "127.0.0.1:1080");
    assert!(net.run(2, &["subscribe", "--periods", "1"]).ok);

    // A member: time left and the end date, no node lines.
    let member = net.run(2, &["status"]);
    assert!(member.ok, "{}", member.stderr);
    let text = member.stdout;
    // Read at the subscription's own block: the whole period is left.
    assert!(text.contains("member: yes, 30d 0h left, until "), "{text}");
    assert!(!text.contains("heartbeats this epoch"), "{text}");
    assert!(!text.contains("node:"), "{text}");
    assert!(!text.contains("claimable"), "{text}");
    let json = net.run(2, &["status", "--json"]).json();
    assert_eq!(json["roles"], serde_json::json!(["member"]));
    assert!(json["member_seconds_left"].as_u64().unwrap() > 29 * 86_400);

    // A node: the node lines, no membership.
    let text = net.run(0, &["status", "--address", &node]).stdout;
    assert!(text.contains("node: active at 127.0.0.1:1080"), "{text}");
    assert!(
        text.contains("heartbeats this epoch: 0 of 1 slot so far"),
        "{text}"
    );
    assert!(text.contains("claimable: 0 tUSD"), "{text}");
    assert!(!text.contains("member:"), "{text}");

    // Both, once the node's key pays too.
    assert!(net.run(1, &["subscribe", "--periods", "1"]).ok);
    let text = net.run(1, &["status"]).stdout;
    assert!(text.contains("member: yes, "), "{text}");
    assert!(text.contains("node: active at "), "{text}");
    let json = net.run(1, &["status", "--json"]).json();
    assert_eq!(json["roles"], serde_json::json!(["member", "node"]));

    // Neither: said in two lines.
    let text = net.run(0, &["status", "--address", &dev(7)]).stdout;
    assert!(
        text.contains(
            "member: no (never subscribed; `aqueduct subscribe`)\nnode: not registered\n"
        ),
        "{text}"
    );
    assert!(!text.contains("heartbeats"), "{text}");
}

#[test]
fn claim_with_nothing_due_says_so_and_exits_0() {
    let net = net();
    let (key, address) = net.fresh_key("idle-node.key");
    // No ETH either: nothing is due, so nothing is sent and no gas is needed.
    let run = net.run_at(&net.contract, Some(&key), &["claim"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.starts_with(&format!(
            "nothing to claim: node {address} has no settled epoch"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn local_list_fails_when_no_node_is_usable() {
    let net = net();
    let run = net.run(2, &["local", "--list"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("no nodes: the registry is empty"),
        "{}",
        run.stderr
    );
    // A registered node that does not answer: listed, and still a failure.
    let endpoint = format!("127.0.0.1:{}", closed_port());
    net.add_node(&dev(1), &endpoint);
    let run = net.run(2, &["local", "--list", "--json"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let listed: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(listed["usable"], 0);
    assert_eq!(listed["nodes"][0]["endpoint"], endpoint.as_str());
    assert!(
        run.stderr.contains("none of the 1 node is usable"),
        "{}",
        run.stderr
    );
}

#[test]
fn status_reads_metrics_listen_as_a_string_or_a_list() {
    let net = net();
    let node = dev(1);
    net.add_node(&node, "127.0.0.1:1080");
    let dir = proxy::TempDir::new("status-listen");
    let port = closed_port();
    for listen in [
        format!("\"127.0.0.1:{port}\""),
        format!("[\"127.0.0.1:{port}\"]"),
    ] {
        let config = dir.path().join("node.toml");
        std::fs::write(
            &config,
            format!(
                "[chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\n[metrics]\nlisten = {listen}\n",
                net.anvil.url, net.contract
            ),
        )
        .unwrap();
        let json = aqueduct(&[
            "status",
            "--address",
            &node,
            "--config",
            path_str(&config),
            "--json",
        ])
        .json();
        assert_eq!(
            json["running"]["url"],
            format!("http://127.0.0.1:{port}/metrics"),
            "{listen}: {json}"
        );
        assert_eq!(json["running"]["running"], false, "{json}");
    }
}
