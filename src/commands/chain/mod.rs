//! The chain commands: keygen, deploy, add-node, remove-node, set-endpoint, set-payee,
//! set-monitor, subscribe, token, status, claim, refund, settle, nodes.
//!
//! Every command reads the same connection options (`Ctx`): `--rpc URL` (repeatable,
//! for failover) or `AQUEDUCT_RPC`, `--key FILE` with `--password-file`/`--password-env`
//! for keystores, `--contract ADDR`, any of them from `--config FILE`'s `[chain]`
//! section, and `--json` for one JSON object on stdout instead of text.

mod deploy;
mod member;
mod registry;
mod status;
mod units;

/// UTC date and time of a unix time, as the commands print it (the bench's report too).
pub use units::utc;

use crate::cli::{Args, CmdResult, Failure};
use crate::config::chain::{load_chain_section, ChainConfig};
use crate::contract;
use crate::eth::keys::{self, PasswordSource};
use crate::eth::rpc::{Client, Receipt, RpcConfig, RpcError};
use crate::eth::sender::{SendError, Sender, TxRequest};
use crate::eth::signer::PrivateKey;
use crate::eth::{hex, Address};
use std::path::PathBuf;

/// `aqueduct <command> --help`: the command's own flags.
fn help(name: &str) -> &'static str {
    match name {
        "keygen" => "aqueduct keygen --out FILE\n  Writes a new random key (hex, mode 0600, never overwrites) and prints its address.\n",
        "deploy" => "aqueduct deploy [--dev [--mint-to ADDR]...] [--token ADDR] [--price TOKENS] [--period 30d]\n                [--epoch 1d] [--slot 1h] [--max-periods 12] [--owner ADDR]\n  Deploys Aqueduct (price in whole tokens, e.g. 10 or 2.5). Epochs last 1h or more, slots 1m\n  or more and divide the epoch, a period lasts at least an epoch; members may pay at most\n  --max-periods periods ahead. --owner (default: the deploying key) may be a multisig or a\n  timelock (contracts/README.md, trust model). --dev first deploys TestStablecoin and mints\n  1000 tokens to each --mint-to address (default: anvil's ten development accounts).\n",
        "add-node" => "aqueduct add-node --node ADDR --endpoint HOST:PORT [--payee ADDR]\n  Owner: whitelists a node and publishes its proxy endpoint; it earns from the next epoch.\n  Its earnings are paid to --payee (the operator's cold wallet; only the payee can change it\n  later). Without --payee: the payee it already has, or else the node's own address.\n",
        "remove-node" => "aqueduct remove-node --node ADDR\n  Owner: removes a node; it keeps what it earned.\n",
        "set-endpoint" => "aqueduct set-endpoint --endpoint HOST:PORT\n  Node key: publishes a new endpoint for this node.\n",
        "set-payee" => "aqueduct set-payee --node ADDR --payee ADDR\n  Payee key: names a new payee for the node's earnings.\n",
        "set-monitor" => "aqueduct set-monitor --monitor ADDR\n  Owner: names the monitor, which may withhold a node's slots of the epoch just ended\n  (0x0000000000000000000000000000000000000000: none).\n",
        "subscribe" => "aqueduct subscribe --periods N [--member ADDR]\n  Pays N periods for --member (default: the key's address), approving the token first if needed.\n",
        "token" => "aqueduct token --node ADDR|any --ttl DURATION\n  Member key: signs a proxy credential (doc/protocol.md) valid for DURATION (30m, 12h, 7d)\n  and prints socks5h:// and http:// proxy URLs for the node(s).\n",
        "status" => "aqueduct status [--address ADDR] [--metrics URL]\n  Membership, node state, heartbeats this epoch, claimable earnings and balances; for a\n  running node also sessions, members known and its last heartbeat, read from its metrics\n  endpoint (--metrics http://127.0.0.1:9464/metrics, or [metrics] listen in --config FILE).\n",
        "claim" => "aqueduct claim [--node ADDR] [--max-epochs N]\n  Any key: pays --node's (default: the key's own address) earnings of settled epochs to its\n  payee (default up to 256 epochs per transaction).\n",
        "refund" => "aqueduct refund [--payer ADDR]\n  Any key: sends --payer (default: the key's address) what its payments are owed back for\n  epochs in which no node was online, one transaction per payment with something owed.\n",
        "settle" => "aqueduct settle [--max-epochs N]\n  Any key: settles finished epochs (default up to 1000), after a long quiet spell.\n",
        "nodes" => "aqueduct nodes\n  Lists the registered nodes, their endpoints and whether they are active.\n",
        _ => "",
    }
}

const COMMON_HELP: &str = "\nconnection: --rpc URL (repeat for failover) or AQUEDUCT_RPC (comma-separated); --key FILE\n  [--password-file F | --password-env VAR]; --contract ADDR; or [chain] in --config FILE;\n  --json prints one JSON object\n";

pub fn run(name: &str, mut args: Args) -> CmdResult {
    if args.flag("help")? {
        print!("{}{COMMON_HELP}", help(name));
        return Ok(());
    }
    let ctx = Ctx::from_args(&mut args)?;
    match name {
        "keygen" => keygen(ctx, args),
        "deploy" => deploy::run(ctx, args),
        "add-node" => registry::add_node(ctx, args),
        "remove-node" => registry::remove_node(ctx, args),
        "set-endpoint" => registry::set_endpoint(ctx, args),
        "set-payee" => registry::set_payee(ctx, args),
        "set-monitor" => registry::set_monitor(ctx, args),
        "nodes" => registry::nodes(ctx, args),
        "subscribe" => member::subscribe(ctx, args),
        "token" => member::token(ctx, args),
        "status" => status::status(ctx, args),
        "claim" => status::claim(ctx, args),
        "refund" => member::refund(ctx, args),
        "settle" => status::settle(ctx, args),
        other => Err(Failure::usage(format!("unknown chain command `{other}`"))),
    }
}

/// Connection options shared by the chain commands.
pub(crate) struct Ctx {
    rpc: Vec<String>,
    key: Option<PathBuf>,
    password: Option<PasswordSource>,
    contract: Option<Address>,
    /// `deploy_block` of `[chain]`: where log searches start (0 without a config).
    pub deploy_block: u64,
    /// `--config FILE`, for commands that read more of it than `[chain]`.
    pub config: Option<PathBuf>,
    pub json: bool,
}

/// Parses an address flag value, naming the flag on error.
pub(crate) fn parse_address(flag: &str, s: &str) -> Result<Address, Failure> {
    s.parse::<Address>().map_err(|e| {
        Failure::usage(format!("--{flag} `{s}`: {e}"))
            .hint("an address is 0x followed by 40 hex digits")
    })
}

impl Ctx {
    pub(crate) fn from_args(args: &mut Args) -> Result<Ctx, Failure> {
        let config_path = args.value("config")?.map(PathBuf::from);
        let config = match config_path.as_ref().map(|p| p.display().to_string()) {
            Some(path) => load_chain_section(path.as_ref()).map_err(|e| {
                Failure::new(format!("config {path}: {e}")).hint("fix the [chain] section")
            })?,
            None => ChainConfig::default(),
        };
        let mut rpc = args.values("rpc")?;
        if rpc.is_empty() {
            if let Ok(env) = std::env::var("AQUEDUCT_RPC") {
                rpc = env
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
            }
        }
        if rpc.is_empty() {
            rpc = config.rpc;
        }
        for url in &rpc {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Failure::usage(format!("RPC URL `{url}` is not http(s)"))
                    .hint("e.g. --rpc http://127.0.0.1:8545"));
            }
        }
        let key = args.value("key")?.map(PathBuf::from).or(config.key);
        let password = match (args.value("password-file")?, args.value("password-env")?) {
            (Some(_), Some(_)) => {
                return Err(Failure::usage(
                    "give --password-file or --password-env, not both",
                ))
            }
            (Some(f), None) => Some(PasswordSource::File(f.into())),
            (None, Some(e)) => Some(PasswordSource::Env(e)),
            (None, None) => config.password,
        };
        let contract = match args.value("contract")? {
            Some(s) => Some(parse_address("contract", &s)?),
            None => config.contract,
        };
        Ok(Ctx {
            rpc,
            key,
            password,
            contract,
            deploy_block: config.deploy_block,
            config: config_path,
            json: args.flag("json")?,
        })
    }

    pub(crate) fn client(&self) -> Result<Client, Failure> {
        if self.rpc.is_empty() {
            return Err(Failure::usage("no RPC endpoint given").hint(
                "pass --rpc URL, set AQUEDUCT_RPC, or set rpc in --config FILE's [chain] section",
            ));
        }
        Client::new(RpcConfig::new(self.rpc.clone()))
            .map(|c| c.with_revert_decoder(contract::decode_revert))
            .map_err(rpc_failure)
    }

    pub(crate) fn key(&self) -> Result<PrivateKey, Failure> {
        let path = self.key.as_ref().ok_or_else(|| {
            Failure::usage("this command signs, but no key was given")
                .hint("pass --key FILE (make one with `aqueduct keygen --out FILE`)")
        })?;
        keys::load_key(path, self.password.as_ref()).map_err(|e| {
            let hint = match e {
                keys::KeyError::PasswordRequired { .. } => {
                    "a keystore needs --password-file FILE or --password-env VAR"
                }
                keys::KeyError::InsecurePermissions { .. } => "run chmod 600 on the key file",
                _ => "check the --key path and password",
            };
            Failure::new(format!("cannot load the key: {e}")).hint(hint)
        })
    }

    /// The key's address if a key is configured, without asking for it otherwise.
    pub(crate) fn has_key(&self) -> bool {
        self.key.is_some()
    }

    pub(crate) fn contract(&self) -> Result<Address, Failure> {
        self.contract.ok_or_else(|| {
            Failure::usage("no contract address given").hint(
                "pass --contract ADDR (printed by `aqueduct deploy`) or set contract in [chain]",
            )
        })
    }

    /// The contract address, checked to hold code before anything is sent to it.
    pub(crate) fn deployed_contract(&self, client: &Client) -> Result<Address, Failure> {
        let address = self.contract()?;
        contract::Contract::new(client, address)
            .ensure_code()
            .map_err(contract_failure)?;
        Ok(address)
    }

    /// A sender for `key` on the client's chain.
    pub(crate) fn sender(&self, client: &Client, key: PrivateKey) -> Result<Sender, Failure> {
        let chain_id = client.chain_id().map_err(rpc_failure)?;
        Ok(Sender::new(key, chain_id))
    }
}

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
        other => Failure::new(other.to_string())
            .hint("check --contract: it must be the Aqueduct contract on this chain"),
    }
}

pub(crate) fn send_failure(what: &str, e: SendError) -> Failure {
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

/// Sends one transaction and reports failures as `what: cause`.
pub(crate) fn send(
    sender: &mut Sender,
    client: &Client,
    what: &str,
    request: TxRequest,
) -> Result<Receipt, Failure> {
    if !sender_quiet() {
        eprintln!("sending {what} from {} ...", sender.address());
    }
    sender
        .send(client, &request)
        .map_err(|e| send_failure(what, e))
}

/// Progress lines go to stderr unless AQUEDUCT_QUIET is set (tests and scripts).
fn sender_quiet() -> bool {
    std::env::var_os("AQUEDUCT_QUIET").is_some()
}

pub(crate) fn tx_hash(r: &Receipt) -> String {
    hex::encode_prefixed(&r.transaction_hash)
}

/// Prints `value` as JSON, or the text lines.
pub(crate) fn output(ctx: &Ctx, value: serde_json::Value, text: &str) {
    if ctx.json {
        println!("{value}");
    } else {
        print!("{text}");
    }
}

fn keygen(ctx: Ctx, mut args: Args) -> CmdResult {
    let out = args.required("out")?;
    args.finish()?;
    let key = PrivateKey::try_random()
        .map_err(|e| Failure::new(format!("the system random number generator failed: {e}")))?;
    keys::write_key_file(out.as_ref(), &key).map_err(|e| {
        let f = Failure::new(format!("cannot write the key: {e}"));
        match e {
            keys::KeyError::Exists { .. } => {
                f.hint("choose another --out path; keys are never overwritten")
            }
            _ => f,
        }
    })?;
    let address = key.address();
    output(
        &ctx,
        serde_json::json!({"address": address.to_string(), "file": out}),
        &format!(
            "address: {address}\nkey file: {out} (mode 0600; back it up, it cannot be recovered)\n"
        ),
    );
    Ok(())
}
