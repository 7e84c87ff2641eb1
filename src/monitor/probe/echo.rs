//! The monitor's echo endpoint, served by the probe loop: it answers only nonces issued
//! this round, records where each request came from, and serves each download once.

use super::*;

impl EchoConn {
    /// Serves requests one after another; false once the connection should close.
    pub(super) fn step(&mut self, issued: &mut HashMap<String, Issued>) -> bool {
        loop {
            // Output first: the answer, then the download's zeros.
            while self.writable && (self.sent < self.out.len() || self.zeros_left > 0) {
                let chunk: &[u8] = if self.sent < self.out.len() {
                    self.out.get(self.sent..).unwrap_or_default()
                } else {
                    let n = self.zeros_left.min(ZEROS.len() as u64) as usize;
                    ZEROS.get(..n).unwrap_or_default()
                };
                match io::write(&mut self.sock, chunk) {
                    IoOutcome::Done(n) => {
                        if self.sent < self.out.len() {
                            self.sent += n;
                        } else {
                            self.zeros_left -= n as u64;
                        }
                    }
                    IoOutcome::WouldBlock => self.writable = false,
                    IoOutcome::Eof => return false,
                }
            }
            let idle = self.sent >= self.out.len() && self.zeros_left == 0;
            if idle && self.close_after {
                return false;
            }
            if idle && !self.inbuf.is_empty() {
                match parse_request(&self.inbuf) {
                    Ok(Parsed::Done { value, consumed }) => {
                        let (head, body, zeros) = answer(&value, self.peer, issued);
                        self.close_after = value.close;
                        self.out = head.into_bytes();
                        self.out.extend_from_slice(body.as_bytes());
                        self.sent = 0;
                        self.zeros_left = zeros;
                        self.inbuf.drain(..consumed.min(self.inbuf.len()));
                        continue;
                    }
                    Ok(Parsed::NeedMore) => {}
                    Err(_) => {
                        let body = "bad request\n";
                        self.out = http::response_head(
                            400,
                            "text/plain",
                            body.len(),
                            "Connection: close\r\n",
                        )
                        .into_bytes();
                        self.out.extend_from_slice(body.as_bytes());
                        self.sent = 0;
                        self.close_after = true;
                        self.inbuf.clear();
                        continue;
                    }
                }
            }
            if !self.readable {
                return true;
            }
            if self.inbuf.len() >= http::MAX_HEAD {
                // A pipelined flood while an answer is pending: stop reading until it is out.
                if !idle {
                    return true;
                }
                return false;
            }
            let mut chunk = [0u8; 2048];
            match io::read(&mut self.sock, &mut chunk) {
                IoOutcome::Done(n) => self
                    .inbuf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                IoOutcome::WouldBlock => self.readable = false,
                IoOutcome::Eof => {
                    // Finish what is owed, then close.
                    self.readable = false;
                    self.close_after = true;
                    if idle {
                        return false;
                    }
                }
            }
        }
    }
}

/// The echo endpoint's answer to one request: (head, body, zero bytes to follow).
pub(super) fn answer(
    req: &http::Request<'_>,
    peer: SocketAddr,
    issued: &mut HashMap<String, Issued>,
) -> (String, String, u64) {
    let extra = if req.close {
        "Connection: close\r\n"
    } else {
        ""
    };
    let not_found = || {
        let body = "unknown nonce\n".to_string();
        (
            http::response_head(404, "text/plain", body.len(), extra),
            body,
            0,
        )
    };
    if req.method != "GET" {
        let body = "GET only\n".to_string();
        return (
            http::response_head(405, "text/plain", body.len(), extra),
            body,
            0,
        );
    }
    let mut parts = req.path().trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("echo"), Some(nonce), None, None) => {
            let Some(entry) = issued.get_mut(nonce) else {
                return not_found();
            };
            entry.seen_from = Some(peer);
            let body = format!("aqueduct-echo {nonce} {}\n", peer.ip().to_canonical());
            (
                http::response_head(200, "text/plain", body.len(), extra),
                body,
                0,
            )
        }
        (Some("bytes"), Some(nonce), Some(n), None) => {
            let Ok(n) = n.parse::<u64>() else {
                return not_found();
            };
            match issued.get_mut(nonce) {
                Some(entry) if entry.download == Some(n) => {
                    entry.download = None;
                    let head =
                        http::response_head(200, "application/octet-stream", n as usize, extra);
                    (head, String::new(), n)
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_answers_only_issued_nonces_and_downloads_once() {
        let peer: SocketAddr = "[::ffff:192.0.2.7]:4000".parse().unwrap();
        let mut issued = HashMap::new();
        issued.insert(
            "n1".to_string(),
            Issued {
                seen_from: None,
                download: Some(10),
            },
        );
        let req = |t: &'static str| http::Request {
            method: "GET",
            target: t,
            close: false,
        };
        let (head, body, zeros) = answer(&req("/echo/n1"), peer, &mut issued);
        assert!(head.starts_with("HTTP/1.1 200"));
        assert_eq!(body, "aqueduct-echo n1 192.0.2.7\n");
        assert_eq!(zeros, 0);
        assert_eq!(issued["n1"].seen_from, Some(peer));
        assert!(answer(&req("/echo/other"), peer, &mut issued)
            .0
            .starts_with("HTTP/1.1 404"));
        // The wrong size, then the right one, then again: only the right one, once.
        assert_eq!(answer(&req("/bytes/n1/11"), peer, &mut issued).2, 0);
        let (head, _, zeros) = answer(&req("/bytes/n1/10"), peer, &mut issued);
        assert!(head.contains("Content-Length: 10\r\n"));
        assert_eq!(zeros, 10);
        assert!(answer(&req("/bytes/n1/10"), peer, &mut issued)
            .0
            .starts_with("HTTP/1.1 404"));
        let post = http::Request {
            method: "POST",
            target: "/echo/n1",
            close: false,
        };
        assert!(answer(&post, peer, &mut issued)
            .0
            .starts_with("HTTP/1.1 405"));
    }
}
