//! Who may use the proxy. The engine asks an [`Authenticator`] about each credential; the
//! answer may come at once or later through the event loop ([`AuthAnswer::Pending`], then
//! [`Authenticator::drain_completed`] after the loop's waker fires), so a backend that has
//! to ask the chain never blocks the loop.

use super::settings::{AuthMode, AuthSettings};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// The account a session runs under, for the session log line. Shared, so a session
/// that logs in costs a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    name: Arc<str>,
}

impl Account {
    pub fn new(name: &str) -> Account {
        Account { name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Credentials were wrong (or unknown): the client gets SOCKS5 status 1 or HTTP 407.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

/// Names the session a check is for. Opaque: it carries the session's slab key and
/// generation, so an answer that arrives after its session closed (and the slot was
/// reused) is recognised and dropped by the engine, however late it comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    pub(crate) key: usize,
    pub(crate) generation: u64,
}

pub enum AuthAnswer {
    Done(Result<Account, Rejected>),
    /// The answer for this session will come from `drain_completed`.
    Pending,
}

pub trait Authenticator {
    /// False when clients need no credentials at all.
    fn required(&self) -> bool;
    /// Checks one username/password pair. `Pending` promises an answer for `ticket`
    /// from a later `drain_completed`; whoever produces it calls the loop's `Waker`.
    fn check(&mut self, username: &[u8], password: &[u8], ticket: Ticket) -> AuthAnswer;
    /// The session went away before its pending answer came; the answer may be dropped
    /// (a late one is ignored anyway).
    fn cancel(&mut self, _ticket: Ticket) {}
    /// Appends the answers that became ready since the last call.
    fn drain_completed(&mut self, _out: &mut Vec<(Ticket, Result<Account, Rejected>)>) {}
    /// A session is about to run under `account`; false refuses it (a per-account cap).
    /// Every admitted session is later given back through [`Authenticator::release`].
    fn admit(&mut self, _account: &Account) -> bool {
        true
    }
    /// A session admitted under `account` has ended.
    fn release(&mut self, _account: &Account) {}
    /// Appends accounts whose access has ended: the engine closes their live sessions.
    fn drain_revoked(&mut self, _out: &mut Vec<Account>) {}
    /// The engine tells whether it is serving (false while draining for shutdown or
    /// unable to accept connections).
    fn set_serving(&mut self, _serving: bool) {}
}

pub fn from_settings(cfg: &AuthSettings) -> Box<dyn Authenticator> {
    match cfg.mode {
        AuthMode::None => Box::new(NoAuth),
        AuthMode::Static => Box::new(StaticAuth::new(
            cfg.users
                .iter()
                .map(|u| (u.name.as_str(), u.password.as_bytes())),
        )),
        // Fails closed until `aqueduct node` installs the chain-backed authenticator.
        AuthMode::Chain => Box::new(DenyAll),
    }
}

/// Refuses every credential: what mode "chain" runs with before its chain side is set up.
pub struct DenyAll;

impl Authenticator for DenyAll {
    fn required(&self) -> bool {
        true
    }

    fn check(&mut self, _username: &[u8], _password: &[u8], _ticket: Ticket) -> AuthAnswer {
        AuthAnswer::Done(Err(Rejected))
    }
}

/// `mode = "none"`: everyone is let in (config only allows this on loopback).
pub struct NoAuth;

impl Authenticator for NoAuth {
    fn required(&self) -> bool {
        false
    }

    fn check(&mut self, _username: &[u8], _password: &[u8], _ticket: Ticket) -> AuthAnswer {
        // A client that insists on sending credentials is let in without an account name:
        // an unchecked name would only mislead the log reader.
        AuthAnswer::Done(Ok(Account::new("-")))
    }
}

/// `mode = "static"`: the `[[auth.users]]` table. Passwords are kept only as SHA-256
/// digests and compared in constant time, so neither the length nor the content of a
/// password leaks through timing.
pub struct StaticAuth {
    users: Vec<(Account, [u8; 32])>,
}

impl StaticAuth {
    pub fn new<'a>(users: impl Iterator<Item = (&'a str, &'a [u8])>) -> StaticAuth {
        StaticAuth {
            users: users
                .map(|(name, password)| (Account::new(name), Sha256::digest(password).into()))
                .collect(),
        }
    }
}

impl Authenticator for StaticAuth {
    fn required(&self) -> bool {
        true
    }

    fn check(&mut self, username: &[u8], password: &[u8], _ticket: Ticket) -> AuthAnswer {
        let offered: [u8; 32] = Sha256::digest(password).into();
        let user = self
            .users
            .iter()
            .find(|(a, _)| a.name.as_bytes() == username);
        // An unknown name still costs one comparison, like a known one.
        let expected = user.map(|(_, d)| *d).unwrap_or([0xa5; 32]);
        let matches = constant_time_eq(&offered, &expected);
        AuthAnswer::Done(match user {
            Some((account, _)) if matches => Ok(account.clone()),
            _ => Err(Rejected),
        })
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(a: &mut dyn Authenticator, u: &str, p: &str) -> Result<Account, Rejected> {
        let ticket = Ticket {
            key: 0,
            generation: 0,
        };
        match a.check(u.as_bytes(), p.as_bytes(), ticket) {
            AuthAnswer::Done(r) => r,
            AuthAnswer::Pending => panic!("static answers at once"),
        }
    }

    #[test]
    fn static_users_need_their_own_password() {
        let mut a =
            StaticAuth::new([("alice", &b"secret"[..]), ("bob", &b"hunter2"[..])].into_iter());
        assert!(a.required());
        assert_eq!(verdict(&mut a, "alice", "secret").unwrap().name(), "alice");
        assert_eq!(verdict(&mut a, "bob", "hunter2").unwrap().name(), "bob");
        assert_eq!(verdict(&mut a, "alice", "hunter2"), Err(Rejected));
        assert_eq!(verdict(&mut a, "alice", "secre"), Err(Rejected));
        assert_eq!(verdict(&mut a, "alice", ""), Err(Rejected));
        assert_eq!(verdict(&mut a, "carol", "secret"), Err(Rejected));
        assert_eq!(verdict(&mut a, "", ""), Err(Rejected));
    }

    #[test]
    fn none_needs_nothing() {
        let mut a = NoAuth;
        assert!(!a.required());
        assert!(verdict(&mut a, "x", "y").is_ok());
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
