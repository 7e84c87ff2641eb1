//! Counters the chain threads keep for the metrics endpoint and `aqueduct status`: the
//! pinned `proxy::metrics::ChainStats`, under the name the chain side uses.

pub use crate::proxy::metrics::ChainStats;
