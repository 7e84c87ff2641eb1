// The pure parts of the site besides the credential: string tables, language choice,
// config.json checks, error sentences, the claim call's arguments, monitor parsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  InsufficientFundsError,
  UserRejectedRequestError,
  encodeErrorResult,
  type Abi,
} from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;
import { en } from "../../src/strings/en";
import { zh } from "../../src/strings/zh";
import { TABLES, bytes, detectLang, fill } from "../../src/i18n";
import { ConfigError, parseConfig } from "../../src/config";
import { explain } from "../../src/errors";
import { aqueductAbi, callAbi, claimArgs, periodsRoom, CLAIM_MAX_EPOCHS } from "../../src/chain";
import { parseHealth, STATES } from "../../src/monitor";
import { lifetimes } from "../../src/pages/access";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("both string tables have every key, with the same placeholders", () => {
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(en)) {
    const z = (zh as Record<string, string>)[k];
    assert.ok(v.trim() && z.trim(), `${k} is empty`);
    assert.deepEqual(placeholders(z), placeholders(v), `${k}: placeholders differ`);
  }
  assert.equal(fill("{a} and {b}", { a: 1 }), "1 and {b}");
});

test("the language comes from the saved choice, else the browser's languages", () => {
  assert.equal(detectLang(["zh-CN", "en"], null), "zh");
  assert.equal(detectLang(["zh-TW"], null), "zh");
  assert.equal(detectLang(["fr-FR", "en-US", "zh"], null), "en");
  assert.equal(detectLang(["de"], null), "en");
  assert.equal(detectLang(["zh-CN"], "en"), "en");
  assert.equal(detectLang(["en"], "zh"), "zh");
});

test("config.json is checked and normalised", () => {
  const ok = { chainId: 8453, rpc: "https://rpc.example", contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
  const c = parseConfig({ ...ok, monitorApi: "https://mon.example/" });
  assert.deepEqual(c.rpc, ["https://rpc.example"]);
  assert.equal(c.monitorApi, "https://mon.example");
  assert.equal(c.maxCredentialLifetimeSecs, 30 * 86400);
  assert.equal(c.chainName, "Chain 8453");
  assert.throws(() => parseConfig({ ...ok, chainId: "8453" }), /chainId/);
  assert.throws(() => parseConfig({ ...ok, rpc: [] }), /rpc/);
  assert.throws(() => parseConfig({ ...ok, rpc: ["ftp://x"] }), /rpc/);
  assert.throws(() => parseConfig({ ...ok, contract: "0x12" }), /contract/);
  assert.throws(() => parseConfig({ ...ok, maxCredentialLifetimeSecs: 5 }), /maxCredentialLifetimeSecs/);
  assert.throws(() => parseConfig([]), /JSON object/);
  assert.equal(c.deployBlock, 0);
  assert.equal(parseConfig({ ...ok, deployBlock: 1234 }).deployBlock, 1234);
  assert.throws(() => parseConfig({ ...ok, deployBlock: -1 }), /deployBlock/);
  assert.throws(() => parseConfig({ ...ok, rpc: 5 }), (e: unknown) => e instanceof ConfigError && e.field === "rpc");
});

function reverted(errorName: string, args?: readonly unknown[]) {
  const data = encodeErrorResult({ abi: callAbi, errorName, args } as never);
  const cause = new ContractFunctionRevertedError({ abi: callAbi, data, functionName: "subscribe" });
  return new ContractFunctionExecutionError(cause, { abi: callAbi, functionName: "subscribe", args: ["0x5FbDB2315678afecb367f032d93F642f64180aa3", 1n], contractAddress: "0x5FbDB2315678afecb367f032d93F642f64180aa3" });
}

test("every failure becomes a sentence, with the contract's error name when it said no", () => {
  assert.equal(explain(new UserRejectedRequestError(new Error("no"))).key, "err.rejected");
  assert.equal(explain({ code: 4001, message: "User rejected" }).key, "err.rejected");
  assert.deepEqual(explain(reverted("EnforcedPause")), { key: "err.paused", params: {}, errorName: "EnforcedPause" });
  const tokens = explain(reverted("ERC20InsufficientBalance", ["0x5FbDB2315678afecb367f032d93F642f64180aa3", 1n, 2n]));
  assert.equal(tokens.key, "err.tokens");
  assert.equal(tokens.errorName, "ERC20InsufficientBalance");
  assert.deepEqual(explain(reverted("NothingToClaim")).errorName, "NothingToClaim");
  const other = explain(reverted("ZeroAddress"));
  assert.equal(other.key, "err.reverted");
  assert.deepEqual(other.params, { name: "ZeroAddress" });
  assert.equal(explain(new InsufficientFundsError()).key, "err.gas");
  assert.equal(explain(new Error("boom")).key, "err.unknown");
});

test("claim's arguments come from the ABI: the node and an epoch bound, never a recipient", () => {
  const node = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  assert.deepEqual(claimArgs(aqueductAbi, node), [node, CLAIM_MAX_EPOCHS]);
  const withRecipient: Abi = [
    {
      type: "function",
      name: "claim",
      stateMutability: "nonpayable",
      inputs: [
        { name: "node", type: "address" },
        { name: "to", type: "address" },
      ],
      outputs: [],
    },
  ];
  assert.throws(() => claimArgs(withRecipient, node), /to: address is not known/);
  const odd: Abi = [{ type: "function", name: "claim", stateMutability: "nonpayable", inputs: [{ name: "x", type: "bytes" }], outputs: [] }];
  assert.throws(() => claimArgs(odd, node), /not known/);
});

test("the periods offered never pass the contract's prepayment cap", () => {
  const p = { maxPeriods: 12n, periodLength: 86400n };
  const now = 1_000_000n;
  assert.equal(periodsRoom(p, 0n, now), 12n, "never a member: a whole payment");
  assert.equal(periodsRoom(p, now - 5n, now), 12n, "ended: from now");
  assert.equal(periodsRoom(p, now + 2n * 86400n, now), 10n);
  assert.equal(periodsRoom(p, now + 2n * 86400n - 1n, now), 10n, "a second short of a third period");
  assert.equal(periodsRoom(p, now + 11n * 86400n + 1n, now), 0n, "less than a period of room");
  assert.equal(periodsRoom(p, now + 12n * 86400n, now), 0n);
});

/** Arguments of the right types for an error, to encode it. */
function sampleArgs(e: AbiError): unknown[] {
  return e.inputs.map((i) => (i.type === "address" ? "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" : i.type === "bool" ? false : i.type.startsWith("bytes") ? "0x" + "00".repeat(Number(i.type.slice(5)) || 0) : i.type.startsWith("int") || i.type.startsWith("uint") ? 1n : "x"));
}

test("every error the contract or its token can raise is a full sentence in both languages", () => {
  const errors = callAbi.filter((e): e is AbiError => e.type === "error");
  assert.ok(errors.some((e) => e.name === "PrepaymentCapExceeded") && errors.some((e) => e.name === "NothingToRefund"));
  const params = { want: "Anvil", symbol: "tUSD", have: "1 tUSD", need: "2 tUSD", max: 12 };
  for (const e of errors) {
    const p = explain(reverted(e.name, sampleArgs(e)), params);
    assert.equal(p.errorName, e.name, `${e.name} keeps its name`);
    for (const table of Object.values(TABLES)) {
      const text = fill(table[p.key], p.params);
      assert.doesNotMatch(text, /\{\w+\}/, `${e.name}: ${text}`);
      if (p.key === "err.reverted") assert.ok(text.includes(e.name), `${e.name} is named: ${text}`);
    }
  }
  assert.equal(explain(reverted("PrepaymentCapExceeded", [2n, 1n])).key, "err.prepaymentCap");
  assert.equal(explain(reverted("NothingToRefund")).key, "err.nothingToRefund");
  assert.equal(explain(reverted("SettlementBehind", [2000n])).key, "err.settlementBehind");
  assert.equal(explain(reverted("PaymentTooSmall", [1n, 2n])).key, "err.paymentTooSmall");
});

test("monitor health is read from what `aqueduct monitor` answers at /api/nodes", () => {
  const a = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  const b = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
  // src/monitor/stats.rs, NodeSummary (a few of its fields).
  const body = [
    { node: a, endpoint: "127.0.0.1:1", active: true, state: "up", uptime_24h: 0.99, latency_p50_ms: 12.5, latency_p95_ms: 40, flagged: false },
    { node: b, endpoint: "127.0.0.1:2", active: true, state: "wrong_egress", uptime_24h: null, latency_p50_ms: null },
    { node: "not an address", state: "up" },
    null,
  ];
  const m = parseHealth(body);
  assert.equal(m.size, 2);
  assert.deepEqual(m.get(a.toLowerCase()), { address: a.toLowerCase(), state: "up", healthy: true, latencyMs: 12.5, uptime24h: 0.99 });
  assert.deepEqual(m.get(b.toLowerCase()), { address: b.toLowerCase(), state: "wrong_egress", healthy: false, latencyMs: undefined, uptime24h: undefined });
  assert.equal(parseHealth([{ node: a, state: "something new" }]).get(a.toLowerCase())?.state, undefined);
  assert.equal(parseHealth("nonsense").size, 0);
});

test("each monitor state has its words in both languages", () => {
  for (const state of STATES) {
    for (const table of Object.values(TABLES)) assert.ok(table[`monitor.${state}`]?.trim(), state);
  }
});

test("credential lifetimes offered never pass the nodes' limit", () => {
  assert.deepEqual(lifetimes(30 * 86400), [3600, 43200, 86400, 604800, 2592000]);
  assert.deepEqual(lifetimes(86400), [3600, 43200, 86400]);
  assert.deepEqual(lifetimes(600), [600]);
});

test("byte counts read in binary units", () => {
  assert.equal(bytes(0n), "0 B");
  assert.equal(bytes(1023n), "1023 B");
  assert.equal(bytes(1536n), "1.5 KiB");
  assert.equal(bytes(5n * 1024n * 1024n * 1024n), "5.0 GiB");
});
