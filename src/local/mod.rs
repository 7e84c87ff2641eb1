//! `aqueduct local`: one proxy on the member's machine in front of the whole network.
//!
//! - [`config`]: the `[local]` section and the local listener's engine config.
//! - [`table`]: the known nodes, their health and speed, and the ranking ([`table::TableRouter`]
//!   is the engine's router).
//! - [`probe`]: one blocking measurement of a node (connect + SOCKS5 login).
//! - [`discovery`]: the background thread that reads the registry, signs each node's
//!   credential and measures the nodes; the event loop never waits for it.

pub mod config;
pub mod discovery;
pub mod probe;
pub mod table;
