//! Raw signed transactions: legacy with EIP-155 replay protection and EIP-1559 (type 2).
//!
//! Each type lives in its own file and encodes its fields once
//! (`append_fields`); the signing payload and the signed envelope both wrap that
//! one encoder, so the bytes that were signed are the bytes that are sent.

mod eip1559;
mod legacy;

pub use eip1559::Eip1559Tx;
pub use legacy::LegacyTx;

use super::keccak256;
use super::signer::{PrivateKey, Signature};
use super::Address;
use rlp::RlpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transaction {
    Legacy(LegacyTx),
    Eip1559(Eip1559Tx),
}

/// A signed transaction ready for `eth_sendRawTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The network encoding: RLP for legacy, `type || rlp(...)` for typed transactions.
    pub raw: Vec<u8>,
    /// The transaction hash: keccak256 of `raw`.
    pub hash: [u8; 32],
}

impl Transaction {
    /// The hash the sender signs.
    pub fn signing_hash(&self) -> [u8; 32] {
        keccak256(&self.signing_payload())
    }

    pub fn sign(&self, key: &PrivateKey) -> SignedTransaction {
        let sig = key.sign_hash(&self.signing_hash());
        let raw = match self {
            Transaction::Legacy(tx) => tx.encode_signed(&sig),
            Transaction::Eip1559(tx) => tx.encode_signed(&sig),
        };
        let hash = keccak256(&raw);
        SignedTransaction { raw, hash }
    }

    pub fn nonce(&self) -> u64 {
        match self {
            Transaction::Legacy(tx) => tx.nonce,
            Transaction::Eip1559(tx) => tx.nonce,
        }
    }

    pub fn chain_id(&self) -> u64 {
        match self {
            Transaction::Legacy(tx) => tx.chain_id,
            Transaction::Eip1559(tx) => tx.chain_id,
        }
    }

    /// The bytes whose keccak256 is signed.
    pub fn signing_payload(&self) -> Vec<u8> {
        match self {
            Transaction::Legacy(tx) => tx.signing_payload(),
            Transaction::Eip1559(tx) => tx.signing_payload(),
        }
    }
}

impl From<LegacyTx> for Transaction {
    fn from(tx: LegacyTx) -> Self {
        Transaction::Legacy(tx)
    }
}

impl From<Eip1559Tx> for Transaction {
    fn from(tx: Eip1559Tx) -> Self {
        Transaction::Eip1559(tx)
    }
}

/// EIP-155 `v`: `35 + 2 * chain_id + y_parity`. `u128` because the result does not
/// fit `u64` for chain ids above `(u64::MAX - 36) / 2`.
pub fn eip155_v(chain_id: u64, y_parity: bool) -> u128 {
    35 + 2 * u128::from(chain_id) + u128::from(y_parity)
}

/// The inverse of [`eip155_v`]: the y-parity if `v` is a valid EIP-155 value for
/// `chain_id`, `None` otherwise (including the unprotected 27/28).
pub fn eip155_parity(v: u128, chain_id: u64) -> Option<bool> {
    match v.checked_sub(35 + 2 * u128::from(chain_id))? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// `to`: an address, or the empty string for contract creation.
fn append_to(s: &mut RlpStream, to: &Option<Address>) {
    match to {
        Some(a) => s.append(&a.0.as_slice()),
        None => s.append_empty_data(),
    };
}

/// `r` and `s` are RLP integers: big-endian with leading zero bytes removed.
fn append_rs(s: &mut RlpStream, sig: &Signature) {
    s.append(&trim_leading_zeros(&sig.r));
    s.append(&trim_leading_zeros(&sig.s));
}

fn trim_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip155_v_round_trips() {
        for chain_id in [0, 1, 10, 8453, u64::MAX] {
            for parity in [false, true] {
                let v = eip155_v(chain_id, parity);
                assert_eq!(eip155_parity(v, chain_id), Some(parity), "chain {chain_id}");
            }
            assert_eq!(eip155_parity(eip155_v(chain_id, true) + 1, chain_id), None);
            assert_eq!(eip155_parity(27, chain_id), None);
            assert_eq!(eip155_parity(28, chain_id), None);
            assert_eq!(eip155_parity(0, chain_id), None);
        }
        assert_eq!(eip155_v(1, false), 37);
        assert_eq!(eip155_v(1, true), 38);
        assert_eq!(eip155_v(u64::MAX, true), 2 * u128::from(u64::MAX) + 36);
        // A v for chain 1 is not valid for chain 2 (replay protection).
        assert_eq!(eip155_parity(37, 2), None);
    }

    #[test]
    fn trims_leading_zeros() {
        assert_eq!(trim_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(trim_leading_zeros(&[0, 0]), &[] as &[u8]);
    }

    fn sample(legacy: bool, to: Option<Address>) -> Transaction {
        if legacy {
            Transaction::Legacy(LegacyTx {
                chain_id: 8453,
                nonce: 3,
                gas_price: 2,
                gas_limit: 21_000,
                to,
                value: 5,
                data: vec![0x60, 0x00],
            })
        } else {
            Transaction::Eip1559(Eip1559Tx {
                chain_id: 8453,
                nonce: 3,
                max_priority_fee_per_gas: 1,
                max_fee_per_gas: 2,
                gas_limit: 21_000,
                to,
                value: 5,
                data: vec![0x60, 0x00],
            })
        }
    }

    /// The items of an RLP list, each as its raw encoding.
    fn items(list: &[u8]) -> Vec<Vec<u8>> {
        rlp::Rlp::new(list)
            .iter()
            .map(|item| item.as_raw().to_vec())
            .collect()
    }

    #[test]
    fn envelope_is_the_signed_fields_plus_the_signature() {
        let key = PrivateKey::from_bytes(&[7; 32]).unwrap();
        let to = Some(Address([0x35; 20]));
        for legacy in [true, false] {
            for to in [to, None] {
                let tx = sample(legacy, to);
                let payload = tx.signing_payload();
                let signed = tx.sign(&key);
                assert_eq!(signed.hash, keccak256(&signed.raw));
                let sig = key.sign_hash(&tx.signing_hash());
                let (payload_items, signed_items) = if legacy {
                    (items(&payload), items(&signed.raw))
                } else {
                    assert_eq!((payload[0], signed.raw[0]), (2, 2));
                    (items(&payload[1..]), items(&signed.raw[1..]))
                };
                let fields = if legacy { 6 } else { 9 };
                assert_eq!(signed_items.len(), fields + 3);
                assert_eq!(payload_items[..fields], signed_items[..fields]);
                // Legacy signs [chainId, 0, 0] in place of [v, r, s].
                if legacy {
                    assert_eq!(
                        payload_items[fields..],
                        [vec![0x82, 0x21, 0x05], vec![0x80], vec![0x80]]
                    );
                } else {
                    assert_eq!(payload_items.len(), fields);
                }
                let v: u128 = rlp::Rlp::new(&signed_items[fields]).as_val().unwrap();
                let expected_v = if legacy {
                    eip155_v(8453, sig.y_parity)
                } else {
                    u128::from(sig.y_parity)
                };
                assert_eq!(v, expected_v);
                let to_item = &signed_items[if legacy { 3 } else { 5 }];
                match to {
                    Some(a) => assert_eq!(to_item[1..], a.0),
                    // Contract creation: the empty string.
                    None => assert_eq!(to_item, &[0x80]),
                }
            }
        }
    }

    #[test]
    fn signature_scalars_are_minimal_integers() {
        let sig = Signature {
            r: {
                let mut r = [0u8; 32];
                r[31] = 0x7f;
                r
            },
            s: {
                let mut s = [0u8; 32];
                s[1] = 1;
                s
            },
            y_parity: false,
        };
        let mut st = RlpStream::new_list(2);
        append_rs(&mut st, &sig);
        // 0x7f is its own encoding; s loses its one leading zero byte.
        let mut expected = vec![0xe1, 0x7f, 0x9f, 0x01];
        expected.extend_from_slice(&[0; 30]);
        assert_eq!(st.out().to_vec(), expected);
    }
}
