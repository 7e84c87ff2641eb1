// The repository's root, found from wherever the bundled test runs (build/test/...).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, "doc/protocol.md")) && existsSync(join(dir, "web/package.json"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("repository root not found above the test");
}

export const ROOT = findRoot();
export const WEB = join(ROOT, "web");
export const repoPath = (...parts: string[]) => join(ROOT, ...parts);
