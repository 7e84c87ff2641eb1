#!/usr/bin/env bash
# The website on a local chain, on loopback only: anvil, the contract and a test
# stablecoin (`aqueduct deploy --dev`), one whitelisted node in chain mode, and the built
# site (web/dist) served with a config.json for this chain. Prints the URL and the dev
# wallet to import; Ctrl-C stops everything it started.
#
# `make site` installs the tools and builds first. By hand: `make tools build web`, then
# `bash scripts/site.sh`. SITE_PORT picks the site's port (default: a free one);
# AQUEDUCT_BIN another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$PATH"

aqueduct=${AQUEDUCT_BIN:-$PWD/target/debug/aqueduct}
work=$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-site.XXXXXX")
pids=()

# Every background process runs in a process group of its own (setsid), so stopping the
# group also stops what it started (the npm anvil is a wrapper around the real binary).
cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ] && [ "$status" -ne 130 ]; then
        for log in "$work"/*.log; do
            [ -s "$log" ] && { echo "--- last lines of $(basename "$log") ---"; tail -n 15 "$log"; } >&2
        done
        echo "Logs are kept in $work" >&2
    else
        rm -rf "$work"
    fi
    echo
    echo "Everything the site started has been stopped."
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "site: $*" >&2; exit 1; }

start() {
    local log=$1
    shift
    setsid "$@" > "$log" 2>&1 < /dev/null &
    pids+=("$!")
}

# Waits up to $3 seconds for file $1 to match $2.
wait_for() {
    for _ in $(seq $(($3 * 10))); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    die "waited $3 s for /$2/ in $(basename "$1")"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

for tool in anvil cast python3 setsid; do
    command -v "$tool" > /dev/null || die "$tool not found (\`make site\` installs anvil with \`make tools\`)"
done
[ -x "$aqueduct" ] || die "$aqueduct not found: run \`make build\` (or \`make site\`)"
[ -f web/dist/index.html ] || die "web/dist not built: run \`make web\` (or \`make site\`)"

echo "Starting anvil, deploying, starting a node..."
anvil_port=$(free_port)
rpc="http://127.0.0.1:$anvil_port"
start "$work/anvil.log" anvil --host 127.0.0.1 --port "$anvil_port"
wait_for "$work/anvil.log" 'Listening on' 30

# anvil's public development keys: fine for a local chain, never anywhere else.
owner_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
node_key=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
node_address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
member_key=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
member_address=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
payee_key=0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
payee_address=0x976EA74026E726554dB657fA54763abd0C3a0aa9
(umask 077 && echo "$owner_key" > "$work/owner.key" && echo "$node_key" > "$work/node.key")

deployed=$("$aqueduct" deploy --dev --json --rpc "$rpc" --key "$work/owner.key" \
    --price 5 --period 30d --epoch 1d --slot 1h 2> "$work/deploy.log")
contract=$(json_field contract <<< "$deployed")
token=$(json_field token <<< "$deployed")
deploy_block=$(json_field deploy_block <<< "$deployed")

node_port=$(free_port)
"$aqueduct" add-node --rpc "$rpc" --contract "$contract" --key "$work/owner.key" \
    --node "$node_address" --endpoint "127.0.0.1:$node_port" --payee "$payee_address" > "$work/add-node.log" 2>&1
# A node earns (and heartbeats) from the epoch after the one it was added in: move the
# chain's clock there, so the node is online from the start.
genesis=$(cast call --rpc-url "$rpc" "$contract" 'genesis()(uint64)' | awk '{print $1}')
epoch_length=$(cast call --rpc-url "$rpc" "$contract" 'epochLength()(uint64)' | awk '{print $1}')
now=$(cast block --rpc-url "$rpc" latest --field timestamp)
cast rpc --rpc-url "$rpc" evm_increaseTime $((genesis + epoch_length - now)) > /dev/null
cast rpc --rpc-url "$rpc" evm_mine > /dev/null
cat > "$work/node.toml" <<TOML
[node]
listen = ["127.0.0.1:$node_port"]
ready_file = "$work/node.ready"

[auth]
mode = "chain"

[policy]
# Lets you try the proxy against a page served on this machine.
allow_private = true

[chain]
rpc = ["$rpc"]
contract = "$contract"
key = "$work/node.key"
deploy_block = $deploy_block
state_file = "$work/members.json"
poll_secs = 1
TOML
start "$work/node.log" env RUST_LOG=info "$aqueduct" node --config "$work/node.toml"
wait_for "$work/node.ready" '.' 30

mkdir "$work/site"
cp -r web/dist/. "$work/site/"
cp README.md "$work/site/README.md"
cat > "$work/site/config.json" <<JSON
{
  "chainId": 31337,
  "chainName": "Anvil (local)",
  "rpc": ["$rpc"],
  "contract": "$contract",
  "deployBlock": $deploy_block,
  "maxCredentialLifetimeSecs": 2592000,
  "readmeUrl": "README.md#running-a-node"
}
JSON
site_port=${SITE_PORT:-$(free_port)}
start "$work/site.log" python3 -u -m http.server "$site_port" --bind 127.0.0.1 --directory "$work/site"
wait_for "$work/site.log" "port $site_port" 10

cat <<TEXT

The site:    http://127.0.0.1:$site_port/

Add this chain to your browser wallet: RPC $rpc, chain id 31337, currency ETH.
Then import a development account (anvil's public test keys; never use them elsewhere):
  member    $member_address
            private key $member_key
            holds 1000 tUSD (token $token) to pay with on the Join page
  payee     $payee_address
            private key $payee_key
            where the node's earnings go (any wallet may send the claim on the
            Operators page; the contract pays this one)

The node ($node_address) serves SOCKS5 and HTTP proxy clients on 127.0.0.1:$node_port
(chain mode). Contract $contract. Price 5 tUSD per 30 days, at most 12 periods ahead,
payouts per 1-day epoch. An epoch's earnings can be claimed one full epoch after it ends
(the monitor's challenge window); to move the chain's clock a day ahead:
  cast rpc --rpc-url $rpc evm_increaseTime 86400 && cast rpc --rpc-url $rpc evm_mine

Press Ctrl-C to stop everything.
TEXT
while :; do
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "a process the site started has exited (see $work)"
    done
    sleep 1
done
