#!/usr/bin/env bash
# The static-auth demo: start a node, fetch a page from a local web server through it with
# curl (SOCKS5 and HTTP proxy), show a wrong password being refused, then stop everything.
# `make demo` builds first; run by hand, build with `cargo build` before.
set -euo pipefail
cd "$(dirname "$0")/.."

aqueduct=target/debug/aqueduct
work=$(mktemp -d)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# Waits up to 10 s for a file to contain a line matching a pattern.
wait_for() {
    local file=$1 pattern=$2
    for _ in $(seq 100); do
        if grep -qE "$pattern" "$file" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for /$pattern/ in $file" >&2
    return 1
}

step "A web server on loopback with one page"
echo "Hello from the other side of the aqueduct." > "$work/index.html"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work" > "$work/web.log" 2>&1 &
pids+=($!)
wait_for "$work/web.log" 'port [0-9]+'
web_port=$(grep -oE 'port [0-9]+' "$work/web.log" | head -n1 | cut -d' ' -f2)
echo "serving on 127.0.0.1:$web_port"

step "A node with one static account (listening on a free loopback port)"
cat > "$work/node.toml" <<TOML
[node]
listen = ["127.0.0.1:0"]
ready_file = "$work/ready"

[auth]
mode = "static"
[[auth.users]]
name = "demo"
password = "demo-password"

[policy]
# The demo's web server is on loopback, which a node refuses to reach by default.
allow_private = true
TOML
"$aqueduct" node --config "$work/node.toml" 2> "$work/node.log" &
node_pid=$!
pids+=("$node_pid")
wait_for "$work/ready" '.'
proxy=$(head -n1 "$work/ready")
echo "node listening on $proxy"

step "curl over SOCKS5 (the node resolves 'localhost')"
curl --silent --show-error --max-time 10 \
    --socks5-hostname "$proxy" --proxy-user demo:demo-password \
    "http://localhost:$web_port/index.html"

step "curl over the HTTP proxy, plain and as a CONNECT tunnel"
curl --silent --show-error --max-time 10 \
    --proxy "http://$proxy" --proxy-user demo:demo-password \
    "http://127.0.0.1:$web_port/index.html"
curl --silent --show-error --max-time 10 --proxytunnel \
    --proxy "http://$proxy" --proxy-user demo:demo-password \
    "http://127.0.0.1:$web_port/index.html"

step "A wrong password is refused"
status=$(curl --silent --max-time 10 --output /dev/null --write-out '%{http_code}' \
    --proxy "http://$proxy" --proxy-user demo:wrong "http://127.0.0.1:$web_port/")
echo "HTTP proxy answered $status"
[ "$status" = 407 ]

step "SIGTERM: the node drains and exits 0"
kill -TERM "$node_pid"
wait "$node_pid"
echo "node exited with status $?"

step "The node's log (one line per session; no passwords)"
cat "$work/node.log"
