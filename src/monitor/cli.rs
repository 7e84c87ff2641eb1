//! `aqueduct monitor --config monitor.toml` (the service) and `aqueduct monitor report`.

use super::chain::Chain;
use super::config;
use super::service;
use super::stats::{self, Judged};
use super::store::Store;
use crate::args::{Args, CmdResult, Failure};
use crate::clock::utc;
use crate::commands::chain::failure::send_failure;
use crate::eth::hex;
use crate::eth::keys::{self, PasswordSource};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

const HELP: &str = "\
aqueduct monitor --config monitor.toml
  Probes every active node of the registry each round (SOCKS5 login with the monitor's
  own member credential, a request to its echo endpoint, a bounded download; one HTTP
  proxy probe per round), reads the nodes' heartbeats from the chain, keeps it all in
  SQLite and serves the dashboard, the JSON API and /metrics on [monitor] listen.
  Every key is in monitor.example.toml.

aqueduct monitor report --config monitor.toml [--since 24h] [--json]
                        [--remove [--yes] --key OWNER_KEY [--password-file F | --password-env VAR]]
  Per node the verdict over the window and the reason, and which nodes the policy
  removes (heartbeats while failing probes, or relaying less than remove_below).
  --remove sends removeNode for them with the owner's key, after asking (--yes: without).
";

pub fn run(mut args: Args) -> CmdResult {
    if args.word("report") {
        return report(args);
    }
    if args.flag("help")? {
        print!("{HELP}");
        return Ok(());
    }
    let path = PathBuf::from(args.required("config")?);
    args.finish()?;
    crate::logging::init(
        crate::logging::LogSettings::default(),
        log::LevelFilter::Info,
    );
    service::run(&path).map_err(Failure::new)
}

fn report(mut args: Args) -> CmdResult {
    if args.flag("help")? {
        print!("{HELP}");
        return Ok(());
    }
    let path = PathBuf::from(args.required("config")?);
    let since = args.value("since")?.unwrap_or_else(|| "24h".into());
    let json = args.flag("json")?;
    let remove = args.flag("remove")?;
    let yes = args.flag("yes")?;
    let key = args.value("key")?.map(PathBuf::from);
    let password = match (args.value("password-file")?, args.value("password-env")?) {
        (Some(_), Some(_)) => {
            return Err(Failure::usage(
                "give --password-file or --password-env, not both",
            ))
        }
        (Some(f), None) => Some(PasswordSource::File(f.into())),
        (None, Some(e)) => Some(PasswordSource::Env(e)),
        (None, None) => None,
    };
    args.finish()?;
    let window =
        config::parse_duration(&since).map_err(|e| Failure::usage(format!("--since {e}")))?;
    let cfg = config::load(&path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    let store = Store::open_read_only(&cfg.monitor.database).map_err(|e| {
        Failure::new(format!("database {}: {e}", cfg.monitor.database.display()))
            .hint("run `aqueduct monitor --config FILE` first: it creates the database")
    })?;
    let db = |e: rusqlite::Error| Failure::new(format!("database: {e}"));
    let now = store.now_ms().map_err(db)?;
    let since_ms = now - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
    let policy = service::policy(&cfg);
    let judged: Vec<Judged> = store
        .nodes()
        .map_err(db)?
        .iter()
        .map(|n| stats::judge(&store, n, since_ms, now, &policy))
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let to_remove: Vec<&Judged> = judged.iter().filter(|j| j.remove).collect();
    // Finished epochs in the window: who the contract's withhold would take out of each.
    let mut withhold = Vec::new();
    if let Some(t) = stats::timing(&store).map_err(db)? {
        let first = t.epoch_at((since_ms / 1000).max(0) as u64);
        let current = t.epoch_at((now / 1000) as u64);
        for epoch in first..current {
            withhold.extend(stats::withhold_candidates(&store, &t, epoch, &policy).map_err(db)?);
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "since_ms": since_ms,
                "until_ms": now,
                "nodes": judged,
                "remove": to_remove.iter().map(|j| j.node.clone()).collect::<Vec<_>>(),
                "withhold": withhold,
            })
        );
    } else {
        println!(
            "monitor report, {} to {} ({since})",
            utc((since_ms / 1000).max(0) as u64),
            utc((now / 1000) as u64)
        );
        if judged.is_empty() {
            println!("no nodes known yet");
        }
        for j in &judged {
            println!(
                "{}  {:<12} {}{}",
                j.node,
                j.verdict.as_str(),
                j.reason,
                if j.remove { "  -> remove" } else { "" }
            );
        }
        for w in &withhold {
            println!(
                "epoch {}: {} heartbeated {} times while relaying {} of {} probes: withhold (evidence {})",
                w.epoch, w.node, w.heartbeats, w.relayed, w.probes, w.evidence
            );
        }
        if to_remove.is_empty() {
            println!("policy: nothing to remove");
        } else {
            println!("policy: remove {} node(s)", to_remove.len());
        }
    }
    if !remove || to_remove.is_empty() {
        return Ok(());
    }
    let key_path = key.ok_or_else(|| {
        Failure::usage("--remove needs the contract owner's key").hint("pass --key OWNER_KEY_FILE")
    })?;
    let key = keys::load_key(&key_path, password.as_ref())
        .map_err(|e| Failure::new(format!("cannot load the key: {e}")))?;
    let chain = Chain::new(&cfg.chain).map_err(Failure::new)?;
    let owner = chain
        .owner()
        .map_err(|e| Failure::new(format!("cannot read the contract's owner: {e}")))?;
    if owner != key.address() {
        return Err(Failure::new(format!(
            "{} is not the contract's owner ({owner})",
            key.address()
        ))
        .hint("removeNode is the owner's: pass the owner's key with --key"));
    }
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Failure::usage("not removing without confirmation")
                .hint("pass --yes to remove without asking (cron)"));
        }
        eprint!(
            "remove {} node(s) from the registry? [y/N] ",
            to_remove.len()
        );
        let mut line = String::new();
        let _ = stdin.lock().read_line(&mut line);
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing removed");
            return Ok(());
        }
    }
    let mut sender = chain
        .sender(key)
        .map_err(|e| Failure::new(format!("chain.rpc: {e}")))?;
    for j in to_remove {
        let r = chain
            .remove_node(&mut sender, j.address)
            .map_err(|e| send_failure(&format!("removeNode({})", j.node), e))?;
        let line = format!(
            "removed {} ({}): tx {}, block {}",
            j.node,
            j.verdict.as_str(),
            hex::encode_prefixed(&r.transaction_hash),
            r.block_number
        );
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}
