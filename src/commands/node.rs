//! `aqueduct node --config FILE`: reads the config, binds, reports where it listens and
//! hands over to the engine in [`crate::proxy`] until SIGTERM/SIGINT.

use crate::cli::{Args, CmdResult, Failure};
use crate::config;
use crate::node;
use crate::proxy::settings::AuthMode;
use crate::proxy::Server;
use std::net::SocketAddr;
use std::path::Path;

const HELP: &str = "\
aqueduct node --config FILE [--check]
  Runs the SOCKS5 + HTTP proxy node configured in FILE (every key, with its default, is in
  aqueduct.example.toml). SIGTERM or SIGINT stops accepting and lets live sessions finish
  for timeouts.shutdown_grace_secs; SIGHUP reloads the static users, the policy and the
  limits (a config that fails validation is refused and the old one stays in force);
  RUST_LOG sets the log level (default info).
  --check  validate FILE and the files it names, then exit (for ExecStartPre/ExecReload)
exit codes: 0 stopped cleanly (or the config is valid), 1 failed, 2 usage or config error
";

pub fn run(mut args: Args) -> CmdResult {
    if args.flag("help")? {
        print!("{HELP}");
        return Ok(());
    }
    let path = args.required("config")?;
    let check_only = args.flag("check")?;
    args.finish()?;
    // A config that does not validate is a usage error (exit 2), like a bad flag.
    let config =
        config::load(Path::new(&path)).map_err(|e| Failure::usage(format!("{path}: {e}")))?;
    if check_only {
        check_files(&config).map_err(|e| Failure::usage(format!("{path}: {e}")))?;
        println!("{path}: valid");
        return Ok(());
    }
    crate::logging::init(config.log, log::LevelFilter::Info);
    let ready_file = config.node.ready_file.clone();
    let chain_mode = config.engine.auth.mode == AuthMode::Chain;
    let mut server =
        Server::bind(config.engine.clone()).map_err(|e| Failure::new(e.to_string()))?;
    // Mode "chain": the chain side replaces the fail-closed placeholder authenticator.
    let _chain = if chain_mode {
        Some(
            node::attach(&config, Path::new(&path), &mut server)
                .map_err(|e| Failure::new(format!("{path}: {e}")))?,
        )
    } else {
        None
    };
    let reload_path = path.clone();
    server
        .set_reloader(Box::new(move || {
            config::load(Path::new(&reload_path))
                .map(|c| c.engine)
                .map_err(|e| format!("{reload_path}: {e}"))
        }))
        .map_err(|e| Failure::new(format!("cannot start the reload thread: {e}")))?;
    for addr in server.local_addrs() {
        log::info!("listening on {addr}");
    }
    if let Some(file) = ready_file {
        write_ready_file(&file, server.local_addrs()).map_err(|e| {
            Failure::new(format!("writing node.ready_file {}: {e}", file.display()))
        })?;
    }
    // Listening and (in chain mode) attached: systemd may start what depends on us.
    crate::systemd::notify_or_log("READY=1");
    // Start-up is over: from here on only the event loop's code needs to stay mapped.
    crate::code_pages::trim();
    server
        .run()
        .map_err(|e| Failure::new(format!("event loop: {e}")))
}

/// What `--check` reads besides the config: the DNS files, the chain key (decrypted, so a
/// wrong password shows now, not at start), and the allowance count.
fn check_files(config: &config::Config) -> Result<(), String> {
    let dns = &config.engine.dns;
    crate::proxy::dns::ResolverConfig::from_files(&dns.resolv_conf, &dns.hosts_file).map_err(
        |e| {
            format!(
                "dns: {} and {}: {e}",
                dns.resolv_conf.display(),
                dns.hosts_file.display()
            )
        },
    )?;
    if let Some(chain) = config.chain.as_ref() {
        if let Some(key) = chain.key.as_ref() {
            crate::eth::keys::load_key(key, chain.password.as_ref())
                .map_err(|e| format!("chain.key {}: {e}", key.display()))?;
        }
    }
    if let Some(file) = config
        .engine
        .operator
        .monthly
        .as_ref()
        .and_then(|m| m.file.as_ref())
    {
        crate::proxy::limits::allowance::Allowance::load(file)?;
    }
    Ok(())
}

/// Written whole under a temporary name and renamed, so a reader never sees half of it.
fn write_ready_file(path: &Path, addrs: &[SocketAddr]) -> std::io::Result<()> {
    let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    crate::state_file::write_atomically(path, text.as_bytes(), false)
}
