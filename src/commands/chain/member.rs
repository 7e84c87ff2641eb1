//! Member commands: `subscribe` (approve the token as needed, then pay), `refund` (take
//! back what epochs nobody served owe one's payments) and `token` (sign a proxy
//! credential and print ready-to-use proxy URLs).

use super::status::refundable_payments;
use super::units::{format_duration, parse_duration, plural, whole_number};
use super::{contract_failure, fee_token, output, parse_address, rpc_failure, send, tx_hash, Ctx};
use crate::args::{Args, CmdResult, Failure};
use crate::clock::{unix_now, utc};
use crate::config::DEFAULT_CHAIN_AUTH;
use crate::contract::{calls, sig, Contract};
use crate::credential::{self, NodeScope};
use crate::endpoint::{Endpoint, TlsEndpoint};
use crate::eth::abi::{self, Kind};
use crate::eth::sender::TxRequest;

pub fn subscribe(ctx: Ctx, mut args: Args) -> CmdResult {
    let periods = whole_number("periods", &args.required("periods")?)?;
    let member = args
        .value("member")?
        .map(|s| parse_address("member", &s))
        .transpose()?;
    args.finish()?;
    // What can be checked on this machine is checked before the chain is asked.
    let key = ctx.key()?;
    let client = ctx.client()?;
    let address = ctx.deployed_contract(&client)?;
    let mut sender = ctx.sender(&client, key)?;
    let payer = sender.address();
    let member = member.unwrap_or(payer);

    let aqueduct = Contract::new(&client, address);
    let max_periods = aqueduct.max_periods().map_err(contract_failure)?;
    if periods > max_periods {
        return Err(Failure::usage(format!(
            "--periods {periods}: this contract sells at most {max_periods} periods at a time"
        )));
    }
    let (token, units) = fee_token(&aqueduct)?;
    let price = aqueduct.price().map_err(contract_failure)?;
    let cost = price
        .checked_mul(periods.into())
        .ok_or_else(|| Failure::usage("--periods is far too large"))?;
    let balance = token.balance_of(payer).map_err(contract_failure)?;
    if balance < cost {
        return Err(Failure::new(format!(
            "{payer} holds {}; {} cost {}",
            units.text(balance),
            plural(periods, "period"),
            units.text(cost)
        ))
        .hint("fund the paying key with the fee token, or buy fewer --periods"));
    }
    let allowance = token.allowance(payer, address).map_err(contract_failure)?;
    let mut approve_tx = None;
    if allowance != 0 && allowance < cost {
        // Tokens such as mainnet USDT refuse to change one non-zero allowance into another.
        send(
            &mut sender,
            &client,
            "approve (reset to 0)",
            TxRequest::call(token.address, calls::approve(address, 0)),
        )?;
    }
    if allowance < cost {
        let r = send(
            &mut sender,
            &client,
            "approve",
            TxRequest::call(token.address, calls::approve(address, cost)),
        )?;
        approve_tx = Some(tx_hash(&r));
    }
    let r = send(
        &mut sender,
        &client,
        "subscribe",
        TxRequest::call(address, calls::subscribe(member, periods)),
    )?;
    let until = aqueduct.member_until(member).map_err(contract_failure)?;
    output(
        &ctx,
        serde_json::json!({
            "member": member.to_string(),
            "payer": payer.to_string(),
            "periods": periods,
            "paid": units.json(cost),
            "until": until,
            "approve_tx": approve_tx,
            "tx": tx_hash(&r),
            "block": r.block_number,
        }),
        &format!(
            "member {member} paid {} for {}; access until {} ({until})\ntx {}\n",
            units.text(cost),
            plural(periods, "period"),
            utc(until),
            tx_hash(&r)
        ),
    );
    Ok(())
}

pub fn refund(ctx: Ctx, mut args: Args) -> CmdResult {
    let payer = args
        .value("payer")?
        .map(|s| parse_address("payer", &s))
        .transpose()?;
    args.finish()?;
    let client = ctx.client()?;
    let address = ctx.deployed_contract(&client)?;
    let mut sender = ctx.sender(&client, ctx.key()?)?;
    let payer = payer.unwrap_or(sender.address());
    let aqueduct = Contract::new(&client, address);
    let (_, units) = fee_token(&aqueduct)?;
    let latest = client.block_number().map_err(rpc_failure)?;
    let payments = aqueduct
        .paid_by(payer, ctx.deploy_block, latest)
        .map_err(contract_failure)?;
    let owed = refundable_payments(&aqueduct, &payments)?.ok_or_else(|| {
        Failure::new("too many epochs are unsettled to tell what is owed")
            .hint("run `aqueduct settle` first")
    })?;
    let mut text = String::new();
    let mut done = Vec::new();
    let mut total = 0u128;
    for (p, amount) in &owed {
        let r = send(
            &mut sender,
            &client,
            &format!("refund of the payment for {} until {}", p.member, p.until),
            TxRequest::call(address, calls::refund(p.member, p.until)),
        )?;
        // What was sent, from the receipt's Refunded event (the view was a preview).
        let refunded = abi::event_topic(sig::REFUNDED);
        let amount = r
            .logs
            .iter()
            .filter(|l| l.address == address && l.topics.first() == Some(&refunded))
            .find_map(|l| {
                let v = abi::decode_log(
                    &[
                        (Kind::Address, true),
                        (Kind::Address, true),
                        (Kind::Uint(64), false),
                        (Kind::Uint(256), false),
                    ],
                    l.topics.get(1..)?,
                    &l.data,
                )
                .ok()?;
                v.get(3)?.as_uint()
            })
            .unwrap_or(*amount);
        let amount = &amount;
        total += amount;
        text.push_str(&format!(
            "refunded {} to {payer} for member {} (access until {}; tx {})\n",
            units.text(*amount),
            p.member,
            utc(p.until),
            tx_hash(&r)
        ));
        done.push(serde_json::json!({
            "member": p.member.to_string(),
            "until": p.until,
            "amount": units.json(*amount),
            "tx": tx_hash(&r),
        }));
    }
    if owed.is_empty() {
        text.push_str(&format!(
            "nothing to refund: none of the {} by {payer} is owed anything now\n",
            plural(payments.len() as u64, "payment")
        ));
    }
    output(
        &ctx,
        serde_json::json!({"payer": payer.to_string(), "refunded": units.json(total), "refunds": done}),
        &text,
    );
    Ok(())
}

/// `%`-escapes what may not appear raw in a URL's userinfo (the password's `:` and `*`).
fn userinfo_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// socks5h:// and http:// proxy URLs for a plain `host:port`.
fn plain_urls(userinfo: &str, host_port: &str) -> (String, String) {
    (
        format!("socks5h://{userinfo}@{host_port}"),
        format!("http://{userinfo}@{host_port}"),
    )
}

/// Measured with curl 7.88: it accepts --proxy-pinnedpubkey and ignores it.
const CURL_PIN_NOTE: &str = "(needs curl 8.10 or later: older curl ignores --proxy-pinnedpubkey, and with --proxy-insecure would then check nothing; `aqueduct local` checks the pin itself)\n";

/// The https:// proxy URL of a TLS endpoint and curl's flags for it. `--proxy-insecure`
/// turns off only the CA check (a self-signed node has no CA); the pin, which curl checks
/// regardless, is what authenticates the node.
fn tls_url(userinfo: &str, tls: &TlsEndpoint) -> (String, String) {
    let url = format!("https://{userinfo}@{}", tls.addr);
    let curl = format!(
        "--proxy {url} --proxy-insecure --proxy-pinnedpubkey {}",
        tls.pin
    );
    (url, curl)
}

pub fn token(ctx: Ctx, mut args: Args) -> CmdResult {
    let node = args.required("node")?;
    let node = if node == "any" || node == "*" {
        NodeScope::Any
    } else {
        NodeScope::One(parse_address("node", &node)?)
    };
    let ttl_text = args.required("ttl")?;
    let ttl = parse_duration("ttl", &ttl_text)?;
    // Signed anyway, every node would refuse it at the first login.
    let max = DEFAULT_CHAIN_AUTH.max_credential_lifetime.as_secs();
    if ttl > max {
        return Err(Failure::usage(format!(
            "--ttl {ttl_text} is longer than nodes accept ({} by default)",
            format_duration(max)
        ))
        .hint(format!(
            "use --ttl {} or less, and run `aqueduct token` again when it runs out",
            format_duration(max)
        )));
    }
    args.finish()?;
    let key = ctx.key()?;
    let client = ctx.client()?;
    let address = ctx.deployed_contract(&client)?;
    let chain_id = client.chain_id().map_err(rpc_failure)?;
    let aqueduct = Contract::new(&client, address);
    let registry = aqueduct.nodes().map_err(contract_failure)?;
    let endpoints: Vec<String> = match node {
        NodeScope::One(n) => {
            let entry = registry.iter().find(|e| e.node == n).ok_or_else(|| {
                Failure::new(format!("node {n} is not in the registry"))
                    .hint("see `aqueduct nodes` for the registered nodes, or use --node any")
            })?;
            if !entry.active {
                eprintln!("warning: node {n} has been removed from the registry");
            }
            vec![entry.endpoint.clone()]
        }
        NodeScope::Any => registry
            .iter()
            .filter(|e| e.active)
            .map(|e| e.endpoint.clone())
            .collect(),
    };
    let now = unix_now();
    let expires = now
        .checked_add(ttl)
        .ok_or_else(|| Failure::usage("--ttl is far too long"))?;
    let member = key.address();
    if !aqueduct.is_member(member).map_err(contract_failure)? {
        eprintln!(
            "warning: {member} is not a paying member right now; nodes will refuse this credential until `aqueduct subscribe` is run"
        );
    } else {
        let until = aqueduct.member_until(member).map_err(contract_failure)?;
        if until < expires {
            eprintln!(
                "warning: membership ends {} ({until}), before this credential expires; nodes refuse it from then on",
                utc(until)
            );
        }
    }
    let (username, password) = credential::sign(&key, chain_id, address, node, expires);
    let userinfo = format!(
        "{}:{}",
        userinfo_escape(&username),
        userinfo_escape(&password)
    );
    let hosts = if endpoints.is_empty() {
        vec!["HOST:PORT".to_string()]
    } else {
        endpoints
    };
    let mut urls: Vec<(String, String)> = Vec::new();
    let mut tls_urls: Vec<(String, String)> = Vec::new();
    for h in &hosts {
        match h.parse::<Endpoint>() {
            Ok(e) => {
                if let Some(plain) = &e.plain {
                    urls.push(plain_urls(&userinfo, &plain.to_string()));
                }
                if let Some(tls) = &e.tls {
                    tls_urls.push(tls_url(&userinfo, tls));
                }
            }
            // Printed as registered (or the HOST:PORT placeholder): the member may still
            // make sense of it.
            Err(_) => urls.push(plain_urls(&userinfo, h)),
        }
    }
    let mut text = format!(
        "username: {username}\npassword: {password}\nexpires: {} ({expires})\nnode: {node}\n",
        utc(expires)
    );
    for (url, curl) in &tls_urls {
        text.push_str(&format!("{url}\n  curl {curl} URL\n"));
    }
    if !tls_urls.is_empty() {
        text.push_str(CURL_PIN_NOTE);
    }
    for (socks, http) in &urls {
        text.push_str(&format!("{socks}\n{http}\n"));
    }
    if !urls.is_empty() && !tls_urls.is_empty() {
        text.push_str("(the socks5h:// and http:// URLs are unencrypted: prefer https://)\n");
    }
    output(
        &ctx,
        serde_json::json!({
            "username": username,
            "password": password,
            "expires": expires,
            "node": node.to_string(),
            "chain_id": chain_id,
            "contract": address.to_lower_hex(),
            "socks5": urls.iter().map(|u| u.0.clone()).collect::<Vec<_>>(),
            "http": urls.iter().map(|u| u.1.clone()).collect::<Vec<_>>(),
            "https": tls_urls.iter().map(|u| u.0.clone()).collect::<Vec<_>>(),
            "curl": tls_urls.iter().map(|u| u.1.clone()).collect::<Vec<_>>(),
        }),
        &text,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn userinfo_escapes_colons_and_stars() {
        assert_eq!(super::userinfo_escape("12:*:ab"), "12%3A%2A%3Aab");
        assert_eq!(super::userinfo_escape("0xAb"), "0xAb");
    }

    #[test]
    fn tls_nodes_get_an_https_url_and_curls_pin_flag() {
        let e: crate::endpoint::Endpoint =
            "tls=n.example:443 pin=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
                .parse()
                .unwrap();
        let (url, curl) = super::tls_url("u:p", e.tls.as_ref().unwrap());
        assert_eq!(url, "https://u:p@n.example:443");
        assert_eq!(
            curl,
            "--proxy https://u:p@n.example:443 --proxy-insecure --proxy-pinnedpubkey sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
