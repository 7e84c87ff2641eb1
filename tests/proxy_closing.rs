//! A client the node has refused may go on sending (the body of a refused POST, or a
//! misbehaving client): its refusal still arrives intact, and draining what it sends is
//! not mistaken for a stuck session (issue 11.6: 512 KB tripped the stuck-session guard,
//! logged "probable bug" and counted internal_error).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{ops, proxy};

use ops::{finished, get, node_with_metrics, scrape_until};
use proxy::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

const FLOOD_BYTES: usize = 1 << 20;

/// Sends `FLOOD_BYTES` on a clone of `s` from a thread; the node may close the
/// connection before taking them all, so write errors end it quietly.
fn keep_sending(s: &TcpStream) -> thread::JoinHandle<usize> {
    let mut w = s.try_clone().unwrap();
    thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < FLOOD_BYTES {
            match w.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    })
}

/// Reads until `end` has been seen (or EOF); returns what came.
fn read_until(s: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(end.len()).any(|w| w == end) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn a_refused_client_that_keeps_sending_gets_its_answer_and_is_no_internal_error() {
    let (node, url) = node_with_metrics();
    let origin = Origin::start("127.0.0.1:0");

    // HTTP: a POST without credentials and with a 1 MB body, sent without waiting.
    let mut http = connect(node.addr());
    http.write_all(
        format!(
            "POST http://{}/upload HTTP/1.1\r\nHost: {}\r\nContent-Length: {FLOOD_BYTES}\r\n\r\n",
            origin.addr, origin.addr
        )
        .as_bytes(),
    )
    .unwrap();
    let body = keep_sending(&http);
    let answer = read_until(&mut http, b"\r\n\r\n");
    assert!(
        answer.starts_with(b"HTTP/1.1 407"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    body.join().unwrap();

    // SOCKS5: a wrong password, then 1 MB more.
    let mut socks = connect(node.addr());
    socks
        .write_all(&socks_handshake_bytes(
            "alice",
            "wrong",
            &SocksTarget::Addr(origin.addr),
        ))
        .unwrap();
    let more = keep_sending(&socks);
    let mut replies = [0u8; 4];
    socks.read_exact(&mut replies).unwrap();
    assert_eq!(replies, [5, 2, 1, 1], "user/pass chosen, then refused");
    more.join().unwrap();
    drop((http, socks));

    let m = scrape_until(&url, |m| finished(m) >= 2.0);
    assert_eq!(
        get(&m, "aqueduct_sessions_total{outcome=\"auth_failed\"}"),
        2.0
    );
    assert_eq!(
        get(&m, "aqueduct_sessions_total{outcome=\"internal_error\"}"),
        0.0
    );
    let log = node.log();
    assert!(!log.contains("probable bug"), "{log}");
}
