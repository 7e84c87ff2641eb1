//! Shared by the ops tests: a node with its metrics endpoint on a free loopback port.
//! Include after `support/proxy.rs` (as `mod proxy`).
#![allow(dead_code)]

use crate::proxy::{Node, ALICE};

/// A static-auth node (alice) that may reach loopback targets, serving `/metrics` on
/// 127.0.0.1:0; returns it with the metrics URL it logged.
pub fn node_with_metrics() -> (Node, String) {
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let log = node.wait_log("metrics on http://", 1);
    let url = log
        .split("metrics on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("metrics URL in the log")
        .to_string();
    (node, url)
}
