//! Helpers for the end-to-end proxy tests: the real `aqueduct node` binary started on
//! loopback port 0, a small HTTP origin, a DNS stub, curl, and a raw SOCKS5 client.
//! Every wait is bounded; every child process is killed when its handle drops.
#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Generous bound for anything that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(30);

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("aqueduct-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Sections every test config shares: a hosts file with `localhost` and a nameserver that
/// is a closed loopback port (nothing ever leaves the machine).
pub fn base_config(dir: &Path) -> String {
    let hosts = dir.join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n::1 localhost ip6-localhost\n").unwrap();
    format!(
        "[dns]\nnameservers = [\"127.0.0.1:9\"]\nresolv_conf = \"{}\"\nhosts_file = \"{}\"\n",
        dir.join("resolv.conf").display(),
        hosts.display()
    )
}

pub const ALICE: &str =
    "[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"alice\"\npassword = \"s3cret:pw\"\n";

/// Runs `aqueduct node` on a config it must refuse; returns its exit code and stderr.
pub fn refused_config(toml: &str) -> (Option<i32>, String) {
    let dir = TempDir::new("refused-config");
    let config = dir.path().join("node.toml");
    std::fs::write(&config, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["node", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the node started on a bad config");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `aqueduct node`.
pub struct Node {
    child: Option<Child>,
    pub addrs: Vec<SocketAddr>,
    log: PathBuf,
    _dir: TempDir,
}

impl Node {
    /// Starts the node with `sections` plus `[node]` (listen on `listen`, a ready file)
    /// and `base_config` unless `sections` has its own `[dns]`.
    pub fn start_on(listen: &[&str], sections: &str) -> Node {
        Node::spawn(listen, sections, None)
    }

    /// Like [`Node::start`], with the node's descriptor limit (RLIMIT_NOFILE) set to `limit`.
    pub fn start_with_fd_limit(sections: &str, limit: u64) -> Node {
        Node::spawn(&["127.0.0.1:0"], sections, Some(limit))
    }

    fn spawn(listen: &[&str], sections: &str, fd_limit: Option<u64>) -> Node {
        let dir = TempDir::new("node");
        let ready = dir.path().join("ready");
        let listen: Vec<String> = listen.iter().map(|a| format!("\"{a}\"")).collect();
        let mut text = format!(
            "[node]\nlisten = [{}]\nready_file = \"{}\"\n{sections}\n",
            listen.join(", "),
            ready.display()
        );
        if !sections.contains("[dns]") {
            text.push_str(&base_config(dir.path()));
        }
        let config = dir.path().join("node.toml");
        fs::write(&config, text).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_aqueduct"));
        command.args(["node", "--config"]).arg(&config);
        if let Some(fd_limit) = fd_limit {
            // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
            unsafe {
                command.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: fd_limit as libc::rlim_t,
                        rlim_max: fd_limit as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Node::run(command, dir, &ready)
    }

    /// Runs `command`, a node whose config writes its listen addresses to `ready`, with
    /// its log in `dir` (kept as long as the node), and waits until it listens.
    pub fn run(mut command: Command, dir: TempDir, ready: &Path) -> Node {
        let log = dir.path().join("node.log");
        command
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap());
        let child = command.spawn().expect("start aqueduct");
        let mut node = Node {
            child: Some(child),
            addrs: Vec::new(),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(text) = fs::read_to_string(ready) {
                node.addrs = text.lines().map(|l| l.parse().unwrap()).collect();
                return node;
            }
            if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("node exited with {status}:\n{}", node.log());
            }
            assert!(Instant::now() < deadline, "node not ready:\n{}", node.log());
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn start(sections: &str) -> Node {
        Node::start_on(&["127.0.0.1:0"], sections)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The config file it runs with (rewrite it, then SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self._dir.path().join("node.toml")
    }

    /// The node's process id (for reading /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log(&self) -> String {
        match fs::read(&self.log) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("(cannot read the node log: {e})"),
        }
    }

    /// Waits (bounded) until the log contains `needle` `count` times.
    pub fn wait_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "log never had {count}× {needle:?}:\n{log}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits (bounded) for the node to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node did not exit:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!("--- node log ---\n{}", self.log());
        }
    }
}

/// An origin handler that answers any request with an endless body (for rate tests),
/// bounded by `WAIT`.
pub fn serve_endless(mut conn: TcpStream) {
    let mut head = [0u8; 1024];
    if conn.read(&mut head).is_err() {
        return;
    }
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline && conn.write_all(&chunk).is_ok() {}
}

/// The page the origin serves.
pub const PAGE: &str = "hello through aqueduct\n";

/// A loopback TCP server running `handler` on a thread per connection; stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(bind: &str, handler: fn(TcpStream)) -> TestServer {
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(conn) = conn {
                    thread::spawn(move || handler(conn));
                }
            }
        });
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A tiny HTTP/1.1 origin: answers every request with `PAGE`, or with the request it
/// received (head and body) for `/echo`.
pub struct Origin;

impl Origin {
    pub fn start(bind: &str) -> TestServer {
        TestServer::start(bind, serve_http)
    }
}

fn serve_http(conn: TcpStream) {
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        head.push_str(&line);
        if line == "\r\n" || line.len() > 8192 || head.len() > 65536 {
            break;
        }
    }
    // `/echo` answers with the request as received: head, then the body if it has one.
    let body = if head.split(' ').nth(1) == Some("/echo") {
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0usize);
        let mut body = vec![0u8; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        head.clone() + &String::from_utf8_lossy(&body)
    } else {
        PAGE.to_string()
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A DNS stub on 127.0.0.1 that answers A queries for `name` with `ip`, AAAA with no
/// data, and everything else with NXDOMAIN.
pub struct DnsStub {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsStub {
    pub fn start(name: &str, ip: Ipv4Addr) -> DnsStub {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let wanted = encode_name(name);
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(answer) = dns_answer(&buf[..n], &wanted, ip) {
                    let _ = sock.send_to(&answer, from);
                }
            }
        });
        DnsStub {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// A `[dns]` section that uses this stub and an empty hosts file.
    pub fn config(&self, dir: &Path) -> String {
        let hosts = dir.join("stub-hosts");
        fs::write(&hosts, "").unwrap();
        format!(
            "[dns]\nnameservers = [\"{}\"]\nresolv_conf = \"{}\"\nhosts_file = \"{}\"\n",
            self.addr,
            dir.join("none").display(),
            hosts.display()
        )
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.to_ascii_lowercase().as_bytes());
    }
    out.push(0);
    out
}

/// Builds the reply to one query (RFC 1035 §4.1).
fn dns_answer(query: &[u8], wanted: &[u8], ip: Ipv4Addr) -> Option<Vec<u8>> {
    let question_end = 12 + query.get(12..)?.iter().position(|&b| b == 0)? + 1 + 4;
    let question = query.get(12..question_end)?;
    let qname = &question[..question.len() - 4];
    let qtype = u16::from_be_bytes([question[question.len() - 4], question[question.len() - 3]]);
    let known = qname.to_ascii_lowercase() == wanted;
    let with_a = known && qtype == 1;
    let mut out = Vec::new();
    out.extend_from_slice(&query[..2]); // id
    out.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]); // response, RA, rcode
    out.extend_from_slice(&[0, 1, 0, u8::from(with_a), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if with_a {
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        out.extend_from_slice(&ip.octets());
    }
    Some(out)
}

/// Runs curl with a bounded time; returns its output.
pub fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl must be installed")
}

/// curl's stdout as text, asserting it succeeded.
pub fn curl_ok(args: &[&str]) -> String {
    let out = curl(args);
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The HTTP status curl saw (`-w %{http_code}`); the body is discarded.
pub fn curl_status(args: &[&str]) -> u16 {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    let out = curl(&all);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A process's resident memory in KiB (VmRSS of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Raises this process's soft descriptor limit towards `want` (at most the hard limit), so
/// a test can hold thousands of client sockets; returns the limit now in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect to node");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// SOCKS5 greeting + RFC 1929 auth + CONNECT request bytes.
pub fn socks_handshake_bytes(user: &str, pass: &str, target: &SocksTarget) -> Vec<u8> {
    let mut b = vec![5, 1, 2, 1, user.len() as u8];
    b.extend_from_slice(user.as_bytes());
    b.push(pass.len() as u8);
    b.extend_from_slice(pass.as_bytes());
    b.extend_from_slice(&socks_request(1, target));
    b
}

pub enum SocksTarget<'a> {
    Addr(SocketAddr),
    Name(&'a str, u16),
}

pub fn socks_request(command: u8, target: &SocksTarget) -> Vec<u8> {
    let mut b = vec![5, command, 0];
    match target {
        SocksTarget::Addr(SocketAddr::V4(a)) => {
            b.push(1);
            b.extend_from_slice(&a.ip().octets());
            b.extend_from_slice(&a.port().to_be_bytes());
        }
        SocksTarget::Addr(SocketAddr::V6(a)) => {
            b.push(4);
            b.extend_from_slice(&a.ip().octets());
            b.extend_from_slice(&a.port().to_be_bytes());
        }
        SocksTarget::Name(name, port) => {
            b.push(3);
            b.push(name.len() as u8);
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(&port.to_be_bytes());
        }
    }
    b
}

/// Reads the three replies of `socks_handshake_bytes`: method, auth status, and the
/// CONNECT reply. Returns the reply code and the bound address.
pub fn read_socks_replies(s: &mut TcpStream) -> io::Result<(u8, SocketAddr)> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    assert_eq!(head, [5, 2, 1, 0], "method UserPass then auth success");
    read_connect_reply(s)
}

/// Reads one CONNECT reply (RFC 1928 §6).
pub fn read_connect_reply(s: &mut TcpStream) -> io::Result<(u8, SocketAddr)> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h)?;
    assert_eq!(h[0], 5);
    let ip: std::net::IpAddr = match h[3] {
        1 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a)?;
            a.into()
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a)?;
            a.into()
        }
        t => panic!("unexpected address type {t}"),
    };
    let mut p = [0u8; 2];
    s.read_exact(&mut p)?;
    Ok((h[1], SocketAddr::new(ip, u16::from_be_bytes(p))))
}

/// A SOCKS5 tunnel to `to` as `user`: the stream, or 0xff when the login is refused,
/// or the CONNECT reply code that refused the destination.
pub fn login_tunnel(
    node: SocketAddr,
    user: &str,
    pass: &str,
    to: SocketAddr,
) -> Result<TcpStream, u8> {
    let mut s = connect(node);
    s.write_all(&socks_handshake_bytes(user, pass, &SocksTarget::Addr(to)))
        .unwrap();
    // Method choice, then the login's status.
    let mut login = [0u8; 4];
    s.read_exact(&mut login).unwrap();
    if login != [5, 2, 1, 0] {
        return Err(0xff);
    }
    match read_connect_reply(&mut s).unwrap().0 {
        0 => Ok(s),
        code => Err(code),
    }
}

/// Opens a tunnel through the node as alice; panics unless the reply is success.
pub fn socks_tunnel(node: SocketAddr, target: SocksTarget) -> (TcpStream, SocketAddr) {
    let mut s = connect(node);
    s.write_all(&socks_handshake_bytes("alice", "s3cret:pw", &target))
        .unwrap();
    let (code, bound) = read_socks_replies(&mut s).unwrap();
    assert_eq!(code, 0, "CONNECT should succeed");
    (s, bound)
}

/// Reads until EOF (bounded by the socket's read timeout).
pub fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read until EOF");
    out
}

/// True if the peer has closed: a read returns EOF or a reset within the bound.
pub fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

pub fn half_close(s: &TcpStream) {
    s.shutdown(Shutdown::Write).unwrap();
}

/// An origin that echoes every connection's bytes back until EOF, then closes.
pub struct Echo;

impl Echo {
    pub fn start() -> TestServer {
        TestServer::start("127.0.0.1:0", echo)
    }
}

fn echo(mut conn: TcpStream) {
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16384];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes `data`, then reads exactly as many bytes back.
pub fn round_trip(s: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    s.write_all(data).unwrap();
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).unwrap();
    back
}

/// True while the peer has neither sent anything nor closed (a non-blocking peek).
pub fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!(s.peek(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}
