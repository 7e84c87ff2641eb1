//! What one probe found, as a named outcome (stored as its code).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Connected, logged in, relayed the echo request and the download in time.
    Ok,
    /// The TCP connect to the node's endpoint failed (refused, unreachable).
    ConnectFailed,
    /// No progress before the probe's deadline (connect, login or the echo answer).
    Timeout,
    /// The node refused the monitor's credential (SOCKS5 status, HTTP 407/403).
    AuthRefused,
    /// Logged in, but the request never came back right through the node.
    RelayFailed,
    /// Relayed, but from another address than the registered endpoint's IP.
    WrongEgress,
    /// Relayed, but the answer or the download took longer than the thresholds.
    Slow,
    /// The node's TLS endpoint presented another key than its registry entry pins: a
    /// node that changed its key without updating its entry, or an interception.
    PinMismatch,
    /// The TLS handshake with the node's TLS endpoint failed for another reason (not TLS,
    /// a broken handshake, closed during it).
    TlsFailed,
}

pub const ALL: [Outcome; 9] = [
    Outcome::Ok,
    Outcome::ConnectFailed,
    Outcome::Timeout,
    Outcome::AuthRefused,
    Outcome::RelayFailed,
    Outcome::WrongEgress,
    Outcome::Slow,
    Outcome::PinMismatch,
    Outcome::TlsFailed,
];

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ConnectFailed => "connect_failed",
            Outcome::Timeout => "timeout",
            Outcome::AuthRefused => "auth_refused",
            Outcome::RelayFailed => "relay_failed",
            Outcome::WrongEgress => "wrong_egress",
            Outcome::Slow => "slow",
            Outcome::PinMismatch => "pin_mismatch",
            Outcome::TlsFailed => "tls_failed",
        }
    }

    /// The stored code; never renumbered (the database keeps old rows).
    pub fn code(self) -> i64 {
        match self {
            Outcome::Ok => 0,
            Outcome::ConnectFailed => 1,
            Outcome::Timeout => 2,
            Outcome::AuthRefused => 3,
            Outcome::RelayFailed => 4,
            Outcome::WrongEgress => 5,
            Outcome::Slow => 6,
            Outcome::PinMismatch => 7,
            Outcome::TlsFailed => 8,
        }
    }

    pub fn from_code(code: i64) -> Option<Outcome> {
        ALL.into_iter().find(|o| o.code() == code)
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The node carried the monitor's traffic (whatever else was wrong): what uptime
    /// counts, and what the void-round guard counts as not failed.
    pub fn relayed(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Slow | Outcome::WrongEgress)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for o in ALL {
            assert_eq!(Outcome::from_code(o.code()), Some(o));
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::from_code(99), None);
        let relayed: Vec<_> = ALL.into_iter().filter(|o| o.relayed()).collect();
        assert_eq!(relayed, [Outcome::Ok, Outcome::WrongEgress, Outcome::Slow]);
    }
}
