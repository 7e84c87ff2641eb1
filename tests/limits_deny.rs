//! Deny lists in `[policy]`: names (exact and `*.suffix`, inline and from a file) refused
//! before they are resolved, addresses from a CIDR file refused after, counted by rule.

#[path = "support/ops.rs"]
mod ops;
#[path = "support/proxy.rs"]
mod proxy;

use ops::{get, metrics_url, scrape};
use proxy::*;
use std::io::Write;
use std::net::Ipv4Addr;

fn socks_reply(node: &Node, name: &str, port: u16) -> u8 {
    let mut s = connect(node.addr());
    s.write_all(&socks_handshake_bytes(
        "alice",
        "s3cret:pw",
        &SocksTarget::Name(name, port),
    ))
    .unwrap();
    read_socks_replies(&mut s).unwrap().0
}

#[test]
fn names_suffixes_and_resolved_addresses_are_refused_and_counted() {
    let echo = Echo::start();
    let port = echo.addr.port();
    // One name the stub resolves, to loopback: allowed, unless its address is listed.
    let stub = DnsStub::start("echo.test", Ipv4Addr::LOCALHOST);
    let dir = TempDir::new("deny");
    let names = dir.path().join("names.txt");
    std::fs::write(
        &names,
        "# ad networks\n*.ads.test\n\nother.test  # and one more\n",
    )
    .unwrap();
    let cidrs = dir.path().join("cidrs.txt");
    std::fs::write(&cidrs, "# nothing yet\n").unwrap();
    let config = |cidr_file: &str| {
        format!(
            "{ALICE}{}[metrics]\nlisten = \"127.0.0.1:0\"\n[policy]\nallow_private = true\ndeny_domains = [\"Blocked.Test\"]\ndeny_domains_file = \"{}\"\ndeny_cidrs_file = \"{cidr_file}\"\n",
            stub.config(dir.path()),
            names.display(),
        )
    };
    let node = Node::start(&config(&cidrs.display().to_string()));
    let url = metrics_url(&node);
    assert_eq!(
        socks_reply(&node, "echo.test", port),
        0,
        "not listed: served"
    );
    assert_eq!(
        socks_reply(&node, "blocked.test", port),
        2,
        "exact, any case"
    );
    assert_eq!(
        socks_reply(&node, "x.y.ads.test", port),
        2,
        "by suffix, from the file"
    );
    assert_eq!(
        socks_reply(&node, "other.test", port),
        2,
        "the file's second entry"
    );
    let m = scrape(&url);
    assert_eq!(
        get(&m, "aqueduct_policy_denials_total{rule=\"domain\"}"),
        3.0
    );

    // The address a name resolves to, listed in the CIDR file.
    drop(node);
    std::fs::write(&cidrs, "127.0.0.0/8 # loopback after all\n").unwrap();
    let node = Node::start(&config(&cidrs.display().to_string()));
    let url = metrics_url(&node);
    assert_eq!(
        socks_reply(&node, "echo.test", port),
        2,
        "its address is denied"
    );
    let m = scrape(&url);
    assert_eq!(get(&m, "aqueduct_policy_denials_total{rule=\"cidr\"}"), 1.0);
    assert!(node
        .log()
        .contains("denied by policy.deny_cidrs (127.0.0.0/8)"));

    // A bad line is refused at start, naming the file and line.
    std::fs::write(&cidrs, "10.0.0.0/8\nnot-a-cidr\n").unwrap();
    let (code, stderr) = refused_config(&config(&cidrs.display().to_string()));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("policy.deny_cidrs_file") && stderr.contains("line 2"),
        "{stderr}"
    );
}
