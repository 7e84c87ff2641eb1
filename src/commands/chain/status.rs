//! `status` (one address seen as member and as node) and `claim` (a node pulls its
//! earnings).

use super::units::{format_amount, utc};
use super::{contract_failure, output, parse_address, rpc_failure, send, tx_hash, Ctx};
use crate::cli::{Args, CmdResult, Failure};
use crate::contract::{calls, sig, Contract};
use crate::eth::abi::{self, Kind};
use crate::eth::rpc::BlockId;
use crate::eth::sender::TxRequest;

pub fn status(ctx: Ctx, mut args: Args) -> CmdResult {
    let address = args
        .value("address")?
        .map(|s| parse_address("address", &s))
        .transpose()?;
    args.finish()?;
    let address = match address {
        Some(a) => a,
        None if ctx.has_key() => ctx.key()?.address(),
        None => {
            return Err(Failure::usage("status needs --address ADDR or --key FILE"));
        }
    };
    let client = ctx.client()?;
    let chain_id = client.chain_id().map_err(rpc_failure)?;
    let block = client
        .block(BlockId::Latest)
        .map_err(rpc_failure)?
        .ok_or_else(|| Failure::new("the RPC endpoint has no latest block"))?;
    let eth = client.balance(address).map_err(rpc_failure)?;
    let aqueduct = Contract::new(&client, ctx.contract()?);
    let token = Contract::new(&client, aqueduct.token().map_err(contract_failure)?);
    let decimals = token.decimals().map_err(contract_failure)?;
    let symbol = token.symbol().unwrap_or_default();
    let tokens = token.balance_of(address).map_err(contract_failure)?;
    let until = aqueduct.member_until(address).map_err(contract_failure)?;
    let member = aqueduct.is_member(address).map_err(contract_failure)?;
    let epoch = aqueduct.current_epoch().map_err(contract_failure)?;
    let slot = aqueduct.current_slot().map_err(contract_failure)?;
    let registry = aqueduct.nodes().map_err(contract_failure)?;
    let entry = registry.iter().find(|n| n.node == address);
    let last = aqueduct
        .last_heartbeat_slot(address)
        .map_err(contract_failure)?;
    let beats = aqueduct
        .heartbeats_in_epoch(address, epoch)
        .map_err(contract_failure)?;
    let claimable = aqueduct.claimable(address).map_err(contract_failure)?;

    let mut text = format!(
        "address: {address}\nchain: {chain_id}, block {} at {}\nbalance: {} ETH, {} {symbol}\n",
        block.number,
        utc(block.timestamp),
        format_amount(eth, 18),
        format_amount(tokens, decimals),
    );
    text.push_str(&match (member, until) {
        (true, u) => format!("member: yes, until {} ({u})\n", utc(u)),
        (false, 0) => "member: no (never subscribed)\n".to_string(),
        (false, u) => format!("member: no, expired {} ({u})\n", utc(u)),
    });
    text.push_str(&match entry {
        None => "node: not registered\n".to_string(),
        Some(n) => format!(
            "node: {} at {}\n",
            if n.active { "active" } else { "removed" },
            n.endpoint
        ),
    });
    let last_text = if last == 0 {
        "never".to_string()
    } else {
        format!("slot {}", last - 1)
    };
    text.push_str(&format!(
        "epoch {epoch}, slot {slot}; last heartbeat: {last_text}; heartbeats this epoch: {beats}\nclaimable: {} {symbol}\n",
        format_amount(claimable, decimals)
    ));
    output(
        &ctx,
        serde_json::json!({
            "address": address.to_string(),
            "chain_id": chain_id,
            "block": block.number,
            "block_time": block.timestamp,
            "eth_balance": eth.to_string(),
            "token_balance": tokens.to_string(),
            "member": member,
            "member_until": until,
            "node_registered": entry.is_some(),
            "node_active": entry.is_some_and(|n| n.active),
            "endpoint": entry.map(|n| n.endpoint.clone()),
            "epoch": epoch,
            "slot": slot,
            "last_heartbeat_slot": last.checked_sub(1),
            "heartbeats_this_epoch": beats,
            "claimable": claimable.to_string(),
        }),
        &text,
    );
    Ok(())
}

pub fn claim(ctx: Ctx, mut args: Args) -> CmdResult {
    let max_epochs: u64 = match args.value("max-epochs")? {
        None => 256,
        Some(s) => s
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Failure::usage("--max-epochs must be a whole number above zero"))?,
    };
    args.finish()?;
    let address = ctx.contract()?;
    let client = ctx.client()?;
    let mut sender = ctx.sender(&client, ctx.key()?)?;
    let aqueduct = Contract::new(&client, address);
    let token = Contract::new(&client, aqueduct.token().map_err(contract_failure)?);
    let decimals = token.decimals().map_err(contract_failure)?;
    let r = send(
        &mut sender,
        &client,
        "claim",
        TxRequest::call(address, calls::claim(max_epochs)),
    )?;
    // The amount paid, from this transaction's Claimed event.
    let claimed_topic = abi::event_topic(sig::CLAIMED);
    let (paid, epochs) = r
        .logs
        .iter()
        .filter(|l| l.address == address && l.topics.first() == Some(&claimed_topic))
        .find_map(|l| {
            let v = abi::decode_log(
                &[
                    (Kind::Address, true),
                    (Kind::Uint(256), false),
                    (Kind::Uint(64), false),
                ],
                l.topics.get(1..)?,
                &l.data,
            )
            .ok()?;
            Some((v.get(1)?.as_uint()?, v.get(2)?.as_uint()?))
        })
        .ok_or_else(|| Failure::new("the claim receipt has no Claimed event"))?;
    output(
        &ctx,
        serde_json::json!({"node": sender.address().to_string(), "paid": paid.to_string(), "epochs": epochs, "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "claimed {} for {epochs} epoch(s) (tx {})\n",
            format_amount(paid, decimals),
            tx_hash(&r)
        ),
    );
    Ok(())
}
