//! An authenticator that answers later, from another thread, through the loop's waker —
//! the path the chain-backed check (issue 5) takes. Runs the engine in-process through
//! the library API.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use aqueduct::proxy::auth::{Account, AuthAnswer, Authenticator, Rejected, Ticket};
use aqueduct::proxy::Server;
use mio::Waker;
use proxy::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

type Answers = Arc<Mutex<Vec<(Ticket, Result<Account, Rejected>)>>>;

/// Accepts carol/from-the-chain, 50 ms after being asked, from a worker thread.
struct SlowAuth {
    answers: Answers,
    waker: Arc<Waker>,
    asked: Arc<AtomicUsize>,
}

impl Authenticator for SlowAuth {
    fn required(&self) -> bool {
        true
    }

    fn check(&mut self, user: &[u8], pass: &[u8], ticket: Ticket) -> AuthAnswer {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let ok = user == b"carol" && pass == b"from-the-chain";
        let answers = self.answers.clone();
        let waker = self.waker.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            let answer = if ok {
                Ok(Account::new("carol"))
            } else {
                Err(Rejected)
            };
            answers.lock().unwrap().push((ticket, answer));
            waker.wake().unwrap();
        });
        AuthAnswer::Pending
    }

    fn drain_completed(&mut self, out: &mut Vec<(Ticket, Result<Account, Rejected>)>) {
        out.append(&mut self.answers.lock().unwrap());
    }
}

/// Starts the engine on a thread of this process; returns its address and the number of
/// checks asked so far.
fn start_engine(dir: &TempDir) -> (SocketAddr, Arc<AtomicUsize>) {
    let text = format!(
        "[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"none\"\n[policy]\nallow_private = true\n{}",
        base_config(dir.path())
    );
    let config = aqueduct::config::parse(&text).unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut server = Server::bind(config.engine).unwrap();
        let auth = SlowAuth {
            answers: Answers::default(),
            waker: server.waker(),
            asked: counter,
        };
        server.set_authenticator(Box::new(auth));
        tx.send(server.local_addrs()[0]).unwrap();
        server.run().unwrap();
    });
    (rx.recv_timeout(WAIT).unwrap(), asked)
}

#[test]
fn late_answers_arrive_through_the_waker() {
    let dir = TempDir::new("pending");
    let origin = Origin::start("127.0.0.1:0");
    let (node, asked) = start_engine(&dir);
    let url = format!("http://{}/", origin.addr);
    let socks = node.to_string();
    let http = format!("http://{node}");

    // A client that gives up while its check is pending does not disturb the next ones.
    let mut quitter = connect(node);
    std::io::Write::write_all(
        &mut quitter,
        &socks_handshake_bytes("carol", "from-the-chain", &SocksTarget::Addr(origin.addr)),
    )
    .unwrap();
    drop(quitter);

    assert_eq!(
        curl_ok(&["--socks5", &socks, "-U", "carol:from-the-chain", &url]),
        PAGE
    );
    assert!(!curl(&["--socks5", &socks, "-U", "carol:guess", &url])
        .status
        .success());
    assert_eq!(
        curl_ok(&["-x", &http, "-U", "carol:from-the-chain", &url]),
        PAGE
    );
    assert_eq!(curl_status(&["-x", &http, "-U", "carol:guess", &url]), 407);
    // Every credential curl sent went through the slow backend (the quitter's maybe too).
    assert!(asked.load(Ordering::Relaxed) >= 4);
}
