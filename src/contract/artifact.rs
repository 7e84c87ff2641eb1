//! The contracts' ABI and creation bytecode, embedded from `contracts/artifacts/`.

use crate::eth::abi::Kind;
use crate::eth::hex;

/// `{"abi": [...], "bytecode": "0x..."}` as committed by the contracts branch.
pub const AQUEDUCT_ARTIFACT: &str = include_str!("../../contracts/artifacts/Aqueduct.json");
pub const STABLECOIN_ARTIFACT: &str = include_str!("../../contracts/artifacts/TestStablecoin.json");

/// A contract's ABI and creation bytecode.
pub struct Artifact {
    pub abi: Vec<serde_json::Value>,
    pub bytecode: Vec<u8>,
}

impl Artifact {
    pub fn parse(json: &str) -> Result<Artifact, String> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("artifact is not JSON: {e}"))?;
        let abi = v
            .get("abi")
            .and_then(|a| a.as_array())
            .ok_or("artifact has no `abi` list")?
            .clone();
        let code = v
            .get("bytecode")
            .and_then(|b| {
                b.as_str()
                    .or_else(|| b.get("object").and_then(|o| o.as_str()))
            })
            .ok_or("artifact has no `bytecode`")?;
        let bytecode = hex::decode(code).map_err(|e| format!("artifact bytecode: {e}"))?;
        Ok(Artifact { abi, bytecode })
    }

    /// Entries of one `type` (function, event, error) as (name, input kinds, indexed flags).
    pub fn entries(&self, ty: &str) -> Vec<(String, Vec<Kind>, Vec<bool>)> {
        self.abi
            .iter()
            .filter(|e| e.get("type").and_then(|t| t.as_str()) == Some(ty))
            .filter_map(|e| {
                let name = e.get("name")?.as_str()?.to_string();
                let inputs = e.get("inputs")?.as_array()?;
                let kinds = inputs
                    .iter()
                    .map(Kind::from_abi_param)
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?;
                let indexed = inputs
                    .iter()
                    .map(|i| i.get("indexed").and_then(|x| x.as_bool()).unwrap_or(false))
                    .collect();
                Some((name, kinds, indexed))
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::eth::abi;

    /// Signatures computed from the artifact's JSON inputs, per entry type.
    pub(crate) fn abi_signatures(json: &str, ty: &str) -> Vec<String> {
        Artifact::parse(json)
            .unwrap()
            .entries(ty)
            .iter()
            .map(|(name, kinds, _)| abi::signature(name, kinds))
            .collect()
    }
}
