//! The destination servers every proxy relays to: one single-threaded mio loop in a child
//! process of its own, so its sockets count against its own descriptor limit and not the
//! load generator's (9,000 idle relays cost 9,000 descriptors on each side).
//!
//! Every connection starts with a 9-byte header, an operation byte and a little-endian u64:
//! - `U` (upload sink): read and discard that many bytes, then answer the count (u64 LE);
//!   the end is known from the count, not from EOF, because some proxies do not relay a
//!   half-close;
//! - `D` (download source): send that many bytes, then close;
//! - `E` (echo): send back that many bytes, then close;
//! - `I` (idle): hold the connection until the other side closes it;
//! - `X` (close idle): close every idle connection, answer how many (u64 LE), close.
//!
//! This side closes first wherever it can, so TIME_WAIT lands on the listening ports and
//! not on ephemeral ports: tens of thousands of connections would otherwise exhaust them
//! (and with them the proxies that bind before connecting).
//!
//! The parent learns the listening ports from one stdout line and ends this process by
//! closing its stdin (or killing it).

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

pub const HEADER_LEN: usize = 9;
pub const OP_UPLOAD: u8 = b'U';
pub const OP_DOWNLOAD: u8 = b'D';
pub const OP_ECHO: u8 = b'E';
pub const OP_IDLE: u8 = b'I';
pub const OP_CLOSE_IDLE: u8 = b'X';

/// Several listening ports, so that connection-rate runs spread the proxies' upstream
/// TIME_WAIT sockets over several 4-tuples instead of exhausting one.
pub const LISTENERS: usize = 4;

/// Reads or writes on one socket per readiness event before yielding to the others; a
/// socket cut short is revisited on the next turn without waiting for a new event.
const IO_BUDGET: usize = 64;
const CHUNK: usize = 256 * 1024;

pub fn header(op: u8, size: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = op;
    h[1..].copy_from_slice(&size.to_le_bytes());
    h
}

enum Stage {
    Header {
        got: usize,
        buf: [u8; HEADER_LEN],
    },
    Sink {
        count: u64,
        want: u64,
    },
    /// The count is being written back.
    SinkReply {
        reply: [u8; 8],
        sent: usize,
    },
    Source {
        left: u64,
    },
    Echo {
        pending: Vec<u8>,
        left: u64,
    },
    Idle,
}

struct Conn {
    sock: TcpStream,
    stage: Stage,
}

/// What one turn of I/O on a connection decided.
enum Step {
    /// Waiting for readiness.
    Wait,
    /// Out of budget with work left: come back next turn.
    Again,
    Close,
    CloseIdle,
}

pub fn serve() -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listeners = Vec::with_capacity(LISTENERS);
    let mut ports = Vec::with_capacity(LISTENERS);
    for i in 0..LISTENERS {
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let mut l = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut l, Token(i), Interest::READABLE)?;
        ports.push(l.local_addr()?.port().to_string());
        listeners.push(l);
    }
    println!("{}", ports.join(" "));
    io::stdout().flush()?;
    // The parent closing our stdin (or dying) ends the process.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while let Ok(n) = io::stdin().read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        std::process::exit(0);
    });

    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut again: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; CHUNK];
    let payload = vec![0x5a_u8; CHUNK];
    loop {
        let timeout = if again.is_empty() {
            None
        } else {
            Some(std::time::Duration::ZERO)
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut work: Vec<usize> = std::mem::take(&mut again);
        for ev in events.iter() {
            let t = ev.token().0;
            if t < LISTENERS {
                accept_all(&poll, &listeners[t], &mut conns, &mut free)?;
            } else {
                work.push(t - LISTENERS);
            }
        }
        work.sort_unstable();
        work.dedup();
        for idx in work {
            let Some(Some(conn)) = conns.get_mut(idx) else {
                continue;
            };
            match drive(conn, &mut buf, &payload) {
                Step::Wait => {}
                Step::Again => again.push(idx),
                Step::Close => close(&poll, &mut conns, &mut free, idx),
                Step::CloseIdle => {
                    let mut closed = 0u64;
                    for i in 0..conns.len() {
                        if matches!(&conns[i], Some(c) if matches!(c.stage, Stage::Idle)) {
                            close(&poll, &mut conns, &mut free, i);
                            closed += 1;
                        }
                    }
                    if let Some(Some(c)) = conns.get_mut(idx) {
                        c.stage = Stage::SinkReply {
                            reply: closed.to_le_bytes(),
                            sent: 0,
                        };
                    }
                    again.push(idx);
                }
            }
        }
    }
}

fn close(poll: &Poll, conns: &mut [Option<Conn>], free: &mut Vec<usize>, idx: usize) {
    if let Some(mut c) = conns.get_mut(idx).and_then(Option::take) {
        let _ = poll.registry().deregister(&mut c.sock);
        free.push(idx);
    }
}

fn accept_all(
    poll: &Poll,
    listener: &TcpListener,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) -> io::Result<()> {
    // Bounded: a listener backlog never holds more than a few thousand connections.
    for _ in 0..100_000 {
        match listener.accept() {
            Ok((mut sock, _)) => {
                let _ = sock.set_nodelay(true);
                let idx = free.pop().unwrap_or_else(|| {
                    conns.push(None);
                    conns.len() - 1
                });
                poll.registry().register(
                    &mut sock,
                    Token(idx + LISTENERS),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                conns[idx] = Some(Conn {
                    sock,
                    stage: Stage::Header {
                        got: 0,
                        buf: [0; HEADER_LEN],
                    },
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // Out of descriptors or a connection reset before accept: drop it, keep serving.
            Err(e) => {
                eprintln!("targets: accept: {e}");
                return Ok(());
            }
        }
    }
    Ok(())
}

fn drive(conn: &mut Conn, buf: &mut [u8], payload: &[u8]) -> Step {
    for _ in 0..IO_BUDGET {
        let step = match &mut conn.stage {
            Stage::Header { got, buf: h } => match conn.sock.read(&mut h[*got..]) {
                Ok(0) => return Step::Close,
                Ok(n) => {
                    *got += n;
                    if *got == HEADER_LEN {
                        let mut size = [0u8; 8];
                        size.copy_from_slice(&h[1..]);
                        let size = u64::from_le_bytes(size);
                        conn.stage = match h[0] {
                            OP_UPLOAD => Stage::Sink {
                                count: 0,
                                want: size,
                            },
                            OP_DOWNLOAD => Stage::Source { left: size },
                            OP_ECHO => Stage::Echo {
                                pending: Vec::new(),
                                left: size,
                            },
                            OP_IDLE => Stage::Idle,
                            OP_CLOSE_IDLE => return Step::CloseIdle,
                            _ => return Step::Close,
                        };
                    }
                    None
                }
                Err(e) => Some(e),
            },
            Stage::Sink { count, want } => {
                let room = (*want - *count).min(buf.len() as u64) as usize;
                match conn.sock.read(&mut buf[..room]) {
                    // A stream cut short still gets its count: the client reports it.
                    Ok(0) => {
                        conn.stage = Stage::SinkReply {
                            reply: count.to_le_bytes(),
                            sent: 0,
                        };
                        None
                    }
                    Ok(n) => {
                        *count += n as u64;
                        if *count == *want {
                            conn.stage = Stage::SinkReply {
                                reply: count.to_le_bytes(),
                                sent: 0,
                            };
                        }
                        None
                    }
                    Err(e) => Some(e),
                }
            }
            Stage::SinkReply { reply, sent } => match conn.sock.write(&reply[*sent..]) {
                Ok(n) => {
                    *sent += n;
                    if *sent == reply.len() {
                        return Step::Close;
                    }
                    None
                }
                Err(e) => Some(e),
            },
            Stage::Source { left } => {
                if *left == 0 {
                    return Step::Close;
                }
                let n = (*left).min(payload.len() as u64) as usize;
                match conn.sock.write(&payload[..n]) {
                    Ok(w) => {
                        *left -= w as u64;
                        None
                    }
                    Err(e) => Some(e),
                }
            }
            Stage::Echo { pending, left } => {
                if pending.is_empty() {
                    if *left == 0 {
                        return Step::Close;
                    }
                    let room = (*left).min(buf.len() as u64) as usize;
                    match conn.sock.read(&mut buf[..room]) {
                        Ok(0) => return Step::Close,
                        Ok(n) => {
                            pending.extend_from_slice(&buf[..n]);
                            *left -= n as u64;
                            None
                        }
                        Err(e) => Some(e),
                    }
                } else {
                    match conn.sock.write(pending) {
                        Ok(w) => {
                            pending.drain(..w);
                            None
                        }
                        Err(e) => Some(e),
                    }
                }
            }
            Stage::Idle => match conn.sock.read(buf) {
                Ok(0) => return Step::Close,
                Ok(_) => None,
                Err(e) => Some(e),
            },
        };
        match step {
            None => {}
            Some(e) if e.kind() == ErrorKind::WouldBlock => return Step::Wait,
            Some(e) if e.kind() == ErrorKind::Interrupted => {}
            Some(_) => return Step::Close,
        }
    }
    Step::Again
}
