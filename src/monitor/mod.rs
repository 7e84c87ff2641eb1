//! `aqueduct monitor`: the network's telemetry, run by the admin (issue 12). It probes
//! every node of the registry as a paying member would, reads their heartbeats from the
//! chain, keeps both in SQLite and shows them side by side.
//!
//! - [`config`] reads monitor.toml.
//! - [`probe`] is the probe engine: one mio loop drives every probe and the echo endpoint.
//! - [`outcome`] names what a probe found; [`round`] builds a round and guards against void ones.
//! - [`chain`] holds every chain call (registry, heartbeats, `removeNode`).
//! - [`clock`] is the chain's clock every round and window is counted on.
//! - [`withhold`] decides and sends `withhold` for nodes paid while failing probes.
//! - [`store`] is the database; [`stats`] turns its rows into summaries and verdicts.
//! - [`web`] serves the dashboard, the JSON API and [`metrics`]; [`http`] is their codec.
//! - [`service`] runs it all; [`cli`] is `aqueduct monitor` and `aqueduct monitor report`.

pub mod chain;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod metrics;
pub mod outcome;
pub mod probe;
pub mod round;
pub mod service;
pub mod stats;
pub mod store;
pub mod web;
pub mod withhold;
