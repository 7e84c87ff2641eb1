//! Deployment: the constructor's arguments, its rules checked before anything is sent,
//! and the creation code of Aqueduct and of the dev chains' TestStablecoin.

use super::artifact::{Artifact, AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT};
use crate::eth::abi::{self, Value};
use crate::eth::Address;

/// The constructor arguments of Aqueduct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployParams {
    pub token: Address,
    /// Token units per period.
    pub price: u128,
    pub period_length: u64,
    pub epoch_length: u64,
    pub slot_length: u64,
    /// Most periods one payment buys, and how far ahead access may be prepaid.
    pub max_periods: u64,
    pub owner: Address,
}

/// The deploy-time rules of the contract's constructor, checked before anything is sent.
pub mod limits {
    pub const MIN_EPOCH_LENGTH: u64 = 3600;
    pub const MIN_SLOT_LENGTH: u64 = 60;
    pub const MAX_SLOTS_PER_EPOCH: u64 = 1 << 16;
    pub const MAX_PERIODS_LIMIT: u64 = 1000;
    /// `max_periods * period_length` must stay below this many seconds.
    pub const MAX_PREPAID_SECONDS: u64 = 1 << 32;
    /// Largest `price * max_periods`, in token units.
    pub const MAX_PAYMENT: u128 = 1 << 80;
}

impl DeployParams {
    /// Why the constructor would refuse these parameters, in the words of its rules.
    pub fn check(&self) -> Result<(), String> {
        use limits::*;
        let (epoch, slot, period) = (self.epoch_length, self.slot_length, self.period_length);
        if epoch < MIN_EPOCH_LENGTH {
            return Err(format!(
                "an epoch must last at least {MIN_EPOCH_LENGTH} s (1h), not {epoch} s"
            ));
        }
        if slot < MIN_SLOT_LENGTH {
            return Err(format!(
                "a slot must last at least {MIN_SLOT_LENGTH} s (1m), not {slot} s"
            ));
        }
        if epoch % slot != 0 {
            return Err(format!(
                "the epoch ({epoch} s) is not a whole number of slots ({slot} s)"
            ));
        }
        if epoch / slot > MAX_SLOTS_PER_EPOCH {
            return Err(format!(
                "an epoch may hold at most {MAX_SLOTS_PER_EPOCH} slots, not {}",
                epoch / slot
            ));
        }
        if period < epoch {
            return Err(format!(
                "a period ({period} s) must last at least one epoch ({epoch} s)"
            ));
        }
        if self.max_periods == 0 || self.max_periods > MAX_PERIODS_LIMIT {
            return Err(format!(
                "max periods must be between 1 and {MAX_PERIODS_LIMIT}, not {}",
                self.max_periods
            ));
        }
        if u128::from(period) * u128::from(self.max_periods) >= u128::from(MAX_PREPAID_SECONDS) {
            return Err(format!(
                "{} periods of {period} s reach 2^32 seconds (136 years): choose fewer or shorter",
                self.max_periods
            ));
        }
        if self.price == 0 || self.price > MAX_PAYMENT / u128::from(self.max_periods) {
            return Err(format!(
                "the price must be above zero and at most 2^80 / {} token units",
                self.max_periods
            ));
        }
        Ok(())
    }
}

fn creation_code(artifact_json: &str, args: &[Value]) -> Result<Vec<u8>, String> {
    let mut code = Artifact::parse(artifact_json)?.bytecode;
    if code.is_empty() {
        return Err("the embedded artifact has no bytecode".into());
    }
    code.extend_from_slice(&abi::encode(args));
    Ok(code)
}

/// Bytecode plus encoded constructor arguments, ready for a creation transaction.
pub fn aqueduct_creation_code(p: &DeployParams) -> Result<Vec<u8>, String> {
    creation_code(
        AQUEDUCT_ARTIFACT,
        &[
            Value::Address(p.token),
            Value::Uint(p.price),
            Value::Uint(p.period_length.into()),
            Value::Uint(p.epoch_length.into()),
            Value::Uint(p.slot_length.into()),
            Value::Uint(p.max_periods.into()),
            Value::Address(p.owner),
        ],
    )
}

pub fn stablecoin_creation_code() -> Result<Vec<u8>, String> {
    creation_code(STABLECOIN_ARTIFACT, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DeployParams {
        DeployParams {
            token: Address([1; 20]),
            price: 10_000_000,
            period_length: 30 * 86400,
            epoch_length: 86400,
            slot_length: 3600,
            max_periods: 12,
            owner: Address([3; 20]),
        }
    }

    #[test]
    fn deploy_params_are_checked_against_the_constructor_rules() {
        assert_eq!(params().check(), Ok(()));
        let shortest = DeployParams {
            period_length: 3600,
            epoch_length: 3600,
            slot_length: 60,
            ..params()
        };
        assert_eq!(shortest.check(), Ok(()));
        let refused = |p: DeployParams, words: &str| {
            let e = p.check().unwrap_err();
            assert!(e.contains(words), "{e}");
        };
        refused(
            DeployParams {
                epoch_length: 600,
                slot_length: 60,
                ..params()
            },
            "at least 3600 s",
        );
        refused(
            DeployParams {
                slot_length: 59,
                epoch_length: 3540,
                ..params()
            },
            "at least 3600 s",
        );
        refused(
            DeployParams {
                slot_length: 30,
                ..params()
            },
            "at least 60 s",
        );
        refused(
            DeployParams {
                slot_length: 7 * 3600,
                ..params()
            },
            "whole number of slots",
        );
        refused(
            DeployParams {
                epoch_length: 50 * 86400,
                slot_length: 60,
                period_length: 100 * 86400,
                ..params()
            },
            "at most 65536 slots",
        );
        refused(
            DeployParams {
                period_length: 3600,
                ..params()
            },
            "at least one epoch",
        );
        refused(
            DeployParams {
                max_periods: 0,
                ..params()
            },
            "between 1 and 1000",
        );
        refused(
            DeployParams {
                max_periods: 1001,
                ..params()
            },
            "between 1 and 1000",
        );
        refused(
            DeployParams {
                max_periods: 1000,
                period_length: 365 * 86400,
                ..params()
            },
            "2^32 seconds",
        );
        refused(
            DeployParams {
                price: 0,
                ..params()
            },
            "above zero",
        );
        refused(
            DeployParams {
                price: (1 << 80) / 12 + 1,
                ..params()
            },
            "2^80 / 12",
        );
    }

    #[test]
    fn creation_code_appends_constructor_arguments() {
        let code = aqueduct_creation_code(&params()).unwrap();
        let bytecode = Artifact::parse(AQUEDUCT_ARTIFACT).unwrap().bytecode;
        assert!(code.starts_with(&bytecode));
        assert_eq!(code.len(), bytecode.len() + 7 * 32);
    }
}
