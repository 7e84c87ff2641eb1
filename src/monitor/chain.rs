//! Everything the monitor asks of the chain, in one place: the registry, the membership
//! of the monitor's key, the contract's clock and the latest block's time, `Heartbeat`
//! logs in bounded ranges, `withhold` (and the views it needs), and `removeNode` for
//! the report.
//!
//! All calls block; the service calls them from its chain thread, never from the probe
//! loop.

use crate::config::chain::ChainConfig;
use crate::contract::{calls, sig, Contract, ContractError, Heartbeat, NodeInfo};
use crate::eth::rpc::{BlockId, Client, Receipt, RpcConfig, RpcError};
use crate::eth::sender::{SendError, Sender, TxRequest};
use crate::eth::signer::PrivateKey;
use crate::eth::Address;
use std::time::Duration;

/// The contract's clock: slots and epochs counted from `genesis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub genesis: u64,
    pub epoch_length: u64,
    pub slot_length: u64,
}

impl Timing {
    /// The global slot at unix time `t` (0 before genesis).
    pub fn slot_at(&self, t: u64) -> u64 {
        t.saturating_sub(self.genesis) / self.slot_length.max(1)
    }
    pub fn slot_start(&self, slot: u64) -> u64 {
        self.genesis
            .saturating_add(slot.saturating_mul(self.slot_length))
    }
    pub fn slots_per_epoch(&self) -> u64 {
        (self.epoch_length / self.slot_length.max(1)).max(1)
    }
    pub fn epoch_of_slot(&self, slot: u64) -> u64 {
        slot / self.slots_per_epoch()
    }
    pub fn epoch_at(&self, t: u64) -> u64 {
        self.epoch_of_slot(self.slot_at(t))
    }
    pub fn epoch_start(&self, epoch: u64) -> u64 {
        self.genesis
            .saturating_add(epoch.saturating_mul(self.epoch_length))
    }
}

pub struct Chain {
    client: Client,
    contract: Address,
    pub deploy_block: u64,
    pub reorg_depth: u64,
}

impl Chain {
    pub fn new(cfg: &ChainConfig) -> Result<Chain, String> {
        let contract = cfg.contract.ok_or("chain.contract is required")?;
        let mut rpc = RpcConfig::new(cfg.rpc.clone());
        rpc.log_chunk = cfg.log_chunk;
        // A round must not wait long on the RPC: fail fast, the next refresh retries.
        rpc.timeout = Duration::from_secs(10);
        rpc.attempts = 2;
        let client = crate::contract::client(rpc).map_err(|e| format!("chain.rpc: {e}"))?;
        Ok(Chain {
            client,
            contract,
            deploy_block: cfg.deploy_block,
            reorg_depth: cfg.reorg_depth,
        })
    }

    fn aqueduct(&self) -> Contract<'_> {
        Contract::new(&self.client, self.contract)
    }

    pub fn contract_address(&self) -> Address {
        self.contract
    }

    pub fn chain_id(&self) -> Result<u64, RpcError> {
        self.client.chain_id()
    }

    /// Checks that the address holds the contract, then reads its clock.
    pub fn timing(&self) -> Result<Timing, ContractError> {
        let c = self.aqueduct();
        c.ensure_aqueduct()?;
        Ok(Timing {
            genesis: c.genesis()?,
            epoch_length: c.epoch_length()?,
            slot_length: c.slot_length()?,
        })
    }

    /// Every registered node, active or not.
    pub fn registry(&self) -> Result<Vec<NodeInfo>, ContractError> {
        self.aqueduct().nodes()
    }

    /// Unix time the member's access ends (0: never paid).
    pub fn member_until(&self, member: Address) -> Result<u64, ContractError> {
        self.aqueduct().member_until(member)
    }

    pub fn head(&self) -> Result<u64, RpcError> {
        self.client.block_number()
    }

    /// `Heartbeat` events of all nodes in `from..=to` (fetched in `log_chunk` ranges).
    pub fn heartbeats(&self, from: u64, to: u64) -> Result<Vec<Heartbeat>, ContractError> {
        let filter = self.aqueduct().event_filter(sig::HEARTBEAT);
        let logs = self.client.logs(&filter, from, to)?;
        logs.iter()
            .map(|l| {
                Heartbeat::from_log(l).map_err(|error| ContractError::Decode {
                    function: sig::HEARTBEAT,
                    error,
                })
            })
            .collect()
    }

    /// The contract's epoch at the latest block.
    pub fn current_epoch(&self) -> Result<u64, ContractError> {
        self.aqueduct().current_epoch()
    }

    /// Slots `node` has in `epoch` (0 once withheld).
    pub fn heartbeats_in_epoch(&self, node: Address, epoch: u64) -> Result<u64, ContractError> {
        self.aqueduct().heartbeats_in_epoch(node, epoch)
    }

    /// Who may withhold (zero: nobody).
    pub fn monitor(&self) -> Result<Address, ContractError> {
        self.aqueduct().monitor()
    }

    /// The latest block: (number, timestamp).
    pub fn head_block(&self) -> Result<(u64, u64), RpcError> {
        match self.client.block(BlockId::Latest)? {
            Some(b) => Ok((b.number, b.timestamp)),
            None => Err(RpcError::BadResponse {
                method: "eth_getBlockByNumber".into(),
                message: "the latest block is missing".into(),
            }),
        }
    }

    /// Sends `withhold(node, epoch, reason, evidence)` from the monitor's key and waits
    /// for the receipt.
    pub fn withhold(
        &self,
        sender: &mut Sender,
        node: Address,
        epoch: u64,
        reason: u8,
        evidence: [u8; 32],
    ) -> Result<Receipt, SendError> {
        sender.send(
            &self.client,
            &TxRequest::call(
                self.contract,
                calls::withhold(node, epoch, reason, evidence),
            ),
        )
    }

    pub fn owner(&self) -> Result<Address, ContractError> {
        self.aqueduct().owner()
    }

    /// Sends `removeNode(node)` from `owner_key` and waits for the receipt.
    pub fn remove_node(&self, sender: &mut Sender, node: Address) -> Result<Receipt, SendError> {
        sender.send(
            &self.client,
            &TxRequest::call(self.contract, calls::remove_node(node)),
        )
    }

    pub fn sender(&self, key: PrivateKey) -> Result<Sender, RpcError> {
        Ok(Sender::new(key, self.chain_id()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_epochs_from_genesis() {
        let t = Timing {
            genesis: 1_000,
            epoch_length: 600,
            slot_length: 60,
        };
        assert_eq!(t.slot_at(999), 0);
        assert_eq!(t.slot_at(1_059), 0);
        assert_eq!(t.slot_at(1_060), 1);
        assert_eq!(t.slots_per_epoch(), 10);
        assert_eq!(t.epoch_at(1_600), 1);
        assert_eq!(t.epoch_of_slot(19), 1);
        assert_eq!(t.slot_start(10), 1_600);
        assert_eq!(t.epoch_start(2), 2_200);
    }
}
