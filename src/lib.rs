//! Aqueduct: a paid proxy network of independent nodes, settled on an EVM chain.
//!
//! - [`proxy`]: the single-threaded mio engine that serves SOCKS5 and HTTP proxy clients.
//! - [`eth`]: keys, signed transactions, ABI and JSON-RPC, used by the chain thread and the CLI.
//! - [`node`]: the node's chain side: member table, chain-backed auth, heartbeats.
//! - [`local`]: `aqueduct local`, one local proxy over the whole network for a member.
//! - [`contract`]: the Aqueduct contract's bindings, events, deployment and errors;
//!   [`credential`]: the member credential nodes check against it.
//! - [`tls`]: the encrypted, pinned member-to-node transport.
//! - [`commands`]: one module per `aqueduct` subcommand; [`cli`] dispatches, [`args`] holds
//!   the flags and failures they share; [`clock`]: unix time and UTC dates for all.

// Linux only: epoll (through mio), splice(2), getrandom(2), SO_* and TCP_* options, the
// dynamic loader's program headers. Other systems are refused here rather than half-built.
#[cfg(not(target_os = "linux"))]
compile_error!("Aqueduct runs on Linux only");

pub mod args;
pub mod base64;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod code_pages;
pub mod commands;
pub mod config;
pub mod contract;
pub mod credential;
pub mod endpoint;
pub mod eth;
pub mod heap;
pub mod host_port;
pub mod local;
pub mod logging;
pub mod monitor;
pub mod node;
pub mod os_random;
pub mod proxy;
pub mod state_file;
pub mod systemd;
pub mod tls;
