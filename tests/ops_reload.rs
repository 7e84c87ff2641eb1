//! SIGHUP and `--check` on the real node: users and policy change in place, live sessions
//! stay (those of a removed user end), a broken file changes nothing, and `--check`
//! tells a good file from a bad one with its exit code.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::{closed_by_peer, login_tunnel, round_trip, Echo, Node, TempDir};
use std::process::Command;

const USERS: &str = "[auth]\nmode = \"static\"\n\
    [[auth.users]]\nname = \"alice\"\npassword = \"a-pw\"\n\
    [[auth.users]]\nname = \"bob\"\npassword = \"b-pw\"\n";

/// Replaces `old` with `new` in the node's config file.
fn edit(node: &Node, old: &str, new: &str) {
    let path = node.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(old), "{old:?} not in\n{text}");
    std::fs::write(&path, text.replace(old, new)).unwrap();
}

#[test]
fn sighup_applies_users_and_policy_keeps_live_sessions_and_refuses_a_broken_file() {
    let node = Node::start(&format!("{USERS}[policy]\nallow_private = true\n"));
    let echo = Echo::start();
    let mut alice = login_tunnel(node.addr(), "alice", "a-pw", echo.addr).unwrap();
    let mut bob = login_tunnel(node.addr(), "bob", "b-pw", echo.addr).unwrap();
    assert_eq!(round_trip(&mut bob, b"hi"), b"hi");

    // bob goes, carol comes, and the echo's port is denied from now on.
    edit(
        &node,
        "name = \"bob\"\npassword = \"b-pw\"",
        "name = \"carol\"\npassword = \"c-pw\"",
    );
    edit(
        &node,
        "allow_private = true\n",
        &format!(
            "allow_private = true\ndeny_ports = [\"{}\"]\n",
            echo.addr.port()
        ),
    );
    node.signal(libc::SIGHUP);
    node.wait_log("reloaded:", 1);
    assert!(closed_by_peer(&mut bob), "bob's session ends with bob");
    assert_eq!(round_trip(&mut alice, b"still"), b"still", "alice's stays");
    assert_eq!(
        login_tunnel(node.addr(), "bob", "b-pw", echo.addr).err(),
        Some(0xff)
    );
    // carol logs in, and the new policy refuses the denied port (reply 2).
    assert_eq!(
        login_tunnel(node.addr(), "carol", "c-pw", echo.addr).err(),
        Some(2)
    );

    // A file that does not validate: logged, and nothing changes.
    edit(&node, "mode = \"static\"", "mode = \"bogus\"");
    node.signal(libc::SIGHUP);
    node.wait_log("reload refused, the running config stays", 1);
    assert_eq!(round_trip(&mut alice, b"again"), b"again");
    assert_eq!(
        login_tunnel(node.addr(), "carol", "c-pw", echo.addr).err(),
        Some(2)
    );
    assert!(node.log().contains("auth.mode"), "the error names the key");
}

#[test]
fn check_validates_a_file_and_exits_0_or_2() {
    let dir = TempDir::new("check");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, USERS).unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!("{USERS}[policy]\ndeny_domains_file = \"missing.txt\"\n"),
    )
    .unwrap();
    let run = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["node", "--check", "--config"])
            .arg(path)
            .output()
            .unwrap()
    };
    let ok = run(&good);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).ends_with(": ok\n"));
    let refused = run(&bad);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("policy.deny_domains_file"), "{stderr}");
    assert!(stderr.contains("missing.txt"), "{stderr}");
}
