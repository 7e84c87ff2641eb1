//! One module per `aqueduct` subcommand, each with `pub fn run(args: Args) -> CmdResult`.

use crate::args::{Args, CmdResult, Failure};

pub mod chain;
pub mod local;
pub mod node;

pub const USAGE: &str = "\
aqueduct: a paid proxy network of independent nodes, settled on an EVM chain

usage: aqueduct <command> [flags]

Running a node
  node --config FILE           run the SOCKS5 + HTTP proxy node
  local                        one local proxy that uses the whole network (members)
  monitor --config FILE        probe every node, dashboard (admin); `monitor report`

Chain commands (flags: --rpc URL | AQUEDUCT_RPC, --key FILE, --contract ADDR,
or the same from --config FILE's [chain] section; --json for machine output)
  keygen --out FILE            create a new key file (mode 0600), print its address
  deploy                       deploy the Aqueduct contract (--dev: plus a test stablecoin)
  add-node / remove-node       whitelist or remove a node (owner)
  set-endpoint                 publish this node's host:port (node)
  set-payee                    name a new payee for a node's earnings (payee)
  set-monitor                  name the monitor that may withhold unserved slots (owner)
  subscribe --periods N        pay for membership (approves the token as needed)
  token --node ADDR|any --ttl DURATION
                               sign a member credential and print proxy URLs
  status [--address ADDR]      membership, node state, heartbeats, claimable earnings
  claim [--node ADDR]          pay a node's earnings to its payee
  refund                       take back what epochs nobody served owe your payments
  settle                       settle finished epochs after a long quiet spell
  nodes                        list registered nodes

  help [COMMAND], -h/--help (after any command: its flags), -V/--version

exit codes: 0 done (also when there was nothing to do), 1 failed, 2 usage error
";

pub fn dispatch(name: &str, args: Args) -> CmdResult {
    match name {
        "node" => node::run(args),
        "local" => local::run(args),
        "monitor" => crate::monitor::cli::run(args),
        "keygen" | "deploy" | "add-node" | "remove-node" | "set-endpoint" | "set-payee"
        | "set-monitor" | "subscribe" | "token" | "status" | "claim" | "refund" | "settle"
        | "nodes" => chain::run(name, args),
        other => Err(Failure::usage(format!("unknown command `{other}`"))
            .hint("run `aqueduct help` for the list of commands")),
    }
}
