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
import { en } from "../../src/strings/en";
import { zh } from "../../src/strings/zh";
import { detectLang, fill } from "../../src/i18n";
import { parseConfig } from "../../src/config";
import { explain } from "../../src/errors";
import { aqueductAbi, callAbi, claimArgs, CLAIM_MAX_EPOCHS } from "../../src/chain";
import { parseHealth } from "../../src/monitor";
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

test("claim's arguments come from the ABI, whatever its signature", () => {
  const me = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  assert.deepEqual(claimArgs(aqueductAbi, me), [CLAIM_MAX_EPOCHS]);
  const later: Abi = [
    {
      type: "function",
      name: "claim",
      stateMutability: "nonpayable",
      inputs: [
        { name: "node", type: "address" },
        { name: "maxEpochs", type: "uint256" },
        { name: "payee", type: "address" },
      ],
      outputs: [],
    },
  ];
  assert.deepEqual(claimArgs(later, me), [me, CLAIM_MAX_EPOCHS, me]);
  const odd: Abi = [{ type: "function", name: "claim", stateMutability: "nonpayable", inputs: [{ name: "x", type: "bytes" }], outputs: [] }];
  assert.throws(() => claimArgs(odd, me), /not known/);
});

test("monitor health is read from the shapes a monitor may answer", () => {
  const a = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  const m = parseHealth([{ address: a, state: "ok", latency_ms: 12.5, uptime_24h: 0.99 }, { address: 5 }, null]);
  assert.equal(m.size, 1);
  assert.deepEqual(m.get(a.toLowerCase()), { address: a.toLowerCase(), state: "ok", healthy: true, latencyMs: 12.5, uptime24h: 0.99 });
  const n = parseHealth({ nodes: [{ address: a, outcome: "timeout", uptime: { "24h": 50 } }] });
  assert.equal(n.get(a.toLowerCase())?.healthy, false);
  assert.equal(n.get(a.toLowerCase())?.uptime24h, 0.5);
  assert.equal(parseHealth("nonsense").size, 0);
});

test("credential lifetimes offered never pass the nodes' limit", () => {
  assert.deepEqual(lifetimes(30 * 86400), [3600, 43200, 86400, 604800, 2592000]);
  assert.deepEqual(lifetimes(86400), [3600, 43200, 86400]);
  assert.deepEqual(lifetimes(600), [600]);
});
