//! The chain commands against a real anvil: deploy, the node registry and payees,
//! subscribing, credentials, heartbeats, claiming and refunds, cross-checked with `cast`.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::anvil;

use anvil::{aqueduct, cast, dev_key, path_str, Anvil, DEV_KEYS};
use aqueduct::contract::{calls, Contract, Heartbeat, HeartbeatCheck, Usage, Withheld};
use aqueduct::credential::{self, CredentialError, Verifier};
use aqueduct::eth::sender::{SendError, Sender, TxRequest};
use aqueduct::eth::signer::PrivateKey;
use aqueduct::eth::{hex, Address};

const EPOCH: u64 = 3600;
const PERIOD: u64 = 3600;
/// Sub-units per token unit in the contract's books.
const SUBUNITS: u128 = 1 << 32;

fn dev(i: usize) -> Address {
    dev_key(i).address()
}

struct Net {
    anvil: Anvil,
    contract: String,
    token: String,
}

impl Net {
    /// `deploy --dev` with one-hour periods and epochs and half-hour slots (long enough
    /// that a test never straddles a slot boundary in practice).
    fn deploy() -> Net {
        let anvil = Anvil::start();
        let d = anvil.deploy_dev(&[
            "--price", "10", "--period", "1h", "--epoch", "1h", "--slot", "30m",
        ]);
        Net {
            contract: d.contract.to_string(),
            token: d.token.to_string(),
            anvil,
        }
    }

    /// Runs a chain command as dev account `key` against this network (`nodes` signs
    /// nothing, so it gets no key: it would refuse one).
    fn run(&self, key: usize, args: &[&str]) -> anvil::Run {
        let key = self.anvil.key_file(key);
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--rpc", &self.anvil.url, "--contract", &self.contract]);
        if args.first() != Some(&"nodes") {
            full.extend(["--key", path_str(&key)]);
        }
        aqueduct(&full)
    }

    fn cast_call(&self, to: &str, sig: &str, args: &[&str]) -> String {
        let mut full = vec!["call", "--rpc-url", &self.anvil.url, to, sig];
        full.extend(args);
        cast(&full)
    }

    fn contract_address(&self) -> Address {
        self.contract.parse().unwrap()
    }

    fn balance(&self, who: Address) -> u128 {
        number(&self.cast_call(
            &self.token,
            "balanceOf(address)(uint256)",
            &[&who.to_string()],
        ))
    }

    /// Moves the chain's clock to the first second of the next epoch.
    fn next_epoch(&self) {
        let client = self.anvil.client();
        let c = Contract::new(&client, self.contract_address());
        let genesis = c.genesis().unwrap();
        let now = client
            .block(aqueduct::eth::rpc::BlockId::Latest)
            .unwrap()
            .unwrap()
            .timestamp;
        self.anvil
            .warp_to(genesis + ((now - genesis) / EPOCH + 1) * EPOCH);
    }
}

/// Sub-units a payment of `amount` for [start, until) streams into the epoch ending at
/// `epoch_end` that holds `start`: its seconds there, or all of it (the division's dust
/// included) when the access ends there too.
fn stream_in_epoch(amount: u128, start: u64, until: u64, epoch_end: u64) -> u128 {
    let scaled = amount * SUBUNITS;
    if until <= epoch_end {
        return scaled;
    }
    scaled / u128::from(until - start) * u128::from(epoch_end - start)
}

/// cast prints uint256 results as `1000000000 [1e9]`: the first word is the number.
fn number(cast_output: &str) -> u128 {
    cast_output
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn deploy_dev_mints_to_the_dev_accounts_and_sets_every_parameter() {
    let net = Net::deploy();
    let d0 = dev(0).to_string();
    assert_eq!(
        number(&net.cast_call(&net.contract, "price()(uint256)", &[])),
        10_000_000
    );
    assert_eq!(
        number(&net.cast_call(&net.contract, "epochLength()(uint64)", &[])),
        EPOCH as u128
    );
    assert_eq!(
        number(&net.cast_call(&net.contract, "slotLength()(uint64)", &[])),
        1800
    );
    assert_eq!(
        number(&net.cast_call(&net.contract, "periodLength()(uint64)", &[])),
        PERIOD as u128
    );
    assert_eq!(net.cast_call(&net.contract, "owner()(address)", &[]), d0);
    // Members may pay at most 12 periods ahead unless the deployer says otherwise.
    assert_eq!(
        number(&net.cast_call(&net.contract, "maxPeriods()(uint256)", &[])),
        12
    );
    assert_eq!(
        net.cast_call(&net.contract, "token()(address)", &[])
            .to_lowercase(),
        net.token.to_lowercase()
    );
    for i in [0, 5, 9] {
        let bal = net.cast_call(
            &net.token,
            "balanceOf(address)(uint256)",
            &[&dev(i).to_string()],
        );
        assert_eq!(number(&bal), 1_000_000_000, "dev account {i}");
    }
}

#[test]
fn deploy_with_explicit_token_and_mint_to_list() {
    let anvil = Anvil::start();
    let key = anvil.key_file(0);
    let base = [
        "--rpc",
        anvil.url.as_str(),
        "--key",
        path_str(&key),
        "--json",
    ];
    let d3 = dev(3).to_string();
    let mut args = vec!["deploy", "--dev", "--mint-to", &d3];
    args.extend(base);
    let first = aqueduct(&args).json();
    assert_eq!(first["minted"].as_array().unwrap().len(), 1);
    let token = first["token"].as_str().unwrap();
    // A second deployment reusing that token, with every parameter given.
    let d7 = dev(7).to_string();
    let mut args = vec![
        "deploy",
        "--token",
        token,
        "--price",
        "2.5",
        "--period",
        "30d",
        "--epoch",
        "1d",
        "--slot",
        "1h",
        "--max-periods",
        "6",
        "--owner",
        &d3,
    ];
    args.extend(base);
    let second = aqueduct(&args).json();
    let contract = second["contract"].as_str().unwrap();
    let call = |sig: &str| cast(&["call", "--rpc-url", &anvil.url, contract, sig]);
    assert_eq!(number(&call("price()(uint256)")), 2_500_000);
    assert_eq!(call("owner()(address)"), d3);
    assert_eq!(number(&call("maxPeriods()(uint256)")), 6);
    assert_eq!(second["max_periods"], 6);
    assert_eq!(number(&call("periodLength()(uint64)")), 30 * 86_400);
    let _ = d7;
}

/// Epochs under an hour, slots under a minute and the other constructor rules are refused
/// before anything is sent, with the rule named.
#[test]
fn deploy_refuses_short_epochs_and_slots_before_sending() {
    let anvil = Anvil::start();
    let key = anvil.key_file(0);
    for (flags, words) in [
        (
            ["--epoch", "1m", "--slot", "10s"],
            "an epoch must last at least 3600 s",
        ),
        (
            ["--epoch", "1h", "--slot", "30s"],
            "a slot must last at least 60 s",
        ),
        (
            ["--epoch", "1h", "--slot", "7m"],
            "not a whole number of slots",
        ),
        (
            ["--epoch", "1d", "--period", "1h"],
            "must last at least one epoch",
        ),
        (["--max-periods", "0", "--slot", "1h"], "above zero"),
        (
            ["--max-periods", "1001", "--slot", "1h"],
            "between 1 and 1000",
        ),
    ] {
        let mut args = vec![
            "deploy",
            "--dev",
            "--rpc",
            &anvil.url,
            "--key",
            path_str(&key),
        ];
        args.extend(flags);
        let run = aqueduct(&args);
        assert_eq!(run.code, Some(2), "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(words), "{flags:?}: {}", run.stderr);
    }
    // Not even the test token was deployed.
    assert_eq!(anvil.client().pending_nonce(dev(0)).unwrap(), 0);
}

/// A multisig or timelock owns the contract when deployed with --owner: the deploying key
/// then cannot manage nodes, the owner can.
#[test]
fn deploy_with_another_owner_leaves_the_deployer_no_power() {
    let anvil = Anvil::start();
    let owner = dev(5).to_string();
    let d = anvil.deploy_dev(&["--owner", &owner, "--epoch", "1h", "--period", "1h"]);
    let net = Net {
        contract: d.contract.to_string(),
        token: d.token.to_string(),
        anvil,
    };
    let node = dev(1).to_string();
    let by_deployer = net.run(
        0,
        &["add-node", "--node", &node, "--endpoint", "a.example:1"],
    );
    assert_eq!(by_deployer.code, Some(1));
    assert!(
        by_deployer.stderr.contains("OwnableUnauthorizedAccount"),
        "{}",
        by_deployer.stderr
    );
    let by_owner = net.run(
        5,
        &["add-node", "--node", &node, "--endpoint", "a.example:1"],
    );
    assert!(by_owner.ok, "{}", by_owner.stderr);
}

#[test]
fn add_node_subscribe_status_and_token_give_a_verifiable_credential() {
    let net = Net::deploy();
    let node = dev(1).to_string();
    let added = net.run(
        0,
        &[
            "add-node",
            "--node",
            &node,
            "--endpoint",
            "127.0.0.1:1080",
            "--payee",
            &dev(8).to_string(),
            "--json",
        ],
    );
    assert!(added.ok, "{}", added.stderr);
    let added = added.json();
    assert_eq!(added["payee"], dev(8).to_string());
    assert_eq!(added["earns_from_epoch"], 1);
    assert_eq!(
        net.cast_call(&net.contract, "payeeOf(address)(address)", &[&node]),
        dev(8).to_string()
    );
    assert_eq!(
        net.cast_call(&net.contract, "isActiveNode(address)(bool)", &[&node]),
        "true"
    );
    let listed = net.run(0, &["nodes", "--json"]).json();
    assert_eq!(listed["nodes"][0]["node"], node.as_str());
    assert_eq!(listed["nodes"][0]["endpoint"], "127.0.0.1:1080");
    assert_eq!(listed["nodes"][0]["active"], true);

    // dev2 pays for two periods; the allowance is approved on the way.
    let member = dev(2).to_string();
    let sub = net
        .run(2, &["subscribe", "--periods", "2", "--json"])
        .json();
    assert!(sub["approve_tx"].is_string());
    assert_eq!(sub["paid"]["base_units"], "20000000");
    assert_eq!(sub["paid"]["decimal"], "20");
    assert_eq!(sub["paid"]["symbol"], "tUSD");
    assert_eq!(
        net.cast_call(&net.contract, "isMember(address)(bool)", &[&member]),
        "true"
    );
    let until = number(&net.cast_call(&net.contract, "memberUntil(address)(uint64)", &[&member]));
    assert_eq!(sub["until"].as_u64().unwrap() as u128, until);
    let bal = net.cast_call(&net.token, "balanceOf(address)(uint256)", &[&member]);
    assert_eq!(number(&bal), 1_000_000_000 - 20_000_000);

    let status = net.run(2, &["status", "--json"]).json();
    assert_eq!(status["member"], true);
    assert_eq!(status["member_until"].as_u64().unwrap() as u128, until);
    assert_eq!(status["node_registered"], false);
    let node_status = net.run(0, &["status", "--address", &node, "--json"]).json();
    assert_eq!(node_status["node_active"], true);
    assert_eq!(node_status["endpoint"], "127.0.0.1:1080");
    assert_eq!(node_status["payee"], dev(8).to_string());
    assert_eq!(node_status["earns_from_epoch"], 1);
    let text = net.run(0, &["status", "--address", &node]).stdout;
    assert!(
        text.contains(&format!("paid to {}, earning from epoch 1", dev(8))),
        "{text}"
    );

    // Paying for someone else: dev3 pays, dev4 becomes a member. dev3 has a small
    // allowance left over, which is reset and raised on the way.
    cast(&[
        "send",
        "--rpc-url",
        &net.anvil.url,
        "--private-key",
        DEV_KEYS[3],
        &net.token,
        "approve(address,uint256)",
        &net.contract,
        "1",
    ]);
    let d4 = dev(4).to_string();
    let other = net
        .run(
            3,
            &["subscribe", "--periods", "1", "--member", &d4, "--json"],
        )
        .json();
    assert_eq!(other["member"], d4.as_str());
    assert!(other["approve_tx"].is_string());
    assert_eq!(
        net.cast_call(&net.contract, "isMember(address)(bool)", &[&d4]),
        "true"
    );

    // A credential for any node, printed with proxy URLs for the registered endpoint.
    let tok = net
        .run(2, &["token", "--node", "any", "--ttl", "30m", "--json"])
        .json();
    let user = tok["username"].as_str().unwrap();
    let pass = tok["password"].as_str().unwrap();
    assert!(tok["socks5"][0].as_str().unwrap().starts_with("socks5h://"));
    assert!(tok["socks5"][0]
        .as_str()
        .unwrap()
        .ends_with("@127.0.0.1:1080"));
    assert!(tok["http"][0].as_str().unwrap().starts_with("http://"));
    let verifier = Verifier {
        chain_id: 31337,
        contract: net.contract_address(),
        node: dev(1),
        max_lifetime: 7200,
    };
    let now = tok["expires"].as_u64().unwrap() - 1800;
    assert_eq!(
        verifier.check(user.as_bytes(), pass.as_bytes(), now),
        Ok(dev(2))
    );

    // cast agrees the signature is by the member over the documented text.
    let text = credential::message(
        31337,
        net.contract_address(),
        credential::NodeScope::Any,
        now + 1800,
    );
    let sig = pass.rsplit(':').next().unwrap();
    cast(&[
        "wallet",
        "verify",
        "--address",
        &member,
        &text,
        &format!("0x{sig}"),
    ]);

    // Longer than the paid access: still signed, with a warning saying until when.
    let long = net.run(2, &["token", "--node", "any", "--ttl", "7d"]);
    assert!(long.ok, "{}", long.stderr);
    assert!(
        long.stderr.contains("warning: membership ends"),
        "{}",
        long.stderr
    );

    // Scoped to node dev1: good there, refused by another node.
    let tok = net
        .run(2, &["token", "--node", &node, "--ttl", "1h", "--json"])
        .json();
    let pass = tok["password"].as_str().unwrap();
    assert_eq!(
        verifier.check(user.as_bytes(), pass.as_bytes(), now),
        Ok(dev(2))
    );
    let elsewhere = Verifier {
        node: dev(5),
        ..verifier.clone()
    };
    assert_eq!(
        elsewhere.check(user.as_bytes(), pass.as_bytes(), now),
        Err(CredentialError::WrongNode { scoped_to: dev(1) })
    );
}

#[test]
fn token_without_nodes_prints_placeholders() {
    let net = Net::deploy();
    let run = net.run(2, &["token", "--node", "any", "--ttl", "7d"]);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("@HOST:PORT"), "{}", run.stdout);
    assert!(run.stderr.contains("not a paying member"), "{}", run.stderr);
    let unknown = net.run(2, &["token", "--node", &dev(8).to_string(), "--ttl", "7d"]);
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("not in the registry"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn heartbeat_then_claim_after_the_epoch_pays_the_epoch_share_to_the_payee() {
    let net = Net::deploy();
    let node = dev(1).to_string();
    let payee = dev(8);
    assert!(
        net.run(
            0,
            &[
                "add-node",
                "--node",
                &node,
                "--endpoint",
                "n1.example:1080",
                "--payee",
                &payee.to_string()
            ]
        )
        .ok
    );
    let client = net.anvil.client();
    let c = Contract::new(&client, net.contract_address());
    // Added in epoch 0, the node earns from epoch 1: no heartbeat is due before.
    assert_eq!(
        c.heartbeat_check(dev(1)).unwrap(),
        HeartbeatCheck::NotYet { from_epoch: 1 }
    );
    net.next_epoch();
    assert!(net.run(2, &["subscribe", "--periods", "1"]).ok);

    // The node's heartbeat, sent by our sender from the node's key after the pre-flight.
    assert_eq!(
        c.heartbeat_check(dev(7)).unwrap(),
        HeartbeatCheck::NotActive
    );
    let HeartbeatCheck::Due { slot } = c.heartbeat_check(dev(1)).unwrap() else {
        panic!("a fresh node's heartbeat is due");
    };
    let mut sender = Sender::new(dev_key(1), client.chain_id().unwrap());
    let receipt = sender
        .send(
            &client,
            &TxRequest::call(
                net.contract_address(),
                calls::im_online(&Usage {
                    sessions: 3,
                    bytes_relayed: 4096,
                    members: 2,
                }),
            ),
        )
        .unwrap();
    let beat = receipt
        .logs
        .iter()
        .find_map(|l| Heartbeat::from_log(l).ok())
        .expect("Heartbeat event");
    assert_eq!(beat.node, dev(1));
    assert_eq!(beat.slot, slot);
    assert_eq!(
        beat.usage,
        Usage {
            sessions: 3,
            bytes_relayed: 4096,
            members: 2
        }
    );
    assert_eq!(
        c.heartbeat_check(dev(1)).unwrap(),
        HeartbeatCheck::AlreadySent { slot }
    );

    // A second heartbeat in the same slot would revert: refused before sending, by name.
    let again = sender
        .send(
            &client,
            &TxRequest::call(net.contract_address(), calls::im_online(&Usage::default())),
        )
        .unwrap_err();
    match &again {
        SendError::Rpc(e) => assert!(
            e.revert()
                .is_some_and(|r| r.starts_with("AlreadyOnlineThisSlot(")),
            "{again}"
        ),
        other => panic!("expected a refused estimate, got {other}"),
    }

    let status = net.run(1, &["status", "--json"]).json();
    assert_eq!(status["heartbeats_this_epoch"], 1);
    assert_eq!(status["last_heartbeat_slot"], beat.slot);

    // Nothing is claimable before the epoch is over: an answer (exit 0), not a failure,
    // and nothing is sent.
    let nonce = net.anvil.client().pending_nonce(dev(1)).unwrap();
    let early = net.run(1, &["claim"]);
    assert_eq!(early.code, Some(0), "{}", early.stderr);
    assert!(
        early.stdout.starts_with("nothing to claim: node "),
        "{}",
        early.stdout
    );
    let early = net.run(1, &["claim", "--json"]).json();
    assert_eq!(early["paid"]["base_units"], "0");
    assert!(early["tx"].is_null(), "{early}");
    assert_eq!(net.anvil.client().pending_nonce(dev(1)).unwrap(), nonce);

    // The expected share: the fee streams over the seconds of the access, and this node
    // was the only one online in the heartbeat's epoch (one slot, so no rounding).
    let genesis = c.genesis().unwrap();
    let until = c.member_until(dev(2)).unwrap();
    let start = until - PERIOD;
    assert_eq!(beat.epoch, (start - genesis) / EPOCH);
    let epoch_end = genesis + (beat.epoch + 1) * EPOCH;
    let expected = stream_in_epoch(10_000_000, start, until, epoch_end) / SUBUNITS;

    // Settled one full epoch after it ends: during the epoch after, nothing is claimable.
    net.anvil.warp_to(epoch_end);
    assert_eq!(c.claimable(dev(1)).unwrap(), 0);
    net.anvil.warp_to(epoch_end + EPOCH);
    assert_eq!(c.claimable(dev(1)).unwrap(), expected);
    // Any key may send the claim; the money goes to the payee only.
    let claimed = net.run(3, &["claim", "--node", &node]);
    assert!(claimed.ok, "{}", claimed.stderr);
    let decimal = format!("{}.{:06}", expected / 1_000_000, expected % 1_000_000);
    let decimal = decimal.trim_end_matches('0').trim_end_matches('.');
    assert!(
        claimed.stdout.starts_with(&format!(
            "claimed {decimal} tUSD for 1 epoch of node {node}, paid to {payee} (tx 0x"
        )),
        "{}",
        claimed.stdout
    );
    assert_eq!(net.balance(payee), 1_000_000_000 + expected);
    assert_eq!(net.balance(dev(1)), 1_000_000_000);
    assert_eq!(c.claimable(dev(1)).unwrap(), 0);
}

/// The owner names a monitor; during the epoch after an epoch, the monitor takes the slots
/// of a node that did not serve out of it (through the bindings the monitor uses), and that
/// epoch's share goes back to the payer since no other node served.
#[test]
fn set_monitor_then_withhold_in_the_challenge_window() {
    let net = Net::deploy();
    let node = dev(1).to_string();
    let monitor = dev(6);
    assert!(
        net.run(
            0,
            &[
                "add-node",
                "--node",
                &node,
                "--endpoint",
                "n.example:1",
                "--payee",
                &dev(8).to_string()
            ]
        )
        .ok
    );
    let run = net.run(3, &["set-monitor", "--monitor", &monitor.to_string()]);
    assert!(
        run.stderr.contains("hint: only the contract owner"),
        "{}",
        run.stderr
    );
    let set = net
        .run(
            0,
            &["set-monitor", "--monitor", &monitor.to_string(), "--json"],
        )
        .json();
    assert_eq!(set["monitor"], monitor.to_string());
    let client = net.anvil.client();
    let c = Contract::new(&client, net.contract_address());
    assert_eq!(c.monitor().unwrap(), monitor);

    net.next_epoch();
    assert!(net.run(2, &["subscribe", "--periods", "1"]).ok);
    let mut node_sender = Sender::new(dev_key(1), client.chain_id().unwrap());
    node_sender
        .send(
            &client,
            &TxRequest::call(net.contract_address(), calls::im_online(&Usage::default())),
        )
        .unwrap();
    let epoch = c.current_epoch().unwrap();
    net.next_epoch();
    let mut sender = Sender::new(dev_key(6), client.chain_id().unwrap());
    let evidence = [7u8; 32];
    let r = sender
        .send(
            &client,
            &TxRequest::call(
                net.contract_address(),
                calls::withhold(dev(1), epoch, 2, evidence),
            ),
        )
        .unwrap();
    let w = r
        .logs
        .iter()
        .find_map(|l| Withheld::from_log(l).ok())
        .expect("Withheld event");
    assert_eq!(
        (w.node, w.epoch, w.slots, w.reason, w.evidence),
        (dev(1), epoch, 1, 2, evidence)
    );
    assert_eq!(c.heartbeats_in_epoch(dev(1), epoch).unwrap(), 0);
    // Twice: refused before sending, by name.
    let again = sender
        .send(
            &client,
            &TxRequest::call(
                net.contract_address(),
                calls::withhold(dev(1), epoch, 2, evidence),
            ),
        )
        .unwrap_err();
    assert!(again.to_string().contains("NothingToWithhold("), "{again}");

    net.next_epoch();
    assert_eq!(c.claimable(dev(1)).unwrap(), 0);
    let status = net.run(2, &["status", "--json"]).json();
    assert_ne!(status["refundable"]["base_units"], "0", "{status}");
}

/// Only the payee moves the payee; the owner and the node's own key cannot.
#[test]
fn set_payee_by_the_payee_only() {
    let net = Net::deploy();
    let node = dev(1).to_string();
    let payee = dev(8).to_string();
    let added = net.run(
        0,
        &[
            "add-node",
            "--node",
            &node,
            "--endpoint",
            "n.example:1",
            "--payee",
            &payee,
        ],
    );
    assert!(added.ok, "{}", added.stderr);
    let next = dev(9).to_string();
    for key in [0, 1] {
        let run = net.run(key, &["set-payee", "--node", &node, "--payee", &next]);
        assert_eq!(run.code, Some(1));
        assert!(run.stderr.contains("NotPayee("), "{}", run.stderr);
        assert!(
            run.stderr.contains("hint: only the node's current payee"),
            "{}",
            run.stderr
        );
    }
    let moved = net
        .run(
            8,
            &["set-payee", "--node", &node, "--payee", &next, "--json"],
        )
        .json();
    assert_eq!(moved["payee"], next.as_str());
    assert_eq!(
        net.cast_call(&net.contract, "payeeOf(address)(address)", &[&node]),
        next
    );
    // Added again after a removal, without --payee: it keeps the payee it has.
    assert!(net.run(0, &["remove-node", "--node", &node]).ok);
    let again = net
        .run(
            0,
            &[
                "add-node",
                "--node",
                &node,
                "--endpoint",
                "n.example:2",
                "--json",
            ],
        )
        .json();
    assert_eq!(again["payee"], next.as_str());
}

/// A member who paid while no node was online gets that time back: `status` shows it and
/// `refund` sends it.
#[test]
fn refund_returns_the_epochs_nobody_served() {
    let net = Net::deploy();
    let member = dev(2);
    assert!(net.run(2, &["subscribe", "--periods", "1"]).ok);
    let client = net.anvil.client();
    let c = Contract::new(&client, net.contract_address());
    let until = c.member_until(member).unwrap();
    let nothing = net.run(2, &["refund", "--json"]).json();
    assert_eq!(nothing["refunded"]["base_units"], "0");
    // Both epochs of the access pass with no node at all.
    net.anvil.warp_to(until + 2 * EPOCH);
    let status = net.run(2, &["status", "--json"]).json();
    assert_eq!(status["payments"], 1);
    assert_eq!(status["refundable"]["base_units"], "10000000");
    let text = net.run(2, &["status"]).stdout;
    assert!(
        text.contains("refundable: 10 tUSD from 1 of 1 payment "),
        "{text}"
    );
    let before = net.balance(member);
    // Any key may send it; the money goes to the payer.
    let done = net
        .run(3, &["refund", "--payer", &member.to_string(), "--json"])
        .json();
    assert_eq!(done["refunded"]["base_units"], "10000000");
    assert_eq!(done["refunds"][0]["until"], until);
    assert_eq!(net.balance(member), before + 10_000_000);
    assert_eq!(c.refundable(member, until).unwrap(), 0);
    let again = net.run(2, &["refund"]);
    assert!(again.ok, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing to refund"),
        "{}",
        again.stdout
    );
}

#[test]
fn set_endpoint_and_remove_node() {
    let net = Net::deploy();
    let node = dev(1).to_string();
    assert!(
        net.run(
            0,
            &["add-node", "--node", &node, "--endpoint", "a.example:1"]
        )
        .ok
    );
    let set = net.run(1, &["set-endpoint", "--endpoint", "[::1]:1080"]);
    assert!(set.ok, "{}", set.stderr);
    let info = net.cast_call(
        &net.contract,
        "nodeAt(uint256)(address,string,bool)",
        &["0"],
    );
    assert!(info.contains("[::1]:1080"), "{info}");
    assert!(net.run(0, &["remove-node", "--node", &node]).ok);
    assert_eq!(
        net.cast_call(&net.contract, "isActiveNode(address)(bool)", &[&node]),
        "false"
    );
    let text = net.run(0, &["nodes"]);
    assert!(text.stdout.contains("removed"), "{}", text.stdout);
}

#[test]
fn contract_errors_are_one_line_with_their_name_and_a_fix() {
    let net = Net::deploy();
    let node = dev(1).to_string();
    // Not the owner.
    let run = net.run(
        3,
        &["add-node", "--node", &node, "--endpoint", "n.example:1"],
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("OwnableUnauthorizedAccount"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: only the contract owner"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
    // Twice.
    assert!(
        net.run(
            0,
            &["add-node", "--node", &node, "--endpoint", "n.example:1"]
        )
        .ok
    );
    let run = net.run(
        0,
        &["add-node", "--node", &node, "--endpoint", "n.example:1"],
    );
    assert!(run.stderr.contains("NodeAlreadyActive"), "{}", run.stderr);
    // A non-node setting an endpoint.
    let run = net.run(4, &["set-endpoint", "--endpoint", "x.example:1"]);
    assert!(run.stderr.contains("NodeNotActive"), "{}", run.stderr);
    // Usage errors exit with 2 and say what is missing.
    let run = net.run(0, &["add-node", "--endpoint", "n.example:1"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--node is required"), "{}", run.stderr);
    let run = net.run(0, &["add-node", "--node", &node, "--endpoint", "no-port"]);
    assert_eq!(run.code, Some(2));
    let run = aqueduct(&["status", "--address", &node]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no RPC endpoint"), "{}", run.stderr);
}

#[test]
fn subscribing_without_tokens_says_so_before_sending_anything() {
    let net = Net::deploy();
    let fresh = net.anvil.dir.join("fresh.key");
    let made = aqueduct(&["keygen", "--out", path_str(&fresh), "--json"]).json();
    let address = made["address"].as_str().unwrap().to_string();
    let run = aqueduct(&[
        "subscribe",
        "--periods",
        "3",
        "--rpc",
        &net.anvil.url,
        "--contract",
        &net.contract,
        "--key",
        path_str(&fresh),
    ]);
    assert_eq!(run.code, Some(1));
    let first = run.stderr.lines().next().unwrap_or("");
    assert_eq!(
        first,
        format!("error: {address} holds 0 tUSD; 3 periods cost 30 tUSD")
    );
    assert!(
        run.stderr.contains("hint: fund the paying key"),
        "{}",
        run.stderr
    );
    // Nothing was sent from that key.
    let nonce = net
        .anvil
        .client()
        .pending_nonce(address.parse().unwrap())
        .unwrap();
    assert_eq!(nonce, 0);
}

#[test]
fn every_chain_command_has_help() {
    for cmd in [
        "keygen",
        "deploy",
        "add-node",
        "remove-node",
        "set-endpoint",
        "set-payee",
        "set-monitor",
        "subscribe",
        "token",
        "status",
        "claim",
        "refund",
        "settle",
        "nodes",
    ] {
        let run = aqueduct(&[cmd, "--help"]);
        assert!(run.ok, "{cmd}: {}", run.stderr);
        assert!(
            run.stdout.starts_with(&format!("aqueduct {cmd}")),
            "{cmd}: {}",
            run.stdout
        );
    }
}

#[test]
fn rpc_urls_from_flags_or_environment_fail_over() {
    let net = Net::deploy();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let key = net.anvil.key_file(2);
    let base = [
        "status",
        "--json",
        "--contract",
        &net.contract,
        "--key",
        path_str(&key),
    ];
    let mut flags = base.to_vec();
    flags.extend(["--rpc", &dead, "--rpc", &net.anvil.url]);
    assert_eq!(aqueduct(&flags).json()["address"], dev(2).to_string());
    let env = format!("{dead},{}", net.anvil.url);
    let run = anvil::aqueduct_with_rpc_env(&base, Some(&env));
    assert_eq!(run.json()["chain_id"], 31337);
    // A flag wins over the environment.
    let mut flags = base.to_vec();
    flags.extend(["--rpc", &dead]);
    let run = anvil::aqueduct_with_rpc_env(&flags, Some(&net.anvil.url));
    assert_eq!(run.code, Some(1), "{}", run.stdout);
}

#[test]
fn rpc_down_gives_a_clear_error() {
    let mut net = Net::deploy();
    net.anvil.kill();
    let run = net.run(0, &["status"]);
    assert_eq!(run.code, Some(1));
    let first = run.stderr.lines().next().unwrap_or("");
    assert!(
        first.contains(&format!(
            "cannot reach the RPC endpoint http://127.0.0.1:{}",
            net.anvil.port
        )),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("hint: check that the chain node is running"));
}

#[test]
fn config_file_chain_section_and_keystore_password() {
    let net = Net::deploy();
    // A keystore made by cast, unlocked with a password file named in the config.
    let dir = &net.anvil.dir;
    let pw = dir.join("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();
    cast(&[
        "wallet",
        "import",
        "member",
        "--keystore-dir",
        path_str(dir),
        "--private-key",
        DEV_KEYS[6],
        "--unsafe-password",
        "correct horse",
    ]);
    let config = dir.join("aqueduct.toml");
    std::fs::write(
        &config,
        format!(
            "[chain]\nrpc = [\"{}\"]\nkey = \"{}\"\ncontract = \"{}\"\npassword_file = \"{}\"\n",
            net.anvil.url,
            path_str(&dir.join("member")),
            net.contract,
            path_str(&pw)
        ),
    )
    .unwrap();
    let run = aqueduct(&["status", "--config", path_str(&config), "--json"]);
    assert_eq!(run.json()["address"], dev(6).to_string());
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    let run = aqueduct(&[
        "status",
        "--config",
        path_str(&config),
        "--password-file",
        path_str(&wrong),
    ]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("wrong password"), "{}", run.stderr);
}

#[test]
fn keygen_writes_a_private_key_file_once() {
    let anvil = Anvil::start();
    let out = anvil.dir.join("new.key");
    let run = aqueduct(&["keygen", "--out", path_str(&out), "--json"]).json();
    let address: Address = run["address"].as_str().unwrap().parse().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let key = PrivateKey::from_bytes(&hex::decode_array(text.trim()).unwrap()).unwrap();
    assert_eq!(key.address(), address);
    let again = aqueduct(&["keygen", "--out", path_str(&out)]);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("hint:"), "{}", again.stderr);
}
