//! Talking to an EVM chain without a web3 framework: hex, Keccak-256, addresses,
//! secp256k1 keys and signatures, raw transactions, ABI, JSON-RPC.
//!
//! Amounts are `u128` throughout: it holds any token balance with 18 decimals up to
//! 3.4e20 whole tokens; a `uint256` that does not fit is a decode error, never a wrap.

pub mod abi;
pub mod address;
pub mod hex;
pub mod keccak;
pub mod keys;
pub mod personal;
pub mod rpc;
pub mod sender;
pub mod signer;
pub mod tx;
pub mod units;

pub use address::Address;
pub use keccak::keccak256;
