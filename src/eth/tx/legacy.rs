//! Legacy (pre-typed) transactions with EIP-155 replay protection.
//!
//! Fields: `[nonce, gasPrice, gasLimit, to, value, data]`.
//! Signing payload: `rlp(fields ++ [chainId, 0, 0])`.
//! Signed envelope: `rlp(fields ++ [v, r, s])` with `v = 35 + 2 * chainId + yParity`.
//! Every chain id, including 0, is signed the EIP-155 way; unprotected
//! (v = 27/28) transactions are never produced.

use super::{append_rs, append_to, eip155_v};
use crate::eth::signer::Signature;
use crate::eth::Address;
use rlp::RlpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyTx {
    pub chain_id: u64,
    pub nonce: u64,
    pub gas_price: u128,
    pub gas_limit: u64,
    /// `None` creates a contract with `data` as its init code.
    pub to: Option<Address>,
    pub value: u128,
    pub data: Vec<u8>,
}

impl LegacyTx {
    const FIELDS: usize = 6;

    fn append_fields(&self, s: &mut RlpStream) {
        s.append(&self.nonce);
        s.append(&self.gas_price);
        s.append(&self.gas_limit);
        append_to(s, &self.to);
        s.append(&self.value);
        s.append(&self.data);
    }

    pub(super) fn signing_payload(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(Self::FIELDS + 3);
        self.append_fields(&mut s);
        s.append(&self.chain_id);
        s.append(&0u8);
        s.append(&0u8);
        s.out().into()
    }

    pub(super) fn encode_signed(&self, sig: &Signature) -> Vec<u8> {
        let mut s = RlpStream::new_list(Self::FIELDS + 3);
        self.append_fields(&mut s);
        s.append(&eip155_v(self.chain_id, sig.y_parity));
        append_rs(&mut s, sig);
        s.out().into()
    }
}
