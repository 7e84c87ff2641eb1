#!/usr/bin/env bash
# Cross-checks the gas figures of test/Gas.t.sol with real transactions: deploys the committed
# artifacts on a throwaway anvil (loopback only), then subscribes, heartbeats and claims with
# cast and prints each receipt's gasUsed. Usage: scripts/gas-on-anvil.sh (after `make tools`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(cd ../tools/node_modules/.bin && pwd):$PATH"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
rpc="http://127.0.0.1:$port"
anvil --host 127.0.0.1 --port "$port" --silent &
anvil_pid=$!
trap 'kill "$anvil_pid" 2>/dev/null' EXIT
for _ in $(seq 50); do cast chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done

mnemonic="test test test test test test test test test test test junk"
key() { cast wallet private-key --mnemonic "$mnemonic" --mnemonic-index "$1"; }
owner_key=$(key 0); node_key=$(key 1); member_key=$(key 2)
owner=$(cast wallet address "$owner_key"); node=$(cast wallet address "$node_key"); member=$(cast wallet address "$member_key")

field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(/^0x/.test(v)&&process.argv[1]==="gasUsed"?BigInt(v).toString():v)})' "$1"; }
send() { local key=$1; shift; cast send --rpc-url "$rpc" --private-key "$key" --json "$@"; }
gas() { local label=$1; shift; printf '%-44s %s\n' "$label" "$(send "$@" | field gasUsed)"; }
warp() { cast rpc --rpc-url "$rpc" evm_increaseTime "$1" >/dev/null; }

usd=$(send "$owner_key" --create "$(node -p 'require("./artifacts/TestStablecoin.json").bytecode')" | field contractAddress)
args=$(cast abi-encode "f(address,uint256,uint64,uint64,uint64,address,address)" "$usd" 5000000 2592000 86400 3600 "$owner" "$owner")
aq=$(send "$owner_key" --create "$(node -p 'require("./artifacts/Aqueduct.json").bytecode')${args#0x}" | field contractAddress)

send "$owner_key" "$usd" "mint(address,uint256)" "$member" 100000000 >/dev/null
send "$member_key" "$usd" "approve(address,uint256)" "$aq" 100000000 >/dev/null
gas "addNode" "$owner_key" "$aq" "addNode(address,string)" "$node" "node.example:1080"
gas "subscribe (new member)" "$member_key" "$aq" "subscribe(address,uint256)" "$member" 1
gas "subscribe (renewal)" "$member_key" "$aq" "subscribe(address,uint256)" "$member" 1
gas "imOnline (node's first ever)" "$node_key" "$aq" "imOnline()"
warp 3600
gas "imOnline (later in the epoch)" "$node_key" "$aq" "imOnline()"
warp 86400
gas "imOnline (first of an epoch, settles)" "$node_key" "$aq" "imOnline()"
warp 3600
gas "imOnline (later in the epoch)" "$node_key" "$aq" "imOnline()"
warp 86400
gas "imOnline (first of an epoch, settles)" "$node_key" "$aq" "imOnline()"
warp 86400
gas "claim (first payout, 2 epochs)" "$node_key" "$aq" "claim(uint256)" 10
warp 86400
gas "imOnline (first of an epoch, settles)" "$node_key" "$aq" "imOnline()"
warp 86400
gas "imOnline (first of an epoch, settles)" "$node_key" "$aq" "imOnline()"
gas "claim (1 epoch, node already paid before)" "$node_key" "$aq" "claim(uint256)" 10
echo "node balance: $(cast call --rpc-url "$rpc" "$usd" "balanceOf(address)(uint256)" "$node")"
