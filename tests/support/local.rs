//! Helpers for the `aqueduct local` tests: a stand-in network node (a small threaded
//! SOCKS5 server that checks member credentials with `aqueduct::credential::Verifier`,
//! exactly as a chain-mode node does, and reaches loopback targets only), and the
//! `aqueduct local` process itself. Every wait is bounded; everything stops on drop.
#![allow(dead_code)]

use super::anvil::{path_str, Anvil};
use aqueduct::credential::Verifier;
use aqueduct::eth::Address;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const WAIT: Duration = Duration::from_secs(30);

/// What a stub node saw.
#[derive(Default)]
pub struct Seen {
    pub logins_ok: AtomicUsize,
    pub logins_refused: AtomicUsize,
    pub tunnels: AtomicUsize,
    /// Set by the test: refuse every login from now on (a node that stopped accepting
    /// the member, e.g. misconfigured).
    pub refuse: AtomicBool,
    /// The last CONNECT target as sent (a name stays a name).
    pub target: Mutex<Option<String>>,
}

/// A SOCKS5 node that verifies credentials like a chain-mode node (membership is
/// assumed) and connects only to 127.0.0.1
/// (`localhost` is the one name it knows: no DNS query ever leaves the test).
pub struct StubNode {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StubNode {
    pub fn start(verifier: Verifier) -> StubNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stub node");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, seen2) = (stop.clone(), seen.clone());
        let verifier = Arc::new(verifier);
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return; // drops the listener: new connects are refused
                }
                if let Ok(conn) = conn {
                    let (v, s) = (verifier.clone(), seen2.clone());
                    thread::spawn(move || {
                        let _ = serve(conn, &v, &s);
                    });
                }
            }
        });
        StubNode {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting and closes the listening socket.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn tunnels(&self) -> usize {
        self.seen.tunnels.load(Ordering::SeqCst)
    }
}

impl Drop for StubNode {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_exact_vec(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    s.read_exact(&mut v)?;
    Ok(v)
}

fn serve(mut c: TcpStream, verifier: &Verifier, seen: &Seen) -> std::io::Result<()> {
    c.set_read_timeout(Some(WAIT))?;
    let head = read_exact_vec(&mut c, 2)?;
    let methods = read_exact_vec(&mut c, usize::from(head[1]))?;
    if head[0] != 5 || !methods.contains(&2) {
        c.write_all(&[5, 0xff])?;
        return Ok(());
    }
    c.write_all(&[5, 2])?;
    let v = read_exact_vec(&mut c, 2)?;
    let user = read_exact_vec(&mut c, usize::from(v[1]))?;
    let plen = read_exact_vec(&mut c, 1)?;
    let pass = read_exact_vec(&mut c, usize::from(plen[0]))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if seen.refuse.load(Ordering::SeqCst) || verifier.check(&user, &pass, now).is_err() {
        seen.logins_refused.fetch_add(1, Ordering::SeqCst);
        c.write_all(&[1, 1])?;
        return Ok(());
    }
    seen.logins_ok.fetch_add(1, Ordering::SeqCst);
    c.write_all(&[1, 0])?;
    let req = read_exact_vec(&mut c, 4)?;
    let (target, port_bytes) = match req[3] {
        1 => {
            let ip = read_exact_vec(&mut c, 4)?;
            (
                format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]),
                read_exact_vec(&mut c, 2)?,
            )
        }
        3 => {
            let n = read_exact_vec(&mut c, 1)?;
            let name = read_exact_vec(&mut c, usize::from(n[0]))?;
            (
                String::from_utf8_lossy(&name).into_owned(),
                read_exact_vec(&mut c, 2)?,
            )
        }
        _ => {
            c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Ok(());
        }
    };
    let port = u16::from_be_bytes([port_bytes[0], port_bytes[1]]);
    *seen.target.lock().unwrap() = Some(format!("{target}:{port}"));
    if target != "localhost" && target != "127.0.0.1" {
        c.write_all(&[5, 4, 0, 1, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    }
    let up = match TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), WAIT) {
        Ok(up) => up,
        Err(_) => {
            c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Ok(());
        }
    };
    seen.tunnels.fetch_add(1, Ordering::SeqCst);
    c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    let (mut c2, mut up2) = (c.try_clone()?, up.try_clone()?);
    let t = thread::spawn(move || {
        let _ = std::io::copy(&mut up2, &mut c2);
        let _ = c2.shutdown(Shutdown::Write);
    });
    let mut up = up;
    let _ = std::io::copy(&mut c, &mut up);
    let _ = up.shutdown(Shutdown::Write);
    let _ = t.join();
    Ok(())
}

/// A TCP forwarder in front of a node: it holds the node's first answer on each
/// connection for `delay` (a slow node, as seen from the member), and keeps the first
/// bytes the client sent on the latest connection (what the node's operator sees).
pub struct Forwarder {
    pub addr: SocketAddr,
    pub first_bytes: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    pub fn start(backend: SocketAddr, delay: Duration) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind forwarder");
        let addr = listener.local_addr().unwrap();
        let first_bytes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, record) = (stop.clone(), first_bytes.clone());
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    let record = record.clone();
                    thread::spawn(move || forward(conn, backend, delay, &record));
                }
            }
        });
        Forwarder {
            addr,
            first_bytes,
            stop,
            thread: Some(thread),
        }
    }

    /// The username and password of the latest login that passed through.
    pub fn captured_login(&self) -> Option<(String, String)> {
        parse_login(&self.first_bytes.lock().unwrap())
    }
}

impl Forwarder {
    /// Stops accepting and closes the listening socket (connections open stay).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

fn forward(client: TcpStream, backend: SocketAddr, delay: Duration, record: &Mutex<Vec<u8>>) {
    let Ok(node) = TcpStream::connect_timeout(&backend, WAIT) else {
        return; // the node is gone: so is this connection
    };
    let (Ok(mut from_node), Ok(mut to_client)) = (node.try_clone(), client.try_clone()) else {
        return;
    };
    let back = thread::spawn(move || {
        let mut buf = [0u8; 16384];
        let mut first = true;
        while let Ok(n) = from_node.read(&mut buf) {
            if n == 0 {
                break;
            }
            if first {
                thread::sleep(delay);
                first = false;
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let (mut client, mut node) = (client, node);
    let mut buf = [0u8; 16384];
    let mut seen = Vec::new();
    while let Ok(n) = client.read(&mut buf) {
        if n == 0 {
            break;
        }
        if seen.len() < 600 {
            seen.extend_from_slice(&buf[..n]);
            *record.lock().unwrap() = seen.clone();
        }
        if node.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = node.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// The RFC 1929 username and password after a SOCKS5 greeting, if all there.
/// The chain flags `aqueduct local` runs with as dev account `member`.
pub fn member_chain_args(anvil: &Anvil, contract: Address, member: usize) -> Vec<String> {
    vec![
        "--rpc".into(),
        anvil.url.clone(),
        "--key".into(),
        path_str(&anvil.key_file(member)).into(),
        "--contract".into(),
        contract.to_string(),
    ]
}

/// `aqueduct local` as dev account `member`, once it has measured `nodes` nodes.
pub fn start_member_local(anvil: &Anvil, contract: Address, member: usize, nodes: usize) -> Local {
    let args = member_chain_args(anvil, contract, member);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut local = Local::start(&anvil.dir, &args);
    local.wait_log(" up: connect ", nodes);
    local
}

pub fn parse_login(bytes: &[u8]) -> Option<(String, String)> {
    let methods = usize::from(*bytes.get(1)?);
    let rest = bytes.get(2 + methods..)?;
    let ulen = usize::from(*rest.get(1)?);
    let user = rest.get(2..2 + ulen)?;
    let plen = usize::from(*rest.get(2 + ulen)?);
    let pass = rest.get(3 + ulen..3 + ulen + plen)?;
    Some((
        String::from_utf8_lossy(user).into_owned(),
        String::from_utf8_lossy(pass).into_owned(),
    ))
}

/// A raw SOCKS5 login at `node` with a username and password; true when accepted.
pub fn socks_login(node: SocketAddr, user: &str, pass: &str) -> bool {
    let mut s = TcpStream::connect_timeout(&node, WAIT).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut msg = vec![5, 1, 2, 1, user.len() as u8];
    msg.extend_from_slice(user.as_bytes());
    msg.push(pass.len() as u8);
    msg.extend_from_slice(pass.as_bytes());
    s.write_all(&msg).unwrap();
    let mut answer = [0u8; 4];
    s.read_exact(&mut answer).expect("node answers the login");
    assert_eq!(&answer[..2], &[5, 2]);
    answer[3] == 0
}

/// A running `aqueduct local`, killed on drop.
pub struct Local {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Local {
    /// Starts `aqueduct local --listen 127.0.0.1:0 <args>` and waits for its listener.
    pub fn start(dir: &std::path::Path, args: &[&str]) -> Local {
        let log = dir.join(format!("local-{}.log", args.len()));
        let child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["local", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("AQUEDUCT_RPC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("start aqueduct local");
        let mut local = Local {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let line = local.wait_log("listening on ", 1);
        let addr = line
            .lines()
            .find_map(|l| l.split("listening on ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .expect("listen address in the log");
        local.addr = addr;
        local
    }

    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits (bounded) until the log has `needle` `count` times; returns the log.
    pub fn wait_log(&mut self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return log;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("aqueduct local exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "log never had {count}x {needle:?}:\n{log}"
            );
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!("--- aqueduct local log ---\n{}", self.log());
        }
    }
}
