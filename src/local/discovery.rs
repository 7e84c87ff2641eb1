//! The discovery thread: reads the contract's node registry (plus the configured extra
//! nodes), resolves endpoints, signs one short-lived credential per node with the
//! member's key, and measures the nodes. All of its waiting (RPC, DNS, probes) happens
//! here, never on the event loop; results land in the shared [`NodeTable`].

use super::config::{LocalSettings, SignedLogin};
use super::probe::probe;
use super::table::{Found, NodeTable, SharedTable};
use crate::clock::unix_now;
use crate::contract::{Contract, ContractError};
use crate::credential::{self, NodeScope};
use crate::endpoint::Endpoint;
use crate::eth::rpc::Client;
use crate::eth::signer::PrivateKey;
use crate::eth::Address;
use crate::proxy::upstream::Login;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Probes run at most this many at a time.
const PARALLEL_PROBES: usize = 16;
/// How often the thread wakes to look for due work.
const TICK: Duration = Duration::from_millis(250);

pub struct Discovery {
    pub table: SharedTable,
    client: Client,
    contract: Address,
    chain_id: u64,
    signer: Signer,
    settings: LocalSettings,
}

/// Where node credentials come from.
pub enum Signer {
    /// The member's key on this machine: one credential per node, renewed as they age.
    Key(PrivateKey),
    /// A credential the member signed elsewhere (the website): used for every node it is
    /// good for, until it expires.
    Signed(SignedLogin),
}

impl Signer {
    pub fn member(&self) -> Address {
        match self {
            Signer::Key(key) => key.address(),
            Signer::Signed(login) => login.member,
        }
    }
}

impl Discovery {
    pub fn new(
        client: Client,
        contract: Address,
        chain_id: u64,
        signer: Signer,
        settings: LocalSettings,
    ) -> Discovery {
        Discovery {
            table: SharedTable::new(settings.spread),
            client,
            contract,
            chain_id,
            signer,
            settings,
        }
    }

    pub fn settings(&self) -> &LocalSettings {
        &self.settings
    }

    /// Reads the registry (unless disabled) and the extra nodes into the table, resolves
    /// new endpoints and signs missing or expiring credentials. Returns the node count.
    pub fn refresh(&self) -> Result<usize, ContractError> {
        let mut found: Vec<Found> = self
            .settings
            .nodes
            .iter()
            .filter_map(|n| {
                let found =
                    Found::from_endpoint(n.address, &n.endpoint, true, self.settings.require_tls);
                if found.is_none() {
                    log::warn!(
                        "node {}: no TLS endpoint and local.require_tls is set; not used",
                        n.address
                    );
                }
                found
            })
            .collect();
        if self.settings.registry {
            for info in Contract::new(&self.client, self.contract).nodes()? {
                if !info.active || found.iter().any(|f| f.address == info.node) {
                    continue;
                }
                let entry = match info.endpoint.parse::<Endpoint>() {
                    Ok(entry) => entry,
                    Err(e) => {
                        log::debug!(
                            "node {}: unusable endpoint `{}`: {e}",
                            info.node,
                            info.endpoint
                        );
                        continue;
                    }
                };
                match Found::from_endpoint(info.node, &entry, false, self.settings.require_tls) {
                    Some(f) => found.push(f),
                    None => log::debug!("node {}: no TLS endpoint (local.require_tls)", info.node),
                }
            }
        }
        let unresolved: Vec<(usize, String)> = {
            let mut table = self.table.lock();
            table.sync(&found);
            table
                .nodes()
                .iter()
                .filter(|n| n.addr.is_none())
                .map(|n| (n.id, n.endpoint.clone()))
                .collect()
        };
        for (id, endpoint) in unresolved {
            let addr = resolve(&endpoint);
            let mut table = self.table.lock();
            if let Some(n) = table.get_mut(id) {
                match addr {
                    Ok(a) => n.addr = Some(a),
                    Err(e) => n.last_error = Some(e),
                }
            }
        }
        self.renew_credentials();
        Ok(found.len())
    }

    /// Signs a credential for every node that has none or whose credential has less than
    /// a quarter of its lifetime left. Each is scoped to its node, so a node (or anyone
    /// who reads its traffic) cannot use it elsewhere.
    pub fn renew_credentials(&self) {
        let now = unix_now();
        let key = match &self.signer {
            Signer::Key(key) => key,
            Signer::Signed(login) => return self.use_signed(login, now),
        };
        let ttl = self.settings.credential_ttl.as_secs();
        let due: Vec<(usize, Address)> = self
            .table
            .lock()
            .nodes()
            .iter()
            .filter(|n| n.login.is_none() || n.login_expires <= now + ttl / 4)
            .map(|n| (n.id, n.address))
            .collect();
        // Signed without the table's lock: the event loop takes it to pick a node for
        // every new connection, and a signature costs it a measurable pause each.
        let expires = now + ttl;
        let signed: Vec<(usize, Address, Login)> = due
            .into_iter()
            .map(|(id, address)| {
                let (username, password) = credential::sign(
                    key,
                    self.chain_id,
                    self.contract,
                    NodeScope::One(address),
                    expires,
                );
                (id, address, Login { username, password })
            })
            .collect();
        let mut table = self.table.lock();
        for (id, address, login) in signed {
            if let Some(n) = table.get_mut(id) {
                n.login = Some(Arc::new(login));
                n.login_expires = expires;
                log::debug!("node {address}: credential signed, expires at {expires}");
            }
        }
    }

    /// Gives the signed credential to every node it is good for; a node it is not for
    /// (scoped to another node) gets none and is not used.
    fn use_signed(&self, login: &SignedLogin, now: u64) {
        if login.expires <= now {
            log::warn!(
                "local.credential expired at {}: sign a new one (the website's Access page)",
                login.expires
            );
        }
        let shared = Arc::new(Login {
            username: login.username.clone(),
            password: login.password.clone(),
        });
        let mut table = self.table.lock();
        let ids: Vec<(usize, Address)> = table
            .nodes()
            .iter()
            .filter(|n| n.login.is_none())
            .map(|n| (n.id, n.address))
            .collect();
        for (id, address) in ids {
            let good = match login.node {
                NodeScope::Any => true,
                NodeScope::One(node) => node == address,
            };
            if let (true, Some(n)) = (good, table.get_mut(id)) {
                n.login = Some(Arc::clone(&shared));
                n.login_expires = login.expires;
            }
        }
    }

    /// Measures every node that is due (all of them with `all`), several at a time.
    pub fn probe_due(&self, all: bool) {
        let now = Instant::now();
        type Due = (
            usize,
            SocketAddr,
            Arc<Login>,
            Option<Arc<rustls::ClientConfig>>,
        );
        let due: Vec<Due> = self
            .table
            .lock()
            .nodes()
            .iter()
            .filter(|n| all || n.probe_due.is_none_or(|t| t <= now))
            .filter_map(|n| Some((n.id, n.addr?, Arc::clone(n.login.as_ref()?), n.tls.clone())))
            .collect();
        let timeout = self.settings.probe_timeout;
        for batch in due.chunks(PARALLEL_PROBES) {
            let results: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = batch
                    .iter()
                    .map(|(id, addr, login, tls)| {
                        s.spawn(move || (*id, probe(*addr, login, timeout, tls.as_ref())))
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            let now = Instant::now();
            let mut table = self.table.lock();
            for (id, result) in results {
                record(&mut table, id, result, now, self.settings.probe_every);
            }
        }
    }

    /// The thread's body: refresh (first at `next_refresh`), renew and measure as each
    /// falls due, forever.
    pub fn run(self, mut next_refresh: Instant) {
        loop {
            if Instant::now() >= next_refresh {
                match self.refresh() {
                    Ok(n) => log::debug!("node list refreshed: {n} nodes"),
                    Err(e) => {
                        log::warn!("cannot read the node registry: {e}; keeping the last list")
                    }
                }
                next_refresh = Instant::now() + self.settings.refresh;
            }
            self.renew_credentials();
            self.probe_due(false);
            std::thread::sleep(TICK);
        }
    }
}

fn record(
    table: &mut NodeTable,
    id: usize,
    result: Result<super::table::Measurement, crate::proxy::upstream::HopError>,
    now: Instant,
    every: Duration,
) {
    match result {
        Ok(m) => {
            table.up(id, Some(m));
            if let Some(n) = table.get_mut(id) {
                n.probe_due = Some(now + every);
            }
        }
        Err(e) => table.down(id, &e, now),
    }
}

/// `host:port` to its first address (blocking; only ever called on this thread).
fn resolve(endpoint: &str) -> Result<SocketAddr, String> {
    endpoint
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {endpoint}: {e}"))?
        .next()
        .ok_or_else(|| format!("{endpoint} has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Verifier;
    use crate::eth::rpc::RpcConfig;

    fn discovery(ttl: u64) -> Discovery {
        let settings = LocalSettings {
            nodes: [7u8, 8]
                .iter()
                .map(|b| super::super::config::ExtraNode {
                    endpoint: format!("127.0.0.1:{}", 4000 + u16::from(*b))
                        .parse()
                        .unwrap(),
                    address: Address([*b; 20]),
                })
                .collect(),
            registry: false,
            spread: Default::default(),
            refresh: Duration::from_secs(60),
            probe_every: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(1),
            credential_ttl: Duration::from_secs(ttl),
            credential: None,
            require_tls: false,
        };
        // Never contacted: the registry is off.
        let client = Client::new(RpcConfig::new(vec!["http://127.0.0.1:9".into()])).unwrap();
        let key = PrivateKey::from_bytes(&[5; 32]).unwrap();
        Discovery::new(client, Address([1; 20]), 31337, Signer::Key(key), settings)
    }

    #[test]
    fn a_credential_signed_elsewhere_goes_to_the_nodes_it_is_good_for() {
        let member = PrivateKey::from_bytes(&[9; 32]).unwrap();
        let expires = unix_now() + 600;
        for (scope, wanted) in [
            (NodeScope::Any, vec![true, true]),
            (NodeScope::One(Address([8; 20])), vec![false, true]),
        ] {
            let (username, password) =
                credential::sign(&member, 31337, Address([1; 20]), scope, expires);
            let login: SignedLogin = format!("{username}:{password}").parse().unwrap();
            assert_eq!(login.member, member.address());
            let mut d = discovery(3600);
            d.signer = Signer::Signed(login);
            d.refresh().unwrap();
            let table = d.table.lock();
            let got: Vec<bool> = table.nodes().iter().map(|n| n.login.is_some()).collect();
            assert_eq!(got, wanted, "{scope:?}");
            for n in table.nodes().iter().filter(|n| n.login.is_some()) {
                assert_eq!(n.login.as_ref().unwrap().username, username);
                assert_eq!(n.login_expires, expires);
            }
        }
        assert!("0xnot:a:credential".parse::<SignedLogin>().is_err());
    }

    #[test]
    fn each_node_gets_its_own_credential_renewed_before_expiry() {
        let d = discovery(3600);
        // Signing may fall in the second before `now`.
        let before = unix_now();
        assert_eq!(d.refresh().unwrap(), 2);
        let now = unix_now();
        let logins: Vec<(Address, Arc<Login>, u64)> = d
            .table
            .lock()
            .nodes()
            .iter()
            .map(|n| (n.address, n.login.clone().unwrap(), n.login_expires))
            .collect();
        for (node, login, expires) in &logins {
            assert!((before + 3600..=now + 3601).contains(expires));
            let verifier = Verifier {
                chain_id: 31337,
                contract: Address([1; 20]),
                node: *node,
                max_lifetime: 3600 + 5,
            };
            let check =
                |v: &Verifier| v.check(login.username.as_bytes(), login.password.as_bytes(), now);
            assert!(check(&verifier).is_ok());
            // The other node refuses it.
            let other = Verifier {
                node: logins.iter().find(|l| l.0 != *node).unwrap().0,
                ..verifier.clone()
            };
            assert!(check(&other).is_err());
        }
        // Fresh credentials are kept; one close to expiry is replaced.
        d.renew_credentials();
        let mut table = d.table.lock();
        assert!(Arc::ptr_eq(
            table.nodes()[0].login.as_ref().unwrap(),
            &logins[0].1
        ));
        let id = table.nodes()[1].id;
        table.get_mut(id).unwrap().login_expires = now + 60;
        drop(table);
        d.renew_credentials();
        let table = d.table.lock();
        assert!(!Arc::ptr_eq(
            table.nodes()[1].login.as_ref().unwrap(),
            &logins[1].1
        ));
        assert!(table.nodes()[1].login_expires >= now + 3600);
    }
}
