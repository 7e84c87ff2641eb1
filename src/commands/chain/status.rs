//! `status` (one address seen as member and as node, and what a running node says about
//! itself on its metrics endpoint) and `claim` (a node pulls its earnings).

use super::units::{plural, whole_number, Token};
use super::{
    contract_failure, fee_token, output, parse_address, rpc_failure, send, tx_hash, unless_behind,
    Ctx,
};
use crate::args::{Args, CmdResult, Failure};
use crate::clock::utc;
use crate::config::metrics::RawMetrics;
use crate::contract::{calls, sig, Contract, Subscribed};
use crate::eth::abi::{self, Kind};
use crate::eth::rpc::BlockId;
use crate::eth::sender::TxRequest;
use crate::node::usage::{metrics_url, scrape};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

pub fn status(ctx: Ctx, mut args: Args) -> CmdResult {
    let address = args
        .value("address")?
        .map(|s| parse_address("address", &s))
        .transpose()?;
    let metrics_url = match args.value("metrics")? {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Some(url),
        Some(url) => {
            return Err(
                Failure::usage(format!("--metrics `{url}` is not an http(s) URL"))
                    .hint("e.g. --metrics http://127.0.0.1:9464/metrics"),
            )
        }
        None => match &ctx.config {
            Some(path) => metrics_url_from_config(path)?,
            None => None,
        },
    };
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
    let aqueduct = Contract::new(&client, ctx.deployed_contract(&client)?);
    let (token, units) = fee_token(&aqueduct)?;
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
    let claimable = unless_behind(aqueduct.claimable(address))?;
    let payee = aqueduct.payee_of(address).map_err(contract_failure)?;
    let earns_from = aqueduct.earns_from(address).map_err(contract_failure)?;
    let latest = client.block_number().map_err(rpc_failure)?;
    let payments = aqueduct
        .paid_by(address, ctx.deploy_block, latest)
        .map_err(contract_failure)?;
    let refundable = refundable_payments(&aqueduct, &payments)?;
    let genesis = aqueduct.genesis().map_err(contract_failure)?;
    let epoch_length = aqueduct.epoch_length().map_err(contract_failure)?;
    let slot_length = aqueduct.slot_length().map_err(contract_failure)?.max(1);
    let slots_per_epoch = epoch_length / slot_length;
    // Slots of the current epoch that have begun, this one included.
    let epoch_first_slot = epoch.saturating_mul(epoch_length) / slot_length;
    let slots_so_far = slot.saturating_sub(epoch_first_slot).saturating_add(1);
    let running = metrics_url.as_deref().map(scrape);
    let now = block.timestamp;
    // Role-aware: a member sees its membership, a node its node lines, an address that
    // is both sees both, and one that is neither is told so.
    let is_member_role = until > 0 || !payments.is_empty();
    let is_node_role = entry.is_some() || metrics_url.is_some();
    let eth_units = Token::eth();

    let mut text = format!(
        "address: {address}\nchain: {chain_id}, block {} at {}\nbalance: {}, {}\n",
        block.number,
        utc(block.timestamp),
        eth_units.text(eth),
        units.text(tokens),
    );
    if !is_member_role && !is_node_role {
        text.push_str(
            "member: no (never subscribed; `aqueduct subscribe`)\nnode: not registered\n",
        );
    }
    if is_member_role {
        text.push_str(&match member {
            true => format!(
                "member: yes, {} left, until {} ({until})\n",
                time_left(until.saturating_sub(now)),
                utc(until)
            ),
            false => format!("member: no, expired {} ({until})\n", utc(until)),
        });
        text.push_str(&match &refundable {
            Some(list) if !payments.is_empty() => {
                let total: u128 = list.iter().map(|(_, amount)| amount).sum();
                format!(
                    "refundable: {} from {} of {} (epochs nobody served; `aqueduct refund`)\n",
                    units.text(total),
                    list.len(),
                    plural(payments.len() as u64, "payment")
                )
            }
            Some(_) => String::new(),
            None => {
                "refundable: not known yet, too many epochs unsettled (run `aqueduct settle`)\n"
                    .to_string()
            }
        });
    }
    if is_node_role {
        text.push_str(&match entry {
            None => "node: not registered\n".to_string(),
            Some(n) => format!(
                "node: {} at {}, paid to {payee}{}\n",
                if n.active { "active" } else { "removed" },
                n.endpoint,
                if n.active && epoch < earns_from {
                    format!(", earning from epoch {earns_from}")
                } else {
                    String::new()
                }
            ),
        });
    }
    if entry.is_some() {
        let last_text = match last.checked_sub(1) {
            None => "never".to_string(),
            Some(s) => format!(
                "slot {s} (begun {})",
                utc(genesis.saturating_add(s.saturating_mul(slot_length)))
            ),
        };
        text.push_str(&format!(
            "epoch {epoch}, slot {slot}; last heartbeat: {last_text}\nheartbeats this epoch: {beats} of {} so far ({slots_per_epoch} per epoch)\n{}\n",
            plural(slots_so_far, "slot"),
            match claimable {
                Some(c) => format!("claimable: {}", units.text(c)),
                None => "claimable: not known yet, too many epochs unsettled (run `aqueduct settle`)"
                    .to_string(),
            }
        ));
    }
    if is_node_role {
        text.push_str(&running_text(metrics_url.as_deref(), running.as_ref()));
    }
    let mut roles = Vec::new();
    if is_member_role {
        roles.push("member");
    }
    if entry.is_some() {
        roles.push("node");
    }
    output(
        &ctx,
        serde_json::json!({
            "address": address.to_string(),
            "roles": roles,
            "chain_id": chain_id,
            "block": block.number,
            "block_time": block.timestamp,
            "eth_balance": eth_units.json(eth),
            "token_balance": units.json(tokens),
            "member": member,
            "member_until": until,
            "member_seconds_left": until.saturating_sub(now),
            "node_registered": entry.is_some(),
            "node_active": entry.is_some_and(|n| n.active),
            "endpoint": entry.map(|n| n.endpoint.clone()),
            "payee": entry.map(|_| payee.to_string()),
            "earns_from_epoch": entry.map(|_| earns_from),
            "epoch": epoch,
            "slot": slot,
            "last_heartbeat_slot": last.checked_sub(1),
            "heartbeats_this_epoch": beats,
            "slots_this_epoch": slots_so_far,
            "slots_per_epoch": slots_per_epoch,
            "claimable": claimable.map(|c| units.json(c)),
            "payments": payments.len(),
            "refundable": refundable.as_ref().map(|l| units.json(l.iter().map(|(_, a)| a).sum::<u128>())),
            "refundable_payments": refundable.as_ref().map(|l| l.iter().map(|(p, a)| serde_json::json!({
                "member": p.member.to_string(),
                "until": p.until,
                "amount": units.json(*a),
            })).collect::<Vec<_>>()),
            "running": running_json(metrics_url.as_deref(), running.as_ref()),
        }),
        &text,
    );
    Ok(())
}

// -------------------------------------------------------------------------------------
// A running node, through its metrics endpoint
// -------------------------------------------------------------------------------------

/// `29d 23h`, `3h 20m`, `45m`, `30s`: how long a membership still runs.
fn time_left(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// What a running node's `/metrics` said, or why it could not be asked.
type Scraped = Result<HashMap<String, f64>, String>;

/// `http://ADDR/metrics` from `[metrics] listen` in the node's config, if set.
fn metrics_url_from_config(path: &Path) -> Result<Option<String>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Failure::new(format!("config {}: {}", path.display(), e.message())))?;
    // `[metrics]` read by the node's own rules (listen: a string or a list of one).
    let Some(section) = table.get("metrics").cloned() else {
        return Ok(None);
    };
    let bad = |e: String| Failure::new(format!("config {}: {e}", path.display()));
    let raw = RawMetrics::deserialize(section).map_err(|e| bad(e.message().to_string()))?;
    let Some(addr) = raw.validate().map_err(|e| bad(e.to_string()))? else {
        return Ok(None);
    };
    if addr.port() == 0 {
        return Err(Failure::usage(
            "the config's metrics.listen has port 0, so its port is only known to the node",
        )
        .hint("pass --metrics http://IP:PORT/metrics with the port the node logged"));
    }
    Ok(Some(metrics_url(addr)))
}

fn sample(m: &HashMap<String, f64>, series: &str) -> Option<u64> {
    m.get(series).map(|&v| v as u64)
}

fn running_text(url: Option<&str>, running: Option<&Scraped>) -> String {
    let (Some(url), Some(running)) = (url, running) else {
        return "running node: not checked (pass --metrics URL, or --config FILE with [metrics] listen)\n"
            .to_string();
    };
    let m = match running {
        Err(e) => return format!("running node: none answering at {url} ({e})\n"),
        Ok(m) => m,
    };
    let mut text = format!("running node: yes ({url})\n");
    if let Some(open) = sample(m, "aqueduct_sessions_open") {
        text.push_str(&format!("  sessions open: {open}\n"));
    }
    match sample(m, "aqueduct_members_known") {
        Some(members) => text.push_str(&format!("  members known: {members}\n")),
        None => text.push_str("  chain side: not running (static or no-auth node)\n"),
    }
    if let Some(last) = sample(m, "aqueduct_last_heartbeat_timestamp_seconds") {
        let when = if last == 0 {
            "none since start".to_string()
        } else {
            utc(last)
        };
        text.push_str(&format!(
            "  last heartbeat sent: {when} (node's clock); since start: {} sent, {} failed, {} skipped\n",
            sample(m, "aqueduct_heartbeats_total{result=\"sent\"}").unwrap_or(0),
            sample(m, "aqueduct_heartbeats_total{result=\"failed\"}").unwrap_or(0),
            sample(m, "aqueduct_heartbeats_total{result=\"skipped\"}").unwrap_or(0),
        ));
    }
    if let (Some(used), Some(limit)) = (
        sample(m, "aqueduct_allowance_used_bytes"),
        sample(m, "aqueduct_allowance_bytes"),
    ) {
        let resets = sample(m, "aqueduct_allowance_resets_at_seconds").map_or("?".into(), utc);
        let state = if used >= limit {
            "used up: new sessions refused, heartbeats paused"
        } else {
            "serving"
        };
        text.push_str(&format!(
            "  monthly allowance: {:.2} of {:.2} GB used ({:.1}%), {state}; resets {resets}\n",
            used as f64 / 1e9,
            limit as f64 / 1e9,
            used as f64 * 100.0 / limit.max(1) as f64
        ));
    }
    if let Some(errors) = sample(m, "aqueduct_rpc_errors_total").filter(|&n| n > 0) {
        text.push_str(&format!("  RPC errors since start: {errors}\n"));
    }
    text
}

fn running_json(url: Option<&str>, running: Option<&Scraped>) -> serde_json::Value {
    match (url, running) {
        (Some(url), Some(Ok(m))) => serde_json::json!({
            "url": url,
            "running": true,
            "sessions_open": sample(m, "aqueduct_sessions_open"),
            "members_known": sample(m, "aqueduct_members_known"),
            "last_heartbeat_unix": sample(m, "aqueduct_last_heartbeat_timestamp_seconds"),
            "heartbeats_sent": sample(m, "aqueduct_heartbeats_total{result=\"sent\"}"),
            "heartbeats_failed": sample(m, "aqueduct_heartbeats_total{result=\"failed\"}"),
            "heartbeats_skipped": sample(m, "aqueduct_heartbeats_total{result=\"skipped\"}"),
            "rpc_errors": sample(m, "aqueduct_rpc_errors_total"),
            "allowance_used_bytes": sample(m, "aqueduct_allowance_used_bytes"),
            "allowance_bytes": sample(m, "aqueduct_allowance_bytes"),
            "allowance_resets_unix": sample(m, "aqueduct_allowance_resets_at_seconds"),
        }),
        (Some(url), Some(Err(e))) => {
            serde_json::json!({"url": url, "running": false, "error": e})
        }
        _ => serde_json::Value::Null,
    }
}

/// Each of `payments` that is owed something back now, with the amount.
pub(crate) fn refundable_payments(
    aqueduct: &Contract<'_>,
    payments: &[Subscribed],
) -> Result<Option<Vec<(Subscribed, u128)>>, Failure> {
    let mut owed = Vec::new();
    for p in payments {
        match unless_behind(aqueduct.refundable(p.member, p.until))? {
            None => return Ok(None),
            Some(0) => {}
            Some(amount) => owed.push((p.clone(), amount)),
        }
    }
    Ok(Some(owed))
}

fn max_epochs(args: &mut Args, default: u64) -> Result<u64, Failure> {
    match args.value("max-epochs")? {
        None => Ok(default),
        Some(s) => whole_number("max-epochs", &s),
    }
}

pub fn claim(ctx: Ctx, mut args: Args) -> CmdResult {
    let node = args
        .value("node")?
        .map(|s| parse_address("node", &s))
        .transpose()?;
    let max_epochs = max_epochs(&mut args, 256)?;
    args.finish()?;
    let key = ctx.key()?;
    let client = ctx.client()?;
    let address = ctx.deployed_contract(&client)?;
    let mut sender = ctx.sender(&client, key)?;
    let node = node.unwrap_or(sender.address());
    let aqueduct = Contract::new(&client, address);
    let (_, units) = fee_token(&aqueduct)?;
    // Nothing due is an answer, not a failure: scripts run claim on a timer. When the
    // view cannot tell (settlement far behind), the claim itself settles and says.
    if unless_behind(aqueduct.claimable(node))? == Some(0) {
        output(
            &ctx,
            serde_json::json!({"node": node.to_string(), "paid": units.json(0), "epochs": 0, "tx": null}),
            &format!(
                "nothing to claim: node {node} has no settled epoch left unpaid (an epoch settles one full epoch after it ends)\n"
            ),
        );
        return Ok(());
    }
    let r = send(
        &mut sender,
        &client,
        "claim",
        TxRequest::call(address, calls::claim(node, max_epochs)),
    )?;
    // The amount paid and to whom, from this transaction's Claimed event.
    let claimed_topic = abi::event_topic(sig::CLAIMED);
    let (payee, paid, epochs) = r
        .logs
        .iter()
        .filter(|l| l.address == address && l.topics.first() == Some(&claimed_topic))
        .find_map(|l| {
            let v = abi::decode_log(
                &[
                    (Kind::Address, true),
                    (Kind::Address, true),
                    (Kind::Uint(256), false),
                    (Kind::Uint(64), false),
                ],
                l.topics.get(1..)?,
                &l.data,
            )
            .ok()?;
            Some((
                v.get(1)?.as_address()?,
                v.get(2)?.as_uint()?,
                v.get(3)?.as_uint()?,
            ))
        })
        .ok_or_else(|| Failure::new("the claim receipt has no Claimed event"))?;
    let text = if paid == 0 && epochs == 0 {
        format!(
            "settled more epochs, none of node {node}'s yet: run claim again (tx {})\n",
            tx_hash(&r)
        )
    } else {
        format!(
            "claimed {} for {} of node {node}, paid to {payee} (tx {})\n",
            units.text(paid),
            plural(epochs, "epoch"),
            tx_hash(&r)
        )
    };
    output(
        &ctx,
        serde_json::json!({"node": node.to_string(), "payee": payee.to_string(), "paid": units.json(paid), "epochs": epochs, "tx": tx_hash(&r), "block": r.block_number}),
        &text,
    );
    Ok(())
}

pub fn settle(ctx: Ctx, mut args: Args) -> CmdResult {
    let max_epochs = max_epochs(&mut args, 1000)?;
    args.finish()?;
    let client = ctx.client()?;
    let address = ctx.deployed_contract(&client)?;
    let aqueduct = Contract::new(&client, address);
    let before = aqueduct.settled_epoch().map_err(contract_failure)?;
    let mut sender = ctx.sender(&client, ctx.key()?)?;
    let r = send(
        &mut sender,
        &client,
        "settle",
        TxRequest::call(address, calls::settle(max_epochs)),
    )?;
    let after = aqueduct.settled_epoch().map_err(contract_failure)?;
    output(
        &ctx,
        serde_json::json!({"settled": after.saturating_sub(before), "settled_epoch": after, "tx": tx_hash(&r), "block": r.block_number}),
        &format!(
            "settled {}; every epoch below {after} is settled (tx {})\n",
            plural(after.saturating_sub(before), "epoch"),
            tx_hash(&r)
        ),
    );
    Ok(())
}
