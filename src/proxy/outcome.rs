//! How a session ended and why a tunnel could not be opened: the values the session
//! produces, the metrics count and the access log names. Each outcome has one kind, whose
//! snake_case label is both the `outcome` label of `aqueduct_sessions_total` and the
//! `outcome=` field of the access log; the sentence (`Display`) goes beside it.

use super::dns::DnsError;
use super::http::Status;
use super::io::ConnectError;
use super::policy::Denial;
use super::relay::Side;
use super::socks5::Reply;
use super::upstream::{HopError, ViaFailure};
use std::fmt;

/// Why a tunnel could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Connect(ConnectError),
    Dns(DnsError),
    /// The policy refused every address; the text names the rule.
    /// Boxed: refusals are rare, and the session stays small.
    Denied(Box<Denial>),
    /// Through upstream nodes: none reachable, or the node could not reach the target.
    Via(ViaFailure),
    /// A forwarded request's origin answered with something that is not an HTTP/1 response.
    BadResponse(&'static str),
    /// An operator limit refuses new sessions for now.
    Limited(LimitRefusal),
}

/// Which operator limit refused a session (`[limits]`); each says when it lifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitRefusal {
    /// `monthly_gb` is used up until the month turns.
    MonthlyAllowance,
    /// The member used its `per_member_daily_gb` today.
    DailyQuota,
}

impl LimitRefusal {
    pub const ALL: [LimitRefusal; 2] = [LimitRefusal::MonthlyAllowance, LimitRefusal::DailyQuota];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            LimitRefusal::MonthlyAllowance => "monthly_allowance",
            LimitRefusal::DailyQuota => "daily_quota",
        }
    }

    /// The one line an HTTP client reads in the 503's body.
    pub fn reason(self) -> &'static str {
        match self {
            LimitRefusal::MonthlyAllowance => {
                "this node's monthly traffic allowance is used up; it serves again when the month turns"
            }
            LimitRefusal::DailyQuota => {
                "your daily traffic quota at this node is used up; it resets at 00:00 UTC"
            }
        }
    }
}

impl Failure {
    pub fn socks_reply(&self) -> Reply {
        match self {
            Failure::Connect(ConnectError::Refused) => Reply::ConnectionRefused,
            Failure::Connect(ConnectError::NetworkUnreachable) => Reply::NetworkUnreachable,
            Failure::Connect(ConnectError::HostUnreachable) => Reply::HostUnreachable,
            Failure::Connect(ConnectError::TimedOut) => Reply::TtlExpired,
            Failure::Connect(ConnectError::Other) => Reply::GeneralFailure,
            Failure::Dns(_) => Reply::HostUnreachable,
            Failure::Denied(_) => Reply::NotAllowed,
            Failure::Via(f) => f.socks_reply(),
            Failure::BadResponse(_) => Reply::GeneralFailure,
            Failure::Limited(_) => Reply::NotAllowed,
        }
    }

    /// What a member can do about it, when that is known (told in HTTP error bodies).
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            Failure::Via(ViaFailure::NoNode(Some(HopError::AuthRejected))) => Some(
                "The node refused the credential: not a paying member (run `aqueduct status`, \
                 then `aqueduct subscribe`), or a credential for another node or deployment.",
            ),
            Failure::Via(ViaFailure::NoNode(None)) => {
                Some("No node is known yet: check `aqueduct local --list`.")
            }
            Failure::Denied(_) => Some("The node's policy does not allow this destination."),
            _ => None,
        }
    }

    pub fn http_status(&self) -> Status {
        match self {
            Failure::Denied(_) => Status::Forbidden,
            Failure::Limited(_) => Status::ServiceUnavailable,
            Failure::Via(f) if f.not_allowed() => Status::Forbidden,
            Failure::Via(f) if f.timed_out() => Status::GatewayTimeout,
            Failure::Via(_) => Status::BadGateway,
            Failure::Connect(ConnectError::TimedOut) | Failure::Dns(DnsError::Timeout) => {
                Status::GatewayTimeout
            }
            Failure::Connect(_) | Failure::Dns(_) | Failure::BadResponse(_) => Status::BadGateway,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(e) => f.write_str(e.as_str()),
            Failure::Dns(e) => write!(f, "dns: {e}"),
            Failure::Denied(rule) => write!(f, "denied by policy: {rule}"),
            Failure::Via(e) => write!(f, "{e}"),
            Failure::BadResponse(why) => f.write_str(why),
            Failure::Limited(l) => f.write_str(l.reason()),
        }
    }
}

/// How a session ended, for its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still open (or a tunnel both sides closed cleanly).
    Ok,
    ClientGone,
    BadHandshake(&'static str),
    AuthFailed,
    /// The account already holds as many sessions as the authenticator allows.
    TooManySessions,
    /// The account's access ended while the session was open.
    AccessEnded,
    Failed(Failure),
    HandshakeTimeout,
    IdleTimeout,
    /// A socket broke mid-tunnel (a reset, a broken pipe) on this side.
    Reset(Side),
    Shutdown,
    Stuck,
    /// A member's `aqueduct local` measuring the node: it logged in and hung up without
    /// asking for a destination. Not a failure.
    Probe,
    /// Closed in its handshake to make room for a new connection (limits.max_sessions).
    Evicted,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::ClientGone => f.write_str("client left during handshake"),
            Outcome::BadHandshake(why) => write!(f, "bad handshake: {why}"),
            Outcome::AuthFailed => f.write_str("authentication failed"),
            Outcome::TooManySessions => f.write_str("too many sessions for this account"),
            Outcome::AccessEnded => f.write_str("account's access ended"),
            Outcome::Failed(failure) => write!(f, "{failure}"),
            Outcome::HandshakeTimeout => f.write_str("handshake timeout"),
            Outcome::IdleTimeout => f.write_str("idle timeout"),
            Outcome::Reset(side) => write!(f, "reset by {}", side.name()),
            Outcome::Shutdown => f.write_str("node shutting down"),
            Outcome::Stuck => f.write_str("internal error (session stuck)"),
            Outcome::Probe => f.write_str("probe: logged in and left"),
            Outcome::Evicted => f.write_str("evicted in its handshake (node full)"),
        }
    }
}

/// What an outcome counts as, in metrics and the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Ok,
    ClientGone,
    BadHandshake,
    AuthFailed,
    TooManySessions,
    AccessEnded,
    Denied,
    DnsFailed,
    ConnectFailed,
    HandshakeTimeout,
    IdleTimeout,
    Reset,
    Shutdown,
    InternalError,
    BadResponse,
    Probe,
    Evicted,
    Limited,
}

impl OutcomeKind {
    /// Every kind, in the order `/metrics` lists them.
    pub const ALL: [OutcomeKind; 18] = [
        OutcomeKind::Ok,
        OutcomeKind::ClientGone,
        OutcomeKind::BadHandshake,
        OutcomeKind::AuthFailed,
        OutcomeKind::TooManySessions,
        OutcomeKind::AccessEnded,
        OutcomeKind::Denied,
        OutcomeKind::DnsFailed,
        OutcomeKind::ConnectFailed,
        OutcomeKind::HandshakeTimeout,
        OutcomeKind::IdleTimeout,
        OutcomeKind::Reset,
        OutcomeKind::Shutdown,
        OutcomeKind::InternalError,
        OutcomeKind::BadResponse,
        OutcomeKind::Probe,
        OutcomeKind::Evicted,
        OutcomeKind::Limited,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "ok",
            OutcomeKind::ClientGone => "client_gone",
            OutcomeKind::BadHandshake => "bad_handshake",
            OutcomeKind::AuthFailed => "auth_failed",
            OutcomeKind::TooManySessions => "too_many_sessions",
            OutcomeKind::AccessEnded => "access_ended",
            OutcomeKind::Denied => "denied",
            OutcomeKind::DnsFailed => "dns_failed",
            OutcomeKind::ConnectFailed => "connect_failed",
            OutcomeKind::HandshakeTimeout => "handshake_timeout",
            OutcomeKind::IdleTimeout => "idle_timeout",
            OutcomeKind::Reset => "reset",
            OutcomeKind::Shutdown => "shutdown",
            OutcomeKind::InternalError => "internal_error",
            OutcomeKind::BadResponse => "bad_response",
            OutcomeKind::Probe => "probe",
            OutcomeKind::Evicted => "evicted",
            OutcomeKind::Limited => "limited",
        }
    }

    /// Where this kind sits in [`OutcomeKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Ok => OutcomeKind::Ok,
            Outcome::ClientGone => OutcomeKind::ClientGone,
            Outcome::BadHandshake(_) => OutcomeKind::BadHandshake,
            Outcome::AuthFailed => OutcomeKind::AuthFailed,
            Outcome::TooManySessions => OutcomeKind::TooManySessions,
            Outcome::AccessEnded => OutcomeKind::AccessEnded,
            Outcome::Failed(Failure::Denied(_)) => OutcomeKind::Denied,
            Outcome::Failed(Failure::Dns(_)) => OutcomeKind::DnsFailed,
            // `aqueduct local`: no node reachable, or the node could not reach the target.
            Outcome::Failed(Failure::Connect(_) | Failure::Via(_)) => OutcomeKind::ConnectFailed,
            Outcome::Failed(Failure::BadResponse(_)) => OutcomeKind::BadResponse,
            Outcome::Failed(Failure::Limited(_)) => OutcomeKind::Limited,
            Outcome::HandshakeTimeout => OutcomeKind::HandshakeTimeout,
            Outcome::IdleTimeout => OutcomeKind::IdleTimeout,
            Outcome::Reset(_) => OutcomeKind::Reset,
            Outcome::Shutdown => OutcomeKind::Shutdown,
            Outcome::Stuck => OutcomeKind::InternalError,
            Outcome::Probe => OutcomeKind::Probe,
            Outcome::Evicted => OutcomeKind::Evicted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_the_documented_replies() {
        use ConnectError::*;
        let cases = [
            (
                Failure::Connect(Refused),
                Reply::ConnectionRefused,
                Status::BadGateway,
            ),
            (
                Failure::Limited(LimitRefusal::MonthlyAllowance),
                Reply::NotAllowed,
                Status::ServiceUnavailable,
            ),
            (
                Failure::Limited(LimitRefusal::DailyQuota),
                Reply::NotAllowed,
                Status::ServiceUnavailable,
            ),
            (
                Failure::Connect(NetworkUnreachable),
                Reply::NetworkUnreachable,
                Status::BadGateway,
            ),
            (
                Failure::Connect(HostUnreachable),
                Reply::HostUnreachable,
                Status::BadGateway,
            ),
            (
                Failure::Connect(TimedOut),
                Reply::TtlExpired,
                Status::GatewayTimeout,
            ),
            (
                Failure::Connect(Other),
                Reply::GeneralFailure,
                Status::BadGateway,
            ),
            (
                Failure::Dns(DnsError::NxDomain),
                Reply::HostUnreachable,
                Status::BadGateway,
            ),
            (
                Failure::Dns(DnsError::Timeout),
                Reply::HostUnreachable,
                Status::GatewayTimeout,
            ),
            (
                Failure::Denied(Box::new(Denial::DefaultPort { port: 25 })),
                Reply::NotAllowed,
                Status::Forbidden,
            ),
        ];
        for (failure, reply, status) in cases {
            assert_eq!(failure.socks_reply(), reply, "{failure}");
            assert_eq!(failure.http_status(), status, "{failure}");
        }
    }

    #[test]
    fn kinds_are_listed_in_index_order_with_distinct_snake_case_labels() {
        for (i, kind) in OutcomeKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
            let label = kind.label();
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
            assert_eq!(
                OutcomeKind::ALL
                    .iter()
                    .filter(|k| k.label() == label)
                    .count(),
                1
            );
        }
        assert_eq!(
            Outcome::Reset(Side::Upstream).to_string(),
            "reset by upstream"
        );
        assert_eq!(Outcome::Reset(Side::Client).kind().label(), "reset");
    }
}
