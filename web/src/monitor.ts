// Node health from an `aqueduct monitor` (its JSON API, /api/nodes), when the deployment
// names one in config.json. Read leniently: a list of nodes, each with its address and
// whatever of state, latency and uptime the monitor gives.

export interface Health {
  address: string;
  /** The monitor's word for the node now (e.g. "ok", "timeout"); healthy when "ok". */
  state?: string;
  healthy?: boolean;
  latencyMs?: number;
  /** Share of successful probes over 24 h, 0 to 1. */
  uptime24h?: number;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function parseHealth(body: unknown): Map<string, Health> {
  const list = Array.isArray(body) ? body : (body as { nodes?: unknown })?.nodes;
  const out = new Map<string, Health>();
  if (!Array.isArray(list)) return out;
  for (const row of list) {
    if (typeof row !== "object" || row === null) continue;
    const r = row as Record<string, unknown>;
    const address = typeof r.address === "string" ? r.address.toLowerCase() : undefined;
    if (!address) continue;
    const state = typeof r.state === "string" ? r.state : typeof r.outcome === "string" ? r.outcome : undefined;
    const healthy = typeof r.healthy === "boolean" ? r.healthy : state !== undefined ? state === "ok" : undefined;
    let uptime = num(r.uptime_24h) ?? num(r.uptime24h) ?? num((r.uptime as Record<string, unknown> | undefined)?.["24h"]);
    if (uptime !== undefined && uptime > 1) uptime /= 100;
    out.set(address, {
      address,
      state,
      healthy,
      latencyMs: num(r.latency_ms) ?? num(r.latency_p50_ms) ?? num(r.latencyMs),
      uptime24h: uptime,
    });
  }
  return out;
}

export async function fetchHealth(base: string): Promise<Map<string, Health>> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 8000);
  try {
    const res = await fetch(`${base}/api/nodes`, { signal: ctl.signal, cache: "no-store" });
    if (!res.ok) throw new Error(`monitor: HTTP ${res.status}`);
    return parseHealth(await res.json());
  } finally {
    clearTimeout(timer);
  }
}
