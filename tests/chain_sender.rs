//! The transaction sender against anvil: a stuck transaction replaced with higher fees,
//! reverted receipts named, nonce resync, legacy chains, and the RPC dying mid-wait.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::anvil;

use anvil::{dev_key, Anvil};
use aqueduct::contract::calls;
use aqueduct::eth::rpc::{quantity, Client};
use aqueduct::eth::sender::{SendConfig, SendError, Sender, TxRequest};
use aqueduct::eth::{hex, Address};
use serde_json::{json, Value};
use std::time::Duration;

fn transfer(to: Address) -> TxRequest {
    TxRequest {
        to: Some(to),
        value: 1_000,
        ..TxRequest::default()
    }
}

fn fast() -> SendConfig {
    SendConfig {
        mined_timeout: Duration::from_millis(1500),
        poll_interval: Duration::from_millis(100),
        ..SendConfig::default()
    }
}

/// Replaces after 200 ms, twice at most: for tests where nothing will be mined.
fn impatient() -> SendConfig {
    SendConfig {
        mined_timeout: Duration::from_millis(200),
        poll_interval: Duration::from_millis(50),
        max_replacements: 2,
        ..SendConfig::default()
    }
}

fn u128_of(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Every transaction in anvil's pending pool.
fn pool(anvil: &Anvil) -> Vec<Value> {
    let pool = anvil.rpc("txpool_content", json!([]));
    let mut out = Vec::new();
    if let Some(by_sender) = pool["pending"].as_object() {
        for txs in by_sender.values() {
            out.extend(
                txs.as_object()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .cloned(),
            );
        }
    }
    out
}

fn hash_of(tx: &Value) -> String {
    tx["hash"].as_str().unwrap().to_lowercase()
}

#[test]
fn a_stuck_transaction_is_replaced_with_fees_raised_and_only_the_replacement_lands() {
    let anvil = Anvil::start_with(&["--no-mining"]);
    let client = anvil.client();
    let mut sender = Sender::new(dev_key(0), 31337).with_config(fast());
    let to = dev_key(3).address();

    // A miner that waits for the first version to appear in the pool, then for a
    // different hash to replace it, and only then mines a block.
    let url = anvil.url.clone();
    let miner = std::thread::spawn(move || {
        let watcher = Anvil::attach(&url);
        let mut first: Option<Value> = None;
        for _ in 0..600 {
            let txs = pool(&watcher);
            match (&first, txs.first()) {
                (None, Some(tx)) => first = Some(tx.clone()),
                (Some(f), Some(tx)) if hash_of(tx) != hash_of(f) => {
                    watcher.rpc("evm_mine", json!([]));
                    return first;
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    });
    let receipt = sender.send(&client, &transfer(to)).unwrap();
    let orig = miner.join().unwrap().expect("the miner saw a replacement");
    let first = hash_of(&orig);
    let landed = hex::encode_prefixed(&receipt.transaction_hash);
    assert_ne!(
        landed, first,
        "the replacement, not the original, was mined"
    );
    let first_hash: [u8; 32] = hex::decode_array(&first).unwrap();
    assert_eq!(client.receipt(&first_hash).unwrap(), None);

    // Same nonce, both fee fields at least 12.5% higher.
    let repl = anvil.rpc("eth_getTransactionByHash", json!([landed]));
    assert_eq!(orig["nonce"], repl["nonce"]);
    assert_eq!(repl["nonce"], "0x0");
    let repl_max = u128_of(&repl["maxFeePerGas"]);
    let repl_tip = u128_of(&repl["maxPriorityFeePerGas"]);
    assert!(repl_max * 8 >= u128_of(&orig["maxFeePerGas"]) * 9);
    assert!(repl_tip * 8 >= u128_of(&orig["maxPriorityFeePerGas"]) * 9);
    assert_eq!(client.pending_nonce(sender.address()).unwrap(), 1);
}

#[test]
fn explicit_replace_keeps_the_nonce_and_raises_both_fees() {
    let anvil = Anvil::start_with(&["--no-mining"]);
    let client = anvil.client();
    let mut sender = Sender::new(dev_key(0), 31337).with_config(fast());
    let mut pending = sender
        .submit(&client, &transfer(dev_key(4).address()))
        .unwrap();
    let before = pending.tx.clone();
    sender.replace(&client, &mut pending).unwrap();
    assert_eq!(pending.hashes.len(), 2);
    assert_eq!(pending.tx.nonce(), before.nonce());
    let fees = |t: &aqueduct::eth::tx::Transaction| match t {
        aqueduct::eth::tx::Transaction::Eip1559(t) => {
            (t.max_fee_per_gas, t.max_priority_fee_per_gas)
        }
        other => panic!("expected EIP-1559 on anvil, got {other:?}"),
    };
    let (old_max, old_tip) = fees(&before);
    let (new_max, new_tip) = fees(&pending.tx);
    assert!(new_max * 8 >= old_max * 9 && new_tip * 8 >= old_tip * 9);
    // Still nothing mined: polling says so, without error.
    assert!(sender.poll(&client, &pending).unwrap().is_none());
    anvil.rpc("evm_mine", json!([]));
    let receipt = sender.poll(&client, &pending).unwrap().expect("mined");
    assert_eq!(receipt.transaction_hash, pending.hash());
    assert_eq!(client.receipt(&pending.hashes[0]).unwrap(), None);
}

#[test]
fn not_mined_after_every_replacement_is_a_clear_error() {
    let anvil = Anvil::start_with(&["--no-mining"]);
    let client = anvil.client();
    let config = impatient();
    let mut sender = Sender::new(dev_key(0), 31337).with_config(config);
    let err = sender
        .send(&client, &transfer(dev_key(4).address()))
        .unwrap_err();
    match &err {
        SendError::NotMined {
            nonce: 0,
            replacements: 2,
            ..
        } => {}
        other => panic!("expected NotMined, got {other}"),
    }
    assert!(err.to_string().contains("not mined after 2 fee increases"));
}

#[test]
fn a_reverted_receipt_names_the_contract_error() {
    let anvil = Anvil::start();
    let deployed = anvil.deploy_dev(&[]);
    let contract = deployed.contract;
    let client = anvil.client();
    let stranger = dev_key(5);
    let address = stranger.address();
    let mut sender = Sender::new(stranger, 31337);
    // An explicit gas limit skips estimation, so the transaction is mined and reverts.
    let request = TxRequest {
        gas_limit: Some(200_000),
        ..TxRequest::call(
            contract,
            calls::im_online(&aqueduct::contract::Usage::default()),
        )
    };
    let err = sender.send(&client, &request).unwrap_err();
    match &err {
        SendError::Reverted { reason, .. } => {
            assert_eq!(
                reason.as_deref(),
                Some(format!("NodeNotActive({address})").as_str())
            )
        }
        other => panic!("expected a reverted receipt, got {other}"),
    }
    assert!(err.to_string().contains("reverted in block"));
    // The reverted transaction used the nonce; the next send follows on.
    assert!(sender.send(&client, &transfer(address)).is_ok());
    assert_eq!(client.pending_nonce(address).unwrap(), 2);
}

#[test]
fn nonce_too_low_resyncs_from_the_node() {
    let anvil = Anvil::start();
    let client = anvil.client();
    let mut a = Sender::new(dev_key(1), 31337);
    let mut b = Sender::new(dev_key(1), 31337);
    let to = dev_key(2).address();
    a.send(&client, &transfer(to)).unwrap(); // a: nonce 0, now expects 1
    b.send(&client, &transfer(to)).unwrap(); // b asks the node: nonce 1
                                             // a still believes 1 is next: the node says too low, a resyncs to 2.
    a.send(&client, &transfer(to)).unwrap();
    assert_eq!(client.pending_nonce(a.address()).unwrap(), 3);
}

#[test]
fn legacy_transactions_on_a_chain_without_base_fee() {
    let anvil = Anvil::start_with(&["--hardfork", "berlin"]);
    let client = anvil.client();
    assert!(matches!(
        client.fee_data().unwrap(),
        aqueduct::eth::rpc::FeeData::Legacy { .. }
    ));
    let mut sender = Sender::new(dev_key(0), 31337);
    let receipt = sender
        .send(&client, &transfer(dev_key(6).address()))
        .unwrap();
    let tx = anvil.rpc(
        "eth_getTransactionByHash",
        json!([hex::encode_prefixed(&receipt.transaction_hash)]),
    );
    assert_eq!(tx["type"], "0x0");
    assert_eq!(tx["chainId"], quantity(31337));
}

#[test]
fn rpc_dying_while_waiting_for_the_receipt_is_a_clear_error() {
    let mut anvil = Anvil::start_with(&["--no-mining"]);
    let client: Client = anvil.client();
    let mut sender = Sender::new(dev_key(0), 31337).with_config(fast());
    let mut pending = sender
        .submit(&client, &transfer(dev_key(4).address()))
        .unwrap();
    anvil.kill();
    let err = sender.wait(&client, &mut pending).unwrap_err();
    match &err {
        SendError::Unconfirmed { cause, .. } => assert!(cause.is_unreachable()),
        other => panic!("expected Unconfirmed, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("was sent but its receipt could not be read"),
        "{text}"
    );
    assert!(text.contains("cannot reach the RPC endpoint"), "{text}");
}

#[test]
fn a_nonce_taken_by_another_transaction_ends_the_wait() {
    let anvil = Anvil::start_with(&["--no-mining"]);
    let client = anvil.client();
    let config = impatient();
    let mut first = Sender::new(dev_key(0), 31337).with_config(config.clone());
    let mut pending = first
        .submit(&client, &transfer(dev_key(4).address()))
        .unwrap();
    // The pool forgets it; another sender of the same key then uses nonce 0.
    anvil.rpc(
        "anvil_dropTransaction",
        json!([hex::encode_prefixed(&pending.hash())]),
    );
    let mut other = Sender::new(dev_key(0), 31337).with_config(config);
    let mut taken = other
        .submit(&client, &transfer(dev_key(5).address()))
        .unwrap();
    assert_eq!(taken.nonce, pending.nonce);
    anvil.rpc("evm_mine", json!([]));
    assert!(other.wait(&client, &mut taken).is_ok());
    let err = first.wait(&client, &mut pending).unwrap_err();
    assert!(matches!(err, SendError::NotMined { .. }), "{err}");
    assert!(client.receipt(&pending.hashes[0]).unwrap().is_none());
}
