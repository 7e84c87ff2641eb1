//! What a session handler may use besides itself: the loop's shared parts, lent for one
//! call. Its own file so that sessions and the server that drives them do not import
//! each other.

use super::auth::{Authenticator, Ticket};
use super::dns::Resolver;
use super::limits::controls::Controls;
use super::metrics::Metrics;
use super::policy::Policy;
use super::pool::Pool;
use super::settings::{Limits, Timeouts};
use super::upstream::Router;
use mio::Registry;
use std::time::Instant;

/// What sessions need to know of the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionSettings {
    pub timeouts: Timeouts,
    pub limits: Limits,
}

/// What a session handler may use besides itself.
pub(crate) struct Ctx<'a> {
    pub registry: &'a Registry,
    pub resolver: &'a mut Resolver,
    pub auth: &'a mut dyn Authenticator,
    pub policy: &'a Policy,
    /// Set in `aqueduct local`: targets are reached through nodes, not dialled directly.
    pub router: Option<&'a mut dyn Router>,
    pub settings: &'a SessionSettings,
    pub metrics: &'a mut Metrics,
    /// Relay buffers and pipes, lent to sessions while they have bytes in flight.
    pub pool: &'a mut Pool,
    /// `[limits]`' operator controls: admission, rate grants, byte counts.
    pub controls: &'a mut Controls,
    pub now: Instant,
    /// The session's slab key (also its owner id at the resolver).
    pub key: usize,
    /// The session's id at the authenticator.
    pub ticket: Ticket,
}
