// A whole local network for the browser tests: anvil, the contract and test token from
// `aqueduct deploy --dev` (the Rust binary), dev account 1 whitelisted as a node, the
// real `aqueduct node` in chain mode, and an origin web server to fetch through it.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPublicClient, createWalletClient, defineChain, http, type Address, type PublicClient } from "viem";
import { aqueductAbi, tokenAbi } from "../../src/chain";
import { repoPath } from "./paths";
import { Proc, WAIT_MS, eventually, freePort, removeDir, scratchDir, sleep } from "./procs";

const run = promisify(execFile);

/** anvil's public development keys and their addresses (never use them elsewhere). */
export const DEV = [
  { key: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" },
  { key: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" },
  { key: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a", address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" },
  { key: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6", address: "0x90F79bf6EB2c4f870365E785982E1f101E93b906" },
  { key: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a", address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65" },
  { key: "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba", address: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc" },
  { key: "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e", address: "0x976EA74026E726554dB657fA54763abd0C3a0aa9" },
  { key: "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356", address: "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955" },
] as const;
export const OWNER = 0;
export const NODE = 1;
export const MEMBER = 2;
export const STRANGER = 5;
/** Where the node's earnings go (its operator's cold wallet): not the node's own key. */
export const PAYEE = 6;
/** The deployment the tests run against: 100 tUSD a day, at most 12 days paid ahead. */
export const PRICE = 100;
/** The real `aqueduct monitor`'s member key (it probes the nodes as a paying member). */
export const MONITOR = 7;
export const MAX_PERIODS = 12;
export const CHAIN_ID = 31337;

export const AQUEDUCT_BIN =
  process.env.AQUEDUCT_BIN ?? join(process.env.CARGO_TARGET_DIR ?? repoPath("target"), "debug/aqueduct");
const ANVIL = repoPath("tools/node_modules/.bin/anvil");

/** The origin's answer, fetched through the node by curl. */
export const ORIGIN_BODY = "hello through the aqueduct\n";

export class LocalNet {
  dir = scratchDir("net");
  anvil?: Proc;
  node?: Proc;
  monitor?: Proc;
  origin?: Server;
  rpc = "";
  contract = "" as Address;
  token = "" as Address;
  deployBlock = 0;
  nodePort = 0;
  originUrl = "";
  client!: PublicClient;

  keyFile(i: number): string {
    const path = join(this.dir, `dev${i}.key`);
    writeFileSync(path, `${DEV[i].key}\n`);
    chmodSync(path, 0o600);
    return path;
  }

  async start(): Promise<void> {
    // A port taken between picking and binding makes anvil exit: try again on another.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      this.anvil = new Proc("anvil", ANVIL, ["--host", "127.0.0.1", "--port", String(port)], join(this.dir, `anvil-${attempt}.log`));
      try {
        await this.anvil.waitLog(/Listening on/);
        this.rpc = `http://127.0.0.1:${port}`;
        break;
      } catch (e) {
        await this.anvil.stop();
        if (attempt >= 4) throw e;
      }
    }
    const chain = defineChain({
      id: CHAIN_ID,
      name: "anvil",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [this.rpc] } },
    });
    this.client = createPublicClient({ chain, transport: http(this.rpc) }) as PublicClient;
    const deployed = JSON.parse(
      await this.aqueduct(OWNER, [
        "deploy", "--dev", "--json", "--price", String(PRICE), "--period", "1d", "--epoch", "1h", "--slot", "10m",
        "--max-periods", String(MAX_PERIODS),
      ]),
    );
    this.contract = deployed.contract;
    this.token = deployed.token;
    this.deployBlock = deployed.deploy_block;
    this.nodePort = await freePort();
    await this.aqueduct(OWNER, ["add-node", "--node", DEV[NODE].address, "--endpoint", `127.0.0.1:${this.nodePort}`, "--payee", DEV[PAYEE].address], true);
    // A node earns (and heartbeats) from the epoch after the one it was added in: start there.
    const [genesis, epochLength] = await Promise.all([this.read<bigint>("genesis"), this.read<bigint>("epochLength")]);
    await this.warpTo(Number(genesis + epochLength));
    await this.startOrigin();
    await this.startNode();
  }

  /** Moves the chain's clock to unix time `ts` (if it is ahead) and mines a block. */
  async warpTo(ts: number): Promise<void> {
    const head = await this.client.getBlock({ blockTag: "latest" });
    const ahead = ts - Number(head.timestamp);
    if (ahead > 0) await this.warp(ahead);
  }

  /** Runs `aqueduct ARGS` as dev account `key` against this chain; its stdout. */
  async aqueduct(key: number, args: string[], withContract = false): Promise<string> {
    const full = [...args, "--rpc", this.rpc, "--key", this.keyFile(key)];
    if (withContract) full.push("--contract", this.contract);
    const { stdout } = await run(AQUEDUCT_BIN, full, { env: { ...process.env, AQUEDUCT_QUIET: "1" }, timeout: WAIT_MS });
    return stdout;
  }

  private async startOrigin(): Promise<void> {
    this.origin = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(ORIGIN_BODY);
    });
    await new Promise<void>((r) => this.origin!.listen(0, "127.0.0.1", r));
    this.originUrl = `http://127.0.0.1:${(this.origin.address() as { port: number }).port}/`;
  }

  /** The real node, chain-mode auth, on the endpoint the registry lists. */
  async startNode(): Promise<void> {
    const d = this.dir;
    writeFileSync(join(d, "hosts"), "127.0.0.1 localhost\n");
    const ready = join(d, "node.ready");
    writeFileSync(
      join(d, "node.toml"),
      `[node]
listen = ["127.0.0.1:${this.nodePort}"]
ready_file = "${ready}"

[auth]
mode = "chain"

[metrics]
# The heartbeats' bytes-relayed counter is read from the node's own metrics.
listen = "127.0.0.1:${await freePort()}"

[policy]
# The origin is on loopback, which a public node refuses to reach.
allow_private = true

[dns]
nameservers = ["127.0.0.1:9"]
resolv_conf = "${join(d, "resolv.conf")}"
hosts_file = "${join(d, "hosts")}"

[chain]
rpc = ["${this.rpc}"]
contract = "${this.contract}"
key = "${this.keyFile(NODE)}"
deploy_block = ${this.deployBlock}
state_file = "${join(d, "members.json")}"
poll_secs = 1
`,
    );
    this.node = new Proc("aqueduct node", AQUEDUCT_BIN, ["node", "--config", join(d, "node.toml")], join(d, "node.log"), {
      RUST_LOG: "info",
    });
    const node = this.node;
    await eventually("the node's ready file", async () => {
      if (!node.running) throw new Error(`the node exited:\n${node.text()}`);
      return existsSync(ready);
    });
  }

  /**
   * The real `aqueduct monitor`, paying as dev account MONITOR, probing every second;
   * resolves to its dashboard's base URL (where /api/nodes is).
   */
  async startMonitor(): Promise<string> {
    const d = this.dir;
    await this.aqueduct(MONITOR, ["subscribe", "--periods", "1"], true);
    const echo = await freePort();
    writeFileSync(
      join(d, "monitor.toml"),
      `[chain]
rpc = ["${this.rpc}"]
key = "${this.keyFile(MONITOR)}"
contract = "${this.contract}"
deploy_block = ${this.deployBlock}

[monitor]
listen = "127.0.0.1:0"
echo_listen = "127.0.0.1:${echo}"
echo_url = "http://127.0.0.1:${echo}"
database = "${join(d, "monitor.db")}"
probe_every = "1s"
probe_timeout = 8
registry_refresh = "1s"
download_bytes = 65536
`,
    );
    this.monitor = new Proc("aqueduct monitor", AQUEDUCT_BIN, ["monitor", "--config", join(d, "monitor.toml")], join(d, "monitor.log"), {
      RUST_LOG: "info",
    });
    const m = await this.monitor.waitLog(/dashboard on (http:\/\/[^\s/]+)\//);
    return m[1];
  }

  async stopNode(): Promise<void> {
    await this.node?.stop(30_000);
  }

  async stop(): Promise<void> {
    await this.monitor?.stop();
    await this.node?.stop();
    await this.anvil?.stop();
    await new Promise<void>((r) => (this.origin ? this.origin.close(() => r()) : r()));
    if (process.env.AQUEDUCT_WEB_KEEP !== "1") removeDir(this.dir);
  }

  read<T>(functionName: string, args: readonly unknown[] = []): Promise<T> {
    return this.client.readContract({ address: this.contract, abi: aqueductAbi, functionName, args }) as Promise<T>;
  }

  tokenBalance(who: string): Promise<bigint> {
    return this.client.readContract({ address: this.token, abi: tokenAbi, functionName: "balanceOf", args: [who] }) as Promise<bigint>;
  }

  /** A transaction from an unlocked dev account straight to anvil (the owner's pause, ...). */
  async ownerCall(functionName: string, args: readonly unknown[] = []): Promise<void> {
    const wallet = createWalletClient({ account: DEV[OWNER].address, chain: this.client.chain, transport: http(this.rpc) });
    const hash = await wallet.writeContract({ address: this.contract, abi: aqueductAbi, functionName, args, chain: this.client.chain });
    const r = await this.client.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`${functionName} reverted`);
  }

  async rpcCall(method: string, params: unknown[] = []): Promise<unknown> {
    const res = await fetch(this.rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  }

  /** Moves the chain's clock ahead and mines a block. */
  async warp(seconds: number): Promise<void> {
    await this.rpcCall("evm_increaseTime", [seconds]);
    await this.rpcCall("evm_mine");
    await sleep(50);
  }
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** curl with `args`, bounded; never throws on curl's own failure. */
export async function curl(args: string[]): Promise<CurlResult> {
  try {
    const { stdout, stderr } = await run("curl", ["--silent", "--show-error", "--max-time", "20", ...args], { timeout: WAIT_MS });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? String(e) };
  }
}
