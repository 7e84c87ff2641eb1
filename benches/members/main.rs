//! What the member table costs a node (issue 14): RSS of a chain-mode `aqueduct node`
//! after it has synced N members from `Subscribed` logs on a real anvil, with the logs
//! packed into a few busy blocks or spread thin. `cargo bench --bench members`;
//! `AQUEDUCT_BENCH_MEMBERS=30000,100000` (the default) sets the table sizes.
//!
//! The logs are real logs on a real chain, read by the node's own sync, but they are
//! not paid for: a small contract installed with `anvil_setCode` emits `Subscribed`
//! logs in a loop (10,000 per transaction), so 100,000 members take ten blocks and
//! seconds to make instead of 100,000 payments. The node is pointed at that contract as
//! its Aqueduct contract; nothing else on that path differs from a real deployment
//! (the node reads only the logs, the head and the contract's code; it checks at start
//! that the contract answers Aqueduct's views, so a real Aqueduct's code stands at the
//! emitter's address until the node runs). One member is a
//! real key, and the bench logs in with its credential to check that the table the node
//! built is right.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/anvil.rs"]
mod anvil;
#[path = "../../tests/support/proxy.rs"]
mod proxy;
#[path = "../../tests/support/tools.rs"]
mod tools;

use anvil::{dev_key, Anvil};
use aqueduct::contract::sig;
use aqueduct::credential::{self, NodeScope};
use aqueduct::eth::{abi, hex, Address};
use proxy::{connect, read_socks_replies, socks_handshake_bytes, Echo, Node, SocksTarget};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// Where the log emitter is installed.
const EMITTER: Address = Address([0xe1; 20]);
/// Logs per emitting transaction: 10,000 LOG3s of 96 bytes are about 23 M gas.
const PER_TX: u64 = 10_000;
/// The dev account whose key logs in to check the table.
const CHECKED: usize = 2;
/// Bound on waiting for a sync.
const SYNC_WAIT: Duration = Duration::from_secs(600);

/// Runtime code of the emitter. Calldata: `start` (word 0) and `count` (word 1); it emits
/// `Subscribed(member = start + i, payer = caller, periods 1, amount 5e6, until 4e9)`
/// for i in 0..count.
fn emitter_code() -> Vec<u8> {
    let mut c = Vec::new();
    // mem[0x00] = 1, mem[0x20] = 5_000_000, mem[0x40] = 4_000_000_000: the log's data.
    c.extend([0x60, 0x01, 0x60, 0x00, 0x52]); // PUSH1 1 PUSH1 0 MSTORE
    c.extend([0x62, 0x4c, 0x4b, 0x40, 0x60, 0x20, 0x52]); // PUSH3 5e6 PUSH1 0x20 MSTORE
    c.extend([0x63, 0xee, 0x6b, 0x28, 0x00, 0x60, 0x40, 0x52]); // PUSH4 4e9 PUSH1 0x40 MSTORE
    c.extend([0x60, 0x00, 0x35]); // i = CALLDATALOAD(0)          [i]
    c.extend([0x80, 0x60, 0x20, 0x35, 0x01]); // end = i + CALLDATALOAD(32)  [end, i]
    c.push(0x90); // SWAP1                                         [i, end]
    let top = c.len();
    c.push(0x5b); // top: JUMPDEST
    c.extend([0x81, 0x81, 0x10, 0x15]); // DUP2 DUP2 LT ISZERO        [i >= end, i, end]
    let done_at = c.len() + 1;
    c.extend([0x61, 0, 0, 0x57]); // PUSH2 done JUMPI               [i, end]
    c.extend([0x33, 0x81]); // CALLER DUP2                           [i, caller, i, end]
    c.push(0x7f); // PUSH32 topic0
    c.extend(abi::event_topic(sig::SUBSCRIBED));
    c.extend([0x60, 0x60, 0x60, 0x00, 0xa3]); // LOG3(0, 96, topic0, i, caller)  [i, end]
    c.extend([0x60, 0x01, 0x01]); // i += 1
    c.extend([0x61, 0, top as u8, 0x56]); // PUSH2 top JUMP
    let done = c.len();
    c.extend([0x5b, 0x00]); // done: JUMPDEST STOP
    c[done_at..done_at + 2].copy_from_slice(&(done as u16).to_be_bytes());
    assert!(top < 256);
    c
}

/// Emits `count` members from `start`, `per_block` to a block, and mines them.
fn emit(anvil: &Anvil, start: u128, count: u64, per_block: u64) {
    let mut done = 0;
    while done < count {
        let n = per_block.min(PER_TX).min(count - done);
        let mut data = vec![0u8; 64];
        data[16..32].copy_from_slice(&(start + u128::from(done)).to_be_bytes());
        data[56..64].copy_from_slice(&n.to_be_bytes());
        send_to_emitter(anvil, &data, 30_000 + 2_400 * n);
        done += n;
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Row {
    members: u64,
    layout: &'static str,
    sync: Duration,
    rss_kb: u64,
    peak_kb: u64,
    state_bytes: u64,
}

/// One fresh chain, `members` members laid out `per_block` to a block, one node.
fn run(members: u64, per_block: u64, layout: &'static str) -> Row {
    let anvil = Anvil::start_with(&["--gas-limit", "1000000000"]);
    // The node checks at start that its contract answers Aqueduct's views: a real
    // Aqueduct's code stands at the emitter's address until the node runs.
    let real = anvil.deploy_dev(&[]).contract;
    let code = anvil.rpc("eth_getCode", json!([real.to_lower_hex(), "latest"]));
    anvil.rpc("anvil_setCode", json!([EMITTER.to_lower_hex(), code]));
    let state = anvil.dir.join("state.json");
    let toml = format!(
        "[auth]\nmode = \"chain\"\n[policy]\nallow_private = true\n[heartbeat]\nenabled = false\n\
         [chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\nkey = \"{}\"\nstate_file = \"{}\"\npoll_secs = 1\nreorg_depth = 2\n",
        anvil.url,
        EMITTER,
        anvil.key_file(1).display(),
        state.display()
    );
    let node = Node::start(&toml);
    anvil.rpc(
        "anvil_setCode",
        json!([
            EMITTER.to_lower_hex(),
            hex::encode_prefixed(&emitter_code())
        ]),
    );
    // Each emitting transaction gets a block of its own: with automine, transactions that
    // arrive while a busy block is being mined share the next one, and the layout (and
    // the largest one-block answer) would depend on timing.
    anvil.rpc("evm_setAutomine", json!([false]));
    // The one real key, then the crowd (member addresses 2^156 + i).
    emit_address(&anvil, dev_key(CHECKED).address());
    emit(&anvil, 1u128 << 124, members.saturating_sub(1), per_block);
    // Past the reorg window, so all of it is folded into the saved table.
    anvil.rpc("anvil_mine", json!(["0x20"]));

    let started = Instant::now();
    let needle = format!("chain: {members} members known");
    while !node.log().contains(&needle) {
        assert!(
            started.elapsed() < SYNC_WAIT,
            "never synced {members} members:\n{}",
            tail(&node.log())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sync = started.elapsed();
    // Settled: a few more polls, then read.
    std::thread::sleep(Duration::from_secs(3));
    let pid = node.pid();
    let rss_kb = status_kb(pid, "VmRSS:");
    let peak_kb = status_kb(pid, "VmHWM:");

    // The table is right: the real key logs in.
    let echo = Echo::start();
    let (u, p) = credential::sign(
        &dev_key(CHECKED),
        31337,
        EMITTER,
        NodeScope::Any,
        aqueduct::clock::unix_now() + 600,
    );
    let mut s = connect(node.addr());
    s.write_all(&socks_handshake_bytes(
        &u,
        &p,
        &SocksTarget::Addr(echo.addr),
    ))
    .unwrap();
    assert_eq!(read_socks_replies(&mut s).unwrap().0, 0, "member served");
    let state_bytes = std::fs::metadata(&state).map_or(0, |m| m.len());
    Row {
        members,
        layout,
        sync,
        rss_kb,
        peak_kb,
        state_bytes,
    }
}

/// Emits one member with exactly this address (`start` = the address, `count` = 1).
fn emit_address(anvil: &Anvil, address: Address) {
    let mut data = vec![0u8; 64];
    data[12..32].copy_from_slice(&address.0);
    data[63] = 1;
    send_to_emitter(anvil, &data, 100_000);
}

/// One transaction from the first dev account to the emitter, mined in a block of its own.
fn send_to_emitter(anvil: &Anvil, data: &[u8], gas: u64) {
    anvil.rpc(
        "eth_sendTransaction",
        json!([{
            "from": dev_key(0).address().to_lower_hex(),
            "to": EMITTER.to_lower_hex(),
            "data": hex::encode_prefixed(data),
            "gas": format!("0x{gas:x}"),
        }]),
    );
    anvil.rpc("anvil_mine", json!(["0x1"]));
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches`: nothing to list
    }
    let sizes: Vec<u64> = std::env::var("AQUEDUCT_BENCH_MEMBERS")
        .unwrap_or_else(|_| "30000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let idle = run(1, 1, "one member");
    let mut rows = vec![idle];
    for &n in &sizes {
        rows.push(run(n, PER_TX, "10,000 per block"));
        rows.push(run(n, 500, "500 per block"));
    }
    let base = rows[0].rss_kb;
    println!("\nmember table: chain-mode node RSS after syncing Subscribed logs from anvil\n");
    println!(
        "| members | logs | sync | RSS | peak RSS | RSS above one member, per member | state file |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        let per = if r.members > 1 {
            format!(
                "{:.0} B",
                (r.rss_kb.saturating_sub(base) * 1024) as f64 / r.members as f64
            )
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {:.1} s | {:.1} MB | {:.1} MB | {} | {:.1} MB |",
            r.members,
            r.layout,
            r.sync.as_secs_f64(),
            r.rss_kb as f64 / 1024.0,
            r.peak_kb as f64 / 1024.0,
            per,
            r.state_bytes as f64 / 1e6
        );
    }
}
