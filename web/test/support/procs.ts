// Child processes for the end-to-end tests: each in a process group of its own (the npm
// `anvil` is a wrapper that starts the real binary), stopped by group, every wait bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The bound on any wait for something that should take moments (loaded 2-core machines). */
export const WAIT_MS = 30_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function scratchDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `aqueduct-web-${tag}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class Proc {
  readonly child: ChildProcess;
  private exited = false;

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    readonly log: string,
    env: Record<string, string> = {},
  ) {
    const out = createWriteStream(log);
    this.child = spawn(cmd, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    this.child.stdout!.pipe(out);
    this.child.stderr!.pipe(out);
    this.child.once("exit", () => (this.exited = true));
  }

  get running(): boolean {
    return !this.exited;
  }

  text(): string {
    return existsSync(this.log) ? readFileSync(this.log, "utf8") : "";
  }

  /** Waits for `pattern` in the log; fails at once if the process exits first. */
  async waitLog(pattern: RegExp, ms = WAIT_MS): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.text().match(pattern);
      if (m) return m;
      if (!this.running) throw new Error(`${this.name} exited before ${pattern}:\n${this.text().slice(-2000)}`);
      if (Date.now() > end) throw new Error(`${this.name}: no ${pattern} within ${ms} ms:\n${this.text().slice(-2000)}`);
      await sleep(100);
    }
  }

  /** SIGTERM to the group; SIGKILL after `ms`. */
  async stop(ms = 10_000): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    const pid = this.child.pid;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, ms);
    await gone;
    clearTimeout(timer);
  }
}

/** Polls `f` until it returns a value that is not undefined/false, within `ms`. */
export async function eventually<T>(what: string, f: () => Promise<T | undefined | false>, ms = WAIT_MS): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`never happened within ${ms} ms: ${what}${last ? ` (last error: ${last})` : ""}`);
    await sleep(250);
  }
}
