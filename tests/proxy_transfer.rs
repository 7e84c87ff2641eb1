//! Bulk data through a SOCKS5 tunnel arrives intact (256 MiB each way, SHA-256 checked),
//! half-close works in both directions, and a reset from the origin reaches the client;
//! each in both relay modes (`[relay] mode`: splice(2) through pipes, and userspace copy).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use sha2::{Digest, Sha256};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;

const TOTAL: u64 = 256 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn config(relay: &str) -> String {
    format!("{ALICE}[policy]\nallow_private = true\n[relay]\nmode = \"{relay}\"\n")
}

/// One `#[test]` per relay mode for a scenario taking the mode.
macro_rules! in_both_relay_modes {
    ($scenario:ident: $splice:ident, $copy:ident) => {
        #[test]
        fn $splice() {
            $scenario("splice");
        }
        #[test]
        fn $copy() {
            $scenario("copy");
        }
    };
}

in_both_relay_modes!(transfer_256_mib_each_way: transfer_256_mib_each_way_is_intact, transfer_256_mib_each_way_is_intact_copying);
in_both_relay_modes!(half_close_from_the_origin: half_close_from_the_origin_keeps_the_other_direction_open, half_close_from_the_origin_copying);
in_both_relay_modes!(reset_by_the_origin: reset_by_the_origin_reaches_the_client, reset_by_the_origin_copying);
in_both_relay_modes!(reset_by_the_client: reset_by_the_client_reaches_the_origin, reset_by_the_client_copying);

/// Deterministic pseudo-random bytes, generated chunk by chunk (xorshift64*), so the
/// stream never has to exist in memory as a whole.
struct Stream {
    state: u64,
    left: u64,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        Stream {
            state: seed | 1,
            left: TOTAL,
        }
    }

    fn next_chunk<'a>(&mut self, buf: &'a mut [u8; CHUNK]) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        for word in buf.chunks_exact_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            word.copy_from_slice(&self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let n = (CHUNK as u64).min(self.left) as usize;
        self.left -= n as u64;
        Some(&buf[..n])
    }
}

/// Writes the whole stream; returns its digest.
fn send_stream(s: &mut TcpStream, seed: u64) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut stream = Stream::new(seed);
    let mut buf = Box::new([0u8; CHUNK]);
    while let Some(chunk) = stream.next_chunk(&mut buf) {
        hash.update(chunk);
        s.write_all(chunk).unwrap();
    }
    hash.finalize().into()
}

/// Reads until EOF; returns the byte count and digest.
fn receive_stream(s: &mut TcpStream) -> (u64, [u8; 32]) {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (total, hash.finalize().into()),
            Ok(n) => {
                hash.update(&buf[..n]);
                total += n as u64;
                assert!(total <= TOTAL, "more bytes than were sent");
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read after {total} bytes: {e}"),
        }
    }
}

/// A one-connection origin running `serve` in a thread.
fn origin<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        conn.set_write_timeout(Some(WAIT)).unwrap();
        serve(conn)
    });
    (addr, handle)
}

fn transfer_256_mib_each_way(relay: &str) {
    let node = Node::start(&config(relay));
    // Upload: client -> origin, then the client half-closes and the origin reports what
    // it received.
    let (up_addr, up_origin) = origin(|mut conn| {
        let got = receive_stream(&mut conn);
        conn.write_all(&got.1).unwrap();
        got
    });
    // Download: origin -> client, then the origin closes.
    let (down_addr, down_origin) = origin(|mut conn| send_stream(&mut conn, 2));

    let node_addr = node.addr();
    let uploader = thread::spawn(move || {
        let (mut tunnel, _) = socks_tunnel(node_addr, SocksTarget::Addr(up_addr));
        let sent = send_stream(&mut tunnel, 1);
        half_close(&tunnel);
        let mut echoed = [0u8; 32];
        tunnel.read_exact(&mut echoed).unwrap();
        (sent, echoed)
    });
    let (mut down, _) = socks_tunnel(node_addr, SocksTarget::Addr(down_addr));
    let (down_len, down_digest) = receive_stream(&mut down);
    // The session ends when both directions are done: close ours too.
    drop(down);

    let (sent, echoed) = uploader.join().unwrap();
    let (up_len, up_digest) = up_origin.join().unwrap();
    assert_eq!(up_len, TOTAL);
    assert_eq!(up_digest, sent, "upload arrived intact");
    assert_eq!(echoed, sent, "the reply after the half-close came back");
    assert_eq!(down_len, TOTAL);
    assert_eq!(
        down_digest,
        down_origin.join().unwrap(),
        "download arrived intact"
    );
    let log = node.wait_log("outcome=ok", 2);
    let mode_line = match relay {
        "splice" => "relay: splice(2)",
        _ => "relay: userspace buffers",
    };
    assert!(log.contains(mode_line), "{log}");
    assert!(log.contains(&format!("up={TOTAL} down=32 ")), "{log}");
    assert!(log.contains(&format!("up=0 down={TOTAL} ")), "{log}");
}

fn half_close_from_the_origin(relay: &str) {
    let node = Node::start(&config(relay));
    let (addr, origin) = origin(|mut conn| {
        let peer = conn.peer_addr().unwrap();
        conn.write_all(b"greeting then FIN").unwrap();
        conn.shutdown(std::net::Shutdown::Write).unwrap();
        // Still reading: the client's data after our FIN must arrive.
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        (got, peer)
    });
    let (mut tunnel, bound) = socks_tunnel(node.addr(), SocksTarget::Addr(addr));
    let mut first = [0u8; 17];
    tunnel.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"greeting then FIN");
    let mut rest = [0u8; 1];
    assert_eq!(
        tunnel.read(&mut rest).unwrap(),
        0,
        "the origin's FIN reaches the client"
    );
    tunnel.write_all(b"late words").unwrap();
    half_close(&tunnel);
    let (got, peer) = origin.join().unwrap();
    assert_eq!(got, b"late words");
    assert_eq!(
        bound, peer,
        "the success reply names the upstream socket's real address"
    );
    node.wait_log("outcome=ok", 1);
}

/// Closes with an RST instead of a FIN (SO_LINGER 0).
fn reset(conn: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(conn);
}

fn reset_by_the_origin(relay: &str) {
    let node = Node::start(&config(relay));
    let (addr, origin) = origin(|mut conn| {
        let mut b = [0u8; 4];
        conn.read_exact(&mut b).unwrap();
        reset(conn);
    });
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(addr));
    tunnel.write_all(b"ping").unwrap();
    origin.join().unwrap();
    let mut buf = [0u8; 16];
    let err = tunnel
        .read(&mut buf)
        .expect_err("the reset must be passed on, not a clean EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    node.wait_log("reason=\"reset by upstream\"", 1);
}

fn reset_by_the_client(relay: &str) {
    let node = Node::start(&config(relay));
    let (got_ping, wait_ping) = std::sync::mpsc::channel();
    let (addr, origin) = origin(move |mut conn| {
        let mut b = [0u8; 4];
        conn.read_exact(&mut b).unwrap();
        got_ping.send(()).unwrap();
        let mut rest = [0u8; 16];
        conn.read(&mut rest)
    });
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(addr));
    tunnel.write_all(b"ping").unwrap();
    // Reset only once the tunnel is known to carry data end to end.
    wait_ping.recv_timeout(WAIT).unwrap();
    reset(tunnel);
    let err = origin
        .join()
        .unwrap()
        .expect_err("the reset must be passed on, not a clean EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    node.wait_log("reason=\"reset by client\"", 1);
}
