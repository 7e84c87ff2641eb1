// Node health from an `aqueduct monitor` (its JSON API, /api/nodes: src/monitor/web.rs
// and stats.rs's NodeSummary), when the deployment names one in config.json. Read
// leniently: a list of nodes, each with its address (`node`) and whatever of state,
// latency and uptime the monitor gives; unknown fields are ignored.

/** The monitor's states (stats::State), each with its own words in the string tables. */
export const STATES = ["up", "slow", "wrong_egress", "down", "flagged", "unmeasured", "removed"] as const;
export type State = (typeof STATES)[number];

export interface Health {
  address: string;
  /** The monitor's word for the node now; healthy when "up". */
  state?: State;
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
    const raw = typeof r.node === "string" ? r.node : r.address;
    const address = typeof raw === "string" && /^0x[0-9a-fA-F]{40}$/.test(raw) ? raw.toLowerCase() : undefined;
    if (!address) continue;
    const state = STATES.find((x) => x === r.state);
    const healthy = typeof r.healthy === "boolean" ? r.healthy : state !== undefined ? state === "up" : undefined;
    let uptime = num(r.uptime_24h);
    if (uptime !== undefined && uptime > 1) uptime /= 100;
    out.set(address, {
      address,
      state,
      healthy,
      latencyMs: num(r.latency_p50_ms) ?? num(r.latency_ms),
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
