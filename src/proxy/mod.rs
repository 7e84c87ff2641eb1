//! The proxy engine of `aqueduct node`: one mio event loop, one state machine per
//! client connection, SOCKS5 and HTTP proxy protocols on the same port.

pub mod codec;
pub mod dns;
pub mod http;
pub mod policy;
pub mod socks5;
