//! The chain commands: keygen, deploy, add-node, remove-node, set-endpoint, set-payee,
//! set-monitor, subscribe, token, status, claim, refund, settle, nodes.
//!
//! Every command reads the same connection options (`Ctx`): `--rpc URL` (repeatable,
//! for failover) or `AQUEDUCT_RPC`, `--key FILE` with `--password-file`/`--password-env`
//! for keystores, `--contract ADDR`, any of them from `--config FILE`'s `[chain]`
//! section, and `--json` for one JSON object on stdout instead of text.

mod deploy;
pub mod failure;
mod member;
mod registry;
mod status;
mod units;

pub(crate) use units::plural;

pub(crate) use failure::{contract_failure, rpc_failure, send_failure, unless_behind};

use crate::args::{Args, CmdResult, Failure};
use crate::config::chain::{load_chain_section, ChainConfig};
use crate::contract;
use crate::eth::address::AddressError;
use crate::eth::keys::{self, PasswordSource};
use crate::eth::rpc::{CallRequest, Client, Receipt, RpcConfig};
use crate::eth::sender::{SendConfig, SendError, Sender, TxRequest};
use crate::eth::signer::PrivateKey;
use crate::eth::{hex, Address};
use std::path::PathBuf;
use units::Token;

/// `aqueduct <command> --help`: the command's own flags.
fn help(name: &str) -> &'static str {
    match name {
        "keygen" => "aqueduct keygen --out FILE\n  Writes a new random key (hex, mode 0600, never overwrites) and prints its address.\n",
        "deploy" => "aqueduct deploy [--dev [--mint-to ADDR]...] [--token ADDR] [--price TOKENS] [--period 30d]\n                [--epoch 1d] [--slot 1h] [--max-periods 12] [--owner ADDR]\n  Deploys Aqueduct (price in whole tokens, e.g. 10 or 2.5). Epochs last 1h or more, slots 1m\n  or more and divide the epoch, a period lasts at least an epoch; members may pay at most\n  --max-periods periods ahead. --owner (default: the deploying key) may be a multisig or a\n  timelock (contracts/README.md, trust model). --dev first deploys TestStablecoin and mints\n  1000 tokens to each --mint-to address (default: anvil's ten development accounts).\n",
        "add-node" => "aqueduct add-node --node ADDR --endpoint HOST:PORT [--payee ADDR]\n  Owner: whitelists a node and publishes its proxy endpoint; it earns from the next epoch.\n  Its earnings are paid to --payee (the operator's cold wallet; only the payee can change it\n  later). Without --payee: the payee it already has, or else the node's own address.\n",
        "remove-node" => "aqueduct remove-node --node ADDR\n  Owner: removes a node; it keeps what it earned.\n",
        "set-endpoint" => "aqueduct set-endpoint [--endpoint HOST:PORT] [--tls HOST:PORT [--pin sha256//...]]\n  Node key: publishes this node's endpoint: plain SOCKS5/HTTP, TLS (with the pin of its\n  certificate's key, read from the [tls] certificate of --config FILE unless --pin is given;\n  doc/protocol.md, \"Node endpoints\"), or both.\n",
        "set-payee" => "aqueduct set-payee --node ADDR --payee ADDR\n  Payee key: names a new payee for the node's earnings.\n",
        "set-monitor" => "aqueduct set-monitor --monitor ADDR\n  Owner: names the monitor, which may withhold a node's slots of the epoch just ended\n  (0x0000000000000000000000000000000000000000: none).\n",
        "subscribe" => "aqueduct subscribe --periods N [--member ADDR]\n  Pays N periods for --member (default: the key's address), approving the token first if needed.\n",
        "token" => "aqueduct token --node ADDR|any --ttl DURATION\n  Member key: signs a proxy credential (doc/protocol.md) valid for DURATION (30m, 12h, 7d)\n  and prints socks5h:// and http:// proxy URLs for the node(s), and for TLS nodes the\n  https:// proxy URL with curl's --proxy-pinnedpubkey flags. Nodes accept at most 30d\n  by default; a longer --ttl is refused.\n",
        "status" => "aqueduct status [--address ADDR] [--metrics URL]\n  Balances, then by role: for a member its time left and end date, for a node its state,\n  heartbeats this epoch and claimable earnings (both for an address that is both); for a\n  running node also sessions, members known and its last heartbeat, read from its metrics\n  endpoint (--metrics http://127.0.0.1:9464/metrics, or [metrics] listen in --config FILE).\n",
        "claim" => "aqueduct claim [--node ADDR] [--max-epochs N]\n  Any key: pays --node's (default: the key's own address) earnings of settled epochs to its\n  payee (default up to 256 epochs per transaction). Nothing due: prints \"nothing to claim\"\n  and exits 0.\n",
        "refund" => "aqueduct refund [--payer ADDR]\n  Any key: sends --payer (default: the key's address) what its payments are owed back for\n  epochs in which no node was online, one transaction per payment with something owed.\n",
        "settle" => "aqueduct settle [--max-epochs N]\n  Any key: settles finished epochs (default up to 1000), after a long quiet spell.\n",
        "nodes" => "aqueduct nodes\n  Lists the registered nodes, their endpoints and whether they are active.\n",
        _ => "",
    }
}

const COMMON_HELP: &str = "\nconnection: --rpc URL (repeat for failover) or AQUEDUCT_RPC (comma-separated); --key FILE\n  [--password-file F | --password-env VAR]; --contract ADDR; or [chain] in --config FILE;\n  --json prints one JSON object\n";

/// The connection options a command reads; any other one given is a usage error.
#[derive(Clone, Copy)]
pub(crate) struct Takes {
    /// `--rpc` and `--config`.
    pub chain: bool,
    /// `--key`, `--password-file`, `--password-env`.
    pub key: bool,
    /// `--contract`.
    pub contract: bool,
}

impl Takes {
    pub(crate) const ALL: Takes = Takes {
        chain: true,
        key: true,
        contract: true,
    };

    fn of(name: &str) -> Takes {
        match name {
            "keygen" => Takes {
                chain: false,
                key: false,
                contract: false,
            },
            "deploy" => Takes {
                contract: false,
                ..Takes::ALL
            },
            "nodes" => Takes {
                key: false,
                ..Takes::ALL
            },
            _ => Takes::ALL,
        }
    }
}

pub fn run(name: &str, mut args: Args) -> CmdResult {
    let takes = Takes::of(name);
    if args.flag("help")? {
        let common = if takes.chain {
            COMMON_HELP
        } else {
            "\n--json prints one JSON object\n"
        };
        print!("{}{common}", help(name));
        return Ok(());
    }
    let ctx = Ctx::from_args(&mut args, name, takes)?;
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

/// An RPC URL is `http(s)://HOST[:PORT][/PATH]`; a malformed one is a usage error here,
/// not an "unreachable" later with advice about a chain node that may well be running.
fn check_rpc_url(url: &str) -> Result<(), Failure> {
    let bad = |why: &str| {
        Failure::usage(format!("RPC URL `{url}` {why}"))
            .hint("e.g. --rpc http://127.0.0.1:8545 or --rpc https://mainnet.base.org")
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("is not http(s)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("has no host"));
    }
    if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
        if port.parse::<u16>().is_err() {
            return Err(bad("has no valid port after the `:`"));
        }
    }
    Ok(())
}

/// Parses an address flag value, naming the flag on error.
pub(crate) fn parse_address(flag: &str, s: &str) -> Result<Address, Failure> {
    // The parse error already says what an address looks like; a checksum error gets
    // its own fix.
    s.parse::<Address>().map_err(|e| {
        let f = Failure::usage(format!("--{flag} `{s}`: {e}"));
        match e {
            AddressError::BadChecksum => {
                f.hint("copy the address again, or write it all in lowercase to skip the check")
            }
            AddressError::Malformed => f,
        }
    })
}

impl Ctx {
    pub(crate) fn from_args(args: &mut Args, name: &str, takes: Takes) -> Result<Ctx, Failure> {
        let groups: [(bool, &[&str]); 3] = [
            (takes.chain, &["rpc", "config"]),
            (takes.key, &["key", "password-file", "password-env"]),
            (takes.contract, &["contract"]),
        ];
        for (taken, flags) in groups {
            for flag in flags.iter().filter(|_| !taken) {
                if args.value(flag)?.is_some() {
                    return Err(Failure::usage(format!("`{name}` does not take --{flag}"))
                        .hint(format!("see `aqueduct {name} --help`")));
                }
            }
        }
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
            check_rpc_url(url)?;
        }
        let key = args.value("key")?.map(PathBuf::from).or(config.key);
        let password = args.password_source()?.or(config.password);
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
        contract::client(RpcConfig::new(self.rpc.clone())).map_err(rpc_failure)
    }

    pub(crate) fn key(&self) -> Result<PrivateKey, Failure> {
        let path = self.key.as_ref().ok_or_else(|| {
            Failure::usage("this command signs, but no key was given")
                .hint("pass --key FILE (make one with `aqueduct keygen --out FILE`)")
        })?;
        keys::load_key(path, self.password.as_ref()).map_err(|e| {
            let f = Failure::new(format!("cannot load the key: {e}"));
            match e {
                keys::KeyError::PasswordRequired { .. } => {
                    f.hint("a keystore needs --password-file FILE or --password-env VAR")
                }
                // Its message already says which chmod to run.
                keys::KeyError::InsecurePermissions { .. } => f,
                _ => f.hint("check the --key path and password"),
            }
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

    /// The contract address, checked to be an Aqueduct contract on this chain before
    /// anything is read from or sent to it.
    pub(crate) fn deployed_contract(&self, client: &Client) -> Result<Address, Failure> {
        let address = self.contract()?;
        contract::Contract::new(client, address)
            .ensure_aqueduct()
            .map_err(contract_failure)?;
        Ok(address)
    }

    /// A sender for `key` on the client's chain.
    pub(crate) fn sender(&self, client: &Client, key: PrivateKey) -> Result<Sender, Failure> {
        let chain_id = client.chain_id().map_err(rpc_failure)?;
        Ok(Sender::new(key, chain_id))
    }
}

/// Sends one transaction and reports failures as `what: cause`.
pub(crate) fn send(
    sender: &mut Sender,
    client: &Client,
    what: &str,
    request: TxRequest,
) -> Result<Receipt, Failure> {
    let request = with_gas_checked(sender, client, what, request)?;
    if !sender_quiet() {
        eprintln!("sending {what} from {} ...", sender.address());
    }
    sender
        .send(client, &request)
        .map_err(|e| send_failure(what, e))
}

/// Estimates `request`'s gas (with the sender's margin) and checks, before anything is
/// signed, that the key holds the ETH the chain will ask for: gas limit times the
/// highest fee per gas, plus any value. The estimate is kept so it is not asked twice.
fn with_gas_checked(
    sender: &Sender,
    client: &Client,
    what: &str,
    mut request: TxRequest,
) -> Result<TxRequest, Failure> {
    let from = sender.address();
    let gas = match request.gas_limit {
        Some(g) => g,
        None => {
            let call = CallRequest {
                from: Some(from),
                to: request.to,
                data: request.data.clone(),
                value: request.value,
                gas: None,
            };
            let estimate = client
                .estimate_gas(&call)
                .map_err(|e| send_failure(what, SendError::Rpc(e)))?;
            let margin = SendConfig::default().gas_margin_percent;
            estimate.saturating_add(estimate.saturating_mul(margin) / 100)
        }
    };
    request.gas_limit = Some(gas);
    let fee = client.fee_data().map_err(rpc_failure)?.max_fee();
    let needed = u128::from(gas)
        .saturating_mul(fee)
        .saturating_add(request.value);
    let balance = client.balance(from).map_err(rpc_failure)?;
    if balance < needed {
        let eth = Token::eth();
        return Err(Failure::new(format!(
            "{from} holds {}; {what} needs up to {} for gas ({gas} gas at up to {} gwei)",
            eth.text(balance),
            eth.text(needed),
            units::format_amount(fee, 9)
        ))
        .hint(format!(
            "send at least {} to {from} on this chain, then retry",
            eth.text(needed - balance)
        )));
    }
    Ok(request)
}

/// Progress lines go to stderr unless AQUEDUCT_QUIET is set (tests and scripts).
fn sender_quiet() -> bool {
    std::env::var_os("AQUEDUCT_QUIET").is_some()
}

/// The fee token's contract and how its amounts are shown.
pub(crate) fn fee_token<'c>(
    aqueduct: &contract::Contract<'c>,
) -> Result<(contract::Contract<'c>, Token), Failure> {
    let token =
        contract::Contract::new(aqueduct.client, aqueduct.token().map_err(contract_failure)?);
    let decimals = token.decimals().map_err(contract_failure)?;
    // A token without symbol() is still shown, under a generic name.
    let symbol = token
        .symbol()
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "tokens".into());
    Ok((token, Token { decimals, symbol }))
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
