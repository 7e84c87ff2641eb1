//! The node registry: `add-node` and `remove-node` (owner), `set-endpoint` (the node
//! itself), `set-payee` (the node's payee), and `nodes` to list it.

use super::units::check_endpoint;
use super::{contract_failure, output, parse_address, send, tx_hash, Ctx};
use crate::args::{Args, CmdResult, Failure};
use crate::contract::{calls, Contract};
use crate::eth::rpc::{Client, Receipt};
use crate::eth::sender::TxRequest;
use crate::eth::Address;

/// Sends `data` to the (checked) contract from the command's key; returns the key's
/// address and the receipt.
fn send_to_contract(
    ctx: &Ctx,
    client: &Client,
    what: &str,
    data: Vec<u8>,
) -> Result<(Address, Receipt), Failure> {
    let contract = ctx.deployed_contract(client)?;
    let mut sender = ctx.sender(client, ctx.key()?)?;
    let r = send(&mut sender, client, what, TxRequest::call(contract, data))?;
    Ok((sender.address(), r))
}

pub fn add_node(ctx: Ctx, mut args: Args) -> CmdResult {
    let node = parse_address("node", &args.required("node")?)?;
    let endpoint = args.required("endpoint")?;
    let payee = args
        .value("payee")?
        .map(|s| parse_address("payee", &s))
        .transpose()?;
    args.finish()?;
    check_endpoint(&endpoint)?;
    let client = ctx.client()?;
    let contract = Contract::new(&client, ctx.deployed_contract(&client)?);
    // A node added again keeps its payee: only the payee itself can change it.
    let current = contract.payee_of(node).map_err(contract_failure)?;
    let payee = match (payee, current) {
        (Some(p), _) => p,
        (None, c) if c != Address::default() => c,
        (None, _) => {
            eprintln!(
                "warning: no --payee: the node's earnings go to its own key {node}; give the operator's cold wallet with --payee ADDR"
            );
            node
        }
    };
    let (_, r) = send_to_contract(
        &ctx,
        &client,
        "add-node",
        calls::add_node(node, &endpoint, payee),
    )?;
    let epoch = contract.earns_from(node).map_err(contract_failure)?;
    output(
        &ctx,
        serde_json::json!({"node": node.to_string(), "endpoint": endpoint, "payee": payee.to_string(), "earns_from_epoch": epoch, "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "added node {node} at {endpoint}, paid to {payee}, earning from epoch {epoch} (tx {}, block {})\n",
            tx_hash(&r),
            r.block_number
        ),
    );
    Ok(())
}

pub fn set_monitor(ctx: Ctx, mut args: Args) -> CmdResult {
    let monitor = parse_address("monitor", &args.required("monitor")?)?;
    args.finish()?;
    let client = ctx.client()?;
    let (_, r) = send_to_contract(&ctx, &client, "set-monitor", calls::set_monitor(monitor))?;
    output(
        &ctx,
        serde_json::json!({"monitor": monitor.to_string(), "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "the monitor is now {monitor}: it may withhold a node's slots of the epoch just ended (tx {}, block {})\n",
            tx_hash(&r),
            r.block_number
        ),
    );
    Ok(())
}

pub fn set_payee(ctx: Ctx, mut args: Args) -> CmdResult {
    let node = parse_address("node", &args.required("node")?)?;
    let payee = parse_address("payee", &args.required("payee")?)?;
    args.finish()?;
    let client = ctx.client()?;
    let (from, r) = send_to_contract(&ctx, &client, "set-payee", calls::set_payee(node, payee))?;
    output(
        &ctx,
        serde_json::json!({"node": node.to_string(), "payee": payee.to_string(), "previous": from.to_string(), "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "node {node} is now paid to {payee} (was {from}; tx {}, block {})\n",
            tx_hash(&r),
            r.block_number
        ),
    );
    Ok(())
}

pub fn remove_node(ctx: Ctx, mut args: Args) -> CmdResult {
    let node = parse_address("node", &args.required("node")?)?;
    args.finish()?;
    let client = ctx.client()?;
    let (_, r) = send_to_contract(&ctx, &client, "remove-node", calls::remove_node(node))?;
    output(
        &ctx,
        serde_json::json!({"node": node.to_string(), "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "removed node {node} (tx {}, block {})\n",
            tx_hash(&r),
            r.block_number
        ),
    );
    Ok(())
}

pub fn set_endpoint(ctx: Ctx, mut args: Args) -> CmdResult {
    let endpoint = args.required("endpoint")?;
    args.finish()?;
    check_endpoint(&endpoint)?;
    let client = ctx.client()?;
    let (node, r) = send_to_contract(
        &ctx,
        &client,
        "set-endpoint",
        calls::set_endpoint(&endpoint),
    )?;
    output(
        &ctx,
        serde_json::json!({"node": node.to_string(), "endpoint": endpoint, "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "node {node} now at {endpoint} (tx {}, block {})\n",
            tx_hash(&r),
            r.block_number
        ),
    );
    Ok(())
}

pub fn nodes(ctx: Ctx, args: Args) -> CmdResult {
    args.finish()?;
    let client = ctx.client()?;
    let contract = Contract::new(&client, ctx.deployed_contract(&client)?);
    let list = contract.nodes().map_err(contract_failure)?;
    let mut text = String::new();
    if list.is_empty() {
        text.push_str("no nodes registered (the owner adds them with `aqueduct add-node`)\n");
    }
    for n in &list {
        text.push_str(&format!(
            "{}  {}  {}\n",
            n.node,
            if n.active { "active " } else { "removed" },
            n.endpoint
        ));
    }
    let json: Vec<_> = list
        .iter()
        .map(|n| serde_json::json!({"node": n.node.to_string(), "endpoint": n.endpoint, "active": n.active}))
        .collect();
    output(&ctx, serde_json::json!({ "nodes": json }), &text);
    Ok(())
}
