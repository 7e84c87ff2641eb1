//! Failures become the right SOCKS5 reply codes and HTTP statuses: refused, unreachable,
//! DNS failure, policy denial (directly, via the hosts file and via DNS), unsupported
//! commands and address types.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};

/// A loopback port with nothing listening.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Sends a full handshake as alice and returns the CONNECT reply code.
fn socks_code(node: SocketAddr, target: SocksTarget) -> u8 {
    let mut s = connect(node);
    s.write_all(&socks_handshake_bytes("alice", "s3cret:pw", &target))
        .unwrap();
    let (code, _) = read_socks_replies(&mut s).unwrap();
    if code != 0 {
        assert!(
            closed_by_peer(&mut s),
            "node must close after a failure reply"
        );
    }
    code
}

#[test]
fn refused_target_is_reply_5_and_502() {
    let node = Node::start(&format!("{ALICE}[policy]\nallow_private = true\n"));
    let target = closed_port();
    assert_eq!(socks_code(node.addr(), SocksTarget::Addr(target)), 5);
    let url = format!("http://{target}/");
    let proxy = format!("http://{}", node.addr());
    assert_eq!(
        curl_status(&["-x", &proxy, "-U", "alice:s3cret:pw", &url]),
        502
    );
    let out = curl(&["-x", &proxy, "-U", "alice:s3cret:pw", "-p", &url]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("502"),
        "{out:?}"
    );
    let out = curl(&[
        "--socks5",
        &node.addr().to_string(),
        "-U",
        "alice:s3cret:pw",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(97), "curl: SOCKS5 connect failure");
    node.wait_log("reason=\"connection refused\"", 4);
}

#[test]
fn unreachable_network_is_reply_3() {
    // A TCP connect to a multicast address fails at once with ENETUNREACH and sends
    // nothing; the policy allows the range here so the connect is really attempted.
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\nallow_cidrs = [\"224.0.0.0/4\"]\n"
    ));
    let target: SocketAddr = "224.0.0.1:80".parse().unwrap();
    assert_eq!(socks_code(node.addr(), SocksTarget::Addr(target)), 3);
    let proxy = format!("http://{}", node.addr());
    assert_eq!(
        curl_status(&["-x", &proxy, "-U", "alice:s3cret:pw", "http://224.0.0.1/"]),
        502
    );
    node.wait_log("reason=\"network unreachable\"", 2);
}

#[test]
fn dns_failure_is_reply_4_and_502() {
    let dir = TempDir::new("dnsfail");
    let stub = DnsStub::start("known.test", "127.0.0.1".parse().unwrap());
    let node = Node::start(&format!("{ALICE}{}", stub.config(dir.path())));
    assert_eq!(
        socks_code(node.addr(), SocksTarget::Name("unknown.test", 80)),
        4
    );
    let proxy = format!("http://{}", node.addr());
    assert_eq!(
        curl_status(&[
            "-x",
            &proxy,
            "-U",
            "alice:s3cret:pw",
            "http://unknown.test/"
        ]),
        502
    );
    node.wait_log("reason=\"dns:", 2);
}

#[test]
fn name_resolved_through_dns_is_connected() {
    let dir = TempDir::new("dnsok");
    let origin = Origin::start("127.0.0.1:0");
    let stub = DnsStub::start("origin.test", "127.0.0.1".parse().unwrap());
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n{}",
        stub.config(dir.path())
    ));
    let url = format!("http://origin.test:{}/", origin.addr.port());
    let socks = format!("socks5h://{}", node.addr());
    assert_eq!(
        curl_ok(&["-x", &socks, "-U", "alice:s3cret:pw", &url]),
        PAGE
    );
    let http = format!("http://{}", node.addr());
    assert_eq!(curl_ok(&["-x", &http, "-U", "alice:s3cret:pw", &url]), PAGE);
}

#[test]
fn loopback_is_denied_by_default_even_through_names() {
    let dir = TempDir::new("deny");
    let origin = Origin::start("127.0.0.1:0");
    let stub = DnsStub::start("sneaky.test", "127.0.0.1".parse().unwrap());
    let port = origin.addr.port();
    // Hosts file `localhost` and the DNS stub both resolve to 127.0.0.1.
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let dns = format!(
        "[dns]\nnameservers = [\"{}\"]\nresolv_conf = \"{}\"\nhosts_file = \"{}\"\n",
        stub.addr,
        dir.path().join("none").display(),
        hosts.display()
    );
    let node = Node::start(&format!("{ALICE}[policy]\nallow_private = false\n{dns}"));
    assert_eq!(socks_code(node.addr(), SocksTarget::Addr(origin.addr)), 2);
    assert_eq!(
        socks_code(node.addr(), SocksTarget::Name("localhost", port)),
        2
    );
    assert_eq!(
        socks_code(node.addr(), SocksTarget::Name("sneaky.test", port)),
        2
    );
    let proxy = format!("http://{}", node.addr());
    for host in ["127.0.0.1", "localhost", "sneaky.test"] {
        let url = format!("http://{host}:{port}/");
        assert_eq!(
            curl_status(&["-x", &proxy, "-U", "alice:s3cret:pw", &url]),
            403,
            "{host}"
        );
        let out = curl(&["-x", &proxy, "-U", "alice:s3cret:pw", "-p", &url]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("403"),
            "{host}: {out:?}"
        );
    }
    let log = node.wait_log("denied by policy", 9);
    assert!(
        !log.contains("outcome=ok"),
        "nothing may get through:\n{log}"
    );
}

#[test]
fn unsupported_command_and_address_type() {
    let node = Node::start(&format!("{ALICE}[policy]\nallow_private = true\n"));
    let mut auth = vec![5, 1, 2, 1, 5];
    auth.extend_from_slice(b"alice");
    auth.push(9);
    auth.extend_from_slice(b"s3cret:pw");
    // BIND (2) and UDP ASSOCIATE (3): reply 7.
    for command in [2u8, 3] {
        let mut s = connect(node.addr());
        let mut bytes = auth.clone();
        bytes.extend_from_slice(&socks_request(command, &SocksTarget::Addr(closed_port())));
        s.write_all(&bytes).unwrap();
        let (code, _) = read_socks_replies(&mut s).unwrap();
        assert_eq!(code, 7, "command {command}");
        assert!(closed_by_peer(&mut s));
    }
    // Address type 9 does not exist: reply 8.
    let mut s = connect(node.addr());
    let mut bytes = auth.clone();
    bytes.extend_from_slice(&[5, 1, 0, 9, 1, 2, 3, 4, 0, 80]);
    s.write_all(&bytes).unwrap();
    let (code, _) = read_socks_replies(&mut s).unwrap();
    assert_eq!(code, 8);
    assert!(closed_by_peer(&mut s));
}

#[test]
fn garbage_and_malformed_http_are_closed_or_400() {
    let node = Node::start(&format!("{ALICE}[policy]\nallow_private = true\n"));
    // Neither SOCKS5 nor HTTP: closed without a word.
    let mut s = connect(node.addr());
    s.write_all(b"\x16\x03\x01 not a proxy request").unwrap();
    assert!(read_to_end(&mut s).is_empty());
    // Malformed HTTP: 400.
    let mut s = connect(node.addr());
    s.write_all(b"GET nonsense\r\n\r\n").unwrap();
    let reply = String::from_utf8(read_to_end(&mut s)).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    // A head larger than limits.max_handshake_bytes is refused, not buffered forever.
    let mut s = connect(node.addr());
    let mut big = b"GET http://127.0.0.1/ HTTP/1.1\r\nX-Fill: ".to_vec();
    big.resize(20_000, b'a');
    let _ = s.write_all(&big);
    let reply = String::from_utf8_lossy(&read_to_end(&mut s)).to_string();
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
}

/// A loopback listener whose accept queue is full: further SYNs are dropped, so a
/// connect to it neither succeeds nor fails until the connector gives up.
struct FullListener {
    fd: i32,
    pub addr: SocketAddr,
    _filler: std::net::TcpStream,
}

impl FullListener {
    fn new() -> FullListener {
        // SAFETY: plain socket calls on a descriptor this function owns; the sockaddr is
        // a correctly sized sockaddr_in.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0);
            let mut sin: libc::sockaddr_in = std::mem::zeroed();
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len),
                0
            );
            // Backlog 0: one connection fills the queue.
            assert_eq!(libc::listen(fd, 0), 0);
            let mut len = len;
            assert_eq!(
                libc::getsockname(fd, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len),
                0
            );
            let addr =
                SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, u16::from_be(sin.sin_port)));
            let filler = std::net::TcpStream::connect_timeout(&addr, WAIT).unwrap();
            FullListener {
                fd,
                addr,
                _filler: filler,
            }
        }
    }
}

impl Drop for FullListener {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor created in `new`, once.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn connect_timeout_is_reply_6_and_504() {
    let full = FullListener::new();
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[timeouts]\nconnect_secs = 1\n"
    ));
    assert_eq!(socks_code(node.addr(), SocksTarget::Addr(full.addr)), 6);
    let proxy = format!("http://{}", node.addr());
    let url = format!("http://{}/", full.addr);
    assert_eq!(
        curl_status(&["-x", &proxy, "-U", "alice:s3cret:pw", &url]),
        504
    );
    node.wait_log("reason=\"connect timeout\"", 2);
}

#[test]
fn socks_client_offering_only_no_auth_gets_no_acceptable_method() {
    let node = Node::start(&format!("{ALICE}[policy]\nallow_private = true\n"));
    let mut s = connect(node.addr());
    s.write_all(&[5, 1, 0]).unwrap();
    assert_eq!(read_to_end(&mut s), [5, 0xff], "method 0xFF, then close");
    node.wait_log("outcome=auth_failed", 1);
}
