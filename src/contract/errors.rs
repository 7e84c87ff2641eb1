//! What can go wrong talking to the contract, and revert data as a readable error.

use super::artifact::{Artifact, AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT};
use crate::eth::abi::{self, Kind, Value};
use crate::eth::rpc::{Client, RpcConfig, RpcError};
use crate::eth::Address;
use std::fmt;

/// An RPC failure, or an answer that does not decode as the function's return type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractError {
    Rpc(RpcError),
    /// The address has no code: a wrong address, or the wrong chain.
    NoContract {
        address: Address,
    },
    /// The address holds a contract, but not one that answers as Aqueduct does.
    NotAqueduct {
        address: Address,
        why: String,
    },
    Decode {
        function: &'static str,
        error: abi::AbiError,
    },
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractError::Rpc(e) => write!(f, "{e}"),
            ContractError::NoContract { address } => {
                write!(f, "there is no contract at {address} on this chain")
            }
            ContractError::NotAqueduct { address, why } => {
                write!(f, "{address} is not an Aqueduct contract ({why})")
            }
            ContractError::Decode { function, error } => write!(
                f,
                "cannot decode the answer of {function}: {error} (is this the right contract address?)"
            ),
        }
    }
}

impl std::error::Error for ContractError {}

impl From<RpcError> for ContractError {
    fn from(e: RpcError) -> Self {
        ContractError::Rpc(e)
    }
}

/// A JSON-RPC client for `cfg` whose errors name Aqueduct's reverts (through
/// [`decode_revert`]): the one way the node, the monitor and the commands build theirs.
pub fn client(cfg: RpcConfig) -> Result<Client, RpcError> {
    Client::new(cfg).map(|c| c.with_revert_decoder(decode_revert))
}

/// Revert data as a readable error: the contract's custom error with its arguments
/// (`NodeNotActive(0x…)`), `Error(string)`'s message, or a `Panic` code's meaning.
/// `None` for empty data or a selector found in neither artifact.
pub fn decode_revert(data: &[u8]) -> Option<String> {
    let (selector, args) = (data.get(..4)?, data.get(4..)?);
    if selector == abi::selector("Error(string)") {
        let v = abi::decode(&[Kind::String], args).ok()?;
        return v.first()?.as_str().map(str::to_string);
    }
    if selector == abi::selector("Panic(uint256)") {
        let code = abi::decode(&[Kind::Uint(256)], args)
            .ok()?
            .first()?
            .as_uint()?;
        let what = match code {
            0x01 => "assertion failed",
            0x11 => "arithmetic overflow or underflow",
            0x12 => "division by zero",
            0x32 => "array index out of bounds",
            _ => "internal error",
        };
        return Some(format!("Panic(0x{code:x}): {what}"));
    }
    for json in [AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT] {
        let Ok(artifact) = Artifact::parse(json) else {
            continue;
        };
        for (name, kinds, _) in artifact.entries("error") {
            if abi::selector(&abi::signature(&name, &kinds)) != selector {
                continue;
            }
            let shown = match abi::decode(&kinds, args) {
                Ok(values) => values
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(_) => "undecodable arguments".to_string(),
            };
            return Some(format!("{name}({shown})"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::bindings::call_data;

    #[test]
    fn custom_errors_decode_by_name_with_arguments() {
        let node = Address([0xab; 20]);
        let data = call_data("NodeNotActive(address)", &[Value::Address(node)]);
        assert_eq!(
            decode_revert(&data).as_deref(),
            Some(format!("NodeNotActive({node})").as_str())
        );
        let data = call_data("NothingToClaim()", &[]);
        assert_eq!(decode_revert(&data).as_deref(), Some("NothingToClaim()"));
        let data = call_data("Error(string)", &[Value::String("nope".into())]);
        assert_eq!(decode_revert(&data).as_deref(), Some("nope"));
        let data = call_data("Panic(uint256)", &[Value::Uint(0x11)]);
        assert!(decode_revert(&data).unwrap().contains("overflow"));
        assert_eq!(decode_revert(&[]), None);
        assert_eq!(decode_revert(&[1, 2, 3, 4]), None);
        // Truncated arguments still name the error.
        let data = call_data("NodeNotActive(address)", &[Value::Address(node)]);
        assert!(decode_revert(&data[..10])
            .unwrap()
            .starts_with("NodeNotActive("));
    }

    #[test]
    fn every_error_in_the_artifacts_decodes() {
        for json in [AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT] {
            for (name, kinds, _) in Artifact::parse(json).unwrap().entries("error") {
                let data = call_data(&abi::signature(&name, &kinds), &[]);
                let shown = decode_revert(&data).unwrap();
                assert!(shown.starts_with(&format!("{name}(")), "{shown}");
            }
        }
    }
}
