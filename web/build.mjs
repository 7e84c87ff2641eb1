// Builds the site into dist/ (`node build.mjs`), or the tests into build/test/
// (`node build.mjs --tests`), with esbuild. The contract artifacts are read at build time
// and only their ABI goes into the bundle. The site's gzipped JS must stay under BUDGET.
import * as esbuild from "esbuild";
import { copyFile, mkdir, readFile, readdir, rm } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const BUDGET = 200 * 1024;

/** contracts/artifacts/*.json → `{ abi }` only (the bytecode is the Rust binary's business). */
const abiOnly = {
  name: "abi-only",
  setup(build) {
    build.onLoad({ filter: /[\\/]contracts[\\/]artifacts[\\/][^\\/]+\.json$/ }, async (args) => {
      const { abi } = JSON.parse(await readFile(args.path, "utf8"));
      if (!Array.isArray(abi)) throw new Error(`${args.path}: no abi`);
      return { contents: JSON.stringify({ abi }), loader: "json" };
    });
  },
};

async function site() {
  const out = join(here, "dist");
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, "src/main.ts")],
    outfile: join(out, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2020",
    platform: "browser",
    minify: true,
    legalComments: "none",
    plugins: [abiOnly],
    logLevel: "warning",
  });
  for (const f of ["index.html", "style.css", "config.json"]) await copyFile(join(here, "static", f), join(out, f));
  let js = 0;
  for (const f of await readdir(out)) {
    const bytes = await readFile(join(out, f));
    const gz = gzipSync(bytes, { level: 9 }).length;
    if (f.endsWith(".js")) js += gz;
    console.log(`web: dist/${f} ${(bytes.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`);
  }
  if (js > BUDGET) throw new Error(`web: ${(js / 1024).toFixed(1)} KB of gzipped JS is over the ${BUDGET / 1024} KB budget`);
  console.log(`web: ${(js / 1024).toFixed(1)} KB of gzipped JS (budget ${BUDGET / 1024} KB)`);
}

async function tests() {
  const out = join(here, "build/test");
  await rm(out, { recursive: true, force: true });
  const entryPoints = [];
  for (const dir of ["unit", "e2e"]) {
    for (const f of await readdir(join(here, "test", dir)).catch(() => [])) {
      if (f.endsWith(".test.ts")) entryPoints.push(join(here, "test", dir, f));
    }
  }
  await esbuild.build({
    entryPoints,
    outdir: out,
    outbase: join(here, "test"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "inline",
    plugins: [abiOnly],
    logLevel: "warning",
  });
}

const mode = process.argv[2];
if (mode === "--tests") await tests();
else if (mode === undefined) await site();
else throw new Error(`usage: node build.mjs [--tests]`);

