//! `aqueduct deploy`: the Aqueduct contract from the embedded artifact, and with
//! `--dev` a TestStablecoin minted to development accounts first.

use super::units::{format_duration, parse_amount, parse_duration, plural, whole_number, Token};
use super::{contract_failure, output, parse_address, send, Ctx};
use crate::args::{Args, CmdResult, Failure};
use crate::contract::{self, calls, Contract, DeployParams};
use crate::eth::sender::TxRequest;
use crate::eth::Address;

/// The ten accounts of anvil's (and hardhat's) default test mnemonic.
pub const ANVIL_ACCOUNTS: [&str; 10] = [
    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
    "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
    "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65",
    "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc",
    "0x976ea74026e726554db657fa54763abd0c3a0aa9",
    "0x14dc79964da2c08b23698b3d3cc7ca32193d9955",
    "0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f",
    "0xa0ee7a142d267c1f36714e4a8f75612f20a79720",
];

fn anvil_accounts() -> Vec<Address> {
    ANVIL_ACCOUNTS
        .iter()
        .filter_map(|a| a.parse::<Address>().ok())
        .collect()
}

/// Whole tokens minted to each `--mint-to` address with `--dev`.
const DEV_MINT: u128 = 1_000;

/// How many periods ahead a member may pay unless `--max-periods` says otherwise.
const DEFAULT_MAX_PERIODS: u64 = 12;

pub fn run(ctx: Ctx, mut args: Args) -> CmdResult {
    let dev = args.flag("dev")?;
    let token = args
        .value("token")?
        .map(|s| parse_address("token", &s))
        .transpose()?;
    let price = args.value("price")?.unwrap_or_else(|| "10".into());
    let period = parse_duration(
        "period",
        &args.value("period")?.unwrap_or_else(|| "30d".into()),
    )?;
    let epoch = parse_duration(
        "epoch",
        &args.value("epoch")?.unwrap_or_else(|| "1d".into()),
    )?;
    let slot = parse_duration("slot", &args.value("slot")?.unwrap_or_else(|| "1h".into()))?;
    let max_periods: u64 = match args.value("max-periods")? {
        None => DEFAULT_MAX_PERIODS,
        Some(s) => whole_number("max-periods", &s)?,
    };
    let owner = args
        .value("owner")?
        .map(|s| parse_address("owner", &s))
        .transpose()?;
    let mint_to = args
        .values("mint-to")?
        .iter()
        .map(|s| parse_address("mint-to", s))
        .collect::<Result<Vec<_>, _>>()?;
    args.finish()?;
    if !mint_to.is_empty() && !dev {
        return Err(Failure::usage("--mint-to only applies with --dev"));
    }
    if dev && token.is_some() {
        return Err(Failure::usage(
            "--dev deploys its own test token; leave out --token",
        ));
    }
    if !dev && token.is_none() {
        return Err(Failure::usage("--token is required")
            .hint("give the ERC-20 the fees are paid in, or --dev on a local chain"));
    }
    // The constructor's rules, checked before anything (the dev token included) is sent.
    let timing = DeployParams {
        token: Address::default(),
        price: 1,
        period_length: period,
        epoch_length: epoch,
        slot_length: slot,
        max_periods,
        owner: Address::default(),
    };
    timing.check().map_err(|e| {
        Failure::usage(e).hint(
            "epochs of 1h or more, slots of 1m or more dividing the epoch, periods of at least an epoch",
        )
    })?;

    let client = ctx.client()?;
    let key = ctx.key()?;
    let deployer = key.address();
    let mut sender = ctx.sender(&client, key)?;

    let mut minted = Vec::new();
    let token = match token {
        Some(t) => t,
        None => {
            let code = contract::stablecoin_creation_code().map_err(Failure::new)?;
            let r = send(
                &mut sender,
                &client,
                "TestStablecoin deployment",
                TxRequest::create(code),
            )?;
            let t = r.contract_address.ok_or_else(|| {
                Failure::new("the TestStablecoin deployment receipt has no contract address")
            })?;
            let decimals = Contract::new(&client, t)
                .decimals()
                .map_err(contract_failure)?;
            let amount = 10u128
                .checked_pow(decimals.into())
                .and_then(|unit| unit.checked_mul(DEV_MINT))
                .ok_or_else(|| {
                    Failure::new(format!("the test token's {decimals} decimals are too many"))
                })?;
            let recipients = if mint_to.is_empty() {
                anvil_accounts()
            } else {
                mint_to
            };
            for to in recipients {
                send(
                    &mut sender,
                    &client,
                    &format!("mint to {to}"),
                    TxRequest::call(t, calls::mint(to, amount)),
                )?;
                minted.push((to, amount));
            }
            t
        }
    };
    let fee = Contract::new(&client, token);
    let decimals = fee
        .decimals()
        .map_err(|e| contract_failure(e).hint("--token must be an ERC-20 token contract"))?;
    let units = Token {
        decimals,
        symbol: fee
            .symbol()
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "tokens".into()),
    };
    let price = parse_amount("price", &price, decimals)?;
    let params = DeployParams {
        token,
        price,
        period_length: period,
        epoch_length: epoch,
        slot_length: slot,
        max_periods,
        owner: owner.unwrap_or(deployer),
    };
    params
        .check()
        .map_err(|e| Failure::usage(format!("--price: {e}")))?;
    let code = contract::aqueduct_creation_code(&params).map_err(Failure::new)?;
    let r = send(
        &mut sender,
        &client,
        "Aqueduct deployment",
        TxRequest::create(code),
    )?;
    let address = r
        .contract_address
        .ok_or_else(|| Failure::new("the deployment receipt has no contract address"))?;

    let mut text = format!(
        "contract: {address}\ntoken: {token}\ndeploy block: {}\nprice: {} per {} period, at most {} ahead; epoch {}; slot {}\nowner: {}\n",
        r.block_number,
        units.text(price),
        format_duration(period),
        plural(max_periods, "period"),
        format_duration(epoch),
        format_duration(slot),
        params.owner,
    );
    for (to, amount) in &minted {
        text.push_str(&format!("minted {} to {to}\n", units.text(*amount)));
    }
    output(
        &ctx,
        serde_json::json!({
            "contract": address.to_string(),
            "token": token.to_string(),
            "chain_id": sender.chain_id(),
            "deploy_block": r.block_number,
            "price": units.json(price),
            "period": period,
            "epoch": epoch,
            "slot": slot,
            "max_periods": max_periods,
            "owner": params.owner.to_string(),
            "minted": minted.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>(),
            "minted_each": minted.first().map(|(_, amount)| units.json(*amount)),
        }),
        &text,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_anvil_accounts_parse() {
        assert_eq!(super::anvil_accounts().len(), 10);
    }
}
