// The registry entry parser against the three examples of doc/protocol.md ("Node
// endpoints"), read from the document itself, and the malformed entries src/endpoint.rs
// refuses; then the URLs and the local.toml line the Access page builds from it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoPath } from "../support/paths";
import { AQUEDUCT_BIN } from "../support/chain";
import { endpointText, parseEndpoint, type Endpoint, type EndpointError } from "../../src/endpoint";
import { localToml, proxyUrls } from "../../src/credential";

const doc = readFileSync(repoPath("doc/protocol.md"), "utf8");
const section = doc.slice(doc.indexOf("## Node endpoints"));
const examples = /```\n([\s\S]*?)\n```/.exec(section)![1].split("\n");
const PIN = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

function ok(entry: string): Endpoint {
  const r = parseEndpoint(entry);
  assert.ok(r.ok, `${entry}: ${JSON.stringify(!r.ok && r.error)}`);
  return r.endpoint;
}

test("the three examples of doc/protocol.md parse into their fields", () => {
  assert.equal(examples.length, 3);
  assert.deepEqual(ok(examples[0]), { plain: { host: "node1.example.net", port: 1080 } });
  assert.deepEqual(ok(examples[1]), { tls: { addr: { host: "node1.example.net", port: 443 }, pin: PIN } });
  assert.deepEqual(ok(examples[2]), {
    plain: { host: "node1.example.net", port: 1080 },
    tls: { addr: { host: "node1.example.net", port: 443 }, pin: PIN },
  });
  for (const e of examples) assert.equal(endpointText(ok(e)), e, "written back in the canonical order");
});

test("fields in any order, IPv6 in brackets, written back canonically", () => {
  const e = ok(`pin=${PIN} tls=[::1]:443 node.example:1080`);
  assert.deepEqual(e.tls!.addr, { host: "::1", port: 443 });
  assert.equal(endpointText(e), `node.example:1080 tls=[::1]:443 pin=${PIN}`);
  assert.deepEqual(ok("[2001:db8::1]:65535").plain, { host: "2001:db8::1", port: 65535 });
});

test("malformed entries are refused with the reason, as src/endpoint.rs refuses them", () => {
  const cases: [string, EndpointError][] = [
    ["", { kind: "empty" }],
    [" a:1", { kind: "spacing" }],
    ["a:1 ", { kind: "spacing" }],
    ["a:1  b:2", { kind: "spacing" }],
    ["a:1 b:2", { kind: "repeated", field: "plain" }],
    ["tls=a:1", { kind: "tlsWithoutPin" }],
    [`a:1 pin=${PIN}`, { kind: "pinWithoutTls" }],
    [`tls=a:1 pin=${PIN} pin=${PIN}`, { kind: "repeated", field: "pin=" }],
    [`tls=a:1 tls=a:2 pin=${PIN}`, { kind: "repeated", field: "tls=" }],
    ["tls=a pin=x", { kind: "tls", why: "noPort" }],
    ["tls=a:1 pin=sha256//AAAA", { kind: "pin" }],
    // Non-canonical base64 (unused bits set) and a pin without its prefix.
    ["tls=a:1 pin=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", { kind: "pin" }],
    ["tls=a:1 pin=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", { kind: "pin" }],
    ["quic=a:1", { kind: "unknownField", name: "quic=" }],
    ["a:0", { kind: "plain", why: "badPort" }],
    ["a:65536", { kind: "plain", why: "badPort" }],
    ["a:+80", { kind: "plain", why: "badPort" }],
    [":80", { kind: "plain", why: "badHost" }],
    ["::1:80", { kind: "plain", why: "badHost" }],
    ["[zz]:80", { kind: "plain", why: "badIpv6" }],
    ["[::1:80", { kind: "plain", why: "badIpv6" }],
    ["a/b:80", { kind: "plain", why: "badHost" }],
    [`${"a".repeat(254)}:80`, { kind: "plain", why: "badHost" }],
  ];
  for (const [entry, error] of cases) assert.deepEqual(parseEndpoint(entry), { ok: false, error }, JSON.stringify(entry));
});

test("the contract's 260 bytes leave 193 for a TLS-only host name", () => {
  const fits = `tls=${"a".repeat(193)}:65535 pin=${PIN}`;
  assert.equal(fits.length, 260);
  assert.ok(parseEndpoint(fits).ok);
  assert.deepEqual(parseEndpoint(`tls=${"a".repeat(194)}:65535 pin=${PIN}`), { ok: false, error: { kind: "tooLong", bytes: 261 } });
});

test("proxy URLs: https:// with curl's pin flags for tls=, socks5h:// and http:// only for a plain field", () => {
  const c = { username: "0xab", password: "1:*:ff" };
  const tlsOnly = proxyUrls(c, ok(examples[1]));
  assert.equal(tlsOnly.plain, undefined);
  assert.deepEqual(tlsOnly.tls, {
    https: "https://0xab:1%3A%2A%3Aff@node1.example.net:443",
    curl: `--proxy https://0xab:1%3A%2A%3Aff@node1.example.net:443 --proxy-insecure --proxy-pinnedpubkey ${PIN}`,
  });
  const both = proxyUrls(c, ok(examples[2]));
  assert.equal(both.plain!.socks5h, "socks5h://0xab:1%3A%2A%3Aff@node1.example.net:1080");
  assert.equal(both.plain!.http, "http://0xab:1%3A%2A%3Aff@node1.example.net:1080");
  assert.equal(proxyUrls(c, ok(examples[0])).tls, undefined);
  assert.equal(proxyUrls(c, ok("[::1]:1080")).plain!.socks5h, "socks5h://0xab:1%3A%2A%3Aff@[::1]:1080");
});

test("local.toml's nodes line is ENDPOINT@0xADDRESS with the whole entry, which `aqueduct local` accepts", () => {
  const address = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
  // Well formed (low s, v = 27), never checked against a chain here.
  const credential = { username: address, password: `9999999999:${address}:${"11".repeat(64)}1b` };
  const dir = mkdtempSync(join(tmpdir(), "aqueduct-endpoint-"));
  const local = (toml: string) => {
    writeFileSync(join(dir, "local.toml"), toml);
    return spawnSync(AQUEDUCT_BIN, ["local", "--config", join(dir, "local.toml"), "--list"], { encoding: "utf8", timeout: 20_000 }).stderr;
  };
  try {
    for (const entry of examples) {
      const toml = localToml({ rpc: ["http://127.0.0.1:9"], contract: address, credential, node: { endpoint: ok(entry), address }, comment: [] });
      assert.ok(toml.includes(`\nnodes = ["${entry}@${address}"]\nregistry = false\n`), toml);
      if (!existsSync(AQUEDUCT_BIN)) continue;
      // Past the config (nodes and credential accepted), it fails only at the unreachable RPC.
      assert.match(local(toml), /cannot reach the RPC/);
      // The control: the same file with the pin cut off is refused at local.nodes.
      if (entry.includes("pin=")) assert.match(local(toml.replace(/ pin=[^@]+@/, "@")), /local\.nodes/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
