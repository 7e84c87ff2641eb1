#!/usr/bin/env bash
# The whole of Aqueduct on one machine, on loopback only: a local chain (anvil), the
# contract and a test stablecoin, an honest node, a lazy node that heartbeats but refuses
# every member, the admin's monitor, one paying member and one stranger. The honest node
# serves the member, refuses the stranger and proves it is online with heartbeats; the
# monitor probes both nodes, flags the lazy one and, once the epoch is over, withholds its
# pay; after the challenge window the honest node claims the whole epoch's share (paid to
# the operator's cold wallet).
#
# `make demo` installs the tools and builds first. By hand: `make tools build`, then
# `bash scripts/demo.sh`. AQUEDUCT_BIN picks another binary; AQUEDUCT_DEMO_KEEP=1 keeps
# the scratch directory (logs, keys, config) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$PATH"

aqueduct=${AQUEDUCT_BIN:-$PWD/target/debug/aqueduct}
work=$(mktemp -d "${TMPDIR:-/tmp}/aqueduct-demo.XXXXXX")
pids=()
current_step=""

# Every background process runs in a process group of its own (setsid), so stopping the
# group also stops anything it started.
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ]; then
        echo >&2
        echo "The demo failed during: $current_step" >&2
        for log in "$work"/node.log "$work"/lazy.log "$work"/monitor.log "$work"/anvil.log; do
            if [ -s "$log" ]; then
                echo "--- last lines of $(basename "$log") ---" >&2
                tail -n 15 "$log" >&2
            fi
        done
    fi
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    stop_within 10 "${pids[@]}"
    if [ "${AQUEDUCT_DEMO_KEEP:-}" = 1 ] || [ "$status" -ne 0 ]; then
        echo "Logs, keys and config are kept in $work" >&2
    else
        rm -rf "$work"
    fi
    echo
    echo "Everything the demo started has been stopped."
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
    current_step=$*
    printf '\n== %s\n' "$*"
}
say() { printf '   %s\n' "$*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

# Starts a command in the background in its own process group; its pid is in $last_pid.
start() {
    local log=$1
    shift
    setsid "$@" > "$log" 2>&1 < /dev/null &
    last_pid=$!
    pids+=("$last_pid")
}

# Waits up to $3 seconds for file $1 to contain a line matching pattern $2; gives up at
# once if process $4 (optional) has exited.
wait_for() {
    local file=$1 pattern=$2 seconds=$3 pid=${4:-}
    for _ in $(seq $((seconds * 10))); do
        if grep -qE "$pattern" "$file" 2>/dev/null; then return 0; fi
        if [ -n "$pid" ] && ! running "$pid"; then
            die "the process writing $(basename "$file") has exited"
        fi
        sleep 0.1
    done
    die "waited ${seconds}s for /$pattern/ in $(basename "$file")"
}

# Like wait_for, for $3 more lines matching $2 than file $1 has now (up to $4 seconds).
wait_more() {
    local file=$1 pattern=$2 more=$3 seconds=$4 pid=${5:-} want
    want=$(($(grep -cE "$pattern" "$file" 2>/dev/null || true) + more))
    for _ in $(seq $((seconds * 10))); do
        if [ "$(grep -cE "$pattern" "$file" 2>/dev/null || true)" -ge "$want" ]; then return 0; fi
        if [ -n "$pid" ] && ! running "$pid"; then
            die "the process writing $(basename "$file") has exited"
        fi
        sleep 0.1
    done
    die "waited ${seconds}s for $more more /$pattern/ in $(basename "$file")"
}

# Waits for the given background processes to exit; after $1 seconds, kills their groups.
stop_within() {
    local seconds=$1 pid
    shift
    for pid in "$@"; do
        for _ in $(seq $((seconds * 10))); do
            running "$pid" || break
            sleep 0.1
        done
        if running "$pid"; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

# True while the process lives (an exited child not yet waited for does not count).
running() {
    local state
    # The state letter follows the command name, which ends at the last ')'.
    state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The node's log line for a heartbeat transaction that made it into a block.
landed='heartbeat sent for'

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# The chain commands, each with the RPC and contract of this demo.
chain() { "$aqueduct" "$@" --rpc "$rpc" --contract "$contract"; }

step "0. Checking the tools"
for tool in curl python3 setsid anvil cast; do
    command -v "$tool" > /dev/null || die "$tool not found (\`make demo\` installs anvil and cast with \`make tools\`; curl and python3 come from the system)"
done
[ -x "$aqueduct" ] || die "$aqueduct not found: run \`make build\` (or \`make demo\`)"
say "aqueduct: $aqueduct"
say "anvil:    $(command -v anvil)"
say "scratch:  $work"

step "1. A web page to fetch, served on loopback"
echo "Hello from the other side of the aqueduct." > "$work/index.html"
start "$work/web.log" python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work"
wait_for "$work/web.log" 'port [0-9]+' 10 "$last_pid"
web_port=$(grep -oE 'port [0-9]+' "$work/web.log" | head -n1 | cut -d' ' -f2)
page="http://127.0.0.1:$web_port/index.html"
say "$page"

step "2. A local chain: anvil on a free loopback port"
anvil_port=$(free_port)
rpc="http://127.0.0.1:$anvil_port"
start "$work/anvil.log" anvil --host 127.0.0.1 --port "$anvil_port"
anvil_pid=$last_pid
wait_for "$work/anvil.log" 'Listening on' 30 "$anvil_pid"
say "anvil (pid $anvil_pid) answers at $rpc"

step "3. Who is who: five of anvil's public development accounts, and a stranger"
# These keys are printed by anvil itself to everyone: fine for a local chain, never elsewhere.
key_file() { (umask 077 && printf '%s\n' "$2" > "$work/$1.key"); }
key_file owner 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
key_file node 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
key_file member 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
key_file lazy 0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
key_file monitor 0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
stranger=$("$aqueduct" keygen --out "$work/stranger.key" --json | json_field address)
node_address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
member_address=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
payee_address=0x90F79bf6EB2c4f870365E785982E1f101E93b906
lazy_address=0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65
monitor_address=0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
say "owner    0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266  deploys and whitelists nodes"
say "node     $node_address  runs the proxy, earns"
say "payee    $payee_address  the node operator's cold wallet, receives its earnings"
say "member   $member_address  pays, browses"
say "lazy     $lazy_address  a second node: heartbeats, but refuses every member"
say "monitor  $monitor_address  the admin's monitor: a paying member that probes the nodes"
say "stranger $stranger  (a fresh key: never paid)"

step "4. Deploying the contract and a test stablecoin (aqueduct deploy --dev)"
say "Price 10 tUSD per one-day period; payouts per one-hour epoch; one heartbeat per 10-minute slot."
deployed=$("$aqueduct" deploy --dev --json --rpc "$rpc" --key "$work/owner.key" \
    --price 10 --period 1d --epoch 1h --slot 10m 2> "$work/deploy.log")
contract=$(json_field contract <<< "$deployed")
deploy_block=$(json_field deploy_block <<< "$deployed")
say "Aqueduct contract: $contract (block $deploy_block)"
say "test stablecoin:   $(json_field token <<< "$deployed"), 1000 tUSD minted to each dev account"

step "5. The owner whitelists both nodes, publishes their endpoints and names the monitor"
node_port=$(free_port)
metrics_port=$(free_port)
lazy_port=$(free_port)
chain add-node --key "$work/owner.key" --node "$node_address" --endpoint "127.0.0.1:$node_port" \
    --payee "$payee_address" 2> "$work/add-node.log" | sed 's/^/   /'
chain add-node --key "$work/owner.key" --node "$lazy_address" --endpoint "127.0.0.1:$lazy_port" \
    2> "$work/add-lazy.log" | sed 's/^/   /'
chain set-monitor --key "$work/owner.key" --monitor "$monitor_address" \
    2> "$work/set-monitor.log" | sed 's/^/   /'
say "A node earns from the epoch after the one it was added in: the chain's clock moves to"
say "the start of epoch 1 (cast rpc evm_setNextBlockTimestamp; evm_mine)."
genesis=$(cast call --rpc-url "$rpc" "$contract" 'genesis()(uint64)' | cut -d' ' -f1)
cast rpc --rpc-url "$rpc" evm_setNextBlockTimestamp $((genesis + 3600)) > /dev/null
cast rpc --rpc-url "$rpc" evm_mine > /dev/null

step "6. The member pays for one period, and so does the monitor (it probes as a member)"
chain subscribe --key "$work/member.key" --periods 1 2> "$work/subscribe.log" | sed 's/^/   /'
chain subscribe --key "$work/monitor.key" --periods 1 2> "$work/subscribe-monitor.log" | sed 's/^/   /'

step "7. Starting the node in chain mode"
cat > "$work/node.toml" <<TOML
[node]
listen = ["127.0.0.1:$node_port"]
ready_file = "$work/node.ready"

[auth]
mode = "chain"

[policy]
# The demo's web server is on loopback, which a public node refuses to reach.
allow_private = true

[chain]
rpc = ["$rpc"]
contract = "$contract"
key = "$work/node.key"
deploy_block = $deploy_block
state_file = "$work/members.json"
# Look at the chain every second (the default, 5 s, suits a real chain).
poll_secs = 1

[metrics]
listen = "127.0.0.1:$metrics_port"
TOML
say "config: $work/node.toml"
start "$work/node.log" env RUST_LOG=info "$aqueduct" node --config "$work/node.toml"
node_pid=$last_pid
wait_for "$work/node.ready" '.' 30 "$node_pid"
say "node (pid $node_pid) serves SOCKS5 and HTTP proxy clients on 127.0.0.1:$node_port"
say "and Prometheus metrics on http://127.0.0.1:$metrics_port/metrics"
wait_for "$work/node.log" "$landed slot [0-9]+" 60 "$node_pid"
say "node log: $(grep -m1 -oE "$landed slot [0-9]+.*" "$work/node.log")"

say "The lazy node: the same, except that it accepts no credential living over a second,"
say "so it refuses every member, and heartbeats all the same:"
sed -e "s|$node_port|$lazy_port|" -e "s|$work/node.key|$work/lazy.key|" \
    -e "s|$work/node.ready|$work/lazy.ready|" -e "s|$work/members.json|$work/lazy-members.json|" \
    -e '/^\[metrics\]/,$d' -e 's|^mode = "chain"|mode = "chain"\nmax_credential_lifetime_secs = 1|' \
    "$work/node.toml" > "$work/lazy.toml"
start "$work/lazy.log" env RUST_LOG=info "$aqueduct" node --config "$work/lazy.toml"
lazy_pid=$last_pid
wait_for "$work/lazy.log" "$landed slot [0-9]+" 60 "$lazy_pid"
say "lazy node log: $(grep -m1 -oE "$landed slot [0-9]+.*" "$work/lazy.log")"

step "7b. Starting the monitor: it probes every node every 2 s and may withhold"
mon_port=$(free_port)
echo_port=$(free_port)
cat > "$work/monitor.toml" <<TOML
[chain]
rpc = ["$rpc"]
contract = "$contract"
key = "$work/monitor.key"
deploy_block = $deploy_block

[monitor]
listen = "127.0.0.1:$mon_port"
echo_listen = "127.0.0.1:$echo_port"
database = "$work/monitor.db"
# A demo's pace; the defaults (5 min, 3 min, 1 MiB) suit a real network.
probe_every = "2s"
registry_refresh = "1s"
download_bytes = 65536
min_probes = 2
# Withhold the pay of nodes that heartbeat while failing the probes (default: a dry run).
withhold = true
TOML
start "$work/monitor.log" env RUST_LOG=info "$aqueduct" monitor --config "$work/monitor.toml"
monitor_pid=$last_pid
wait_more "$work/monitor.log" 'round [0-9]+ stored: 1 of 2' 2 60 "$monitor_pid"
say "the dashboard: http://127.0.0.1:$mon_port/ (JSON at /api/nodes, Prometheus at /metrics)"
say "(open it while the demo runs; AQUEDUCT_DEMO_PAUSE=SECONDS keeps everything up that long at the end)"
say "monitor log: $(grep -m1 -oE "round [0-9]+: node $lazy_address.*" "$work/monitor.log")"

step "8. The member fetches the page through the node"
say "The member signs a credential with their own wallet; nothing is sent to the chain:"
credential=$(chain token --key "$work/member.key" --node "$node_address" --ttl 1h --json)
username=$(json_field username <<< "$credential")
password=$(json_field password <<< "$credential")
say "aqueduct token --node $node_address --ttl 1h"
say "  username: $username"
say "  password: ${password:0:40}... (expiry:node:signature)"
say "curl over SOCKS5:"
curl --silent --show-error --max-time 20 --socks5-hostname "127.0.0.1:$node_port" \
    --proxy-user "$username:$password" "$page" | sed 's/^/     > /'
say "curl over the HTTP proxy:"
curl --silent --show-error --max-time 20 --proxy "http://127.0.0.1:$node_port" \
    --proxy-user "$username:$password" "$page" | sed 's/^/     > /'

step "9. The stranger is refused"
stranger_credential=$(chain token --key "$work/stranger.key" --node any --ttl 1h --json \
    2> "$work/stranger-token.log")
say "aqueduct token signs it anyway, with a warning:"
sed 's/^/     /' "$work/stranger-token.log"
s_user=$(json_field username <<< "$stranger_credential")
s_pass=$(json_field password <<< "$stranger_credential")
code=$(curl --silent --max-time 20 --output /dev/null --write-out '%{http_code}' \
    --proxy "http://127.0.0.1:$node_port" --proxy-user "$s_user:$s_pass" "$page")
say "a well-signed credential of a non-member: the HTTP proxy answers $code"
[ "$code" = 407 ] || die "expected 407 for the stranger, got $code"
if curl --silent --max-time 20 --output /dev/null --socks5-hostname "127.0.0.1:$node_port" \
    --proxy-user "$s_user:$s_pass" "$page"; then
    die "the stranger got through over SOCKS5"
fi
say "and over SOCKS5 the node refuses the username/password (curl fails)"

step "10. Heartbeats landing, one per slot"
say "The chain's clock jumps 10 minutes ahead (cast rpc evm_increaseTime 600; evm_mine):"
cast rpc --rpc-url "$rpc" evm_increaseTime 600 > /dev/null
cast rpc --rpc-url "$rpc" evm_mine > /dev/null
wait_for "$work/node.log" "$landed slot 7" 60 "$node_pid"
grep -oE "$landed slot [0-9]+.*" "$work/node.log" | sed 's/^/   node log: /'
say "aqueduct status for the node (the chain's view, then the running node's):"
chain status --address "$node_address" --metrics "http://127.0.0.1:$metrics_port/metrics" \
    | sed 's/^/     | /'

step "11. The monitor's view: measured beside what each node reports"
# Two more rounds: the monitor has read the heartbeats of slot 7 by then (it reads every second).
wait_more "$work/monitor.log" 'round [0-9]+ stored: 1 of 2' 2 60 "$monitor_pid"
curl --silent --show-error --max-time 10 "http://127.0.0.1:$mon_port/api/nodes" | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    u = n["reported_usage_24h"]
    up = "-" if n["uptime_24h"] is None else "%.0f%%" % (100 * n["uptime_24h"])
    print("   %s  %-8s uptime %4s (measured)  heartbeats %d, sessions %d, bytes %d (reported)%s" % (
        n["node"], n["state"], up, n["heartbeats_24h"], u["sessions"], u["bytes_relayed"],
        "  FLAGGED: " + n["flag"] if n["flag"] else ""))'

step "12. Epoch 1 ends: the monitor withholds the lazy node's pay for it"
say "An epoch settles one full epoch after it ends: the hour after it is the monitor's"
say "challenge window, in which it may withhold a node that did not serve."
say "The chain's clock moves to the start of epoch 2:"
cast rpc --rpc-url "$rpc" evm_setNextBlockTimestamp $((genesis + 7200)) > /dev/null
cast rpc --rpc-url "$rpc" evm_mine > /dev/null
wait_for "$work/monitor.log" "withheld node $lazy_address epoch 1" 60 "$monitor_pid"
say "monitor log: $(grep -m1 -oE "withheld node $lazy_address epoch 1.*" "$work/monitor.log")"

step "13. An hour later: epoch 1 is settled, the honest node's share is waiting"
cast rpc --rpc-url "$rpc" evm_increaseTime 3600 > /dev/null
cast rpc --rpc-url "$rpc" evm_mine > /dev/null
claimable=$(chain status --address "$node_address" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["claimable"]["base_units"])')
[ "$claimable" -gt 0 ] || die "nothing claimable after the epoch"
say "The member's and the monitor's 10 tUSD each stream over the seconds of their day, so"
say "each hourly epoch holds what the streams delivered in it. Both nodes heartbeated in"
say "epoch 1, but the lazy node's slots were withheld, so that epoch's whole share is the"
say "honest node's, and the lazy node's is nothing:"
chain status --address "$node_address" | grep -E '^claimable' | sed 's/^/     | /'
chain status --address "$lazy_address" | grep -E '^claimable' | sed 's/^/     | lazy node /'

step "14. The operator stops the node (SIGTERM: it drains, then exits) and claims"
kill -TERM -- "-$node_pid"
stop_within 30 "$node_pid"
say "node stopped; its last line: $(tail -n1 "$work/node.log" | sed -E 's/^\[[^]]*\] //')"
chain claim --key "$work/node.key" 2> "$work/claim.log" | sed 's/^/   /'
chain status --address "$node_address" | grep -E '^claimable' | sed 's/^/   node /'
chain status --address "$payee_address" | grep -E '^balance' | sed 's/^/   payee /'

if [ -n "${AQUEDUCT_DEMO_PAUSE:-}" ]; then
    say "Pausing ${AQUEDUCT_DEMO_PAUSE}s: the dashboard is at http://127.0.0.1:$mon_port/"
    sleep "$AQUEDUCT_DEMO_PAUSE"
fi

step "Done"
say "A member paid, browsed through a node with a credential from their own wallet,"
say "a stranger was refused, the monitor caught the node that took pay without serving,"
say "and the honest node was paid the whole epoch."
