//! Setting the loop up: listeners, signals, the waker, the resolver, metrics, policy and
//! the relay pool, from the engine's settings.

use super::*;

impl Server {
    /// Binds every listener and sets up the resolver, policy and authenticator; nothing is
    /// accepted until [`Server::run`].
    pub fn bind(settings: Settings) -> io::Result<Server> {
        let poll = Poll::new()?;
        let registry = poll.registry();
        if settings.listen.len() + settings.tls_listen.len() > MAX_LISTENERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many listeners",
            ));
        }
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        if !settings.tls_listen.is_empty() && settings.tls.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "tls_listen without a TLS certificate",
            ));
        }
        // Plain listeners first, then the TLS ones: a listener's index says which it is.
        let plain_listeners = settings.listen.len();
        for (i, addr) in settings
            .listen
            .iter()
            .chain(&settings.tls_listen)
            .enumerate()
        {
            let mut listener =
                TcpListener::bind(*addr).map_err(context(format!("listen on {addr}")))?;
            if sockopt::NODELAY_INHERITED {
                sockopt::nodelay(&listener).map_err(context(format!("TCP_NODELAY on {addr}")))?;
            }
            registry.register(&mut listener, Token(FIRST_LISTENER + i), Interest::READABLE)?;
            local_addrs.push(listener.local_addr()?);
            listeners.push(Some(listener));
        }
        let signals = SignalPipe::install().map_err(context("signal handlers".into()))?;
        signals.register(registry, SIGNAL)?;
        let waker = Arc::new(Waker::new(registry, WAKER)?);

        let dns = &settings.dns;
        let mut resolver_config = ResolverConfig::from_files(&dns.resolv_conf, &dns.hosts_file)
            .map_err(context(format!(
                "reading {} and {}",
                dns.resolv_conf.display(),
                dns.hosts_file.display()
            )))?;
        if let Some(nameservers) = &dns.nameservers {
            resolver_config.nameservers = nameservers.clone();
        }
        if resolver_config.nameservers.is_empty() {
            // What the C library does without a nameserver line.
            log::warn!(
                "no nameserver in {}; asking 127.0.0.1:53 (set dns.nameservers to choose)",
                dns.resolv_conf.display()
            );
            resolver_config.nameservers = vec![SocketAddr::from(([127, 0, 0, 1], 53))];
        }
        let resolver = Resolver::new(resolver_config, registry, DNS_V4, DNS_V6)
            .map_err(context("DNS resolver".into()))?;
        let scrapes = match settings.metrics_listen {
            None => None,
            Some(addr) => {
                let endpoint = metrics::Endpoint::bind(addr, registry, METRICS, FIRST_SCRAPE)
                    .map_err(context(format!("metrics listen on {addr}")))?;
                log::info!("metrics on http://{}/metrics", endpoint.local_addr());
                Some(endpoint)
            }
        };
        let own = policy::local_addresses().unwrap_or_else(|e| {
            log::warn!("cannot list this machine's addresses ({e}); policy denies only the configured ranges");
            Vec::new()
        });
        // Never a destination: a connection into the node itself becomes another session.
        let mut own_listeners = local_addrs.clone();
        own_listeners.extend(scrapes.as_ref().map(metrics::Endpoint::local_addr));
        let pool = Pool::new(settings.limits.buffer_bytes, &settings.relay)?;
        log::info!(
            "relay: {}",
            if pool.splices() {
                "splice(2) through pooled pipes"
            } else {
                "userspace buffers (copy)"
            }
        );
        let controls = Controls::new(&settings.operator, Instant::now());
        let mut controls = controls;
        controls.set_grace(settings.timeouts.shutdown_grace);
        let core = Core {
            controls,
            sessions: Slab::new(),
            timers: Timers::default(),
            yielded: Vec::new(),
            resolver,
            auth: auth::from_settings(&settings.auth),
            policy: Policy::new(settings.policy.clone(), own.clone())
                .with_listeners(&own_listeners),
            router: None,
            settings: SessionSettings {
                timeouts: settings.timeouts,
                limits: settings.limits,
            },
            pool,
            handshakes: VecDeque::new(),
            handshakes_by_client: HashMap::new(),
            trim: TrimSchedule::default(),
            accept_paused_until: None,
            exhaustion_logged: false,
            limit_logged: false,
            shutdown_deadline: None,
            dns_done: Vec::new(),
            auth_done: Vec::new(),
            metrics: Metrics::default(),
            scrapes,
            revoked: Vec::new(),
            plain_listeners,
            current: settings,
            own_addrs: own,
            own_listeners,
            reloader: None,
        };
        Ok(Server {
            poll,
            listeners,
            local_addrs,
            signals,
            waker,
            core,
        })
    }
}
