//! The node registry: `add-node` and `remove-node` (owner), `set-endpoint` (the node
//! itself), `set-payee` (the node's payee), and `nodes` to list it.

use super::units::check_endpoint;
use super::{contract_failure, output, parse_address, send, tx_hash, Ctx};
use crate::args::{Args, CmdResult, Failure};
use crate::config::tls::load_tls_section;
use crate::contract::{calls, Contract};
use crate::endpoint::{Endpoint, TlsEndpoint};
use crate::eth::rpc::{Client, Receipt};
use crate::eth::sender::TxRequest;
use crate::eth::Address;
use crate::host_port::HostPort;
use crate::tls::cert::load_existing;
use crate::tls::Pin;

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
    let endpoint = check_endpoint(&endpoint)?.to_string();
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
    let plain = args.value("endpoint")?;
    let tls = args.value("tls")?;
    let pin = args.value("pin")?;
    args.finish()?;
    let endpoint = match (plain, tls) {
        (None, None) => {
            return Err(Failure::usage(
                "give --endpoint HOST:PORT, --tls HOST:PORT or both",
            ))
        }
        (Some(plain), None) => {
            if pin.is_some() {
                return Err(Failure::usage("--pin goes with --tls"));
            }
            check_endpoint(&plain)?.to_string()
        }
        (plain, Some(tls)) => with_tls(&ctx, plain, &tls, pin)?.to_string(),
    };
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

/// The endpoint for `--tls HOST:PORT` (beside an optional plain `--endpoint`), with the
/// pin from `--pin` or else from the certificate the node's `--config` names; the node
/// must have started once if its certificate is self-signed (this never creates a key).
fn with_tls(
    ctx: &Ctx,
    plain: Option<String>,
    tls: &str,
    pin: Option<String>,
) -> Result<Endpoint, Failure> {
    let plain = plain
        .map(|p| {
            p.parse::<HostPort>().map_err(|e| {
                Failure::usage(format!("--endpoint `{p}` {e}"))
                    .hint("with --tls, --endpoint is the plain host:port only")
            })
        })
        .transpose()?;
    let addr = tls.parse::<HostPort>().map_err(|e| {
        Failure::usage(format!("--tls `{tls}` {e}"))
            .hint("write host:port, e.g. node1.example.net:443")
    })?;
    let pin = match (pin, &ctx.config) {
        (Some(p), _) => p.parse::<Pin>().map_err(|e| {
            Failure::usage(format!("--pin `{p}` {e}"))
                .hint("the pin is what the node logs at start: sha256// and 44 base64 characters")
        })?,
        (None, Some(config)) => {
            let source = load_tls_section(config).map_err(|e| {
                Failure::new(format!("config {}: {e}", config.display())).hint("fix the [tls] section")
            })?;
            load_existing(&source)
                .map_err(|e| {
                    Failure::new(format!("the node's TLS certificate: {e}")).hint(
                        "start the node once with [node] tls_listen (it creates its self-signed certificate; under systemd run this with STATE_DIRECTORY=/var/lib/aqueduct), or give --pin from the node's log",
                    )
                })?
                .pin
        }
        (None, None) => {
            return Err(Failure::usage("--tls needs the pin of the node's certificate")
                .hint("give the node's --config FILE (its [tls] section names the certificate) or --pin sha256//..."))
        }
    };
    if plain.is_none() {
        eprintln!(
            "warning: a TLS-only entry: the monitor's probes use the plain endpoint, so without --endpoint this node is not probed (and may be withheld)"
        );
    }
    let endpoint = Endpoint {
        plain,
        tls: Some(TlsEndpoint { addr, pin }),
    };
    // Checks the contract's length limit on the whole entry.
    check_endpoint(&endpoint.to_string())
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
