#!/usr/bin/env bash
# The gas a user pays, from real transaction receipts: deploys the committed artifacts on a
# throwaway anvil (loopback only), then subscribes, renews, heartbeats, claims and refunds
# with cast and prints each receipt's gasUsed. Heartbeats report a busy hour (1,200 sessions,
# 3.5 GB, 150 members). Every call is its own transaction, so every
# account and slot it touches starts cold, as on a real chain; the README's gas table is
# this script's output. Usage: scripts/gas-on-anvil.sh (after `make tools`).
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
owner_key=$(key 0); node_key=$(key 1); member_key=$(key 2); other_key=$(key 3); payee_key=$(key 4)
node2_key=$(key 5); node2=$(cast wallet address "$node2_key")
third_key=$(key 6); third=$(cast wallet address "$third_key")
monitor_key=$(key 7); monitor=$(cast wallet address "$monitor_key")
owner=$(cast wallet address "$owner_key"); node=$(cast wallet address "$node_key")
member=$(cast wallet address "$member_key"); other=$(cast wallet address "$other_key")
payee=$(cast wallet address "$payee_key")

field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(/^0x/.test(v)&&process.argv[1]==="gasUsed"?BigInt(v).toString():v)})' "$1"; }
send() { local key=$1; shift; cast send --rpc-url "$rpc" --private-key "$key" --json "$@"; }
gas() { local label=$1; shift; printf '%-70s %s\n' "$label" "$(send "$@" | field gasUsed)"; }
now() { cast block --rpc-url "$rpc" latest --field timestamp; }
# Moves the chain to `seconds` after genesis (the next block's timestamp).
at() { cast rpc --rpc-url "$rpc" evm_setNextBlockTimestamp $((genesis + $1)) >/dev/null; cast rpc --rpc-url "$rpc" evm_mine >/dev/null; }

hour=3600; day=86400
usd=$(send "$owner_key" --create "$(node -p 'require("./artifacts/TestStablecoin.json").bytecode')" | field contractAddress)
# 5 tUSD per 30-day period, 1-day epochs, 1-hour slots, at most 12 periods ahead.
args=$(cast abi-encode "f(address,uint256,uint64,uint64,uint64,uint256,address)" "$usd" 5000000 2592000 $day $hour 12 "$owner")
aq=$(send "$owner_key" --create "$(node -p 'require("./artifacts/Aqueduct.json").bytecode')${args#0x}" | field contractAddress)
genesis=$(cast call --rpc-url "$rpc" "$aq" 'genesis()(uint64)' | cut -d' ' -f1)

for who in "$member_key" "$other_key" "$third_key"; do
    send "$owner_key" "$usd" "mint(address,uint256)" "$(cast wallet address "$who")" 100000000 >/dev/null
    send "$who" "$usd" "approve(address,uint256)" "$aq" 100000000 >/dev/null
done
send "$owner_key" "$usd" "mint(address,uint256)" "$payee" 1 >/dev/null # a payee that holds tokens

gas "addNode" "$owner_key" "$aq" "addNode(address,string,address)" "$node" "node.example:1080" "$payee"
send "$owner_key" "$aq" "addNode(address,string,address)" "$node2" "node2.example:1080" "$payee" >/dev/null
at $((day + 600)) # epoch 1, the first the node earns in
gas "subscribe: the first payment into the contract" "$member_key" "$aq" "subscribe(address,uint256)" "$member" 1
at $((4 * day + 5 * hour))
gas "subscribe: new member, epochs nobody paid into yet" "$other_key" "$aq" "subscribe(address,uint256)" "$other" 1
gas "subscribe: new member, same epochs as another payment" "$other_key" "$aq" "subscribe(address,uint256)" "$payee" 1
at $((5 * day))
send "$third_key" "$aq" "subscribe(address,uint256)" "$third" 1 >/dev/null # on an epoch's first second
at $((6 * day + 7 * hour))
gas "subscribe: renewal (typical: the one before began mid-epoch)" "$member_key" "$aq" "subscribe(address,uint256)" "$member" 1
gas "subscribe: renewal of one that began on an epoch's first second" "$third_key" "$aq" "subscribe(address,uint256)" "$third" 1

at $((7 * day + 60))
gas "imOnline: first of an epoch network-wide (settles 6)" "$node_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150
at $((7 * day + hour + 60))
gas "imOnline: later in the epoch" "$node_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150
at $((8 * day + 60))
gas "imOnline: first of an epoch network-wide (settles 1 nobody served)" "$node_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150
gas "imOnline: first of this node in the epoch (another settled)" "$node2_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150
at $((8 * day + hour + 60))
gas "imOnline: later in the epoch" "$node_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150
gas "setMonitor" "$owner_key" "$aq" "setMonitor(address)" "$monitor"
at $((9 * day + 30)) # epoch 8's challenge window
gas "withhold: a node's slots of the epoch just ended" "$monitor_key" "$aq" "withhold(address,uint64,uint8,bytes32)" "$node2" 8 1 "$(cast keccak probes)"
at $((9 * day + 60))
gas "imOnline: first of an epoch network-wide (settles 1 nodes served)" "$node_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150
for d in $(seq 10 40); do
    at $((d * day + 60))
    send "$node_key" "$aq" "imOnline(uint64,uint64,uint64)" 1200 3500000000 150 >/dev/null
done
gas "claim: 1 epoch (the payee holds the token already)" "$owner_key" "$aq" "claim(address,uint256)" "$node" 1
gas "claim: 30 epochs" "$owner_key" "$aq" "claim(address,uint256)" "$node" 30
until=$(cast call --rpc-url "$rpc" "$aq" 'memberUntil(address)(uint64)' "$member" | cut -d' ' -f1)
first_until=$((until - 2592000))
gas "refund: days 1-6 nobody served (payer holds tokens)" "$other_key" "$aq" "refund(address,uint64)" "$member" "$first_until"
echo "payee balance: $(cast call --rpc-url "$rpc" "$usd" "balanceOf(address)(uint256)" "$payee")"
echo "member balance: $(cast call --rpc-url "$rpc" "$usd" "balanceOf(address)(uint256)" "$member")"
