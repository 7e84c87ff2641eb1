//! `aqueduct local` end to end on loopback: a real anvil with the contract, three nodes
//! in its registry, a member who paid, and curl as the browser.
//!
//! The nodes are stand-ins (tests/support/local.rs) that check credentials with the
//! same `Verifier` a chain-mode node uses. Each is registered behind a forwarder that
//! records what the member sent; two of the forwarders hold every first answer back
//! for 1.5 s, so the fast node must get the traffic.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, local, proxy};

use anvil::{aqueduct, dev_key, path_str, Anvil};
use aqueduct::credential::Verifier;
use aqueduct::eth::Address;
use local::{member_chain_args, socks_login, start_member_local, Forwarder, Local, StubNode};
use proxy::{curl, curl_ok, Origin, PAGE};
use std::sync::atomic::Ordering;
use std::time::Duration;

const SLOW: Duration = Duration::from_millis(1500);
const MEMBER: usize = 4;

struct Network {
    anvil: Anvil,
    contract: Address,
    /// Dev accounts 1, 2, 3; node 0 is the fast one.
    nodes: Vec<StubNode>,
    /// In front of each node: what is registered as its endpoint.
    fronts: Vec<Forwarder>,
    addresses: Vec<Address>,
}

impl Network {
    /// Deploys, registers three nodes (the first fast, the others slow) and pays a
    /// period for the member.
    fn start() -> Network {
        let anvil = Anvil::start();
        let deployed = anvil.deploy_dev(&[]);
        let contract = deployed.contract;
        let chain_id = anvil.client().chain_id().unwrap();
        let owner = anvil.key_file(0);
        let mut nodes = Vec::new();
        let mut fronts = Vec::new();
        let mut addresses = Vec::new();
        for (i, delay) in [(1, Duration::ZERO), (2, SLOW), (3, SLOW)] {
            let address = dev_key(i).address();
            let node = StubNode::start(Verifier {
                chain_id,
                contract,
                node: address,
                max_lifetime: 7 * 86400,
            });
            let front = Forwarder::start(node.addr, delay);
            let run = aqueduct(&[
                "add-node",
                "--rpc",
                &anvil.url,
                "--key",
                path_str(&owner),
                "--contract",
                &contract.to_string(),
                "--node",
                &address.to_string(),
                "--endpoint",
                &front.addr.to_string(),
            ]);
            assert!(run.ok, "add-node: {}", run.stderr);
            nodes.push(node);
            fronts.push(front);
            addresses.push(address);
        }
        let member = anvil.key_file(MEMBER);
        let run = aqueduct(&[
            "subscribe",
            "--periods",
            "1",
            "--rpc",
            &anvil.url,
            "--key",
            path_str(&member),
            "--contract",
            &contract.to_string(),
        ]);
        assert!(run.ok, "subscribe: {}", run.stderr);
        Network {
            anvil,
            contract,
            nodes,
            fronts,
            addresses,
        }
    }

    fn chain_args(&self) -> Vec<String> {
        member_chain_args(&self.anvil, self.contract, MEMBER)
    }

    /// `aqueduct local` as the member, once it has measured all three nodes.
    fn local(&self) -> Local {
        start_member_local(&self.anvil, self.contract, MEMBER, 3)
    }

    fn list(&self) -> String {
        let mut args = vec!["local", "--list"];
        let chain = self.chain_args();
        args.extend(chain.iter().map(String::as_str));
        let run = aqueduct(&args);
        assert!(run.ok, "local --list: {}", run.stderr);
        run.stdout
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The line of `--list` output about `node`.
fn line_of(list: &str, node: Address) -> String {
    list.lines()
        .find(|l| l.starts_with(&node.to_string()))
        .unwrap_or_else(|| panic!("{node} not listed:\n{list}"))
        .to_string()
}

#[test]
fn the_fastest_node_carries_the_traffic_and_a_stopped_node_is_routed_around() {
    let mut net = Network::start();
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://localhost:{}/", origin.addr.port());
    let mut local = net.local();
    let socks = format!("socks5h://{}", local.addr);
    let http = format!("http://{}", local.addr);

    // SOCKS5 with the name left to the node, HTTP absolute-form, and HTTP CONNECT.
    assert_eq!(curl_ok(&["-x", &socks, &url]), PAGE);
    assert_eq!(curl_ok(&["-x", &http, &url]), PAGE);
    assert_eq!(curl_ok(&["-p", "-x", &http, &url]), PAGE);
    assert_eq!(
        net.nodes[0].seen.target.lock().unwrap().as_deref(),
        Some(format!("localhost:{}", origin.addr.port()).as_str()),
        "the name must reach the node unresolved"
    );
    assert_eq!(net.nodes[0].tunnels(), 3);
    assert_eq!(net.nodes[1].tunnels() + net.nodes[2].tunnels(), 0);

    let list = net.list();
    for (i, address) in net.addresses.iter().enumerate() {
        let line = line_of(&list, *address);
        assert!(line.contains(" up "), "node {i} should be up:\n{list}");
        assert!(line.contains(" ms"), "node {i} has no latency:\n{list}");
    }
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .starts_with(&net.addresses[0].to_string()),
        "the fast node ranks first:\n{list}"
    );

    // A target the node cannot reach is the target's fault, not the node's.
    let refused = format!("http://localhost:{}/", closed_port());
    assert_eq!(proxy::curl_status(&["-x", &http, &refused]), 502);
    assert!(!curl(&["-x", &socks, &refused]).status.success());
    assert!(!local.log().contains("marked down"), "{}", local.log());

    // The fast node goes away: the next request still works, through another node,
    // and the stopped one is marked down.
    net.nodes[0].stop();
    net.fronts[0].stop();
    assert_eq!(curl_ok(&["-x", &socks, &url]), PAGE);
    assert_eq!(net.nodes[1].tunnels() + net.nodes[2].tunnels(), 1);
    let log = local.wait_log("marked down", 1);
    let down = log.lines().find(|l| l.contains("marked down")).unwrap();
    assert!(down.contains(&net.addresses[0].to_string()), "{down}");
    assert_eq!(curl_ok(&["-x", &http, &url]), PAGE);
    assert_eq!(net.nodes[1].tunnels() + net.nodes[2].tunnels(), 2);

    let list = net.list();
    let line = line_of(&list, net.addresses[0]);
    assert!(line.contains(" down "), "{list}");
    assert!(line.contains("connection refused"), "{list}");
}

#[test]
fn spread_rotate_sends_each_new_connection_through_the_next_node() {
    let net = Network::start();
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://localhost:{}/", origin.addr.port());
    let mut args = net.chain_args();
    args.extend(["--spread".to_string(), "rotate".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut local = Local::start(&net.anvil.dir, &args);
    local.wait_log(" up: connect ", 3);
    let socks = format!("socks5h://{}", local.addr);
    for _ in 0..6 {
        assert_eq!(curl_ok(&["-x", &socks, &url]), PAGE);
    }
    // The slow nodes get their turns too: two connections each.
    let tunnels: Vec<u64> = net.nodes.iter().map(|n| n.tunnels() as u64).collect();
    assert_eq!(tunnels, [2, 2, 2], "tunnels per node");

    let run = aqueduct(&["local", "--spread", "random", "--list"]);
    assert!(!run.ok);
    assert!(run.stderr.contains("--spread"), "{}", run.stderr);
}

#[test]
fn a_credential_captured_at_one_node_is_refused_at_another_and_a_refusing_node_is_skipped() {
    let net = Network::start();
    let origin = Origin::start("127.0.0.1:0");
    let mut local = net.local();
    let url = format!("http://127.0.0.1:{}/", origin.addr.port());
    assert_eq!(
        curl_ok(&["-x", &format!("socks5h://{}", local.addr), &url]),
        PAGE
    );

    // What node A's operator could have recorded.
    let (user, pass) = net.fronts[0]
        .captured_login()
        .expect("node A saw a credential");
    assert_eq!(user, dev_key(MEMBER).address().to_lower_hex());
    assert!(
        pass.contains(&net.addresses[0].to_lower_hex()),
        "scoped to A: {pass}"
    );
    assert!(socks_login(net.nodes[0].addr, &user, &pass), "valid at A");
    let refused_before = net.nodes[1].seen.logins_refused.load(Ordering::SeqCst);
    assert!(
        !socks_login(net.nodes[1].addr, &user, &pass),
        "replayed at B"
    );
    assert_eq!(
        net.nodes[1].seen.logins_refused.load(Ordering::SeqCst),
        refused_before + 1
    );
    // And the member's own traffic never used B's refusal path.
    assert_eq!(refused_before, 0);

    // A starts refusing the member: the next connection is retried at another node
    // before curl sees anything, and A is marked down.
    net.nodes[0].seen.refuse.store(true, Ordering::SeqCst);
    assert_eq!(
        curl_ok(&["-x", &format!("http://{}", local.addr), &url]),
        PAGE
    );
    let log = local.wait_log("marked down", 1);
    let down = log.lines().find(|l| l.contains("marked down")).unwrap();
    assert!(down.contains(&net.addresses[0].to_string()), "{down}");
    assert!(down.contains("credential rejected"), "{down}");
    assert_eq!(net.nodes[1].tunnels() + net.nodes[2].tunnels(), 1);
}

#[test]
fn a_public_listen_address_without_auth_is_refused() {
    let run = aqueduct(&[
        "local",
        "--listen",
        "0.0.0.0:0",
        "--rpc",
        "http://127.0.0.1:9",
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ]);
    assert!(!run.ok);
    assert!(run.stderr.contains("local.listen"), "{}", run.stderr);
    assert!(run.stderr.contains("[auth]"), "{}", run.stderr);
}

#[test]
fn without_any_node_the_client_gets_a_clear_failure() {
    let mut net = Network::start();
    for f in net.fronts.iter_mut() {
        f.stop();
    }
    let args = net.chain_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut list = vec!["local", "--list"];
    list.extend(&args);
    let run = aqueduct(&list);
    assert!(!run.ok, "local --list with no usable node must fail");
    assert!(
        run.stderr.contains("none of the 3 nodes is usable"),
        "{}",
        run.stderr
    );
    let mut local = Local::start(&net.anvil.dir, &args);
    local.wait_log("marked down", 3);
    let out = curl(&[
        "-x",
        &format!("socks5h://{}", local.addr),
        "http://localhost:9/",
    ]);
    assert!(!out.status.success());
    let http = proxy::curl_status(&[
        "-x",
        &format!("http://{}", local.addr),
        "http://localhost:9/",
    ]);
    assert_eq!(http, 502);
    let log = local.wait_log("reason=\"no node", 2);
    assert!(log.contains("connection refused"), "{log}");
}

#[test]
fn a_member_refused_by_every_node_reads_why_in_the_browser() {
    let net = Network::start();
    let origin = Origin::start("127.0.0.1:0");
    let local = net.local();
    for node in &net.nodes {
        node.seen.refuse.store(true, Ordering::SeqCst);
    }
    let url = format!("http://127.0.0.1:{}/", origin.addr.port());
    let out = curl(&[
        "-s",
        "-w",
        "\n%{http_code}",
        "-x",
        &format!("http://{}", local.addr),
        &url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "502", "{text}");
    assert!(body.contains("credential rejected"), "{body}");
    assert!(body.contains("aqueduct subscribe"), "{body}");
}
