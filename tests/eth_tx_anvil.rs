//! Our signed transactions on a real chain: anvil accepts legacy and EIP-1559
//! transfers and contract creations, names the right sender, and reports the same
//! transaction hash we computed. anvil listens on a free loopback port.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::tools;

use aqueduct::eth::signer::PrivateKey;
use aqueduct::eth::tx::{Eip1559Tx, LegacyTx, Transaction};
use aqueduct::eth::{hex, keccak256, Address};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// anvil's first development key (funded with 10,000 ETH).
const ANVIL_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CHAIN_ID: u64 = 31337;

struct Anvil {
    child: Child,
    url: String,
}

impl Anvil {
    fn start() -> Anvil {
        // anvil has no "port 0": take a free port from the kernel and hand it over.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tools::tool("anvil"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil starts");
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "anvil did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        anvil
    }

    /// Sends raw bytes with `cast publish` and returns the receipt.
    fn publish(&self, raw: &[u8]) -> serde_json::Value {
        let out = Command::new(tools::tool("cast"))
            .args([
                "publish",
                "--rpc-url",
                &self.url,
                &hex::encode_prefixed(raw),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "anvil refused the transaction: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address of a contract created by `sender` at `nonce`: keccak(rlp([sender, nonce]))[12..].
fn create_address(sender: &Address, nonce: u64) -> Address {
    let mut s = rlp::RlpStream::new_list(2);
    s.append(&sender.0.as_slice());
    s.append(&nonce);
    let h = keccak256(&s.out());
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    Address(a)
}

#[test]
fn anvil_accepts_our_transactions_and_agrees_on_their_hashes() {
    let anvil = Anvil::start();
    let key = PrivateKey::from_bytes(&hex::decode_array(ANVIL_KEY).unwrap()).unwrap();
    let sender = key.address();
    let recipient: Address = "0x3535353535353535353535353535353535353535"
        .parse()
        .unwrap();
    // Init code: CODECOPY the byte after it (0x00, STOP) to memory and RETURN it
    // as the runtime code.
    let init = hex::decode("6001600c60003960016000f300").unwrap();

    let txs = [
        Transaction::Legacy(LegacyTx {
            chain_id: CHAIN_ID,
            nonce: 0,
            gas_price: 2_000_000_000,
            gas_limit: 21_000,
            to: Some(recipient),
            value: 12345,
            data: vec![],
        }),
        Transaction::Eip1559(Eip1559Tx {
            chain_id: CHAIN_ID,
            nonce: 1,
            max_priority_fee_per_gas: 1_000_000,
            max_fee_per_gas: 3_000_000_000,
            gas_limit: 30_000,
            to: Some(recipient),
            value: 1,
            data: vec![0xde, 0xad, 0xbe, 0xef],
        }),
        Transaction::Eip1559(Eip1559Tx {
            chain_id: CHAIN_ID,
            nonce: 2,
            max_priority_fee_per_gas: 0,
            max_fee_per_gas: 3_000_000_000,
            gas_limit: 100_000,
            to: None,
            value: 0,
            data: init.clone(),
        }),
        Transaction::Legacy(LegacyTx {
            chain_id: CHAIN_ID,
            nonce: 3,
            gas_price: 2_000_000_000,
            gas_limit: 100_000,
            to: None,
            value: 0,
            data: init,
        }),
    ];
    for tx in &txs {
        let signed = tx.sign(&key);
        let receipt = anvil.publish(&signed.raw);
        let field = |name: &str| receipt[name].as_str().unwrap_or_default().to_string();
        assert_eq!(field("status"), "0x1", "{receipt}");
        assert_eq!(field("transactionHash"), hex::encode_prefixed(&signed.hash));
        assert_eq!(field("from"), sender.to_lower_hex());
        match tx {
            Transaction::Legacy(LegacyTx { to: None, .. })
            | Transaction::Eip1559(Eip1559Tx { to: None, .. }) => {
                assert_eq!(
                    field("contractAddress"),
                    create_address(&sender, tx.nonce()).to_lower_hex()
                );
            }
            _ => assert_eq!(field("to"), recipient.to_lower_hex()),
        }
    }
}
