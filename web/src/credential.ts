// The member credential of doc/protocol.md: the text a wallet signs with personal_sign,
// the proxy password built from its signature, and the ready proxy URLs. Pure functions:
// the same bytes as the Rust signer (src/credential.rs), pinned by test/unit/credential.test.ts.

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

/** Ready `socks5h://` and `http://` proxy URLs for one node endpoint (`host:port`). */
export function proxyUrls(c: Credential, endpoint: string): { socks5h: string; http: string } {
  const userinfo = `${userinfoEscape(c.username)}:${userinfoEscape(c.password)}`;
  return { socks5h: `socks5h://${userinfo}@${endpoint}`, http: `http://${userinfo}@${endpoint}` };
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
  /** A chosen node (`host:port@0xADDRESS`), or none for the whole registry. */
  node?: { endpoint: string; address: string };
  comment: string[];
}

/** A `local.toml` for `aqueduct local --config local.toml`. */
export function localToml(p: LocalTomlParams): string {
  const lines = p.comment.map((c) => `# ${c}`);
  lines.push("", "[chain]", `rpc = [${p.rpc.map(tomlString).join(", ")}]`, `contract = ${tomlString(p.contract.toLowerCase())}`);
  lines.push("", "[local]", `listen = "127.0.0.1:1080"`);
  lines.push(`credential = ${tomlString(`${p.credential.username}:${p.credential.password}`)}`);
  if (p.node) {
    lines.push(`nodes = [${tomlString(`${p.node.endpoint}@${p.node.address.toLowerCase()}`)}]`, "registry = false");
  }
  return lines.join("\n") + "\n";
}
