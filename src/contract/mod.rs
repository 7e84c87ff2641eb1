//! The Aqueduct contract as the node, `aqueduct local`, the monitor and the commands see
//! it: the embedded artifacts ([`artifact`]), calldata and view calls ([`bindings`]), the
//! events it emits ([`events`]), deployment and the constructor's rules ([`deploy`]), and
//! its failures, revert data decoded into the artifacts' custom error names ([`errors`]).
//! The member credential that nodes check against it is in [`crate::credential`].
//!
//! Every signature used here is listed in [`sig`]; a test checks each against the
//! artifact's ABI, so a renamed or retyped contract function fails the build's tests
//! instead of failing on chain.

pub mod artifact;
pub mod bindings;
pub mod deploy;
pub mod errors;
pub mod events;

pub use artifact::{Artifact, AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT};
pub use bindings::{calls, sig, Contract, HeartbeatCheck, NodeInfo, Usage};
pub use deploy::{aqueduct_creation_code, limits, stablecoin_creation_code, DeployParams};
pub use errors::{client, decode_revert, ContractError};
pub use events::{Heartbeat, Subscribed, Withheld};
