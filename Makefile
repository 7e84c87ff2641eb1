# Aqueduct: `make demo` runs the whole system on a local chain; `make test` runs what CI runs.

CARGO ?= cargo
TOOLS := $(CURDIR)/tools/node_modules/.bin
export PATH := $(TOOLS):$(PATH)

.PHONY: all build release tools lint test test-rust test-fuzz-build test-contracts test-web web site demo install clean fuzz fuzz-stable bench-peers bench bench-quick

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# forge, anvil, cast, solc and OpenZeppelin, pinned by tools/package-lock.json.
tools: tools/node_modules/.installed

tools/node_modules/.installed: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund
	touch $@

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet

test: tools lint test-contracts test-rust test-fuzz-build test-web

test-contracts: tools
	$(MAKE) -C contracts test

test-rust: tools
	$(CARGO) test --no-fail-fast --lib --bins --tests

# The fuzz crate (its own workspace, fuzz/) is built, not run, so a parser change that
# breaks it fails here; `make fuzz` / `make fuzz-stable` run it.
test-fuzz-build:
	cd fuzz && $(CARGO) build --locked --bins

demo: tools build
	bash scripts/demo.sh

# The website (web/): viem, esbuild, TypeScript and playwright-core, pinned by
# web/package-lock.json; `make web` builds the static site into web/dist/.
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web: web/node_modules/.installed
	cd web && node build.mjs

# Type check, unit tests, then the site in Debian's chromium against anvil, the contract
# from `aqueduct deploy --dev` and a chain-mode node (web/test/e2e/).
test-web: tools build web
	cd web && npx tsc -p . && node build.mjs --tests && node --test build/test/

# The site on a local chain: anvil, the contract, a node, the site on loopback (Ctrl-C stops all).
site: tools build web
	bash scripts/site.sh

# The release binary, the systemd unit and its system user, the example config and the README
# (scripts/install.sh).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
# Needs no cargo: build as yourself (`make release`), then install as root.
install:
	@test -x target/release/aqueduct || { echo "make install: target/release/aqueduct is not built; run 'make release' first (as your user, not root)" >&2; exit 1; }
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" bash scripts/install.sh target/release/aqueduct

clean:
	$(CARGO) clean
	rm -rf tools/node_modules contracts/out contracts/cache

# Coverage-guided fuzzing of the protocol parsers (cargo-fuzz on stable via RUSTC_BOOTSTRAP).
FUZZ_SECONDS ?= 300
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	for t in socks5 http tls endpoint; do mkdir -p fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -dict=fuzz/$$t.dict -max_total_time=$(FUZZ_SECONDS) || exit 1; done

# The same invariants over mutated seeds, without sanitizers; bounded in count and time.
fuzz-stable:
	cd fuzz && $(CARGO) run --release --bin mutate -- all 100000000 60

# Peers for `make bench`: Debian's microsocks, dante-server and hpsockd, and pproxy from
# PyPI in a venv under target/ (apt-get needs root, as on the dev and CI machines).
bench-peers:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends microsocks dante-server hpsockd
	python3 -m venv target/bench-peers/pproxy
	target/bench-peers/pproxy/bin/pip install --quiet --disable-pip-version-check pproxy

# Aqueduct (each relay mode) against the peers and the direct baseline, on loopback.
# cargo bench builds the release binary; rewrites BENCHMARKS.md and BENCHMARKS.svg (~6 min).
bench:
	$(CARGO) bench --bench proxy

# About 80 s, for checking the harness; writes to target/bench-work/ only.
bench-quick:
	AQ_BENCH_QUICK=1 $(CARGO) bench --bench proxy
