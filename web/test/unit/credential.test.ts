// The credential builder against the worked example in doc/protocol.md, read from the
// document itself: the same text, hash, signatures and passwords as the Rust signer
// (pinned there by credential::tests::protocol_doc_worked_example) and `cast wallet sign`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hashMessage, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { repoPath } from "../support/paths";
import { credentialFromSignature, credentialMessage, localToml, proxyUrls, userinfoEscape } from "../../src/credential";

const doc = readFileSync(repoPath("doc/protocol.md"), "utf8");

function after(marker: string, pattern: RegExp): string {
  const at = doc.indexOf(marker);
  assert.ok(at >= 0, `doc/protocol.md has no "${marker}"`);
  const m = pattern.exec(doc.slice(at + marker.length));
  assert.ok(m, `nothing matching ${pattern} after "${marker}"`);
  return m[1];
}
const fenced = /```\n([\s\S]*?)\n```/;
const example = {
  key: after("private key", /`(0x[0-9a-f]{64})`/) as `0x${string}`,
  address: after("- address", /`(0x[0-9a-fA-F]{40})`/),
  chainId: Number(after("## Worked example", /Chain (\d+),/)),
  contract: after("## Worked example", /contract `(0x[0-9a-fA-F]{40})`/),
  expires: Number(after("any node, expiring at", /\s*(\d+)/)),
  text: after("The text (115 bytes):", fenced),
  hash: after("Its EIP-191 hash is", /`(0x[0-9a-f]{64})`/),
  signature: after("prints the signature", /`(0x[0-9a-f]{130})`/),
  login: after("(`v` = 0x1b = 27). So:", fenced),
  curl: after("for a node at `203.0.113.7:1080`:", fenced),
  scopedNode: after("The same credential limited to node", /`(0x[0-9a-fA-F]{40})`/),
  scopedPassword: after("and has the password", fenced),
};

test("the message builder writes exactly the text of doc/protocol.md", () => {
  const text = credentialMessage({ chainId: example.chainId, contract: example.contract, node: "*", expires: example.expires });
  assert.equal(text, example.text);
  assert.equal(new TextEncoder().encode(text).length, 115);
  assert.ok(!text.endsWith("\n") && !text.includes("\r"));
});

test("its EIP-191 hash and the signature of the doc's key match the doc", async () => {
  const text = credentialMessage({ chainId: example.chainId, contract: example.contract, node: "*", expires: example.expires });
  assert.equal(hashMessage(text), example.hash);
  const account = privateKeyToAccount(example.key);
  assert.equal(account.address, example.address);
  // The page signs { raw: toHex(text) }: the same bytes a wallet's personal_sign gets.
  assert.equal(await account.signMessage({ message: { raw: toHex(text) } }), example.signature);
});

test("username and password from the wallet's signature are the doc's", () => {
  const params = { chainId: example.chainId, contract: example.contract, node: "*" as const, expires: example.expires };
  const c = credentialFromSignature(example.address, params, example.signature);
  assert.equal(`username: ${c.username}\npassword: ${c.password}`, example.login);
  const url = proxyUrls(c, { plain: { host: "203.0.113.7", port: 1080 } }).plain!.socks5h;
  const [prefix, suffix] = /'(socks5h:\/\/[^']+)'/.exec(example.curl)![1].split("…");
  assert.ok(url.startsWith(prefix), `${url} does not start with ${prefix}`);
  assert.ok(url.endsWith(suffix), `${url} does not end with ${suffix}`);
});

test("a credential for one node signs its lowercase address, given in any case", async () => {
  const params = {
    chainId: example.chainId,
    contract: example.contract,
    node: example.scopedNode as `0x${string}`,
    expires: example.expires,
  };
  const text = credentialMessage(params);
  assert.ok(text.includes(`\nnode: ${example.scopedNode.toLowerCase()}\n`));
  const sig = await privateKeyToAccount(example.key).signMessage({ message: text });
  assert.equal(credentialFromSignature(example.address, params, sig).password, example.scopedPassword);
});

test("bad inputs are refused, not signed", () => {
  const ok = { chainId: 31337, contract: example.contract, node: "*" as const, expires: 1 };
  assert.throws(() => credentialMessage({ ...ok, contract: "0x1234" }), /contract/);
  assert.throws(() => credentialMessage({ ...ok, expires: 1.5 }), /expires/);
  assert.throws(() => credentialMessage({ ...ok, chainId: -1 }), /chain id/);
  assert.throws(() => credentialMessage({ ...ok, node: "0xnothex" as `0x${string}` }), /node/);
  assert.throws(() => credentialFromSignature(example.address, ok, "0x1234"), /65 bytes/);
});

test("userinfo escaping leaves only unreserved characters raw", () => {
  assert.equal(userinfoEscape("12:*:ab"), "12%3A%2A%3Aab");
  assert.equal(userinfoEscape("a-b.c_d~e"), "a-b.c_d~e");
  assert.equal(userinfoEscape("@/ "), "%40%2F%20");
});

test("local.toml names the deployment and, for one node, only that node", () => {
  const credential = { username: "0xabc", password: "1:*:ff" };
  const toml = localToml({
    rpc: ["http://127.0.0.1:8545"],
    contract: example.contract,
    credential,
    node: { endpoint: { plain: { host: "127.0.0.1", port: 1080 } }, address: example.scopedNode },
    comment: ["hello"],
  });
  assert.match(toml, /\ncredential = "0xabc:1:\*:ff"\n/);
  assert.doesNotMatch(toml, /key =/);
  assert.match(toml, /^# hello\n/);
  assert.match(toml, /\nrpc = \["http:\/\/127\.0\.0\.1:8545"\]\n/);
  assert.match(toml, new RegExp(`\\ncontract = "${example.contract.toLowerCase()}"\\n`));
  assert.match(toml, new RegExp(`\\nnodes = \\["127\\.0\\.0\\.1:1080@${example.scopedNode.toLowerCase()}"\\]\\nregistry = false\\n`));
  assert.doesNotMatch(localToml({ rpc: ["http://x"], contract: example.contract, credential, comment: [] }), /nodes =/);
});
