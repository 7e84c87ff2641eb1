//! Known-answer tests for transactions, signatures and keystores: the worked
//! examples in the EIP texts, and outputs of Foundry's `cast` compared byte for byte.
//! cast runs fully offline here (every field is given); its `--rpc-url` points at
//! the discard port on loopback so a stray request would fail rather than leave the host.

#[path = "support/tools.rs"]
mod tools;

use aqueduct::eth::hex;
use aqueduct::eth::signer::{recover_address, PrivateKey};
use aqueduct::eth::tx::{eip155_parity, Eip1559Tx, LegacyTx, Transaction};
use aqueduct::eth::Address;
use std::process::Command;

const EIP155_KEY: &str = "4646464646464646464646464646464646464646464646464646464646464646";
/// anvil's first development key.
const ANVIL_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn key(hex_key: &str) -> PrivateKey {
    PrivateKey::from_bytes(&hex::decode_array(hex_key).unwrap()).unwrap()
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// Runs cast and returns its trimmed stdout; a failure shows cast's stderr.
fn cast(args: &[&str]) -> String {
    let out = Command::new(tools::tool("cast"))
        .args(args)
        .env_remove("ETH_RPC_URL")
        .env_remove("ETH_GAS_PRICE")
        .env_remove("ETH_GAS_LIMIT")
        .env_remove("ETH_PRIORITY_GAS_PRICE")
        .output()
        .expect("cast runs");
    assert!(
        out.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------
// EIP-155's worked example
// ---------------------------------------------------------------------------

fn eip155_example() -> Transaction {
    Transaction::Legacy(LegacyTx {
        chain_id: 1,
        nonce: 9,
        gas_price: 20_000_000_000,
        gas_limit: 21_000,
        to: Some(addr("0x3535353535353535353535353535353535353535")),
        value: 1_000_000_000_000_000_000,
        data: vec![],
    })
}

#[test]
fn eip155_example_signing_payload_and_hash() {
    let tx = eip155_example();
    assert_eq!(
        hex::encode(&tx.signing_payload()),
        "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
    );
    assert_eq!(
        hex::encode(&tx.signing_hash()),
        "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    );
}

#[test]
fn eip155_example_signature_and_signed_bytes() {
    let tx = eip155_example();
    let k = key(EIP155_KEY);
    let sig = k.sign_hash(&tx.signing_hash());
    // r and s as the EIP gives them (in decimal there; hex here).
    assert_eq!(
        hex::encode(&sig.r),
        "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"
    );
    assert_eq!(
        hex::encode(&sig.s),
        "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    assert_eq!(eip155_parity(37, 1), Some(sig.y_parity));

    let signed = tx.sign(&k);
    assert_eq!(
        hex::encode(&signed.raw),
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    // v = 37 is the byte after the empty data field (0x80).
    assert_eq!(signed.raw[0x2a..0x2c], [0x80, 37]);
    assert_eq!(signed.hash, aqueduct::eth::keccak256(&signed.raw));
    assert_eq!(recover_address(&tx.signing_hash(), &sig), Ok(k.address()));
}

// ---------------------------------------------------------------------------
// cast mktx, byte for byte
// ---------------------------------------------------------------------------

struct Case {
    legacy: bool,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    /// Legacy gas price, or max fee per gas.
    fee: u128,
    priority_fee: u128,
    to: Option<&'static str>,
    value: u128,
    data: &'static str,
}

impl Case {
    fn ours(&self, k: &PrivateKey) -> Vec<u8> {
        let to = self.to.map(addr);
        let data = hex::decode(self.data).unwrap();
        let tx = if self.legacy {
            Transaction::Legacy(LegacyTx {
                chain_id: self.chain_id,
                nonce: self.nonce,
                gas_price: self.fee,
                gas_limit: self.gas_limit,
                to,
                value: self.value,
                data,
            })
        } else {
            Transaction::Eip1559(Eip1559Tx {
                chain_id: self.chain_id,
                nonce: self.nonce,
                max_priority_fee_per_gas: self.priority_fee,
                max_fee_per_gas: self.fee,
                gas_limit: self.gas_limit,
                to,
                value: self.value,
                data,
            })
        };
        tx.sign(k).raw
    }

    fn casts(&self, key_hex: &str) -> Vec<u8> {
        let (chain, nonce, gas, fee, prio, value) = (
            self.chain_id.to_string(),
            self.nonce.to_string(),
            self.gas_limit.to_string(),
            self.fee.to_string(),
            self.priority_fee.to_string(),
            self.value.to_string(),
        );
        let pk = format!("0x{key_hex}");
        let mut args = vec![
            "mktx",
            "--private-key",
            &pk,
            "--chain",
            &chain,
            "--nonce",
            &nonce,
            "--gas-limit",
            &gas,
            "--gas-price",
            &fee,
            "--value",
            &value,
            "--rpc-url",
            "http://127.0.0.1:9",
        ];
        if self.legacy {
            args.push("--legacy");
        } else {
            args.extend(["--priority-gas-price", &prio]);
        }
        let data = format!("0x{}", self.data);
        match self.to {
            Some(to) => {
                args.push(to);
                if !self.data.is_empty() {
                    args.push(&data);
                }
            }
            None => args.extend(["--create", &data]),
        }
        hex::decode(&cast(&args)).unwrap()
    }
}

/// ERC-20 `transfer(0x70997970C51812dc3A010C7d01b50e0d17dc79C8, 1000000)`.
const TRANSFER: &str = "a9059cbb00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c800000000000000000000000000000000000000000000000000000000000f4240";
/// Init code that returns an empty contract.
const INIT: &str = "6080604052348015600e575f80fd5b50603e80601a5f395ff3fe";

#[test]
fn cast_mktx_matches_byte_for_byte() {
    let token = Some("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    let mut cases = Vec::new();
    for chain_id in [1, 10, 8453, 31337] {
        for legacy in [true, false] {
            // A plain transfer with value: exercises the value field and empty data.
            cases.push(Case {
                legacy,
                chain_id,
                nonce: 0,
                gas_limit: 21_000,
                fee: 1_500_000_000,
                priority_fee: 1_000_000,
                to: Some("0x3535353535353535353535353535353535353535"),
                value: 1_000_000_000_000_000_000,
                data: "",
            });
            // A contract call with calldata and nonce/fee values on RLP boundaries
            // (0x7f is a single byte, 0x80 needs a length prefix).
            cases.push(Case {
                legacy,
                chain_id,
                nonce: 0x7f,
                gas_limit: 65_536,
                fee: 0x80,
                priority_fee: 0x7f,
                to: token,
                value: 0,
                data: TRANSFER,
            });
            // Contract creation: `to` is the empty string.
            cases.push(Case {
                legacy,
                chain_id,
                nonce: 1_000_000,
                gas_limit: 3_000_000,
                fee: 2_000_000_000_000,
                priority_fee: 0,
                to: None,
                value: 0,
                data: INIT,
            });
        }
    }
    // The largest values the types hold.
    cases.push(Case {
        legacy: false,
        chain_id: 8453,
        nonce: u64::MAX - 1,
        gas_limit: 30_000_000,
        fee: u128::MAX,
        priority_fee: u128::MAX,
        to: token,
        value: u128::MAX,
        data: "00",
    });
    for (i, case) in cases.iter().enumerate() {
        let key_hex = if i % 2 == 0 { ANVIL_KEY } else { EIP155_KEY };
        let k = key(key_hex);
        let ours = case.ours(&k);
        let theirs = case.casts(key_hex);
        assert_eq!(
            hex::encode(&ours),
            hex::encode(&theirs),
            "case {i}: legacy={} chain={} to={:?} data={}",
            case.legacy,
            case.chain_id,
            case.to,
            case.data
        );
    }
}
