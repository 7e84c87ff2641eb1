//! The TLS endpoint in the registry, against a real anvil: `set-endpoint --tls` reads the
//! pin from the node's certificate through its config, the contract stores the entry,
//! `nodes` lists it and `token` prints the https:// proxy URL with curl's pin flags.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::anvil;

use anvil::{aqueduct, cast, dev_key, path_str, Anvil};
use aqueduct::config::tls::load_tls_section;
use aqueduct::tls::cert::load_or_generate;

#[test]
fn set_endpoint_tls_publishes_the_pin_and_token_prints_https() {
    let anvil = Anvil::start();
    let d = anvil.deploy_dev(&[
        "--price", "10", "--period", "1h", "--epoch", "1h", "--slot", "30m",
    ]);
    let contract = d.contract.to_string();
    let run = |key: usize, args: &[&str]| {
        let key = anvil.key_file(key);
        let mut full: Vec<&str> = args.to_vec();
        full.extend([
            "--rpc",
            &anvil.url,
            "--contract",
            &contract,
            "--key",
            path_str(&key),
        ]);
        aqueduct(&full)
    };
    let node = dev_key(1).address().to_string();
    assert!(
        run(
            0,
            &[
                "add-node",
                "--node",
                &node,
                "--endpoint",
                "127.0.0.1:1080",
                "--payee",
                &node
            ]
        )
        .ok
    );

    // The node's config: no [tls] paths, so its certificate is self-signed beside it.
    let config = anvil.dir.join("node.toml");
    std::fs::write(&config, "[node]\nlisten = [\"127.0.0.1:1080\"]\n[tls]\n").unwrap();
    let cfg = path_str(&config);

    // Before the node's first start there is no certificate: refused, nothing created.
    let early = run(
        1,
        &["set-endpoint", "--tls", "127.0.0.1:8443", "--config", cfg],
    );
    assert_eq!(early.code, Some(1), "{}", early.stderr);
    assert!(
        early.stderr.contains("start the node once"),
        "{}",
        early.stderr
    );
    let source = load_tls_section(&config).unwrap();
    // What the node does at its first start.
    let pin = load_or_generate(&source).unwrap().pin.to_string();

    let set = run(
        1,
        &[
            "set-endpoint",
            "--endpoint",
            "127.0.0.1:1080",
            "--tls",
            "127.0.0.1:8443",
            "--config",
            cfg,
            "--json",
        ],
    );
    assert!(set.ok, "{}", set.stderr);
    let want = format!("127.0.0.1:1080 tls=127.0.0.1:8443 pin={pin}");
    assert_eq!(set.json()["endpoint"], want.as_str());
    let info = cast(&[
        "call",
        "--rpc-url",
        &anvil.url,
        &contract,
        "nodeAt(uint256)(address,string,bool)",
        "0",
    ]);
    assert!(info.contains(&want), "{info}");
    let listed = aqueduct(&["nodes", "--rpc", &anvil.url, "--contract", &contract]);
    assert!(
        listed.stdout.contains(&want),
        "{} {}",
        listed.stdout,
        listed.stderr
    );

    // A member's token: the https:// URL and the curl flags carrying the same pin.
    let sub = run(2, &["subscribe", "--periods", "1"]);
    assert!(sub.ok, "{}", sub.stderr);
    let token = run(2, &["token", "--node", &node, "--ttl", "1h", "--json"]);
    assert!(token.ok, "{}", token.stderr);
    let j = token.json();
    let https = j["https"][0].as_str().unwrap();
    assert!(
        https.starts_with("https://") && https.ends_with("@127.0.0.1:8443"),
        "{https}"
    );
    let curl = j["curl"][0].as_str().unwrap();
    assert_eq!(
        curl,
        format!("--proxy {https} --proxy-insecure --proxy-pinnedpubkey {pin}")
    );
    assert!(j["socks5"][0]
        .as_str()
        .unwrap()
        .ends_with("@127.0.0.1:1080"));
    let text = run(2, &["token", "--node", &node, "--ttl", "1h"]);
    assert!(
        text.stdout.contains("curl 8.10 or later"),
        "{}",
        text.stdout
    );

    // TLS-only, with an explicit pin; a bad pin and --tls without a pin are usage errors.
    let only = run(
        1,
        &["set-endpoint", "--tls", "127.0.0.1:8443", "--pin", &pin],
    );
    assert!(only.ok, "{}", only.stderr);
    let bad = run(
        1,
        &[
            "set-endpoint",
            "--tls",
            "127.0.0.1:8443",
            "--pin",
            "sha256//AAAA",
        ],
    );
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    let none = run(1, &["set-endpoint", "--tls", "127.0.0.1:8443"]);
    assert_eq!(none.code, Some(2), "{}", none.stderr);
    assert!(none.stderr.contains("--config"), "{}", none.stderr);
    // An entry the contract could not store is refused before any transaction.
    let long = format!("{}.example:443", "a".repeat(200));
    let too_long = run(1, &["set-endpoint", "--tls", &long, "--pin", &pin]);
    assert_eq!(too_long.code, Some(2), "{}", too_long.stderr);
    assert!(
        too_long.stderr.contains("at most 260"),
        "{}",
        too_long.stderr
    );
}
