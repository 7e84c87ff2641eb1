//! A node never connects to itself (issue 11.7): with `allow_private = true` nested
//! handshakes to the node's own port turned one connection into many sessions. Its own
//! listeners are refused as destinations whatever the policy: the literal address, other
//! forms of it, names that resolve to it, and for a 0.0.0.0 listener any local address
//! with its port. Everything else on loopback stays reachable.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::io::Write;
use std::net::SocketAddr;

/// Allows everything a config can allow.
const OPEN_POLICY: &str = "[policy]\nallow_private = true\nallow_cidrs = [\"0.0.0.0/0\", \"::/0\"]\nallow_ports = [\"1-65535\"]\n";

/// The CONNECT reply code for `target` through the node, as alice.
fn socks_reply(node: SocketAddr, target: SocksTarget) -> u8 {
    let mut s = connect(node);
    s.write_all(&socks_handshake_bytes("alice", "s3cret:pw", &target))
        .unwrap();
    read_socks_replies(&mut s).unwrap().0
}

const NOT_ALLOWED: u8 = 2;

/// A `[dns]` section whose hosts file names the loopback addresses one at a time.
fn dns(dir: &TempDir) -> String {
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 v4.self.test\n127.0.0.2 other.self.test\n::1 v6.self.test\n",
    )
    .unwrap();
    format!(
        "[dns]\nnameservers = [\"127.0.0.1:9\"]\nresolv_conf = \"{}\"\nhosts_file = \"{}\"\n",
        dir.path().join("resolv.conf").display(),
        hosts.display()
    )
}

#[test]
fn the_node_refuses_its_own_listener_in_every_form() {
    let dir = TempDir::new("self");
    let node = Node::start_on(
        &["127.0.0.1:0", "[::1]:0"],
        &format!(
            "{ALICE}{OPEN_POLICY}[metrics]\nlisten = \"127.0.0.1:0\"\n{}",
            dns(&dir)
        ),
    );
    let (v4, v6) = (node.addrs[0], node.addrs[1]);
    let metrics: SocketAddr = node
        .wait_log("metrics on http://", 1)
        .split("metrics on http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .expect("metrics address in the log");
    let echo = Echo::start();
    assert_eq!(
        socks_reply(v4, SocksTarget::Addr(echo.addr)),
        0,
        "loopback is allowed"
    );

    let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{}", v4.port()).parse().unwrap();
    for target in [
        SocksTarget::Addr(v4),
        SocksTarget::Addr(v6),
        SocksTarget::Addr(mapped),
        SocksTarget::Name("v4.self.test", v4.port()),
        SocksTarget::Name("v6.self.test", v6.port()),
        SocksTarget::Addr(metrics),
    ] {
        assert_eq!(socks_reply(v4, target), NOT_ALLOWED);
    }
    let log = node.log();
    assert!(log.contains("is this node's own listener"), "{log}");
    // One session per client connection: none was relayed into the node again.
    assert_eq!(log.matches("accepted as").count(), 7, "{log}");

    // HTTP, both forms: 403 and nothing sent to the node's port.
    let proxy = format!("http://{v4}");
    let own = format!("http://{v4}/");
    assert_eq!(
        curl_status(&["-x", &proxy, "-U", "alice:s3cret:pw", &own]),
        403
    );
    let out = curl(&["-x", &proxy, "-U", "alice:s3cret:pw", "-p", &own]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
    assert_eq!(node.log().matches("accepted as").count(), 9);
}

#[test]
fn a_wildcard_listener_is_refused_at_every_local_address_with_its_port() {
    let dir = TempDir::new("self");
    let node = Node::start_on(
        &["0.0.0.0:0"],
        &format!("{ALICE}{OPEN_POLICY}{}", dns(&dir)),
    );
    let port = node.addr().port();
    let entry: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for ip in ["127.0.0.1", "127.0.0.2", "0.0.0.0"] {
        let target: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        assert_eq!(
            socks_reply(entry, SocksTarget::Addr(target)),
            NOT_ALLOWED,
            "{target}"
        );
    }
    for name in ["v4.self.test", "other.self.test"] {
        assert_eq!(
            socks_reply(entry, SocksTarget::Name(name, port)),
            NOT_ALLOWED,
            "{name}"
        );
    }
    let echo = Echo::start();
    assert_eq!(socks_reply(entry, SocksTarget::Addr(echo.addr)), 0);
    assert_eq!(node.log().matches("accepted as").count(), 6);
}
