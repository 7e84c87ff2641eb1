// The member credential of doc/protocol.md: the text a wallet signs with personal_sign,
// the proxy password built from its signature, and the ready proxy URLs. Pure functions:
// the same bytes as the Rust signer (src/credential.rs), pinned by test/unit/credential.test.ts.
import { endpointText, hostPortText, type Endpoint } from "./endpoint";

/** `*` for any node of the network, or one node's address. */
export type NodeScope = "*" | `0x${string}`;

export interface CredentialParams {
  chainId: number;
  contract: string;
  node: NodeScope;
  /** Unix seconds after which nodes refuse the credential. */
  expires: number;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function lowerAddress(what: string, value: string): string {
  if (!ADDRESS.test(value)) throw new Error(`${what} is not an address (0x + 40 hex digits): ${value}`);
  return value.toLowerCase();
}

function decimal(what: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} is not a whole number: ${value}`);
  return String(value);
}

/** The node line's value: `*` or the lowercase address. */
export function scopeText(node: NodeScope): string {
  return node === "*" ? "*" : lowerAddress("node", node);
}

/** The exact text to sign: five lines joined by `\n`, no trailing newline. */
export function credentialMessage(p: CredentialParams): string {
  return [
    "aqueduct proxy access",
    `chain: ${decimal("chain id", p.chainId)}`,
    `contract: ${lowerAddress("contract", p.contract)}`,
    `node: ${scopeText(p.node)}`,
    `expires: ${decimal("expires", p.expires)}`,
  ].join("\n");
}

export interface Credential {
  username: string;
  password: string;
}

/** Username and password from the wallet's 65-byte signature (`0x` + 130 hex). */
export function credentialFromSignature(member: string, p: CredentialParams, signature: string): Credential {
  const sig = signature.startsWith("0x") ? signature.slice(2) : signature;
  if (!/^[0-9a-fA-F]{130}$/.test(sig)) throw new Error("the wallet's signature is not 65 bytes");
  return {
    username: lowerAddress("member", member),
    password: `${decimal("expires", p.expires)}:${scopeText(p.node)}:${sig.toLowerCase()}`,
  };
}

/** `%`-escapes everything but unreserved characters, as `aqueduct token` does. */
export function userinfoEscape(s: string): string {
  let out = "";
  for (const ch of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(ch);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${ch.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export interface ProxyUrls {
  /** For the entry's plain field: unencrypted. */
  plain?: { socks5h: string; http: string };
  /** For its `tls=` field: the https:// proxy URL and curl's flags, as `aqueduct token` prints them. */
  tls?: { https: string; curl: string };
}

/**
 * Ready proxy URLs for one node's endpoint. `--proxy-insecure` turns off only curl's CA
 * check (a self-signed node has no CA); the pin is what authenticates the node.
 */
export function proxyUrls(c: Credential, e: Endpoint): ProxyUrls {
  const userinfo = `${userinfoEscape(c.username)}:${userinfoEscape(c.password)}`;
  const out: ProxyUrls = {};
  if (e.plain) {
    const at = hostPortText(e.plain);
    out.plain = { socks5h: `socks5h://${userinfo}@${at}`, http: `http://${userinfo}@${at}` };
  }
  if (e.tls) {
    const https = `https://${userinfo}@${hostPortText(e.tls.addr)}`;
    out.tls = { https, curl: `--proxy ${https} --proxy-insecure --proxy-pinnedpubkey ${e.tls.pin}` };
  }
  return out;
}

/** TOML basic string. */
function tomlString(s: string): string {
  return JSON.stringify(s);
}

export interface LocalTomlParams {
  rpc: string[];
  contract: string;
  /** The credential signed in the page: `aqueduct local` uses it instead of a key file. */
  credential: Credential;
  /** A chosen node (`ENDPOINT@0xADDRESS`, as `aqueduct local --node` takes it), or none for the whole registry. */
  node?: { endpoint: Endpoint; address: string };
  comment: string[];
}

/** A `local.toml` for `aqueduct local --config local.toml`. */
export function localToml(p: LocalTomlParams): string {
  const lines = p.comment.map((c) => `# ${c}`);
  lines.push("", "[chain]", `rpc = [${p.rpc.map(tomlString).join(", ")}]`, `contract = ${tomlString(p.contract.toLowerCase())}`);
  lines.push("", "[local]", `listen = "127.0.0.1:1080"`);
  lines.push(`credential = ${tomlString(`${p.credential.username}:${p.credential.password}`)}`);
  if (p.node) {
    lines.push(`nodes = [${tomlString(`${endpointText(p.node.endpoint)}@${p.node.address.toLowerCase()}`)}]`, "registry = false");
  }
  return lines.join("\n") + "\n";
}
