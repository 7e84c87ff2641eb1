//! The node's `tls_listen` with real clients: curl as an HTTPS-proxy client (forward and
//! CONNECT), SOCKS5 inside TLS with a pinned rustls client, headless chromium through
//! `--proxy-server=https://`, the self-signed certificate kept across a restart, what a
//! wire tap sees, and clients that stall or send garbage instead of a ClientHello.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::chromium::chromium;
use support::{proxy, tls};

use aqueduct::tls::configs::{pin_mismatch, pinned_client_config};
use aqueduct::tls::Pin;
use proxy::*;
use rustls::pki_types::ServerName;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use tls::TlsNode;

fn sections() -> String {
    format!("{ALICE}[policy]\nallow_private = true\n")
}

fn https_proxy(node: &TlsNode) -> String {
    format!("https://127.0.0.1:{}", node.tls.port())
}

/// The origin's page through the node's TLS listener, as alice.
fn fetch_through_tls(node: &TlsNode, origin: &TestServer) -> String {
    let proxy = https_proxy(node);
    let url = format!("http://{}/", origin.addr);
    curl_ok(&[
        "--proxy",
        &proxy,
        "--proxy-user",
        "alice:s3cret:pw",
        "--proxy-insecure",
        &url,
    ])
}

#[test]
fn curl_through_the_tls_listener_forward_and_connect() {
    let dir = TempDir::new("tls-curl");
    let node = TlsNode::start(dir.path(), &sections());
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    let pin = node.pin.to_string();
    let proxy = https_proxy(&node);
    let base = [
        "--proxy",
        proxy.as_str(),
        "--proxy-user",
        "alice:s3cret:pw",
        "--proxy-insecure",
        "--proxy-pinnedpubkey",
        pin.as_str(),
    ];
    // Absolute-form forward, then CONNECT (-p), both inside TLS.
    let mut forward = base.to_vec();
    forward.push(&url);
    assert_eq!(curl_ok(&forward), PAGE);
    let mut connect = base.to_vec();
    connect.extend(["-p", url.as_str()]);
    assert_eq!(curl_ok(&connect), PAGE);
    // Without credentials: 407 from inside TLS.
    let status = curl_status(&["--proxy", &proxy, "--proxy-insecure", &url]);
    assert_eq!(status, 407);
    // The plain listener still serves as before.
    let plain = format!("http://{}", node.plain);
    assert_eq!(
        curl_ok(&["--proxy", &plain, "-U", "alice:s3cret:pw", &url]),
        PAGE
    );
    let log = node.wait_log("account=alice", 3);
    assert!(log.matches("account=alice").count() == 3, "{log}");
    assert!(log.contains("outcome=auth_failed"), "{log}");
}

/// A blocking rustls client that trusts exactly `pin`.
fn tls_client(
    addr: SocketAddr,
    pin: Pin,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = ServerName::try_from("aqueduct-node.invalid").unwrap();
    let conn = rustls::ClientConnection::new(pinned_client_config(pin), name).unwrap();
    rustls::StreamOwned::new(conn, connect(addr))
}

#[test]
fn socks5_inside_tls_with_the_pin_and_a_wrong_pin_refused() {
    let dir = TempDir::new("tls-socks");
    let node = TlsNode::start(dir.path(), &sections());
    let origin = Origin::start("127.0.0.1:0");
    let mut s = tls_client(node.tls, node.pin);
    s.write_all(&socks_handshake_bytes(
        "alice",
        "s3cret:pw",
        &SocksTarget::Addr(origin.addr),
    ))
    .unwrap();
    let mut replies = [0u8; 14];
    s.read_exact(&mut replies).unwrap();
    assert_eq!(&replies[..5], &[5, 2, 1, 0, 5], "UserPass, auth ok, reply");
    assert_eq!(replies[5], 0, "CONNECT succeeded");
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(String::from_utf8_lossy(&got).ends_with(PAGE), "{got:?}");

    // Another pin: the handshake fails as a pin mismatch before anything is sent.
    let mut wrong = tls_client(node.tls, Pin::of_spki(b"someone else"));
    let err = wrong
        .write_all(b"\x05\x01\x02")
        .and_then(|_| wrong.flush())
        .and_then(|_| {
            let mut b = [0u8; 2];
            wrong.read_exact(&mut b)
        });
    let err = err.expect_err("a wrong pin must fail");
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .expect("a rustls error");
    let mismatch = pin_mismatch(inner).expect("a pin mismatch");
    assert_eq!(mismatch.presented, node.pin);
}

#[test]
fn the_self_signed_certificate_is_kept_across_a_restart() {
    let dir = TempDir::new("tls-restart");
    let first = TlsNode::start(dir.path(), &sections());
    assert!(first.log().contains("generated now"), "{}", first.log());
    let pin = first.pin;
    drop(first);
    for f in ["node.toml.tls-cert.pem", "node.toml.tls-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let second = TlsNode::start(dir.path(), &sections());
    assert_eq!(second.pin, pin);
    assert!(!second.log().contains("generated now"), "{}", second.log());
    // And it serves with that pin.
    let origin = Origin::start("127.0.0.1:0");
    assert_eq!(fetch_through_tls(&second, &origin), PAGE);
}

/// Accepts one connection and relays it to `to`, keeping what the client sent.
fn tap(to: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&seen);
    let handle = thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = connect(to);
        client.set_read_timeout(Some(WAIT)).unwrap();
        let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = c_read.read(&mut buf) {
                if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                    break;
                }
                keep.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = s_write.shutdown(std::net::Shutdown::Write);
        });
        let (mut s_read, mut c_write) = (server, client);
        let mut buf = [0u8; 16384];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(std::net::Shutdown::Write);
        let _ = up.join();
    });
    (addr, seen, handle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_wire_tap_sees_no_credential_and_no_destination_on_the_tls_leg() {
    let dir = TempDir::new("tls-tap");
    let node = TlsNode::start(dir.path(), &sections());
    let origin = Origin::start("127.0.0.1:0");
    // A name, so the destination is text a tap could look for.
    let url = format!("http://localhost:{}/", origin.addr.port());
    let basic = "YWxpY2U6czNjcmV0OnB3"; // base64("alice:s3cret:pw")
    let secrets: [&[u8]; 4] = [b"alice", b"s3cret", basic.as_bytes(), b"localhost"];

    // The plain leg, as a control: the tap sees the credential (HTTP Basic) and the name.
    let (addr, seen, handle) = tap(node.plain);
    let proxy = format!("http://{addr}");
    assert_eq!(
        curl_ok(&["--proxy", &proxy, "-U", "alice:s3cret:pw", &url]),
        PAGE
    );
    handle.join().unwrap();
    let plain = seen.lock().unwrap().clone();
    for s in [basic.as_bytes(), b"localhost"] {
        assert!(
            contains(&plain, s),
            "the control tap misses {:?}",
            String::from_utf8_lossy(s)
        );
    }

    // The TLS leg: none of it.
    let (addr, seen, handle) = tap(node.tls);
    let proxy = format!("https://{addr}");
    let page = curl_ok(&[
        "--proxy",
        &proxy,
        "-U",
        "alice:s3cret:pw",
        "--proxy-insecure",
        &url,
    ]);
    assert_eq!(page, PAGE);
    handle.join().unwrap();
    let wire = seen.lock().unwrap().clone();
    assert!(wire.len() > 100, "the tap saw the handshake");
    for s in secrets {
        assert!(
            !contains(&wire, s),
            "{:?} in clear on the TLS leg",
            String::from_utf8_lossy(s)
        );
    }
}

#[test]
fn stalled_and_garbage_tls_clients_are_closed_and_others_served() {
    let dir = TempDir::new("tls-stall");
    let node = TlsNode::start(
        dir.path(),
        &format!("{}[tls]\nhandshake_secs = 1\n", sections()),
    );
    let origin = Origin::start("127.0.0.1:0");
    // Silent after connecting, and half a ClientHello (a TLS record header promising more).
    let mut silent = connect(node.tls);
    let mut half = connect(node.tls);
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .unwrap();
    // Plain HTTP on the TLS port instead of a ClientHello.
    let mut garbage = connect(node.tls);
    garbage
        .write_all(b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Meanwhile a real client is served.
    assert_eq!(fetch_through_tls(&node, &origin), PAGE);
    assert!(closed_by_peer(&mut garbage));
    assert!(
        closed_by_peer(&mut silent),
        "closed at the TLS handshake deadline"
    );
    assert!(closed_by_peer(&mut half));
    let log = node.wait_log("outcome=handshake_timeout", 2);
    assert!(
        log.contains("reason=\"bad handshake: TLS handshake failed\""),
        "{log}"
    );
    assert!(
        log.matches("outcome=handshake_timeout").count() >= 1,
        "{log}"
    );
}

#[test]
fn chromium_loads_a_page_through_the_tls_listener() {
    let dir = TempDir::new("tls-chromium");
    // Chromium cannot take proxy credentials on its command line: no auth, on loopback.
    let node = TlsNode::start(
        dir.path(),
        "[auth]\nmode = \"none\"\n[policy]\nallow_private = true\n",
    );
    let origin = Origin::start("127.0.0.1:0");
    let proxy = format!("--proxy-server=https://127.0.0.1:{}", node.tls.port());
    let page = chromium(
        dir.path(),
        &format!("http://{}/", origin.addr),
        &[
            // The node's certificate is self-signed: chromium has no pin to check.
            "--ignore-certificate-errors",
            &proxy,
            // Chromium sends loopback destinations direct unless told otherwise.
            "--proxy-bypass-list=<-loopback>",
            "--dump-dom",
        ],
    );
    assert!(page.contains(PAGE.trim()), "{page}");
    let log = node.wait_log("outcome=ok", 1);
    assert!(log.contains(&format!("target={}", origin.addr)), "{log}");
}
