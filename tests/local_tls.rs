//! `aqueduct local` and TLS nodes, on loopback with a real anvil and real nodes: it
//! prefers a node's TLS endpoint (its pin checked) to a plain one, refuses a node whose
//! key does not match its pin ("pin mismatch: possible interception"), leaves plain
//! nodes out under `[local] require_tls`, and `--list` marks plain nodes unencrypted.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, local, proxy, tls};

use anvil::{aqueduct, dev_key, path_str, Anvil};
use aqueduct::tls::Pin;
use local::Local;
use proxy::{curl, curl_ok, Origin, TempDir, PAGE};
use std::fs;
use tls::TlsNode;

const MEMBER: usize = 4;

/// A paid member's credential for any node (as the website would sign it).
fn member_credential(anvil: &Anvil, contract: &str) -> (String, String) {
    let key = anvil.key_file(MEMBER);
    let chain = [
        "--rpc",
        &anvil.url,
        "--contract",
        contract,
        "--key",
        path_str(&key),
    ];
    let mut sub = vec!["subscribe", "--periods", "1"];
    sub.extend(chain);
    let run = aqueduct(&sub);
    assert!(run.ok, "subscribe: {}", run.stderr);
    let mut token = vec!["token", "--node", "any", "--ttl", "1h", "--json"];
    token.extend(chain);
    let j = aqueduct(&token).json();
    (
        j["username"].as_str().unwrap().to_string(),
        j["password"].as_str().unwrap().to_string(),
    )
}

fn start_local(anvil: &Anvil, contract: &str, dir: &TempDir, name: &str, local: &str) -> Local {
    let config = dir.path().join(format!("{name}.toml"));
    fs::write(&config, local).unwrap();
    Local::start(
        dir.path(),
        &[
            "--config",
            path_str(&config),
            "--rpc",
            &anvil.url,
            "--contract",
            contract,
        ],
    )
}

fn local_section(credential: &(String, String), nodes: &[String], extra: &str) -> String {
    let nodes: Vec<String> = nodes.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "[local]\nregistry = false\ncredential = \"{}:{}\"\nnodes = [{}]\n{extra}",
        credential.0,
        credential.1,
        nodes.join(", ")
    )
}

#[test]
fn local_prefers_tls_checks_the_pin_and_can_require_tls() {
    let anvil = Anvil::start();
    let contract = anvil.deploy_dev(&[]).contract.to_string();
    let credential = member_credential(&anvil, &contract);
    let sections = format!(
        "[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"{}\"\npassword = \"{}\"\n[policy]\nallow_private = true\n",
        credential.0, credential.1
    );
    let (dir_a, dir_b, dir_l) = (
        TempDir::new("tls-a"),
        TempDir::new("tls-b"),
        TempDir::new("tls-l"),
    );
    let tls_node = TlsNode::start(dir_a.path(), &sections);
    let plain_node = TlsNode::start(dir_b.path(), &sections);
    let (a, b) = (dev_key(1).address(), dev_key(2).address());
    let tls_entry = format!("tls={} pin={}@{a}", tls_node.tls, tls_node.pin);
    let plain_entry = format!("{}@{b}", plain_node.plain);
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    let target = format!("target={}", origin.addr);

    // Both known: the TLS one carries the traffic, SOCKS5 and HTTP alike.
    let both = local_section(&credential, &[plain_entry.clone(), tls_entry.clone()], "");
    let mut local = start_local(&anvil, &contract, &dir_l, "both", &both);
    local.wait_log(" up: connect ", 2);
    let socks = format!("socks5h://{}", local.addr);
    let http = format!("http://{}", local.addr);
    assert_eq!(curl_ok(&["--proxy", &socks, &url]), PAGE);
    assert_eq!(curl_ok(&["--proxy", &http, &url]), PAGE);
    let log = tls_node.wait_log(&target, 2);
    assert_eq!(log.matches(&target).count(), 2, "{log}");
    assert!(!plain_node.log().contains(&target), "{}", plain_node.log());
    // The probe went over TLS too: the TLS node saw the member log in on its TLS port.
    assert!(log.contains(&credential.0), "{log}");

    // `--list`: the plain node is marked unencrypted, the TLS one is not.
    let config = dir_l.path().join("both.toml");
    let listed = aqueduct(&[
        "local",
        "--list",
        "--config",
        path_str(&config),
        "--rpc",
        &anvil.url,
        "--contract",
        &contract,
    ]);
    assert!(listed.ok, "{}", listed.stderr);
    let plain_line = listed
        .stdout
        .lines()
        .find(|l| l.contains(&plain_node.plain.to_string()))
        .unwrap();
    assert!(plain_line.contains("unencrypted"), "{}", listed.stdout);
    let tls_line = listed
        .stdout
        .lines()
        .find(|l| l.contains(&tls_node.tls.to_string()))
        .unwrap();
    assert!(!tls_line.contains("unencrypted"), "{}", listed.stdout);

    // A registered pin that is not the node's key: refused loudly, traffic elsewhere.
    let wrong = format!(
        "tls={} pin={}@{a}",
        tls_node.tls,
        Pin::of_spki(b"an interceptor")
    );
    let text = local_section(&credential, &[wrong, plain_entry.clone()], "");
    let mut local = start_local(&anvil, &contract, &dir_l, "wrong", &text);
    let log = local.wait_log("pin mismatch: possible interception", 1);
    assert!(log.contains(&a.to_string()), "{log}");
    let socks = format!("socks5h://{}", local.addr);
    assert_eq!(curl_ok(&["--proxy", &socks, &url]), PAGE);
    plain_node.wait_log(&target, 1);

    // require_tls with only a plain node: it is not used, nothing goes out in clear.
    let text = local_section(&credential, &[plain_entry], "require_tls = true\n");
    let mut local = start_local(&anvil, &contract, &dir_l, "strict", &text);
    local.wait_log("local.require_tls", 1);
    let socks = format!("socks5h://{}", local.addr);
    let out = curl(&["--proxy", &socks, &url]);
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(
        plain_node.log().matches(&target).count(),
        1,
        "{}",
        plain_node.log()
    );
}
