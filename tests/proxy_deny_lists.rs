//! `[policy]` deny lists against the real node with curl: names denied exactly and by
//! `*.suffix` (from the config and from a file), addresses denied from a file after the
//! name resolved, each refusal counted by rule on `/metrics`; allowed names still work.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{ops, proxy};

use ops::{metrics_url, scrape};
use proxy::{curl, curl_status, Node, Origin, TempDir, ALICE, PAGE};

#[test]
fn names_and_addresses_on_the_deny_lists_are_refused_and_counted() {
    let dir = TempDir::new("deny-lists");
    let hosts = dir.path().join("hosts");
    // Every name resolves on loopback; 127.0.0.2 is on the denied-address list.
    std::fs::write(
        &hosts,
        "127.0.0.1 ok.test blocked.test www.blocked.test tracker.ads.test ads.test\n\
         127.0.0.2 elsewhere.test\n",
    )
    .unwrap();
    let domains = dir.path().join("deny-domains.txt");
    std::fs::write(
        &domains,
        "# ad networks\n*.ads.test   # and what is under it\n\n",
    )
    .unwrap();
    let cidrs = dir.path().join("deny-cidrs.txt");
    std::fs::write(&cidrs, "127.0.0.2/32\n").unwrap();
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\ndeny_domains = [\"Blocked.test\"]\n\
         deny_domains_file = \"{}\"\ndeny_cidrs_file = \"{}\"\n\
         [dns]\nnameservers = [\"127.0.0.1:9\"]\nresolv_conf = \"{}\"\nhosts_file = \"{}\"\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n",
        domains.display(),
        cidrs.display(),
        dir.path().join("resolv.conf").display(),
        hosts.display()
    ));
    let origin = Origin::start("127.0.0.1:0");
    let port = origin.addr.port();
    let proxy = format!("http://alice:s3cret%3Apw@{}", node.addr());
    let socks = format!("socks5h://alice:s3cret%3Apw@{}", node.addr());
    let url = |name: &str| format!("http://{name}:{port}/");

    // Allowed: the page comes back through both protocols.
    for p in [&proxy, &socks] {
        let out = curl(&["-x", p, &url("ok.test")]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), PAGE, "{p}");
    }
    // The exact name, in any case; not its subdomains.
    assert_eq!(curl_status(&["-x", &proxy, &url("BLOCKED.test")]), 403);
    assert_eq!(curl_status(&["-x", &proxy, &url("www.blocked.test")]), 200);
    // The file's suffix pattern: what is under ads.test, not ads.test itself.
    assert_eq!(curl_status(&["-x", &proxy, &url("tracker.ads.test")]), 403);
    assert!(!curl(&["-x", &socks, &url("tracker.ads.test")])
        .status
        .success());
    assert_eq!(curl_status(&["-x", &proxy, &url("ads.test")]), 200);
    // The name is fine, the address it resolves to is not.
    assert_eq!(curl_status(&["-x", &proxy, &url("elsewhere.test")]), 403);
    // The refusal says why, to the member and in the log.
    let out = curl(&["-x", &proxy, &url("blocked.test")]);
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("policy.deny_domains (blocked.test)"),
        "{body}"
    );
    node.wait_log("policy.deny_domains (*.ads.test)", 2);

    let m = scrape(&metrics_url(&node));
    assert_eq!(m["aqueduct_denials_total{rule=\"deny_domains\"}"], 4.0);
    assert_eq!(m["aqueduct_denials_total{rule=\"deny_cidrs\"}"], 1.0);
}

#[test]
fn a_bad_line_in_a_deny_file_stops_the_node_naming_file_and_line() {
    let dir = TempDir::new("deny-bad");
    let file = dir.path().join("deny.txt");
    std::fs::write(&file, "ok.example\nnot a name\n").unwrap();
    let (code, stderr) = proxy::refused_config(&format!(
        "{ALICE}[policy]\ndeny_domains_file = \"{}\"\n",
        file.display()
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("policy.deny_domains_file"), "{stderr}");
    assert!(stderr.contains("line 2: `not a name`"), "{stderr}");
}
