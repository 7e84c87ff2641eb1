//! Name resolution that never blocks the event loop: an in-loop UDP stub resolver.
//!
//! - [`wire`]: the DNS message codec (pure functions over bytes).
//! - [`conf`]: `/etc/resolv.conf` and `/etc/hosts`, read into a [`ResolverConfig`].
//! - [`cache`]: answers kept by TTL, bounded in entries.
//! - [`resolver`]: the [`Resolver`] the engine drives from its mio loop.
//! - [`rng`]: unpredictable query IDs.

pub mod cache;
pub mod conf;
pub mod resolver;
pub mod rng;
pub mod wire;

pub use conf::{Hosts, ResolverConfig};
pub use resolver::Resolver;

use std::fmt;
use std::net::IpAddr;

/// Up to [`Addrs::CAPACITY`] addresses of one name, without heap: IPv4 first, then IPv6, each
/// in the order the nameserver (or hosts file) gave them; duplicates are dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Addrs {
    addrs: [IpAddr; Addrs::CAPACITY],
    len: u8,
}

impl fmt::Debug for Addrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Default for Addrs {
    fn default() -> Addrs {
        Addrs::new()
    }
}

impl Addrs {
    pub const CAPACITY: usize = 8;

    pub const fn new() -> Addrs {
        Addrs {
            addrs: [IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED); Addrs::CAPACITY],
            len: 0,
        }
    }

    pub fn one(ip: IpAddr) -> Addrs {
        let mut a = Addrs::new();
        a.push(ip);
        a
    }

    /// Appends `ip` unless it is already present; `false` when full.
    pub fn push(&mut self, ip: IpAddr) -> bool {
        if self.as_slice().contains(&ip) {
            return true;
        }
        match self.addrs.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = ip;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub fn as_slice(&self) -> &[IpAddr] {
        self.addrs.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.as_slice().iter().copied()
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// IPv4 addresses of `self`, then IPv6 ones, up to capacity: the order sessions try them.
    pub(crate) fn v4_first(&self) -> Addrs {
        let mut out = Addrs::new();
        for ip in self.iter().filter(IpAddr::is_ipv4) {
            out.push(ip);
        }
        for ip in self.iter().filter(IpAddr::is_ipv6) {
            out.push(ip);
        }
        out
    }
}

/// Why a name has no addresses to connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no A or AAAA records.
    NoAddresses,
    /// No nameserver answered within timeout x attempts.
    Timeout,
    /// The nameservers failed (SERVFAIL, an unusable or truncated answer, or an error rcode).
    ServerFailure,
    /// The nameservers refused to answer (REFUSED).
    Refused,
    /// Not a valid domain name.
    BadName,
    /// The query could not be sent at all.
    Io,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnsError::NxDomain => "no such domain (NXDOMAIN)",
            DnsError::NoAddresses => "the name has no IPv4 or IPv6 address",
            DnsError::Timeout => "no answer from the nameservers in time",
            DnsError::ServerFailure => "the nameservers failed to answer (SERVFAIL)",
            DnsError::Refused => "the nameservers refused the query",
            DnsError::BadName => "not a valid domain name",
            DnsError::Io => "the DNS query could not be sent",
        })
    }
}

impl std::error::Error for DnsError {}

/// The immediate outcome of [`Resolver::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Answered at once (IP literal, hosts file, cache, or a name that cannot be valid).
    Done(Result<Addrs, DnsError>),
    /// A query is in flight; the answer comes from [`Resolver::drain_completed`].
    Pending,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addrs_keep_order_drop_duplicates_and_stop_at_capacity() {
        let mut a = Addrs::new();
        assert!(a.is_empty());
        for i in 0..10u8 {
            let pushed = a.push(IpAddr::from([192, 0, 2, i]));
            assert_eq!(pushed, usize::from(i) < Addrs::CAPACITY);
        }
        assert!(
            a.push(IpAddr::from([192, 0, 2, 0])),
            "duplicate is not an overflow"
        );
        assert_eq!(a.len(), Addrs::CAPACITY);
        let got: Vec<IpAddr> = a.iter().collect();
        let want: Vec<IpAddr> = (0..8u8).map(|i| IpAddr::from([192, 0, 2, i])).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn v4_first_reorders_stably() {
        let mut a = Addrs::new();
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        let v4a: IpAddr = "192.0.2.1".parse().unwrap();
        let v4b: IpAddr = "192.0.2.2".parse().unwrap();
        for ip in [v6a, v4a, v6b, v4b] {
            a.push(ip);
        }
        let got: Vec<IpAddr> = a.v4_first().iter().collect();
        assert_eq!(got, vec![v4a, v4b, v6a, v6b]);
    }
}
