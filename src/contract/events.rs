//! The contract's events: log filters and the decoded `Subscribed`, `Heartbeat` and
//! `Withheld` logs.

use super::bindings::{sig, Contract, Usage};
use super::errors::ContractError;
use crate::eth::abi::{self, Kind, Value};
use crate::eth::rpc::{Log, LogFilter};
use crate::eth::Address;

impl Contract<'_> {
    /// The filter for one of this contract's events (by signature, see [`sig`]).
    pub fn event_filter(&self, event_signature: &str) -> LogFilter {
        LogFilter {
            address: Some(self.address),
            topics: vec![Some(vec![abi::event_topic(event_signature)])],
        }
    }

    /// `Subscribed` events in `from..=to`, in chain order.
    pub fn subscribed(&self, from: u64, to: u64) -> Result<Vec<Subscribed>, ContractError> {
        self.subscribed_matching(self.event_filter(sig::SUBSCRIBED), from, to)
    }

    /// The `Subscribed` events of the payments `payer` made in `from..=to`.
    pub fn paid_by(
        &self,
        payer: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<Subscribed>, ContractError> {
        let mut filter = self.event_filter(sig::SUBSCRIBED);
        let mut topic = [0u8; 32];
        topic[12..].copy_from_slice(&payer.0);
        filter.topics.extend([None, Some(vec![topic])]);
        self.subscribed_matching(filter, from, to)
    }

    /// Who subscribed until when in `from..=to`: the member table's view of the
    /// `Subscribed` logs, decoded while the answer is read, 32 bytes a log.
    pub fn subscriptions(&self, from: u64, to: u64) -> Result<Vec<(Address, u64)>, ContractError> {
        let filter = self.event_filter(sig::SUBSCRIBED);
        self.subscribed_mapped(filter, from, to, |s| (s.member, s.until))
    }

    fn subscribed_matching(
        &self,
        filter: LogFilter,
        from: u64,
        to: u64,
    ) -> Result<Vec<Subscribed>, ContractError> {
        self.subscribed_mapped(filter, from, to, |s| s)
    }

    fn subscribed_mapped<T>(
        &self,
        filter: LogFilter,
        from: u64,
        to: u64,
        keep: impl Fn(Subscribed) -> T,
    ) -> Result<Vec<T>, ContractError> {
        // The decoding error itself, which the log reader can only carry as text.
        let mut undecodable = None;
        let read = self
            .client
            .logs_mapped(&filter, from, to, |l| match Subscribed::from_log(&l) {
                Ok(s) => Ok(keep(s)),
                Err(e) => {
                    let text = e.to_string();
                    undecodable.get_or_insert(e);
                    Err(text)
                }
            });
        match (read, undecodable) {
            (_, Some(error)) => Err(ContractError::Decode {
                function: sig::SUBSCRIBED,
                error,
            }),
            (read, None) => Ok(read?),
        }
    }
}

/// A decoded `Subscribed` log, with where it was found (for reorg handling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    pub member: Address,
    pub payer: Address,
    pub periods: u128,
    pub amount: u128,
    /// Unix time the membership now ends.
    pub until: u64,
    pub block_number: u64,
    pub block_hash: [u8; 32],
    pub log_index: u64,
}

/// A decoded `Heartbeat` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub node: Address,
    pub epoch: u64,
    pub slot: u64,
    /// What the node reported it served since its previous heartbeat.
    pub usage: Usage,
    pub block_number: u64,
}

/// A decoded `Withheld` log: the monitor took `slots` of `node` out of `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub node: Address,
    pub epoch: u64,
    pub slots: u64,
    pub reason: u8,
    pub evidence: [u8; 32],
    pub block_number: u64,
}

fn log_values(
    log: &Log,
    event_signature: &str,
    params: &[(Kind, bool)],
) -> Result<Vec<Value>, abi::AbiError> {
    let (first, rest) = log.topics.split_first().ok_or(abi::AbiError::BadValue {
        at: 0,
        what: "event topic",
    })?;
    if *first != abi::event_topic(event_signature) {
        return Err(abi::AbiError::BadValue {
            at: 0,
            what: "event topic",
        });
    }
    abi::decode_log(params, rest, &log.data)
}

fn small(v: &Value) -> Result<u64, abi::AbiError> {
    v.as_uint()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(abi::AbiError::Overflow { at: 0 })
}

impl Subscribed {
    pub fn from_log(log: &Log) -> Result<Subscribed, abi::AbiError> {
        let v = log_values(
            log,
            sig::SUBSCRIBED,
            &[
                (Kind::Address, true),
                (Kind::Address, true),
                (Kind::Uint(256), false),
                (Kind::Uint(256), false),
                (Kind::Uint(64), false),
            ],
        )?;
        match v.as_slice() {
            [Value::Address(member), Value::Address(payer), Value::Uint(periods), Value::Uint(amount), until] => {
                Ok(Subscribed {
                    member: *member,
                    payer: *payer,
                    periods: *periods,
                    amount: *amount,
                    until: small(until)?,
                    block_number: log.block_number,
                    block_hash: log.block_hash,
                    log_index: log.log_index,
                })
            }
            _ => Err(abi::AbiError::Truncated { at: 0 }),
        }
    }
}

impl Heartbeat {
    pub fn from_log(log: &Log) -> Result<Heartbeat, abi::AbiError> {
        let v = log_values(
            log,
            sig::HEARTBEAT,
            &[
                (Kind::Address, true),
                (Kind::Uint(64), true),
                (Kind::Uint(64), false),
                (Kind::Uint(64), false),
                (Kind::Uint(64), false),
                (Kind::Uint(64), false),
            ],
        )?;
        match v.as_slice() {
            [Value::Address(node), epoch, slot, sessions, bytes, members] => Ok(Heartbeat {
                node: *node,
                epoch: small(epoch)?,
                slot: small(slot)?,
                usage: Usage {
                    sessions: small(sessions)?,
                    bytes_relayed: small(bytes)?,
                    members: small(members)?,
                },
                block_number: log.block_number,
            }),
            _ => Err(abi::AbiError::Truncated { at: 0 }),
        }
    }
}

impl Withheld {
    pub fn from_log(log: &Log) -> Result<Withheld, abi::AbiError> {
        let v = log_values(
            log,
            sig::WITHHELD,
            &[
                (Kind::Address, true),
                (Kind::Uint(64), true),
                (Kind::Uint(64), false),
                (Kind::Uint(8), false),
                (Kind::FixedBytes(32), false),
            ],
        )?;
        match v.as_slice() {
            [Value::Address(node), epoch, slots, reason, Value::FixedBytes(evidence)] => {
                Ok(Withheld {
                    node: *node,
                    epoch: small(epoch)?,
                    slots: small(slots)?,
                    reason: u8::try_from(small(reason)?)
                        .map_err(|_| abi::AbiError::Overflow { at: 0 })?,
                    evidence: evidence
                        .as_slice()
                        .try_into()
                        .map_err(|_| abi::AbiError::Truncated { at: 0 })?,
                    block_number: log.block_number,
                })
            }
            _ => Err(abi::AbiError::Truncated { at: 0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::contract::artifact::{Artifact, AQUEDUCT_ARTIFACT};

    #[test]
    fn event_indexing_matches_the_artifact() {
        let artifact = Artifact::parse(AQUEDUCT_ARTIFACT).unwrap();
        let events = artifact.entries("event");
        let find = |name: &str| events.iter().find(|e| e.0 == name).unwrap().2.clone();
        assert_eq!(find("Subscribed"), vec![true, true, false, false, false]);
        assert_eq!(
            find("Heartbeat"),
            vec![true, true, false, false, false, false]
        );
        assert_eq!(find("Withheld"), vec![true, true, false, false, false]);
    }
}
