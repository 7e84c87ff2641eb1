//! Who gets in: accepting until the queue is empty, the per-client cap on handshakes,
//! and evicting the oldest handshake when the node is full.

use super::*;

impl Server {
    /// Accepts until the queue is empty (edge-triggered readiness needs it).
    pub(super) fn accept(&mut self, index: usize, now: Instant) {
        let registry = self.poll.registry();
        let Some(Some(listener)) = self.listeners.get(index) else {
            return;
        };
        let core = &mut self.core;
        if core.accept_paused_until.is_some() {
            return;
        }
        loop {
            match listener.accept() {
                Ok((sock, addr)) => {
                    core.exhaustion_logged = false;
                    let limits = core.settings.limits;
                    let client = client_key(addr.ip());
                    let from_client = core.handshakes_by_client.get(&client).copied();
                    if from_client.unwrap_or(0) >= limits.max_handshakes_per_client {
                        log::debug!(
                            "session {addr}: closed at accept: {} connections from this client in handshake (limits.max_handshakes_per_client)",
                            limits.max_handshakes_per_client
                        );
                        core.metrics.connection_refused(Refusal::ClientHandshakes);
                        drop(sock);
                        continue;
                    }
                    if core.sessions.len() >= limits.max_sessions
                        && !core.evict_oldest_handshake(registry, now)
                    {
                        if !core.limit_logged {
                            log::warn!(
                                "{} sessions open (limits.max_sessions), none in its handshake: closing new connections until some finish",
                                core.sessions.len()
                            );
                            core.limit_logged = true;
                        }
                        core.metrics.connection_refused(Refusal::MaxSessions);
                        drop(sock);
                        continue;
                    }
                    core.limit_logged = false;
                    let tls = index >= core.plain_listeners;
                    core.open(registry, sock, addr, now, tls);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    if !core.exhaustion_logged {
                        if is_resource_exhaustion(&e) {
                            log::warn!(
                                "accept: {e}; pausing accepts briefly until descriptors free up"
                            );
                        } else {
                            log::warn!("accept: {e}; pausing accepts briefly");
                        }
                        core.exhaustion_logged = true;
                    }
                    // Retrying at once would fail the same way and spin the loop.
                    core.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    core.auth.set_serving(false);
                    return;
                }
            }
        }
    }
}

impl Core {
    pub(super) fn open(
        &mut self,
        registry: &Registry,
        sock: TcpStream,
        addr: SocketAddr,
        now: Instant,
        tls: bool,
    ) {
        let key = self.sessions.vacant_key();
        let mut session = Session::new(sock, addr, now, self.settings.timeouts.handshake);
        if let (true, Some(settings)) = (tls, self.current.tls.as_ref()) {
            if !session.start_tls(settings, now) {
                return;
            }
        }
        if let Err(e) = session.register(registry, key) {
            log::warn!("session {addr}: cannot register: {e}");
            return;
        }
        let (key, generation) = self.sessions.insert(session);
        self.trim.opened(self.sessions.len());
        if let Some(session) = self.sessions.get_mut(key) {
            session.generation = generation;
            session.handshake_counted = true;
            *self
                .handshakes_by_client
                .entry(client_key(addr.ip()))
                .or_default() += 1;
            arm(session, &mut self.timers, key, &self.settings);
        }
        self.handshakes.push_back((key, generation));
        self.prune_handshakes();
        log::debug!("session {addr}: accepted as {key}");
    }

    /// Keeps the eviction queue from growing with sessions that left their handshake long
    /// ago: stale entries at the front go at once, and the whole queue is swept when it
    /// holds more than twice the sessions open (so the work is amortised per accept).
    pub(super) fn prune_handshakes(&mut self) {
        let sweep_above = 64 + 2 * self.sessions.len();
        let sessions = &mut self.sessions;
        let mut live = |&(key, generation): &(usize, u64)| {
            sessions
                .get_current(key, generation)
                .is_some_and(|s| s.in_handshake())
        };
        while self.handshakes.front().is_some_and(|e| !live(e)) {
            self.handshakes.pop_front();
        }
        if self.handshakes.len() > sweep_above {
            self.handshakes.retain(|e| live(e));
            self.handshakes.shrink_to(64 + 2 * self.handshakes.len());
        }
    }

    /// The node is full: closes the oldest session still in its handshake, so a silent
    /// flood cannot keep every good client out until its handshake timeout. False if no
    /// session is in its handshake.
    pub(super) fn evict_oldest_handshake(&mut self, registry: &Registry, now: Instant) -> bool {
        while let Some((key, generation)) = self.handshakes.pop_front() {
            let evictable = self
                .sessions
                .get_current(key, generation)
                .is_some_and(|s| s.in_handshake());
            if evictable {
                self.drive(registry, key, now, |s, _| {
                    s.set_outcome(Outcome::Evicted);
                    Verdict::Close
                });
                return true;
            }
        }
        false
    }
}

/// Whose connections count together against `limits.max_handshakes_per_client`: an IPv4
/// address (also when IPv4-mapped), or an IPv6 /64, the smallest block a host is given.
pub(super) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}
