//! A blocking JSON-RPC 2.0 client for Ethereum nodes, over ureq.
//!
//! One [`Client`] holds everything it needs (no global state), and its methods take
//! `&self`, so the node's chain thread and the CLI use it the same way. Each request
//! has a timeout; transport errors, HTTP 429 and 5xx are retried with exponential
//! backoff, trying every configured URL in turn before sleeping. A JSON-RPC error is
//! not retried: it comes back with the node's message and, when it carries revert data,
//! the contract's custom error decoded by the client's [`RevertDecoder`].
//!
//! - `transport`: the client, its config and errors, failover and retries;
//! - `wire`: request and answer types and their JSON forms;
//! - `calls`: one typed method per JSON-RPC method.

mod calls;
mod transport;
mod wire;

pub use transport::{Client, RevertDecoder, RpcConfig, RpcError};
pub use wire::{quantity, Block, BlockId, CallRequest, FeeData, Log, LogFilter, Receipt};

#[cfg(test)]
mod tests {
    use super::calls::*;
    use super::transport::*;
    use super::wire::*;
    use serde_json::json;

    /// The node moves a client and a sender into its chain thread and may share the
    /// client with the CLI-style helpers there.
    #[test]
    fn client_and_sender_can_live_on_a_chain_thread() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Client>();
        send::<crate::eth::sender::Sender>();
        send::<crate::eth::sender::Pending>();
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(0), "0x0");
        assert_eq!(quantity(255), "0xff");
        assert_eq!(as_u64(&json!("0x1a")), Ok(26));
        assert!(as_u64(&json!("0x10000000000000000")).is_err());
        assert!(as_u128(&json!("0x")).is_err());
        assert!(as_u128(&json!("12")).is_err());
        assert!(as_u128(&json!(12)).is_err());
        assert!(as_u128(&json!(format!("0x1{}", "0".repeat(32)))).is_err());
    }

    #[test]
    fn urls_are_redacted_to_scheme_and_host() {
        assert_eq!(
            redact("https://base-mainnet.example/v2/SECRETKEY"),
            "https://base-mainnet.example"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:8545/"),
            "http://127.0.0.1:8545"
        );
    }

    #[test]
    fn revert_data_shapes() {
        assert_eq!(revert_data(&json!("0x1234")), Some(vec![0x12, 0x34]));
        assert_eq!(
            revert_data(&json!({"data": "0xabcd"})),
            Some(vec![0xab, 0xcd])
        );
        assert_eq!(
            revert_data(&json!("Reverted 0x08c379a0")),
            Some(vec![8, 0xc3, 0x79, 0xa0])
        );
        assert_eq!(revert_data(&json!("no data")), None);
        assert_eq!(revert_data(&json!(5)), None);
    }

    #[test]
    fn too_many_results_detection() {
        let e = |code, m: &str| RpcError::Rpc {
            method: "eth_getLogs".into(),
            code,
            message: m.into(),
            data: None,
            revert: None,
        };
        assert!(is_too_many_results(&e(
            -32005,
            "query returned more than 10000 results"
        )));
        assert!(is_too_many_results(&e(-32600, "block range is too wide")));
        assert!(!is_too_many_results(&e(-32000, "header not found")));
    }

    #[test]
    fn fee_math() {
        let f = FeeData::Eip1559 {
            base_fee: 10,
            priority_fee: 3,
        };
        assert_eq!(f.max_fee(), 23);
        assert_eq!(FeeData::Legacy { gas_price: 7 }.max_fee(), 7);
    }
}
