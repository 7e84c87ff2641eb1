// Deployment settings from config.json beside index.html, so one build serves any
// deployment. Checked once at start; a bad file stops the site with a clear message.

export interface SiteConfig {
  chainId: number;
  /** Shown to the user and given to the wallet when it adds the chain. */
  chainName: string;
  rpc: string[];
  contract: `0x${string}`;
  /** Block the contract was deployed in: where the search for a wallet's payments starts. */
  deployBlock: number;
  /** Base URL of an `aqueduct monitor` (its /api/nodes), if this deployment has one. */
  monitorApi?: string;
  /** Longest credential lifetime nodes accept (their `max_credential_lifetime_secs`). */
  maxCredentialLifetimeSecs: number;
  /** Where the operators' guide lives (the README's "Running a node"). */
  readmeUrl?: string;
  nativeCurrency: { name: string; symbol: string; decimals: number };
}

/** config.json cannot be used; `field` names the key at fault (or how the file failed). */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    what: string,
  ) {
    super(`config.json: ${what}`);
  }
}

function need(cond: boolean, field: string, what: string): asserts cond {
  if (!cond) throw new ConfigError(field, what);
}

function httpUrl(u: unknown): u is string {
  if (typeof u !== "string") return false;
  try {
    const p = new URL(u).protocol;
    return p === "http:" || p === "https:";
  } catch {
    return false;
  }
}

export function parseConfig(raw: unknown): SiteConfig {
  need(typeof raw === "object" && raw !== null && !Array.isArray(raw), "{}", "must be a JSON object");
  const c = raw as Record<string, unknown>;
  need(Number.isSafeInteger(c.chainId) && (c.chainId as number) > 0, "chainId", "chainId must be a positive whole number");
  const rpc = typeof c.rpc === "string" ? [c.rpc] : c.rpc;
  need(Array.isArray(rpc) && rpc.length > 0 && rpc.every(httpUrl), "rpc", "rpc must be one or more http(s) URLs");
  need(typeof c.contract === "string" && /^0x[0-9a-fA-F]{40}$/.test(c.contract), "contract", "contract must be an address");
  const deployBlock = c.deployBlock ?? 0;
  need(Number.isSafeInteger(deployBlock) && (deployBlock as number) >= 0, "deployBlock", "deployBlock must be a block number");
  need(c.monitorApi === undefined || httpUrl(c.monitorApi), "monitorApi", "monitorApi must be an http(s) URL");
  const max = c.maxCredentialLifetimeSecs ?? 30 * 86400;
  need(Number.isSafeInteger(max) && (max as number) >= 60, "maxCredentialLifetimeSecs", "maxCredentialLifetimeSecs must be at least 60");
  need(c.readmeUrl === undefined || typeof c.readmeUrl === "string", "readmeUrl", "readmeUrl must be a string");
  need(c.chainName === undefined || typeof c.chainName === "string", "chainName", "chainName must be a string");
  const native = (c.nativeCurrency ?? { name: "Ether", symbol: "ETH", decimals: 18 }) as SiteConfig["nativeCurrency"];
  need(typeof native.symbol === "string" && Number.isSafeInteger(native.decimals), "nativeCurrency", "nativeCurrency needs symbol and decimals");
  return {
    chainId: c.chainId as number,
    chainName: (c.chainName as string | undefined) ?? `Chain ${c.chainId}`,
    rpc: rpc as string[],
    contract: c.contract as `0x${string}`,
    deployBlock: deployBlock as number,
    monitorApi: (c.monitorApi as string | undefined)?.replace(/\/+$/, ""),
    maxCredentialLifetimeSecs: max as number,
    readmeUrl: c.readmeUrl as string | undefined,
    nativeCurrency: native,
  };
}

export async function loadConfig(): Promise<SiteConfig> {
  const res = await fetch("config.json", { cache: "no-store" });
  if (!res.ok) throw new ConfigError(`HTTP ${res.status}`, `HTTP ${res.status}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new ConfigError("JSON", "is not JSON");
  }
  return parseConfig(body);
}
