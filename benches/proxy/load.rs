//! The load generator: a blocking SOCKS5 client (RFC 1928 + RFC 1929) and the four kinds
//! of load, each bounded in bytes or connections and in time.

use crate::targets::{header, OP_CLOSE_IDLE, OP_DOWNLOAD, OP_ECHO, OP_IDLE, OP_UPLOAD};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// No single read or write may stall longer than this; a stalled proxy fails the metric.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const CHUNK: usize = 256 * 1024;

/// How the load generator reaches the target servers.
#[derive(Clone, Debug)]
pub enum Route {
    Direct,
    Socks5 {
        proxy: SocketAddr,
        /// Username and password; `None` offers only "no authentication".
        auth: Option<(String, String)>,
    },
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// Opens a connection to `target`, through the proxy if there is one.
pub fn open(route: &Route, target: SocketAddr) -> io::Result<TcpStream> {
    let (addr, auth) = match route {
        Route::Direct => (target, None),
        Route::Socks5 { proxy, auth } => (*proxy, Some(auth)),
    };
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    if let Some(auth) = auth {
        socks5_connect(&mut s, auth.as_ref(), target)?;
    }
    Ok(s)
}

fn socks5_connect(
    s: &mut TcpStream,
    auth: Option<&(String, String)>,
    target: SocketAddr,
) -> io::Result<()> {
    let greeting: &[u8] = if auth.is_some() {
        &[5, 1, 2]
    } else {
        &[5, 1, 0]
    };
    s.write_all(greeting)?;
    let mut sel = [0u8; 2];
    s.read_exact(&mut sel)?;
    match (sel, auth) {
        ([5, 0], _) => {}
        ([5, 2], Some((user, pass))) => {
            let mut msg = Vec::with_capacity(3 + user.len() + pass.len());
            msg.push(1);
            msg.push(user.len() as u8);
            msg.extend_from_slice(user.as_bytes());
            msg.push(pass.len() as u8);
            msg.extend_from_slice(pass.as_bytes());
            s.write_all(&msg)?;
            let mut status = [0u8; 2];
            s.read_exact(&mut status)?;
            if status[1] != 0 {
                return Err(other(format!("authentication refused: {status:?}")));
            }
        }
        _ => return Err(other(format!("unexpected method selection {sel:?}"))),
    }
    let SocketAddr::V4(v4) = target else {
        return Err(other("targets listen on IPv4 loopback"));
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    s.write_all(&req)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    if head[1] != 0 {
        return Err(other(format!("CONNECT refused with reply {}", head[1])));
    }
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len)?;
            len[0] as usize + 2
        }
        t => return Err(other(format!("bad address type {t} in reply"))),
    };
    let mut bound = [0u8; 18 + 255];
    s.read_exact(&mut bound[..rest])?;
    Ok(())
}

/// One stream sending `bytes` to the sink; returns the time from the first byte sent to
/// the sink's confirmation that it received them all.
pub fn upload(route: &Route, target: SocketAddr, bytes: u64) -> io::Result<Duration> {
    let mut s = open(route, target)?;
    let chunk = vec![0xa5_u8; CHUNK];
    let start = Instant::now();
    s.write_all(&header(OP_UPLOAD, bytes))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    let mut count = [0u8; 8];
    s.read_exact(&mut count)?;
    let elapsed = start.elapsed();
    let got = u64::from_le_bytes(count);
    if got != bytes {
        return Err(other(format!("sink received {got} of {bytes} bytes")));
    }
    Ok(elapsed)
}

/// One stream receiving `bytes` from the source; returns the time from the request to
/// the source's EOF.
pub fn download(route: &Route, target: SocketAddr, bytes: u64) -> io::Result<Duration> {
    let mut s = open(route, target)?;
    let mut buf = vec![0u8; CHUNK];
    let start = Instant::now();
    receive(&mut s, bytes, &mut buf)?;
    Ok(start.elapsed())
}

/// Asks the source for `bytes` and reads them up to its EOF.
fn receive(s: &mut TcpStream, bytes: u64, buf: &mut [u8]) -> io::Result<()> {
    s.write_all(&header(OP_DOWNLOAD, bytes))?;
    let mut got = 0u64;
    // Bounded by the byte count (and each read by IO_TIMEOUT).
    while got <= bytes {
        let n = s.read(buf)?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    if got != bytes {
        return Err(other(format!("received {got} of {bytes} bytes")));
    }
    Ok(())
}

/// `streams` parallel downloads sharing `bytes`; returns the wall time from the common
/// start to the last stream's end (connection setup is before the start).
pub fn parallel_download(
    route: &Route,
    target: SocketAddr,
    streams: usize,
    bytes: u64,
) -> io::Result<Duration> {
    let per = bytes / streams as u64;
    let barrier = Arc::new(Barrier::new(streams + 1));
    let mut handles = Vec::with_capacity(streams);
    for _ in 0..streams {
        let route = route.clone();
        let barrier = barrier.clone();
        handles.push(thread::spawn(move || -> io::Result<()> {
            let opened = open(&route, target);
            barrier.wait();
            let mut s = opened?;
            receive(&mut s, per, &mut [0u8; 64 * 1024])
        }));
    }
    barrier.wait();
    let start = Instant::now();
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(_) => {
                first_err.get_or_insert(other("stream thread panicked"));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(start.elapsed()),
    }
}

pub struct RateRun {
    /// Latency of each completed connection, in microseconds.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

/// `clients` threads, each repeating connect + handshake + CONNECT + one 32-byte echo +
/// close, until `duration` passes or `max_total` connections are done. The echo server
/// closes first and the client waits for that EOF, so a connection counts once it is
/// closed end to end (and TIME_WAIT stays off the ephemeral ports).
pub fn connection_rate(
    route: &Route,
    targets: &[SocketAddr],
    clients: usize,
    duration: Duration,
    max_total: usize,
) -> RateRun {
    let stop = Arc::new(AtomicBool::new(false));
    let per_client = max_total / clients.max(1);
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut handles = Vec::with_capacity(clients);
    for c in 0..clients {
        let route = route.clone();
        let targets = targets.to_vec();
        let stop = stop.clone();
        let barrier = barrier.clone();
        handles.push(thread::spawn(move || {
            let mut lat = Vec::with_capacity(per_client.min(1 << 20));
            let mut errors = 0u64;
            let mut first_error = None;
            let msg = [0x42_u8; 32];
            let mut req = [0u8; 9 + 32];
            req[..9].copy_from_slice(&header(OP_ECHO, msg.len() as u64));
            req[9..].copy_from_slice(&msg);
            barrier.wait();
            for i in 0..per_client {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let target = targets[(c + i) % targets.len()];
                let t0 = Instant::now();
                let r = (|| -> io::Result<()> {
                    let mut s = open(&route, target)?;
                    s.write_all(&req)?;
                    let mut back = [0u8; 32];
                    s.read_exact(&mut back)?;
                    if back != msg {
                        return Err(other("echo came back different"));
                    }
                    match s.read(&mut back)? {
                        0 => Ok(()),
                        _ => Err(other("bytes after the echo")),
                    }
                })();
                match r {
                    Ok(()) => lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                        // A refusing proxy must not turn this into a busy loop.
                        thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    barrier.wait();
    let start = Instant::now();
    // Bounded by `duration`: the timer thread is this one.
    while start.elapsed() < duration && !handles.iter().all(|h| h.is_finished()) {
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let mut run = RateRun {
        latencies_us: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for h in handles {
        if let Ok((lat, errors, first)) = h.join() {
            run.latencies_us.extend(lat);
            run.errors += errors;
            if run.first_error.is_none() {
                run.first_error = first;
            }
        }
    }
    run.elapsed = start.elapsed();
    run
}

/// Opens idle relayed connections until `holder` has `count` of them, with a few opener
/// threads; stops early at the first `deadline` or after too many failures. Returns the
/// first error seen, if any.
pub fn open_idle(
    route: &Route,
    targets: &[SocketAddr],
    holder: &mut Vec<TcpStream>,
    count: usize,
    deadline: Duration,
) -> Option<String> {
    const OPENERS: usize = 8;
    let need = count.saturating_sub(holder.len());
    let start = Instant::now();
    let mut handles = Vec::with_capacity(OPENERS);
    for t in 0..OPENERS {
        let route = route.clone();
        let targets = targets.to_vec();
        let share = need / OPENERS + usize::from(t < need % OPENERS);
        handles.push(thread::spawn(move || {
            let mut got = Vec::with_capacity(share);
            let mut err = None;
            let mut failures = 0;
            for i in 0..share {
                if start.elapsed() > deadline || failures > 20 {
                    break;
                }
                let r = open(&route, targets[(t + i) % targets.len()]).and_then(|mut s| {
                    s.write_all(&header(OP_IDLE, 0))?;
                    Ok(s)
                });
                match r {
                    Ok(s) => got.push(s),
                    Err(e) => {
                        failures += 1;
                        err.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (got, err)
        }));
    }
    let mut first_err = None;
    for h in handles {
        if let Ok((got, err)) = h.join() {
            holder.extend(got);
            if first_err.is_none() {
                first_err = err;
            }
        }
    }
    first_err
}

/// Has the target servers close every idle connection (so the far side closes first, as
/// above), then waits, up to `deadline`, for each held connection to see that EOF through
/// its proxy before closing it. Returns how many the servers closed.
pub fn close_idle(
    control: SocketAddr,
    held: Vec<TcpStream>,
    deadline: Duration,
) -> io::Result<u64> {
    let mut s = open(&Route::Direct, control)?;
    s.write_all(&header(OP_CLOSE_IDLE, 0))?;
    let mut count = [0u8; 8];
    s.read_exact(&mut count)?;
    let until = Instant::now() + deadline;
    let mut byte = [0u8; 1];
    for mut h in held {
        let left = until.saturating_duration_since(Instant::now());
        // A proxy that does not pass the EOF on still gets its connection closed.
        if h.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .is_ok()
        {
            let _ = h.read(&mut byte);
        }
    }
    Ok(u64::from_le_bytes(count))
}
