//! Sending transactions from one key: nonce tracking, fees, gas estimation, waiting
//! for the receipt, and replacing a transaction that is not mined in time.
//!
//! The nonce comes from the node's pending count once, then is counted locally; a
//! "nonce too low" answer resyncs it. EIP-1559 transactions are sent when the chain
//! has a base fee, legacy ones otherwise. A transaction still unmined after
//! [`SendConfig::mined_timeout`] is re-signed at the same nonce with both fee fields
//! raised by at least 12.5% (the replacement rule of geth and most nodes), up to
//! [`SendConfig::max_replacements`] times.
//!
//! Everything blocks the calling thread; [`Sender::submit`], [`Sender::poll`] and
//! [`Sender::replace`] let a caller that cannot block for long drive the steps itself.

use super::rpc::{BlockId, CallRequest, Client, FeeData, Receipt, RpcError};
use super::signer::PrivateKey;
use super::tx::{Eip1559Tx, LegacyTx, Transaction};
use super::{hex, Address};
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendConfig {
    /// Added to the node's gas estimate, in percent.
    pub gas_margin_percent: u64,
    /// How long a transaction may stay unmined before it is replaced.
    pub mined_timeout: Duration,
    /// Pause between receipt checks.
    pub poll_interval: Duration,
    /// Replacements before giving up (the transaction may still be mined later).
    pub max_replacements: u32,
}

impl Default for SendConfig {
    fn default() -> SendConfig {
        SendConfig {
            gas_margin_percent: 25,
            mined_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            max_replacements: 3,
        }
    }
}

/// What to send: a call (`to` set) or a contract creation (`to` = `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxRequest {
    pub to: Option<Address>,
    pub data: Vec<u8>,
    pub value: u128,
    /// Skips estimation when set.
    pub gas_limit: Option<u64>,
}

impl TxRequest {
    pub fn call(to: Address, data: Vec<u8>) -> TxRequest {
        TxRequest {
            to: Some(to),
            data,
            ..TxRequest::default()
        }
    }

    pub fn create(code: Vec<u8>) -> TxRequest {
        TxRequest {
            data: code,
            ..TxRequest::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Estimating, pricing or broadcasting failed; nothing was sent. A call that would
    /// revert lands here, with the revert named by the RPC error.
    Rpc(RpcError),
    /// The transaction was mined and reverted. `reason` comes from replaying the call
    /// at its block.
    Reverted {
        hash: [u8; 32],
        block: u64,
        reason: Option<String>,
    },
    /// Sent, but not mined after every replacement; it may still be mined later.
    NotMined {
        hash: [u8; 32],
        nonce: u64,
        replacements: u32,
    },
    /// Sent, then the node stopped answering while we waited for the receipt.
    Unconfirmed {
        hash: [u8; 32],
        cause: Box<RpcError>,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Rpc(e) => write!(f, "{e}"),
            SendError::Reverted {
                hash,
                block,
                reason,
            } => {
                write!(
                    f,
                    "transaction {} reverted in block {block}",
                    hex::encode_prefixed(hash)
                )?;
                match reason {
                    Some(r) => write!(f, ": {r}"),
                    None => write!(f, " (no reason given)"),
                }
            }
            SendError::NotMined {
                hash,
                nonce,
                replacements,
            } => write!(
                f,
                "transaction {} (nonce {nonce}) not mined after {replacements} fee increases; it may still be mined later",
                hex::encode_prefixed(hash)
            ),
            SendError::Unconfirmed { hash, cause } => write!(
                f,
                "transaction {} was sent but its receipt could not be read: {cause}",
                hex::encode_prefixed(hash)
            ),
        }
    }
}

impl std::error::Error for SendError {}

impl From<RpcError> for SendError {
    fn from(e: RpcError) -> SendError {
        SendError::Rpc(e)
    }
}

/// A broadcast transaction and the replacements sent for it, all at one nonce.
#[derive(Debug, Clone)]
pub struct Pending {
    pub nonce: u64,
    /// Every hash broadcast at this nonce, oldest first; any of them may be mined.
    pub hashes: Vec<[u8; 32]>,
    /// The latest version (what a further replacement bumps).
    pub tx: Transaction,
    pub replacements: u32,
    request: TxRequest,
    sent_at: Instant,
}

impl Pending {
    /// The most recent hash.
    pub fn hash(&self) -> [u8; 32] {
        self.hashes.last().copied().unwrap_or_default()
    }
}

/// Signs and sends transactions from one key; one per key, kept for the process's life.
pub struct Sender {
    key: PrivateKey,
    chain_id: u64,
    next_nonce: Option<u64>,
    config: SendConfig,
}

fn rpc_message_contains(e: &RpcError, needles: &[&str]) -> bool {
    e.rpc_message().is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        needles.iter().any(|n| m.contains(n))
    })
}

fn is_nonce_too_low(e: &RpcError) -> bool {
    rpc_message_contains(
        e,
        &["nonce too low", "nonce is too low", "already been used"],
    )
}

fn is_already_known(e: &RpcError) -> bool {
    rpc_message_contains(
        e,
        &["already known", "known transaction", "already imported"],
    )
}

fn is_underpriced(e: &RpcError) -> bool {
    rpc_message_contains(e, &["underpriced", "fee too low", "replacement"])
}

/// `x` raised by at least 12.5% (and by at least 1 wei), rounding up.
pub fn bump(x: u128) -> u128 {
    x.saturating_add(x.div_ceil(8)).max(x.saturating_add(1))
}

impl Sender {
    pub fn new(key: PrivateKey, chain_id: u64) -> Sender {
        Sender {
            key,
            chain_id,
            next_nonce: None,
            config: SendConfig::default(),
        }
    }

    pub fn with_config(mut self, config: SendConfig) -> Sender {
        self.config = config;
        self
    }

    pub fn address(&self) -> Address {
        self.key.address()
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Forgets the tracked nonce; the next send asks the node.
    pub fn resync_nonce(&mut self) {
        self.next_nonce = None;
    }

    /// Sends `request` and waits for it to be mined, replacing it if needed.
    pub fn send(&mut self, client: &Client, request: &TxRequest) -> Result<Receipt, SendError> {
        let mut pending = self.submit(client, request)?;
        self.wait(client, &mut pending)
    }

    fn call_request(&self, request: &TxRequest) -> CallRequest {
        CallRequest {
            from: Some(self.address()),
            to: request.to,
            data: request.data.clone(),
            value: request.value,
            gas: request.gas_limit,
        }
    }

    /// Estimates, prices, signs and broadcasts `request`; does not wait.
    pub fn submit(&mut self, client: &Client, request: &TxRequest) -> Result<Pending, SendError> {
        let gas_limit = match request.gas_limit {
            Some(g) => g,
            None => {
                let estimate = client.estimate_gas(&self.call_request(request))?;
                estimate
                    .saturating_add(estimate.saturating_mul(self.config.gas_margin_percent) / 100)
            }
        };
        let fees = client.fee_data()?;
        let mut resynced = false;
        loop {
            let nonce = match self.next_nonce {
                Some(n) => n,
                None => client.pending_nonce(self.address())?,
            };
            let tx = self.build(request, nonce, gas_limit, fees);
            match self.broadcast(client, &tx) {
                Ok(hash) => {
                    self.next_nonce = Some(nonce.saturating_add(1));
                    log::debug!("sent {} at nonce {nonce}", hex::encode_prefixed(&hash));
                    return Ok(Pending {
                        nonce,
                        hashes: vec![hash],
                        tx,
                        replacements: 0,
                        request: request.clone(),
                        sent_at: Instant::now(),
                    });
                }
                Err(e) if is_nonce_too_low(&e) && !resynced => {
                    log::info!("nonce {nonce} already used; asking the node for the next one");
                    self.next_nonce = None;
                    resynced = true;
                }
                Err(e) => {
                    self.next_nonce = None;
                    return Err(e.into());
                }
            }
        }
    }

    fn build(&self, request: &TxRequest, nonce: u64, gas_limit: u64, fees: FeeData) -> Transaction {
        match fees {
            FeeData::Eip1559 { priority_fee, .. } => Transaction::Eip1559(Eip1559Tx {
                chain_id: self.chain_id,
                nonce,
                max_priority_fee_per_gas: priority_fee,
                max_fee_per_gas: fees.max_fee(),
                gas_limit,
                to: request.to,
                value: request.value,
                data: request.data.clone(),
            }),
            FeeData::Legacy { gas_price } => Transaction::Legacy(LegacyTx {
                chain_id: self.chain_id,
                nonce,
                gas_price,
                gas_limit,
                to: request.to,
                value: request.value,
                data: request.data.clone(),
            }),
        }
    }

    /// Signs and sends; a node that already has this exact transaction is a success.
    fn broadcast(&self, client: &Client, tx: &Transaction) -> Result<[u8; 32], RpcError> {
        let signed = tx.sign(&self.key);
        match client.send_raw_transaction(&signed.raw) {
            Ok(_) => Ok(signed.hash),
            Err(e) if is_already_known(&e) => Ok(signed.hash),
            Err(e) => Err(e),
        }
    }

    /// Checks every hash of `pending` once. `Ok(None)` while none is mined; a mined
    /// but reverted one is [`SendError::Reverted`] with the replayed reason.
    pub fn poll(&self, client: &Client, pending: &Pending) -> Result<Option<Receipt>, SendError> {
        for hash in pending.hashes.iter().rev() {
            let receipt = client
                .receipt(hash)
                .map_err(|cause| SendError::Unconfirmed {
                    hash: *hash,
                    cause: Box::new(cause),
                })?;
            if let Some(r) = receipt {
                if r.status {
                    return Ok(Some(r));
                }
                return Err(self.revert_reason(client, &pending.request, &r));
            }
        }
        Ok(None)
    }

    fn revert_reason(&self, client: &Client, request: &TxRequest, r: &Receipt) -> SendError {
        let mut call = self.call_request(request);
        call.gas = Some(r.gas_used.max(request.gas_limit.unwrap_or(0)));
        let reason = match client.call(&call, BlockId::Number(r.block_number)) {
            Ok(_) => None,
            Err(e) => Some(match (e.revert(), e.rpc_message()) {
                (Some(rev), _) => rev.to_string(),
                (None, Some(m)) => m.to_string(),
                (None, None) => e.to_string(),
            }),
        };
        SendError::Reverted {
            hash: r.transaction_hash,
            block: r.block_number,
            reason,
        }
    }

    /// Re-signs `pending` at its nonce with both fee fields raised by at least 12.5%
    /// (or to the current market fees, if higher) and broadcasts it.
    pub fn replace(&mut self, client: &Client, pending: &mut Pending) -> Result<(), SendError> {
        let market = client.fee_data()?;
        let mut tx = pending.tx.clone();
        // A node that refuses the replacement as underpriced gets a further bump.
        for _ in 0..3 {
            tx = match tx {
                Transaction::Eip1559(mut t) => {
                    t.max_priority_fee_per_gas = bump(t.max_priority_fee_per_gas);
                    t.max_fee_per_gas = bump(t.max_fee_per_gas).max(market.max_fee());
                    if let FeeData::Eip1559 { priority_fee, .. } = market {
                        t.max_priority_fee_per_gas = t.max_priority_fee_per_gas.max(priority_fee);
                    }
                    t.max_priority_fee_per_gas = t.max_priority_fee_per_gas.min(t.max_fee_per_gas);
                    Transaction::Eip1559(t)
                }
                Transaction::Legacy(mut t) => {
                    t.gas_price = bump(t.gas_price).max(market.max_fee());
                    Transaction::Legacy(t)
                }
            };
            match self.broadcast(client, &tx) {
                Ok(hash) => {
                    log::info!(
                        "transaction at nonce {} not mined in {:?}; replaced by {} with higher fees",
                        pending.nonce,
                        self.config.mined_timeout,
                        hex::encode_prefixed(&hash)
                    );
                    pending.hashes.push(hash);
                    pending.tx = tx;
                    pending.replacements += 1;
                    pending.sent_at = Instant::now();
                    return Ok(());
                }
                // An earlier version was mined meanwhile, and polling will find it. Counted
                // as a try, so a nonce taken by another transaction of this key ends the
                // wait instead of looping.
                Err(e) if is_nonce_too_low(&e) => {
                    pending.replacements += 1;
                    pending.sent_at = Instant::now();
                    return Ok(());
                }
                Err(e) if is_underpriced(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(SendError::NotMined {
            hash: pending.hash(),
            nonce: pending.nonce,
            replacements: pending.replacements,
        })
    }

    /// Polls until one version of `pending` is mined, replacing it after each
    /// `mined_timeout`, up to `max_replacements` times.
    pub fn wait(&mut self, client: &Client, pending: &mut Pending) -> Result<Receipt, SendError> {
        loop {
            if let Some(receipt) = self.poll(client, pending)? {
                return Ok(receipt);
            }
            if pending.sent_at.elapsed() >= self.config.mined_timeout {
                if pending.replacements >= self.config.max_replacements {
                    // Whatever the node counts as pending decides the next nonce.
                    self.next_nonce = None;
                    return Err(SendError::NotMined {
                        hash: pending.hash(),
                        nonce: pending.nonce,
                        replacements: pending.replacements,
                    });
                }
                self.replace(client, pending).map_err(|e| match e {
                    SendError::Rpc(cause) => SendError::Unconfirmed {
                        hash: pending.hash(),
                        cause: Box::new(cause),
                    },
                    other => other,
                })?;
                continue;
            }
            std::thread::sleep(self.config.poll_interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_is_at_least_an_eighth_rounded_up() {
        assert_eq!(bump(0), 1);
        assert_eq!(bump(1), 2);
        assert_eq!(bump(8), 9);
        assert_eq!(bump(9), 11);
        assert_eq!(bump(1_000_000_000), 1_125_000_000);
        assert_eq!(bump(u128::MAX), u128::MAX);
        for x in [7u128, 100, 12_345, 987_654_321] {
            assert!(bump(x) * 1000 >= x * 1125, "{x}");
        }
    }

    #[test]
    fn node_error_messages_are_classified() {
        let e = |m: &str| RpcError::Rpc {
            method: "eth_sendRawTransaction".into(),
            code: -32000,
            message: m.into(),
            data: None,
            revert: None,
        };
        assert!(is_nonce_too_low(&e(
            "nonce too low: next nonce 5, tx nonce 4"
        )));
        assert!(is_already_known(&e("already known")));
        assert!(is_underpriced(&e("replacement transaction underpriced")));
        assert!(!is_nonce_too_low(&e(
            "insufficient funds for gas * price + value"
        )));
    }
}
