//! The node's life around its sessions: handshake and idle timeouts, the session limit,
//! messages split at every byte or pipelined with data, and draining on SIGTERM.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

fn config(extra: &str) -> String {
    format!("{ALICE}[policy]\nallow_private = true\n{extra}")
}

#[test]
fn slow_handshake_is_closed_at_the_timeout_while_others_are_served() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&config("[timeouts]\nhandshake_secs = 3\n"));
    // Half a greeting, then nothing.
    let mut slow = connect(node.addr());
    slow.write_all(&[5, 1]).unwrap();
    let url = format!("http://{}/", origin.addr);
    let proxy = node.addr().to_string();
    assert_eq!(
        curl_ok(&["--socks5", &proxy, "-U", "alice:s3cret:pw", &url]),
        PAGE
    );
    assert!(
        still_open(&slow),
        "the slow client is still waiting while curl was served"
    );
    assert!(closed_by_peer(&mut slow), "closed at the handshake timeout");
    node.wait_log("outcome=handshake_timeout", 1);
}

#[test]
fn idle_tunnel_is_closed_at_the_idle_timeout() {
    let echo = Echo::start();
    let node = Node::start(&config("[timeouts]\nidle_secs = 1\n"));
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    assert_eq!(round_trip(&mut tunnel, b"ping"), b"ping");
    assert!(closed_by_peer(&mut tunnel));
    node.wait_log("outcome=idle_timeout", 1);
}

#[test]
fn connections_beyond_max_sessions_are_closed_at_once() {
    let echo = Echo::start();
    let node = Node::start(&config("[limits]\nmax_sessions = 2\n"));
    let (mut a, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    let (mut b, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    // The third gets no method reply: it is closed as soon as it is accepted.
    let mut c = connect(node.addr());
    let _ = c.write_all(&[5, 1, 2]);
    assert!(read_to_end_or_reset(&mut c).is_empty());
    assert_eq!(round_trip(&mut a, b"still served"), b"still served");
    // Once one finishes, a new client is served again.
    drop(a);
    node.wait_log("outcome=ok", 1);
    let (mut d, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    assert_eq!(round_trip(&mut d, b"next"), b"next");
    assert_eq!(round_trip(&mut b, b"b too"), b"b too");
    assert!(node.log().contains("limits.max_sessions"), "{}", node.log());
}

fn read_to_end_or_reset(s: &mut TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn socks_handshake_split_at_every_byte() {
    let echo = Echo::start();
    let node = Node::start(&config(""));
    let bytes = socks_handshake_bytes("alice", "s3cret:pw", &SocksTarget::Addr(echo.addr));
    for split in 1..bytes.len() {
        let mut s = connect(node.addr());
        s.set_nodelay(true).unwrap();
        s.write_all(&bytes[..split]).unwrap();
        thread::sleep(Duration::from_millis(3));
        s.write_all(&bytes[split..]).unwrap();
        let (code, _) = read_socks_replies(&mut s).unwrap();
        assert_eq!(code, 0, "split at {split}");
        assert_eq!(round_trip(&mut s, b"ok"), b"ok", "split at {split}");
    }
    // And one byte per write.
    let mut s = connect(node.addr());
    s.set_nodelay(true).unwrap();
    for b in &bytes {
        s.write_all(&[*b]).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(read_socks_replies(&mut s).unwrap().0, 0);
    assert_eq!(round_trip(&mut s, b"bytewise"), b"bytewise");
}

#[test]
fn http_connect_head_split_at_every_byte() {
    let echo = Echo::start();
    let node = Node::start(&config(""));
    // "alice:s3cret:pw" in base64.
    let head = format!(
        "CONNECT {} HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0OnB3\r\n\r\n",
        echo.addr, echo.addr
    );
    let bytes = head.as_bytes();
    let expected = b"HTTP/1.1 200";
    for split in 1..bytes.len() {
        let mut s = connect(node.addr());
        s.set_nodelay(true).unwrap();
        s.write_all(&bytes[..split]).unwrap();
        thread::sleep(Duration::from_millis(3));
        s.write_all(&bytes[split..]).unwrap();
        let mut reply = Vec::new();
        while !reply.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            std::io::Read::read_exact(&mut s, &mut b).unwrap();
            reply.push(b[0]);
            assert!(reply.len() < 4096);
        }
        assert!(reply.starts_with(expected), "split at {split}: {reply:?}");
        assert_eq!(round_trip(&mut s, b"tunnel"), b"tunnel");
    }
}

#[test]
fn handshake_pipelined_with_data_in_one_write() {
    let echo = Echo::start();
    let node = Node::start(&config(""));
    for target in [
        SocksTarget::Addr(echo.addr),
        SocksTarget::Name("localhost", echo.addr.port()),
    ] {
        let mut s = connect(node.addr());
        let mut bytes = socks_handshake_bytes("alice", "s3cret:pw", &target);
        bytes.extend_from_slice(b"early data");
        s.write_all(&bytes).unwrap();
        let (code, _) = read_socks_replies(&mut s).unwrap();
        assert_eq!(code, 0);
        let mut back = [0u8; 10];
        std::io::Read::read_exact(&mut s, &mut back).unwrap();
        assert_eq!(&back, b"early data");
    }
    // HTTP CONNECT with tunnel data right behind the head.
    let mut s = connect(node.addr());
    let head = format!(
        "CONNECT {} HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0OnB3\r\n\r\nearly",
        echo.addr
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"early") {
        let mut b = [0u8; 1];
        std::io::Read::read_exact(&mut s, &mut b).unwrap();
        got.push(b[0]);
        assert!(got.len() < 4096);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"), "{got:?}");
}

#[test]
fn sigterm_drains_open_sessions_then_exits_0() {
    let echo = Echo::start();
    let mut node = Node::start(&config("[timeouts]\nshutdown_grace_secs = 60\n"));
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    node.signal(libc::SIGTERM);
    node.wait_log("no longer accepting", 1);
    // New clients are turned away; the open tunnel keeps working.
    assert!(
        TcpStream::connect(node.addr()).is_err(),
        "listener must be closed"
    );
    assert_eq!(round_trip(&mut tunnel, b"after SIGTERM"), b"after SIGTERM");
    assert!(node.is_running(), "the node waits for its session");
    // The client finishes: the session ends and the node exits cleanly.
    half_close(&tunnel);
    assert!(read_to_end(&mut tunnel).is_empty());
    let status = node.wait_exit();
    assert!(status.success(), "{status}");
    assert!(node.log().contains("all sessions finished"));
}

#[test]
fn a_second_ctrl_c_says_it_forces_the_exit_and_does() {
    let echo = Echo::start();
    let mut node = Node::start(&config("[timeouts]\nshutdown_grace_secs = 3600\n"));
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    node.signal(libc::SIGINT);
    let log = node.wait_log("no longer accepting", 1);
    assert!(
        log.contains("waiting up to 3600s for 1 open session to finish (Ctrl-C (SIGINT) again closes them now)"),
        "{log}"
    );
    assert!(node.is_running());
    node.signal(libc::SIGINT);
    let status = node.wait_exit();
    assert!(status.success(), "{status}");
    assert!(closed_by_peer(&mut tunnel));
    assert!(node
        .log()
        .contains("Ctrl-C (SIGINT) again: closing 1 open session now and exiting"));
}

#[test]
fn sigterm_grace_period_ends_stuck_sessions() {
    let echo = Echo::start();
    let mut node = Node::start(&config("[timeouts]\nshutdown_grace_secs = 1\n"));
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
    node.signal(libc::SIGINT);
    let status = node.wait_exit();
    assert!(status.success(), "{status}");
    assert!(closed_by_peer(&mut tunnel));
    assert!(node.log().contains("outcome=shutdown"), "{}", node.log());
}

#[test]
fn out_of_descriptors_pauses_accepting_and_recovers() {
    let origin = Origin::start("127.0.0.1:0");
    // Room for the node's own descriptors and a few sessions only.
    let node = Node::start_with_fd_limit(&config(""), 24);
    let mut clients = Vec::new();
    for _ in 0..40 {
        clients.push(connect(node.addr()));
    }
    let log = node.wait_log("pausing accepts", 1);
    assert_eq!(
        log.matches("pausing accepts").count(),
        1,
        "logged once:\n{log}"
    );
    // Free the descriptors: the queued connections are accepted and closed, and new
    // clients are served again.
    drop(clients);
    let url = format!("http://{}/", origin.addr);
    let proxy = node.addr().to_string();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let out = curl(&["--socks5", &proxy, "-U", "alice:s3cret:pw", &url]);
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout), PAGE);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never recovered:\n{}",
            node.log()
        );
        thread::sleep(Duration::from_millis(100));
    }
}
