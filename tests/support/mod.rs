//! Helpers shared by the integration tests, as one module tree: each test binary
//! declares `mod support;` and uses the parts it needs.
#![allow(dead_code)]

pub mod anvil;
pub mod chromium;
pub mod faketime;
pub mod local;
pub mod monitor;
pub mod node;
pub mod ops;
pub mod proxy;
pub mod tls;
pub mod tools;
