//! `aqueduct monitor`: the network's telemetry, run by the admin (issue 12).
//!
//! - [`config`]: monitor.toml.
//! - [`probe`]: the probe engine, one mio loop driving every probe and the echo endpoint.
//! - [`outcome`]: what a probe found.
//! - [`http`]: the small HTTP/1.1 codec of the echo endpoint, the probes and the dashboard.

pub mod config;
pub mod http;
pub mod outcome;
pub mod probe;
