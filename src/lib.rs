//! Aqueduct: a paid proxy network of independent nodes, settled on an EVM chain.
//!
//! - [`proxy`]: the single-threaded mio engine that serves SOCKS5 and HTTP proxy clients.
//! - [`eth`]: keys, signed transactions, ABI and JSON-RPC, used by the chain thread and the CLI.
//! - [`commands`]: one module per `aqueduct` subcommand; [`cli`] parses arguments and dispatches.

pub mod cli;
pub mod code_pages;
pub mod commands;
pub mod config;
pub mod contract;
pub mod credential;
pub mod eth;
pub mod local;
pub mod monitor;
pub mod node;
pub mod proxy;
