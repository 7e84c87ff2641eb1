//! `aqueduct node --config FILE`: reads the config, binds, reports where it listens and
//! hands over to the engine in [`crate::proxy`] until SIGTERM/SIGINT.

use crate::cli::{Args, CmdResult, Failure};
use crate::config;
use crate::proxy::Server;
use std::net::SocketAddr;
use std::path::Path;

pub fn run(mut args: Args) -> CmdResult {
    let path = args.required("config")?;
    args.finish()?;
    init_logging();
    let config =
        config::load(Path::new(&path)).map_err(|e| Failure::new(format!("{path}: {e}")))?;
    let ready_file = config.node.ready_file.clone();
    let server = Server::bind(config).map_err(|e| Failure::new(e.to_string()))?;
    for addr in server.local_addrs() {
        log::info!("listening on {addr}");
    }
    if let Some(file) = ready_file {
        write_ready_file(&file, server.local_addrs()).map_err(|e| {
            Failure::new(format!("writing node.ready_file {}: {e}", file.display()))
        })?;
    }
    server
        .run()
        .map_err(|e| Failure::new(format!("event loop: {e}")))
}

/// `RUST_LOG` wins; otherwise info, which includes one line per finished session.
fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env).try_init();
}

/// Written whole under a temporary name and renamed, so a reader never sees half of it.
fn write_ready_file(path: &Path, addrs: &[SocketAddr]) -> std::io::Result<()> {
    let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
