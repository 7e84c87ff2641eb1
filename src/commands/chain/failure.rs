//! Chain errors as [`Failure`]s a user can act on: the RPC's, the contract's (by the
//! custom error's name) and a transaction's.

use crate::args::Failure;
use crate::contract;
use crate::eth::rpc::RpcError;
use crate::eth::sender::SendError;

/// What to do about a contract error, by its name.
fn revert_hint(revert: &str) -> Option<&'static str> {
    let name = revert.split('(').next().unwrap_or(revert);
    Some(match name {
        "OwnableUnauthorizedAccount" => {
            "only the contract owner can do this: use the owner's --key"
        }
        "NodeNotActive" => {
            "this address is not an active node: the owner adds it with `aqueduct add-node`"
        }
        "NodeAlreadyActive" => "the node is already registered; see `aqueduct nodes`",
        "AlreadyOnlineThisSlot" => "this node already sent its heartbeat for the current slot",
        "NothingToClaim" => {
            "no settled epoch with heartbeats is unpaid yet; an epoch settles one full epoch after it ends"
        }
        "NotMonitor" => "only the monitor named by the owner (`aqueduct set-monitor`) can withhold",
        "OutsideChallengeWindow" => "an epoch can be withheld from only during the epoch after it",
        "NothingToWithhold" => "that node has no slots left in that epoch",
        "NothingToRefund" => "nothing of this payment is owed back: every settled epoch had a node online",
        "NotEarningYet" => "a node earns from the epoch after the one it was added in; wait for it",
        "NotPayee" => "only the node's current payee can name a new payee: use the payee's --key",
        "PayeeFixed" => "a node added again keeps its payee; leave out --payee or give the current one",
        "SettlementBehind" => "many epochs are unsettled: run `aqueduct settle` first",
        "PrepaymentCapExceeded" => "members may pay at most the contract's maxPeriods periods ahead of now",
        "PaymentTooSmall" => "the payment must be at least one token unit per epoch it covers",
        "InvalidTiming" => "epochs last 1h or more, slots 1m or more and divide the epoch, periods at least an epoch",
        "InvalidPrice" => "--price must be above zero",
        "InvalidPeriods" => "--periods must be between 1 and the contract's maxPeriods",
        "InvalidEndpoint" => "the endpoint must be 1 to 260 bytes of host:port",
        "EnforcedPause" => "subscriptions are paused by the contract owner",
        "ERC20InsufficientBalance" => "the paying key does not hold enough tokens",
        "ERC20InsufficientAllowance" => {
            "the token allowance is too low; run subscribe again to approve"
        }
        "ZeroAddress" => "an address argument is zero",
        _ => return None,
    })
}

pub(crate) fn rpc_failure(e: RpcError) -> Failure {
    let hint = match &e {
        RpcError::Unreachable { .. } | RpcError::Http { .. } => {
            Some("check that the chain node is running and that --rpc / AQUEDUCT_RPC points at it")
        }
        RpcError::Rpc { message, .. } if message.contains("insufficient funds") => {
            Some("the key's address needs ETH for gas: fund it and retry")
        }
        _ => e.revert().and_then(revert_hint),
    };
    let f = Failure::new(e.to_string());
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

/// A view's answer, or `None` when it refused to preview that many unsettled epochs.
pub(crate) fn unless_behind<T>(
    r: Result<T, contract::ContractError>,
) -> Result<Option<T>, Failure> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(contract::ContractError::Rpc(e))
            if e.revert()
                .is_some_and(|r| r.starts_with("SettlementBehind(")) =>
        {
            Ok(None)
        }
        Err(e) => Err(contract_failure(e)),
    }
}

pub(crate) fn contract_failure(e: contract::ContractError) -> Failure {
    match e {
        contract::ContractError::Rpc(e) => rpc_failure(e),
        other => Failure::new(other.to_string()).hint(
            "check --contract (or contract in [chain]): it must be the address `aqueduct deploy` printed, on this chain",
        ),
    }
}

pub fn send_failure(what: &str, e: SendError) -> Failure {
    match e {
        SendError::Rpc(e) => {
            let f = rpc_failure(e);
            Failure {
                message: format!("{what}: {}", f.message),
                ..f
            }
        }
        SendError::Reverted { ref reason, .. } => {
            let hint = reason.as_deref().and_then(revert_hint);
            let f = Failure::new(format!("{what}: {e}"));
            match hint {
                Some(h) => f.hint(h),
                None => f,
            }
        }
        SendError::NotMined { .. } => Failure::new(format!("{what}: {e}"))
            .hint("the chain is congested or the fee too low; check the hash in an explorer"),
        SendError::Unconfirmed { .. } => Failure::new(format!("{what}: {e}"))
            .hint("check the transaction hash once the RPC endpoint answers again"),
    }
}
