//! TLS on the member-to-node leg (issue 15), with no certificate authority: the node's
//! registry entry, written by its own key, carries the SHA-256 pin of its TLS key.
//!
//! - [`pin`]: the `sha256//BASE64` pin curl's `--proxy-pinnedpubkey` takes.
//! - [`cert`]: the node's certificate and key, from files or self-signed at first start.
//! - [`configs`]: the rustls server config, and the member's pin-checking client config.
//! - [`settings`]: the `[tls]` config section.
//! - [`conn`]: one TLS connection as a sans-I/O state machine over byte slices, for the
//!   mio loop (no thread, no async).

pub mod cert;
pub mod configs;
pub mod conn;
pub mod pin;
pub mod settings;

pub use pin::Pin;
