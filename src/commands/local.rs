//! `aqueduct local`: the member's own proxy. Reads the chain options like the chain
//! commands, starts the discovery thread, and runs the engine with a router that sends
//! every connection through the best node. `--list` measures once and prints the nodes.

use crate::args::{Args, CmdResult, Failure};
use crate::clock::unix_now;
use crate::commands::chain::{contract_failure, rpc_failure, Ctx, Takes};
use crate::contract::Contract;
use crate::local::config;
use crate::local::discovery::{Discovery, Signer};
use crate::local::table::{Node, TableRouter};
use crate::proxy::Server;
use std::time::Instant;

const HELP: &str = "\
aqueduct local [--listen 127.0.0.1:1080] [--node HOST:PORT@0xADDR]... [--spread fastest|rotate]
               [--list [--json]]
  One SOCKS5 + HTTP proxy on this machine that uses the whole network: nodes come from
  the contract's registry (and [local] nodes / --node), are measured, and each connection
  goes through the fastest healthy one, TLS nodes first (their pin checked; --node also
  takes \"tls=HOST:PORT pin=sha256//...@0xADDR\"). Credentials are signed here with --key,
  one per node, valid for an hour; the key never leaves this machine.
  --spread rotate   each new connection through the next healthy node in turn (TLS
           nodes first), for many exit addresses; fastest (the default) sends all through
           the best one
  --list   measure every node once, print them best first, and exit (1 when none is
           usable from here)
connection: --rpc URL | AQUEDUCT_RPC, --key FILE [--password-file F | --password-env VAR],
  --contract ADDR, or the same from --config FILE's [chain] section ([local] holds listen,
  nodes, registry, require_tls, spread, refresh_secs, probe_secs, probe_timeout_secs,
  credential_ttl_secs, and credential = USERNAME:PASSWORD signed in the website, which
  replaces --key)
";

pub fn run(mut args: Args) -> CmdResult {
    if args.flag("help")? {
        print!("{HELP}");
        return Ok(());
    }
    let ctx = Ctx::from_args(&mut args, "local", Takes::ALL)?;
    let config_path = ctx.config.clone();
    let listen = args.value("listen")?;
    let extra_nodes = args.values("node")?;
    let spread = args.value("spread")?;
    let list = args.flag("list")?;
    args.finish()?;
    let level = if list {
        log::LevelFilter::Error
    } else {
        log::LevelFilter::Info
    };
    let mut cfg =
        config::load(config_path.as_deref(), listen.as_deref(), &extra_nodes).map_err(|e| {
            match &config_path {
                Some(path) => Failure::new(format!("{}: {e}", path.display())),
                None => Failure::new(e.to_string()),
            }
        })?;
    if let Some(s) = spread {
        cfg.local.spread = s
            .parse()
            .map_err(|e| Failure::usage(format!("--spread: {e}")))?;
    }
    crate::logging::init(cfg.log, level);
    let client = ctx.client()?;
    let contract = ctx.deployed_contract(&client)?;
    // A credential signed in the website needs no key on this machine.
    let signer = match cfg.local.credential.clone() {
        Some(login) => Signer::Signed(login),
        None => Signer::Key(ctx.key()?),
    };
    let chain_id = client.chain_id().map_err(rpc_failure)?;
    let member = signer.member();
    match Contract::new(&client, contract).member_until(member) {
        Ok(until) if until <= unix_now() => log::warn!(
            "{member} has no paid membership: nodes will refuse its credentials (run `aqueduct subscribe`)"
        ),
        Ok(_) => {}
        Err(e) => return Err(contract_failure(e)),
    }
    let discovery = Discovery::new(client, contract, chain_id, signer, cfg.local);
    if list {
        return list_nodes(&discovery, ctx.json);
    }

    let refresh_every = discovery.settings().refresh;
    let mut server = Server::bind(cfg.engine).map_err(|e| Failure::new(e.to_string()))?;
    // Nodes are known (and credentials signed) before the first client arrives; they are
    // measured in the background, unmeasured ones being usable meanwhile.
    let next_refresh = match discovery.refresh() {
        Ok(n) => {
            log::info!("{} known", crate::commands::chain::plural(n as u64, "node"));
            Instant::now() + refresh_every
        }
        Err(e) => {
            log::warn!("cannot read the node registry yet: {e}; retrying in the background");
            Instant::now()
        }
    };
    server.set_router(Box::new(TableRouter(discovery.table.clone())));
    for addr in server.local_addrs() {
        log::info!("listening on {addr} as {member}");
    }
    std::thread::Builder::new()
        .name("discovery".into())
        .spawn(move || discovery.run(next_refresh))
        .map_err(|e| Failure::new(format!("cannot start the discovery thread: {e}")))?;
    server
        .run()
        .map_err(|e| Failure::new(format!("event loop: {e}")))
}

fn list_nodes(discovery: &Discovery, json: bool) -> CmdResult {
    discovery.refresh().map_err(contract_failure)?;
    discovery.probe_due(true);
    let table = discovery.table.lock();
    let now = Instant::now();
    let ranked = table.ranked();
    let usable = ranked.iter().filter(|n| n.state(now) == "up").count();
    // A script asks `--list` whether the network can serve it: none usable is a failure.
    let verdict =
        if usable > 0 {
            Ok(())
        } else if ranked.is_empty() {
            Err(Failure::new("no nodes: the registry is empty and no [local] nodes are configured")
            .hint("the contract's owner adds nodes with `aqueduct add-node`; or add [local] nodes"))
        } else {
            Err(Failure::new(format!(
                "none of the {} is usable right now",
                crate::commands::chain::plural(ranked.len() as u64, "node")
            )))
        };
    if json {
        let nodes: Vec<serde_json::Value> = ranked.iter().map(|n| node_json(n, now)).collect();
        println!("{}", serde_json::json!({"nodes": nodes, "usable": usable}));
        return verdict;
    }
    if ranked.is_empty() {
        return verdict;
    }
    println!(
        "{:<42}  {:<24}  {:<8}  {:>10}  {:>10}  note",
        "node", "endpoint", "state", "connect", "handshake"
    );
    for n in ranked {
        let (connect, handshake) = match n.measured {
            Some(m) if n.state(now) == "up" => (millis(m.connect), millis(m.handshake)),
            _ => ("-".into(), "-".into()),
        };
        let mut note = n.last_error.clone().unwrap_or_else(|| {
            if n.extra {
                "from config".into()
            } else {
                String::new()
            }
        });
        if n.pin.is_none() {
            // The member's address, credential and destinations cross this leg in clear.
            let sep = if note.is_empty() { "" } else { "; " };
            note = format!("unencrypted (no TLS endpoint){sep}{note}");
        }
        println!(
            "{:<42}  {:<24}  {:<8}  {:>10}  {:>10}  {note}",
            n.address.to_string(),
            n.endpoint,
            n.state(now),
            connect,
            handshake
        );
    }
    verdict
}

fn millis(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn node_json(n: &Node, now: Instant) -> serde_json::Value {
    let up = n.state(now) == "up";
    serde_json::json!({
        "node": n.address.to_string(),
        "endpoint": n.endpoint,
        "state": n.state(now),
        "connect_ms": n.measured.filter(|_| up).map(|m| m.connect.as_secs_f64() * 1e3),
        "handshake_ms": n.measured.filter(|_| up).map(|m| m.handshake.as_secs_f64() * 1e3),
        "error": n.last_error,
        "extra": n.extra,
        "tls": n.pin.is_some(),
    })
}
