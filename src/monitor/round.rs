//! What a round probes and what it counts for: the monitor's node-scoped credentials
//! (signed by `credential::sign`, exactly like `aqueduct token`), the probe list built
//! from the registry, and the void-round guard.

use super::outcome::Outcome;
use super::probe::{Measured, ProbePath, ProbeTarget};
use crate::contract::NodeInfo;
use crate::credential::{self, NodeScope};
use crate::endpoint::Endpoint;
use crate::eth::signer::PrivateKey;
use crate::eth::Address;
use crate::host_port::HostPort;
use crate::proxy::upstream::Login;
use crate::tls::Pin;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A registry entry with its probed endpoint resolved (on the chain thread).
#[derive(Debug, Clone)]
pub struct RegEntry {
    pub info: NodeInfo,
    pub addr: Result<SocketAddr, String>,
    /// The pin to check when `addr` is the entry's TLS endpoint.
    pub tls: Option<Pin>,
}

/// Where a node is probed: the way members reach it. The TLS endpoint with its pin when
/// the entry has one (also when it has a plain one too: `aqueduct local` prefers TLS,
/// and the egress is compared with the TLS host), else the plain address. Why not, for
/// a malformed entry.
pub fn probe_endpoint(entry: &str) -> Result<(HostPort, Option<Pin>), String> {
    let e = entry
        .parse::<Endpoint>()
        .map_err(|e| format!("endpoint `{entry}` {e}"))?;
    match (e.tls, e.plain) {
        (Some(t), _) => Ok((t.addr, Some(t.pin))),
        (None, Some(plain)) => Ok((plain, None)),
        // The parser never returns an entry without either.
        (None, None) => Err(format!("endpoint `{entry}` has no address")),
    }
}

/// The IP of an endpoint written as `IP:PORT` or `[IPv6]:PORT`; None for a name.
pub fn endpoint_ip(endpoint: &str) -> Option<IpAddr> {
    endpoint.parse::<Endpoint>().ok()?.host()?.parse().ok()
}

/// One credential per node, renewed when less than a quarter of its lifetime is left.
pub struct Credentials {
    key: PrivateKey,
    chain_id: u64,
    contract: Address,
    ttl: u64,
    cache: HashMap<Address, (Arc<Login>, u64)>,
}

impl Credentials {
    pub fn new(key: PrivateKey, chain_id: u64, contract: Address, ttl: u64) -> Credentials {
        Credentials {
            key,
            chain_id,
            contract,
            ttl: ttl.max(60),
            cache: HashMap::new(),
        }
    }

    pub fn member(&self) -> Address {
        self.key.address()
    }

    /// The credential for `node` valid at unix time `now`, scoped to that node.
    pub fn login(&mut self, node: Address, now: u64) -> Arc<Login> {
        if let Some((login, expires)) = self.cache.get(&node) {
            if *expires > now + self.ttl / 4 {
                return Arc::clone(login);
            }
        }
        let expires = now + self.ttl;
        let (username, password) = credential::sign(
            &self.key,
            self.chain_id,
            self.contract,
            NodeScope::One(node),
            expires,
        );
        let login = Arc::new(Login { username, password });
        self.cache.insert(node, (Arc::clone(&login), expires));
        login
    }
}

/// The probes of round `round_no`: one SOCKS5 probe per active node, plus one HTTP
/// proxy probe of one node (taken in turn). Nodes whose endpoint did not resolve get
/// a `connect_failed` result without a probe.
pub fn plan(
    registry: &[RegEntry],
    creds: &mut Credentials,
    round_no: u64,
    now: u64,
) -> (Vec<ProbeTarget>, Vec<Measured>) {
    let mut targets = Vec::new();
    let mut unresolved = Vec::new();
    for e in registry.iter().filter(|e| e.info.active) {
        match &e.addr {
            Ok(addr) => targets.push(ProbeTarget {
                node: e.info.node,
                addr: *addr,
                login: creds.login(e.info.node, now),
                expect_egress: endpoint_ip(&e.info.endpoint),
                path: ProbePath::Socks,
                tls: e.tls,
            }),
            Err(why) => unresolved.push(Measured {
                node: e.info.node,
                path: ProbePath::Socks,
                outcome: Outcome::ConnectFailed,
                detail: why.clone(),
                connect: None,
                tls: None,
                login: None,
                latency: None,
                download_bytes: 0,
                download: None,
                egress: None,
            }),
        }
    }
    if !targets.is_empty() {
        let i = (round_no % targets.len() as u64) as usize;
        if let Some(t) = targets.get(i) {
            let http = ProbeTarget {
                path: ProbePath::Http,
                ..t.clone()
            };
            targets.push(http);
        }
    }
    (targets, unresolved)
}

/// Why the round counts against nobody: more than half of the nodes failed (SOCKS5
/// probes that did not relay), which says the monitor's side is down, not the network.
pub fn void_reason(results: &[Measured]) -> Option<String> {
    let socks: Vec<&Measured> = results
        .iter()
        .filter(|m| m.path == ProbePath::Socks)
        .collect();
    let failed = socks.iter().filter(|m| !m.outcome.relayed()).count();
    (failed * 2 > socks.len()).then(|| {
        format!(
            "{failed} of {} nodes failed: the monitor's own side (echo endpoint or network) is suspect",
            socks.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Verifier;
    use std::time::Duration;

    fn m(outcome: Outcome) -> Measured {
        Measured {
            node: Address([1; 20]),
            path: ProbePath::Socks,
            outcome,
            detail: String::new(),
            connect: None,
            tls: None,
            login: None,
            latency: Some(Duration::from_millis(1)),
            download_bytes: 0,
            download: None,
            egress: None,
        }
    }

    #[test]
    fn more_than_half_failed_makes_the_round_void() {
        use Outcome::*;
        assert_eq!(void_reason(&[m(Ok), m(Timeout)]), None);
        assert!(void_reason(&[m(Ok), m(Timeout), m(RelayFailed)]).is_some());
        assert_eq!(
            void_reason(&[m(Slow), m(WrongEgress), m(AuthRefused)]),
            None
        );
        assert!(void_reason(&[m(ConnectFailed)]).is_some());
        // HTTP probes do not count.
        let mut http = m(Timeout);
        http.path = ProbePath::Http;
        assert_eq!(void_reason(&[m(Ok), http.clone(), http]), None);
        assert_eq!(void_reason(&[]), None);
    }

    #[test]
    fn credentials_are_node_scoped_and_cached() {
        let key = PrivateKey::from_bytes(&[9; 32]).unwrap();
        let contract = Address([3; 20]);
        let mut creds = Credentials::new(key, 31337, contract, 3600);
        let (a, b) = (Address([1; 20]), Address([2; 20]));
        let la = creds.login(a, 1_000);
        assert!(Arc::ptr_eq(&la, &creds.login(a, 1_500)));
        assert!(
            !Arc::ptr_eq(&la, &creds.login(a, 1_000 + 3000)),
            "renewed near expiry"
        );
        let v = |node| Verifier {
            chain_id: 31337,
            contract,
            node,
            max_lifetime: 7200,
        };
        let check = |v: Verifier| v.check(la.username.as_bytes(), la.password.as_bytes(), 1_000);
        assert_eq!(check(v(a)), Ok(creds.member()));
        assert!(check(v(b)).is_err(), "scoped to its node only");
    }

    #[test]
    fn plan_probes_active_nodes_and_one_http() {
        let key = PrivateKey::from_bytes(&[9; 32]).unwrap();
        let mut creds = Credentials::new(key, 1, Address([3; 20]), 3600);
        let entry = |b: u8, active, addr: Result<SocketAddr, String>| RegEntry {
            info: NodeInfo {
                node: Address([b; 20]),
                endpoint: "127.0.0.1:1080".into(),
                active,
            },
            addr,
            tls: None,
        };
        let reg = vec![
            entry(1, true, Ok("127.0.0.1:1".parse().unwrap())),
            entry(2, false, Ok("127.0.0.1:2".parse().unwrap())),
            entry(3, true, Err("cannot resolve".into())),
            entry(4, true, Ok("127.0.0.1:4".parse().unwrap())),
        ];
        let (targets, unresolved) = plan(&reg, &mut creds, 1, 100);
        let nodes: Vec<(u8, ProbePath)> = targets.iter().map(|t| (t.node.0[0], t.path)).collect();
        assert_eq!(
            nodes,
            [
                (1, ProbePath::Socks),
                (4, ProbePath::Socks),
                (4, ProbePath::Http)
            ]
        );
        assert_eq!(targets[0].expect_egress, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(unresolved.len(), 1);
        assert_eq!(unresolved[0].outcome, Outcome::ConnectFailed);
        assert_eq!(endpoint_ip("[::1]:80"), Some("::1".parse().unwrap()));
        assert_eq!(endpoint_ip("node.example:80"), None);
    }

    #[test]
    fn nodes_are_probed_where_members_reach_them() {
        const PIN: &str = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let pin: Pin = PIN.parse().unwrap();
        let (addr, tls) = probe_endpoint("127.0.0.1:1080").unwrap();
        assert_eq!((addr.to_string(), tls), ("127.0.0.1:1080".into(), None));
        let tls_only = format!("tls=127.0.0.1:443 pin={PIN}");
        let (addr, tls) = probe_endpoint(&tls_only).unwrap();
        assert_eq!((addr.to_string(), tls), ("127.0.0.1:443".into(), Some(pin)));
        // Both: TLS, as `aqueduct local` prefers it; the egress expected is the TLS host's.
        let both = format!("127.0.0.1:1080 tls=127.0.0.2:443 pin={PIN}");
        let (addr, tls) = probe_endpoint(&both).unwrap();
        assert_eq!((addr.to_string(), tls), ("127.0.0.2:443".into(), Some(pin)));
        assert_eq!(endpoint_ip(&both), Some("127.0.0.2".parse().unwrap()));
        let bad = probe_endpoint("tls=127.0.0.1:443").unwrap_err();
        assert!(bad.contains("without pin="), "{bad}");
    }
}
