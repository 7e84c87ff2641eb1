//! The proxy engine of `aqueduct node`: one mio event loop, one state machine per
//! client connection, SOCKS5 and HTTP proxy protocols on the same port.
//!
//! - [`server`]: the loop, listeners, timers, signals, limits.
//! - `session`: one connection from first byte to close (see doc/lifetime-of-a-session.md),
//!   a file per part: `handshake`, `dial`, `tunnel`, `forward`, `close`; `context`: what a
//!   session handler may use besides itself.
//! - [`auth`]: who may use the proxy; answers may arrive later through the loop.
//! - [`metrics`]: what the loop counts and the `/metrics` responder; embedders add
//!   families through `MetricFamilies`.
//! - `relay`: one direction of an open tunnel (`pump`); `splice`: its zero-copy path;
//!   `pool`: the buffers and pipes sessions borrow while bytes are in flight.
//! - `buffer`, `io`, `sockopt`, `slab`, `timers`, `signals`: the small parts the loop is made of.
//! - [`codec`], [`socks5`], [`http`]: pure protocol parsers; [`dns`], [`policy`]: where
//!   a session may go and how names become addresses.
//! - [`upstream`]: going through another SOCKS5 node instead (`aqueduct local`).
//! - [`settings`]: what the engine runs with, built by its embedder (`src/config` for the
//!   node, `src/local` for `aqueduct local`); the engine imports nothing of theirs.
//!
//! Rules: no panic on network input, ever (every length checked, every index by `get`;
//! the parsers are fuzzed, see `fuzz/`); no blocking call on the loop; every buffer
//! bounded, and lent only while bytes are in flight.

pub mod auth;
mod buffer;
pub mod codec;
mod context;
pub mod dns;
pub mod domains;
pub mod http;
pub mod http_body;
pub mod http_response;
pub(crate) mod io;
pub mod limits;
pub mod metrics;
pub mod outcome;
pub mod policy;
mod pool;
mod relay;
mod reload;
pub mod server;
mod session;
pub mod settings;
mod signals;
mod slab;
mod sockopt;
pub mod socks5;
mod splice;
mod timers;
mod tls_io;
pub mod upstream;

pub use reload::ReadSettings;
pub use server::Server;
pub use settings::Settings;
