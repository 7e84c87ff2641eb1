//! EIP-1559 (type 2) transactions, always with an empty access list.
//!
//! Fields: `[chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value,
//! data, accessList]`.
//! Signing payload: `0x02 || rlp(fields)`.
//! Signed envelope: `0x02 || rlp(fields ++ [yParity, r, s])`.

use super::{append_rs, append_to};
use crate::eth::signer::Signature;
use crate::eth::Address;
use rlp::RlpStream;

/// The EIP-2718 type byte.
const TYPE: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eip1559Tx {
    pub chain_id: u64,
    pub nonce: u64,
    pub max_priority_fee_per_gas: u128,
    pub max_fee_per_gas: u128,
    pub gas_limit: u64,
    /// `None` creates a contract with `data` as its init code.
    pub to: Option<Address>,
    pub value: u128,
    pub data: Vec<u8>,
}

impl Eip1559Tx {
    const FIELDS: usize = 9;

    fn append_fields(&self, s: &mut RlpStream) {
        s.append(&self.chain_id);
        s.append(&self.nonce);
        s.append(&self.max_priority_fee_per_gas);
        s.append(&self.max_fee_per_gas);
        s.append(&self.gas_limit);
        append_to(s, &self.to);
        s.append(&self.value);
        s.append(&self.data);
        s.begin_list(0);
    }

    pub(super) fn signing_payload(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(Self::FIELDS);
        self.append_fields(&mut s);
        typed(s)
    }

    pub(super) fn encode_signed(&self, sig: &Signature) -> Vec<u8> {
        let mut s = RlpStream::new_list(Self::FIELDS + 3);
        self.append_fields(&mut s);
        s.append(&u8::from(sig.y_parity));
        append_rs(&mut s, sig);
        typed(s)
    }
}

/// `TYPE || rlp`, the EIP-2718 envelope.
fn typed(s: RlpStream) -> Vec<u8> {
    let body = s.out();
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(TYPE);
    out.extend_from_slice(&body);
    out
}
