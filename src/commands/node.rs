//! `aqueduct node --config FILE`: reads the config, binds, reports where it listens and
//! hands over to the engine in [`crate::proxy`] until SIGTERM/SIGINT; SIGHUP reads the
//! file again. `--check` only validates it.

use crate::args::{Args, CmdResult, Failure};
use crate::config;
use crate::node;
use crate::proxy::settings::{AuthMode, TlsServer};
use crate::proxy::Server;
use crate::tls::cert::{load_or_generate, CertSource, Origin};
use crate::tls::configs::server_config;
use crate::tls::settings::TlsSettings;
use std::net::SocketAddr;
use std::path::Path;

const HELP: &str = "\
aqueduct node --config FILE [--check]
  Runs the SOCKS5 + HTTP proxy node configured in FILE (every key, with its default, is in
  aqueduct.example.toml). SIGTERM or SIGINT stops accepting and lets live sessions finish
  for timeouts.shutdown_grace_secs. SIGHUP reads FILE again: users, policy (and its deny
  files), timeouts, limits and log.level change in place, live sessions stay (those of a
  removed user end); a FILE that does not validate is logged and the running config stays.
  [log] level or RUST_LOG sets the log level (default info).
  --check  validate FILE and the files it names, print what is wrong, and exit
exit codes: 0 stopped cleanly (or --check: valid), 1 failed, 2 usage or config error
";

pub fn run(mut args: Args) -> CmdResult {
    if args.flag("help")? {
        print!("{HELP}");
        return Ok(());
    }
    let path = args.required("config")?;
    let check = args.flag("check")?;
    args.finish()?;
    let config = load(&path)?;
    if check {
        check_files(&config).map_err(|e| Failure::usage(format!("{path}: {e}")))?;
        println!("{path}: ok");
        return Ok(());
    }
    crate::logging::init(config.log, log::LevelFilter::Info);
    let ready_file = config.node.ready_file.clone();
    let chain_mode = config.engine.auth.mode == AuthMode::Chain;
    let mut engine = config.engine.clone();
    if !engine.tls_listen.is_empty() {
        engine.tls = Some(load_tls(&config.tls, Path::new(&path))?);
    }
    let mut server = Server::bind(engine).map_err(|e| Failure::new(e.to_string()))?;
    let reload_path = path.clone();
    server
        .set_reloader(Box::new(move || {
            let config = load(&reload_path).map_err(|f| f.message)?;
            crate::logging::set_level(config.log, log::LevelFilter::Info);
            Ok(config.engine)
        }))
        .map_err(|e| Failure::new(format!("starting the reload thread: {e}")))?;
    // Mode "chain": the chain side replaces the fail-closed placeholder authenticator.
    let _chain = if chain_mode {
        Some(
            node::attach(&config, Path::new(&path), &mut server)
                .map_err(|e| Failure::new(format!("{path}: {e}")))?,
        )
    } else {
        None
    };
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

/// The node's TLS identity (generated at first start when self-signed) as the engine's
/// TLS settings; logs the pin members check, which `set-endpoint --tls` publishes.
fn load_tls(settings: &TlsSettings, config_path: &Path) -> Result<TlsServer, Failure> {
    let source = settings.source(config_path);
    let identity = load_or_generate(&source).map_err(|e| {
        Failure::new(format!("[tls]: {e}"))
            .hint("fix [tls] cert_file/key_file, or unset both for a self-signed certificate")
    })?;
    let config = server_config(&identity).map_err(|e| Failure::new(format!("[tls]: {e}")))?;
    let (cert, _) = match &source {
        CertSource::Files { cert, key } | CertSource::SelfSigned { cert, key } => (cert, key),
    };
    let how = match identity.origin {
        Origin::Files => "from [tls] cert_file",
        Origin::Generated => "self-signed, generated now: publish it with `aqueduct set-endpoint --tls HOST:PORT --config FILE`",
        Origin::Reused => "self-signed",
        Origin::Recertified => "self-signed, certificate renewed on the same key",
    };
    log::info!(
        "TLS certificate {} ({how}); pin {}",
        cert.display(),
        identity.pin
    );
    Ok(TlsServer {
        config,
        handshake: settings.handshake_timeout,
    })
}

/// Reads and validates the file: a config that does not validate is a usage error (exit
/// 2), like a bad flag.
fn load(path: &str) -> Result<config::Config, Failure> {
    let config =
        config::load(Path::new(path)).map_err(|e| Failure::usage(format!("{path}: {e}")))?;
    refuse_placeholders(&config).map_err(|f| Failure {
        message: format!("{path}: {}", f.message),
        ..f
    })?;
    Ok(config)
}

/// What `--check` adds to validation (deny files were read while validating): in mode
/// "chain", the node's key opens with its password, as it must at start.
fn check_files(config: &config::Config) -> Result<(), String> {
    if let Some(chain) = &config.chain {
        if let Some(key) = &chain.key {
            crate::eth::keys::load_key(key, chain.password.as_ref())
                .map_err(|e| format!("`chain.key` {}: {e}", key.display()))?;
        }
    }
    let monthly = config.engine.operator.monthly.as_ref();
    if let Some(file) = monthly.and_then(|m| m.file.as_ref()) {
        crate::proxy::limits::allowance::Allowance::load(file)?;
    }
    Ok(())
}

/// The example config's password, which anybody who read the README knows.
const PLACEHOLDER_PASSWORD: &str = "change-me";

/// A node copied from the example is refused until its placeholder is replaced.
fn refuse_placeholders(config: &config::Config) -> CmdResult {
    if config.engine.auth.mode != AuthMode::Static {
        return Ok(());
    }
    match config
        .engine
        .auth
        .users
        .iter()
        .find(|u| u.password == PLACEHOLDER_PASSWORD)
    {
        None => Ok(()),
        Some(user) => Err(Failure::usage(format!(
            "user `{}` still has the example's placeholder password \"{PLACEHOLDER_PASSWORD}\"",
            user.name
        ))
        .hint(
            "set a password of your own in [[auth.users]] (e.g. from `openssl rand -base64 18`)",
        )),
    }
}

/// Written whole under a temporary name and renamed, so a reader never sees half of it.
fn write_ready_file(path: &Path, addrs: &[SocketAddr]) -> std::io::Result<()> {
    let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    crate::state_file::write_atomically(path, text.as_bytes(), false)
}
