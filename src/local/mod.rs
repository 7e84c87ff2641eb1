//! `aqueduct local` (being written): one local proxy in front of the whole network.
