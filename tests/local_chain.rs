//! `aqueduct local` in front of three real `aqueduct node`s in chain mode, on anvil:
//! the member's locally signed credentials are accepted by the nodes that they are
//! scoped to and by no other, the fastest node carries the traffic, and a node killed
//! mid-test is routed around and marked down.
//!
//! Each node is registered behind a forwarder (tests/support/local.rs) that records
//! what the member sent; two of them hold every first answer back for 1.5 s.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, local, node, proxy};

use aqueduct::credential::NodeScope;
use aqueduct::eth::Address;
use local::{member_chain_args, socks_login, start_member_local, Forwarder, Local};
use node::{dev, eventually, socks_get, unix_now, ChainNet};
use proxy::{curl_ok, Node, Origin, PAGE};
use std::time::Duration;

const SLOW: Duration = Duration::from_millis(1500);
/// Dev accounts running the nodes (1 is registered by `ChainNet::deploy`).
const NODE_KEYS: [usize; 3] = [1, 5, 6];
const MEMBER: usize = 4;

struct Net {
    chain: ChainNet,
    nodes: Vec<Option<Node>>,
    fronts: Vec<Forwarder>,
    addresses: Vec<Address>,
}

/// The `[chain]` section for the node run by dev account `key`.
fn chain_section(net: &ChainNet, key: usize) -> String {
    format!(
        "[chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\nkey = \"{}\"\ndeploy_block = {}\nstate_file = \"{}\"\npoll_secs = 1\nreorg_depth = 2\n",
        net.anvil.url,
        net.contract,
        net.anvil.key_file(key).display(),
        net.deploy_block,
        net.anvil.dir.join(format!("node{key}-state.json")).display()
    )
}

impl Net {
    fn start() -> Net {
        let chain = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
        chain.subscribe(MEMBER, 1);
        let origin_check = Origin::start("127.0.0.1:0");
        let mut nodes = Vec::new();
        let mut fronts = Vec::new();
        let mut addresses = Vec::new();
        for (i, key) in NODE_KEYS.into_iter().enumerate() {
            let node = Node::start(&format!(
                "[auth]\nmode = \"chain\"\n[policy]\nallow_private = true\n[heartbeat]\nenabled = false\n{}",
                chain_section(&chain, key)
            ));
            let front = Forwarder::start(node.addr(), if i == 0 { Duration::ZERO } else { SLOW });
            let endpoint = front.addr.to_string();
            if i == 0 {
                chain.run_ok(key, &["set-endpoint", "--endpoint", &endpoint]);
            } else {
                let address = dev(key).to_string();
                chain.run_ok(
                    0,
                    &["add-node", "--node", &address, "--endpoint", &endpoint],
                );
            }
            // The node has read the subscription once a credential of its own works.
            let cred = chain.credential(MEMBER, NodeScope::One(dev(key)), unix_now() + 600);
            let url = format!("http://{}/", origin_check.addr);
            eventually("the node knows the member", &node, || {
                socks_get(&node, &cred, &url).is_ok()
            });
            nodes.push(Some(node));
            fronts.push(front);
            addresses.push(dev(key));
        }
        Net {
            chain,
            nodes,
            fronts,
            addresses,
        }
    }

    fn chain_args(&self) -> Vec<String> {
        member_chain_args(&self.chain.anvil, self.chain.contract, MEMBER)
    }

    fn local(&self) -> Local {
        start_member_local(&self.chain.anvil, self.chain.contract, MEMBER, 3)
    }

    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node running")
    }

    /// Sessions node `i` served to `target`.
    fn served(&self, i: usize, target: &str) -> usize {
        self.node(i)
            .log()
            .matches(&format!("target={target} "))
            .count()
    }
}

#[test]
fn local_uses_the_fastest_chain_node_and_routes_around_a_killed_one() {
    let mut net = Net::start();
    let origin = Origin::start("127.0.0.1:0");
    let target = format!("localhost:{}", origin.addr.port());
    let url = format!("http://{target}/");
    let mut local = net.local();
    let socks = format!("socks5h://{}", local.addr);
    let http = format!("http://{}", local.addr);

    assert_eq!(curl_ok(&["-x", &socks, &url]), PAGE);
    assert_eq!(curl_ok(&["-x", &http, &url]), PAGE);
    assert_eq!(curl_ok(&["-p", "-x", &http, &url]), PAGE);
    net.node(0).wait_log(&format!("target={target} "), 3);
    assert_eq!(net.served(1, &target) + net.served(2, &target), 0);

    // The fast node dies (its forwarder stays, as a half-dead host would).
    drop(net.nodes[0].take());
    assert_eq!(curl_ok(&["-x", &socks, &url]), PAGE);
    let log = local.wait_log("marked down", 1);
    let down = log.lines().find(|l| l.contains("marked down")).unwrap();
    assert!(down.contains(&net.addresses[0].to_string()), "{down}");
    // Nodes log a session when it closes, which may be just after curl is done.
    let deadline = std::time::Instant::now() + local::WAIT;
    while net.served(1, &target) + net.served(2, &target) < 1 {
        assert!(std::time::Instant::now() < deadline, "no other node served");
        std::thread::sleep(Duration::from_millis(50));
    }

    // `--list` measures afresh: the dead node is down, the others up with a latency.
    let mut args = vec!["local".to_string(), "--list".to_string()];
    args.extend(net.chain_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = anvil::aqueduct(&args);
    assert!(run.ok, "{}", run.stderr);
    for (i, address) in net.addresses.iter().enumerate() {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&address.to_string()))
            .unwrap_or_else(|| panic!("{address} not listed:\n{}", run.stdout));
        let want = if i == 0 { " down " } else { " up " };
        assert!(line.contains(want), "node {i}:\n{}", run.stdout);
    }
}

#[test]
fn a_credential_captured_at_one_chain_node_is_refused_at_another() {
    let net = Net::start();
    let origin = Origin::start("127.0.0.1:0");
    let local = net.local();
    let url = format!("http://127.0.0.1:{}/", origin.addr.port());
    assert_eq!(
        curl_ok(&["-x", &format!("socks5h://{}", local.addr), &url]),
        PAGE
    );

    let (user, pass) = net.fronts[0].captured_login().expect("captured at A");
    assert_eq!(user, dev(MEMBER).to_lower_hex());
    assert!(socks_login(net.node(0).addr(), &user, &pass), "valid at A");
    assert!(
        !socks_login(net.node(1).addr(), &user, &pass),
        "replayed at B"
    );
    net.node(1).wait_log("not this one", 1);
}
