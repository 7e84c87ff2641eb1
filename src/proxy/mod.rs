//! The proxy engine of `aqueduct node`: one mio event loop, one state machine per
//! client connection, SOCKS5 and HTTP proxy protocols on the same port.
//!
//! - [`server`]: the loop, listeners, timers, signals, limits.
//! - `session`: one connection from first byte to close (see doc/lifetime-of-a-session.md).
//! - [`auth`]: who may use the proxy; answers may arrive later through the loop.
//! - `relay`: one direction of an open tunnel (`pump`).
//! - `buffer`, `io`, `slab`, `timers`, `signals`: the small parts the loop is made of.
//! - [`codec`], [`socks5`], [`http`]: pure protocol parsers; [`dns`], [`policy`]: where
//!   a session may go and how names become addresses.

pub mod auth;
mod buffer;
pub mod codec;
pub mod dns;
pub mod http;
mod io;
pub mod policy;
mod relay;
pub mod server;
mod session;
mod signals;
mod slab;
pub mod socks5;
mod timers;

pub use server::Server;
