//! SIGHUP reloads the config of a running node (static users, policy, limits), keeping
//! live sessions except those of removed accounts; a broken config is refused and the
//! old one stays in force. `--check` validates a config and its files and exits.

#[path = "support/proxy.rs"]
mod proxy;

use proxy::*;
use std::io::Write;
use std::process::Command;

const TWO_USERS: &str = "[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"alice\"\npassword = \"s3cret:pw\"\n[[auth.users]]\nname = \"bob\"\npassword = \"pw\"\n[policy]\nallow_private = true\n";

fn rewrite(node: &Node, sections: &str) {
    // Keep the [node] and [dns] sections the harness wrote; replace the rest.
    let path = node.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let node_end = text[1..].find("\n[").map_or(text.len(), |i| i + 2);
    let dns = text.find("[dns]").map_or("", |i| &text[i..]);
    std::fs::write(&path, format!("{}{sections}\n{dns}", &text[..node_end])).unwrap();
}

fn http_status(node: &Node, user: &str, origin: &TestServer) -> u16 {
    let proxy = format!("http://{}", node.addr());
    let page = format!("http://{}/", origin.addr);
    curl_status(&["-x", &proxy, "-U", user, &page])
}

#[test]
fn sighup_applies_a_good_config_keeps_live_sessions_and_refuses_a_broken_one() {
    let origin = Origin::start("127.0.0.1:0");
    let echo = Echo::start();
    let node = Node::start(TWO_USERS);
    assert_eq!(http_status(&node, "bob:pw", &origin), 200);
    // A live tunnel of alice's and one of bob's.
    let (mut alice, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    assert_eq!(round_trip(&mut alice, b"before"), b"before");
    let mut bob = connect(node.addr());
    bob.write_all(&socks_handshake_bytes(
        "bob",
        "pw",
        &SocksTarget::Addr(echo.addr),
    ))
    .unwrap();
    assert_eq!(read_socks_replies(&mut bob).unwrap().0, 0);

    // bob is removed: his tunnel closes, alice's stays, bob is refused from now on.
    rewrite(&node, &format!("{ALICE}[policy]\nallow_private = true\n"));
    node.signal(libc::SIGHUP);
    node.wait_log("SIGHUP: reloaded users, policy and limits; 1 sessions", 1);
    assert!(
        closed_by_peer(&mut bob),
        "the removed account's tunnel was closed"
    );
    assert_eq!(
        round_trip(&mut alice, b"after"),
        b"after",
        "alice's tunnel lives on"
    );
    assert_eq!(http_status(&node, "bob:pw", &origin), 407);
    assert_eq!(http_status(&node, "alice:s3cret:pw", &origin), 200);

    // A broken config: refused, logged, and alice is still served.
    rewrite(&node, &format!("{ALICE}[limits]\nmax_mbit = -1\n"));
    node.signal(libc::SIGHUP);
    let log = node.wait_log("the config was refused, the old one stays in force", 1);
    assert!(log.contains("limits.max_mbit"), "{log}");
    assert_eq!(http_status(&node, "alice:s3cret:pw", &origin), 200);
    assert_eq!(round_trip(&mut alice, b"still"), b"still");
}

#[test]
fn check_validates_a_config_and_exits() {
    let dir = TempDir::new("check");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, format!("{}{ALICE}", base_config(dir.path()))).unwrap();
    let run = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["node", "--config"])
            .arg(path)
            .arg("--check")
            .output()
            .unwrap()
    };
    let out = run(&good);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "{}{ALICE}[limits]\nlink_mbit = 100\n",
            base_config(dir.path())
        ),
    )
    .unwrap();
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("limits.link_mbit"));
    // A file the config names that is not what it should be.
    let missing = dir.path().join("missing.toml");
    let garbage = dir.path().join("allowance.json");
    std::fs::write(&garbage, "not json").unwrap();
    std::fs::write(
        &missing,
        format!(
            "{}{ALICE}[limits]\nmonthly_gb = 1\nallowance_file = \"{}\"\n",
            base_config(dir.path()),
            garbage.display()
        ),
    )
    .unwrap();
    let out = run(&missing);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an allowance file"));
}
