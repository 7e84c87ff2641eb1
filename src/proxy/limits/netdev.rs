//! The host's interface counters from /proc/net/dev: a pure parser over the file's bytes
//! and a small reader. The file is a two-line header, then one line per interface:
//! `name: rx_bytes rx_packets ... (8 receive fields) tx_bytes tx_packets ...`.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "/proc/net/dev line {} is not `name: counters`",
            self.line
        )
    }
}

/// Every interface the file lists, in its order.
pub fn parse(text: &[u8]) -> Result<Vec<Interface>, Malformed> {
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate().skip(2) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = Malformed { line: i + 1 };
        let colon = line.iter().position(|&b| b == b':').ok_or(bad.clone())?;
        let name = std::str::from_utf8(&line[..colon])
            .map_err(|_| bad.clone())?
            .trim();
        let mut fields = line[colon + 1..]
            .split(u8::is_ascii_whitespace)
            .filter(|f| !f.is_empty());
        let mut number = |skip: usize| -> Option<u64> {
            std::str::from_utf8(fields.nth(skip)?).ok()?.parse().ok()
        };
        let (Some(rx_bytes), Some(tx_bytes)) = (number(0), number(7)) else {
            return Err(bad);
        };
        if name.is_empty() {
            return Err(bad);
        }
        out.push(Interface {
            name: name.to_string(),
            rx_bytes,
            tx_bytes,
        });
    }
    Ok(out)
}

/// Received and sent bytes summed over `wanted` interfaces, or over every interface but
/// loopback when `wanted` is empty.
pub fn totals(interfaces: &[Interface], wanted: &[String]) -> (u64, u64) {
    interfaces
        .iter()
        .filter(|i| {
            if wanted.is_empty() {
                i.name != "lo"
            } else {
                wanted.contains(&i.name)
            }
        })
        .fold((0u64, 0u64), |(rx, tx), i| {
            (rx.wrapping_add(i.rx_bytes), tx.wrapping_add(i.tx_bytes))
        })
}

/// Reads and parses the file (a few hundred bytes from procfs: it never blocks).
pub fn read(path: &Path) -> Result<Vec<Interface>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 9876543    1234    0    0    0     0          0         0  9876543    1234    0    0    0     0       0          0
  eth0: 123456789012 98765    0    3    0     0          0        12 555666777 4321    0    0    0     0       0          0
wlan0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
";

    #[test]
    fn reads_each_interface_s_byte_counters() {
        let ifs = parse(SAMPLE).unwrap();
        assert_eq!(ifs.len(), 3);
        assert_eq!(
            ifs[1],
            Interface {
                name: "eth0".into(),
                rx_bytes: 123_456_789_012,
                tx_bytes: 555_666_777
            }
        );
        assert_eq!(ifs[2].name, "wlan0", "no space after the colon");
        assert_eq!((ifs[2].rx_bytes, ifs[2].tx_bytes), (1, 9));
        assert_eq!(
            totals(&ifs, &[]),
            (123_456_789_013, 555_666_786),
            "all but lo"
        );
        assert_eq!(totals(&ifs, &["lo".into()]), (9_876_543, 9_876_543));
    }

    #[test]
    fn a_malformed_line_is_an_error_not_a_panic() {
        let head = "a\nb\n";
        for body in [
            "eth0 1 2 3\n",
            "eth0: 1 2\n",
            ": 1 2 3 4 5 6 7 8 9\n",
            "eth0: x 2 3 4 5 6 7 8 9\n",
        ] {
            let text = format!("{head}{body}");
            assert_eq!(parse(text.as_bytes()), Err(Malformed { line: 3 }), "{body}");
        }
        assert_eq!(parse(b""), Ok(vec![]));
        assert_eq!(
            parse(&[0xff, b'\n', 0xfe, b'\n', 0xfd]),
            Err(Malformed { line: 3 })
        );
    }

    #[test]
    fn the_real_file_parses() {
        let ifs = read(Path::new("/proc/net/dev")).unwrap();
        assert!(ifs.iter().any(|i| i.name == "lo"));
    }
}
