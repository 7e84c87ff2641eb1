// The built site (web/dist) served on loopback, with config.json from the test (so a
// test can point it at its chain, or add a monitor), and at /monitor/ either the real
// `aqueduct monitor`'s dashboard (`monitorUpstream`, passed through as a reverse proxy in
// front of it would) or a stand-in answering /monitor/api/nodes with what the test sets.
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize } from "node:path";
import { WEB } from "./paths";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
};

export class Site {
  server?: Server;
  url = "";
  config: Record<string, unknown> = {};
  monitor: unknown = [];
  monitorUpstream?: string;
  monitorHits = 0;

  async start(): Promise<void> {
    const dist = join(WEB, "dist");
    this.server = createServer(async (req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path === "/config.json") {
        res.writeHead(200, { "content-type": TYPES[".json"], "cache-control": "no-store" });
        return res.end(JSON.stringify(this.config));
      }
      if (path.startsWith("/monitor/") && this.monitorUpstream) {
        this.monitorHits++;
        try {
          const up = await fetch(this.monitorUpstream + path.slice("/monitor".length), { signal: AbortSignal.timeout(10_000) });
          res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "text/plain" });
          return res.end(Buffer.from(await up.arrayBuffer()));
        } catch (e) {
          res.writeHead(502);
          return res.end(String(e));
        }
      }
      if (path === "/monitor/api/nodes") {
        this.monitorHits++;
        res.writeHead(200, { "content-type": TYPES[".json"], "access-control-allow-origin": "*" });
        return res.end(JSON.stringify(this.monitor));
      }
      const file = normalize(join(dist, path === "/" ? "index.html" : path));
      if (!file.startsWith(dist)) {
        res.writeHead(403);
        return res.end();
      }
      try {
        const body = await readFile(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
        res.end(body);
      } catch {
        res.writeHead(404);
        res.end("not found");
      }
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
