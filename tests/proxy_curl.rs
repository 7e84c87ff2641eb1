//! curl through the real node: SOCKS5 (IP and hostname), HTTP forward and CONNECT, with
//! right, wrong and missing credentials, on IPv4 and IPv6 loopback.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;

fn private_ok() -> String {
    format!("{ALICE}[policy]\nallow_private = true\n")
}

#[test]
fn socks5_with_ip_and_with_hostname() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&private_ok());
    let proxy = node.addr().to_string();
    let url = format!("http://{}/", origin.addr);
    let page = curl_ok(&["--socks5", &proxy, "-U", "alice:s3cret:pw", &url]);
    assert_eq!(page, PAGE);
    // --socks5-hostname: the node resolves the name (from its hosts file).
    let url = format!("http://localhost:{}/", origin.addr.port());
    let page = curl_ok(&["--socks5-hostname", &proxy, "-U", "alice:s3cret:pw", &url]);
    assert_eq!(page, PAGE);
    let log = node.wait_log("outcome=ok", 2);
    assert!(
        log.contains(&format!(
            "account=alice target=localhost:{}",
            origin.addr.port()
        )),
        "{log}"
    );
    assert!(
        !log.contains("s3cret"),
        "passwords must never be logged:\n{log}"
    );
}

#[test]
fn socks5_wrong_or_missing_credentials_are_refused() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&private_ok());
    let proxy = node.addr().to_string();
    let url = format!("http://{}/", origin.addr);
    let wrong = curl(&["--socks5", &proxy, "-U", "alice:nope", &url]);
    assert!(!wrong.status.success());
    assert!(wrong.stdout.is_empty());
    let unknown = curl(&["--socks5", &proxy, "-U", "mallory:s3cret:pw", &url]);
    assert!(!unknown.status.success());
    // No credentials: curl offers only "no auth", which the node must not accept.
    let none = curl(&["--socks5", &proxy, &url]);
    assert!(!none.status.success());
    assert!(none.stdout.is_empty());
    let log = node.wait_log("outcome=auth_failed", 3);
    assert!(!log.contains("nope"), "{log}");
}

#[test]
fn http_forward_and_connect_with_basic_auth() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&private_ok());
    let proxy = format!("http://{}", node.addr());
    let url = format!("http://{}/echo", origin.addr);
    // Absolute-form forward: the origin sees an origin-form request without Proxy-*.
    let echoed = curl_ok(&["-x", &proxy, "-U", "alice:s3cret:pw", &url]);
    assert!(echoed.starts_with("GET /echo HTTP/1.1\r\n"), "{echoed}");
    assert!(
        !echoed.to_ascii_lowercase().contains("proxy-authorization"),
        "{echoed}"
    );
    // A request body after the head is relayed as it is.
    let echoed = curl_ok(&[
        "-x",
        &proxy,
        "-U",
        "alice:s3cret:pw",
        "--data-binary",
        "a=1&b=2",
        &url,
    ]);
    assert!(echoed.starts_with("POST /echo HTTP/1.1\r\n"), "{echoed}");
    assert!(echoed.ends_with("\r\n\r\na=1&b=2"), "{echoed}");
    // CONNECT tunnel (-p).
    let echoed = curl_ok(&["-x", &proxy, "-U", "alice:s3cret:pw", "-p", &url]);
    assert!(echoed.starts_with("GET /echo HTTP/1.1\r\n"), "{echoed}");
    node.wait_log("outcome=ok", 3);
}

#[test]
fn http_without_or_with_wrong_credentials_gets_407() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&private_ok());
    let proxy = format!("http://{}", node.addr());
    let url = format!("http://{}/", origin.addr);
    for extra in [
        &[][..],
        &["-U", "alice:wrong"][..],
        &["-U", "bob:s3cret:pw"][..],
    ] {
        let mut args = vec!["-x", proxy.as_str(), "-D", "-", url.as_str()];
        args.extend_from_slice(extra);
        let out = curl(&args);
        let head = String::from_utf8_lossy(&out.stdout);
        assert!(head.starts_with("HTTP/1.1 407"), "{extra:?}: {head}");
        assert!(head.contains("Proxy-Authenticate: Basic"), "{head}");
        assert!(!head.contains(PAGE), "{head}");
        // And for CONNECT.
        let mut args = vec!["-x", proxy.as_str(), "-p", url.as_str()];
        args.extend_from_slice(extra);
        assert!(!curl(&args).status.success(), "{extra:?}");
    }
}

#[test]
fn ipv6_listener_and_ipv6_target() {
    let origin = Origin::start("[::1]:0");
    let node = Node::start_on(&["[::1]:0"], &private_ok());
    assert!(node.addr().is_ipv6());
    let socks = format!("socks5h://[::1]:{}", node.addr().port());
    let url = format!("http://[::1]:{}/", origin.addr.port());
    assert_eq!(
        curl_ok(&["-x", &socks, "-U", "alice:s3cret:pw", &url]),
        PAGE
    );
    let http = format!("http://[::1]:{}", node.addr().port());
    assert_eq!(curl_ok(&["-x", &http, "-U", "alice:s3cret:pw", &url]), PAGE);
    assert_eq!(
        curl_ok(&["-x", &http, "-U", "alice:s3cret:pw", "-p", &url]),
        PAGE
    );
    // The SOCKS5 success reply carries the real (IPv6) bound address of the upstream socket.
    let (_tunnel, bound) = socks_tunnel(node.addr(), SocksTarget::Addr(origin.addr));
    assert!(
        bound.is_ipv6() && bound.ip().is_loopback() && bound.port() != 0,
        "{bound}"
    );
}

#[test]
fn auth_none_on_loopback_needs_no_credentials() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start("[auth]\nmode = \"none\"\n[policy]\nallow_private = true\n");
    let url = format!("http://{}/", origin.addr);
    let socks = format!("socks5://{}", node.addr());
    assert_eq!(curl_ok(&["-x", &socks, &url]), PAGE);
    let http = format!("http://{}", node.addr());
    assert_eq!(curl_ok(&["-x", &http, &url]), PAGE);
    node.wait_log("account=- ", 2);
}

#[test]
fn open_proxy_on_a_public_address_is_refused_at_startup() {
    let (code, err) = refused_config("[node]\nlisten = [\"0.0.0.0:0\"]\n[auth]\nmode = \"none\"\n");
    assert_eq!(code, Some(2), "a config error is a usage error");
    assert!(
        err.contains("auth.mode") && err.contains("loopback"),
        "{err}"
    );
}
