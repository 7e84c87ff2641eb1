//! The node's chain side (being written): membership sync, chain-backed auth, heartbeats.
