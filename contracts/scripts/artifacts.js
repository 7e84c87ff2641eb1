#!/usr/bin/env node
// Keeps contracts/artifacts/ (what the Rust binary embeds) in step with the sources.
//   node scripts/artifacts.js write   extract {abi, bytecode} from out/ into artifacts/
//   node scripts/artifacts.js check   fail if a fresh out/ differs from the committed files
// Run `forge build` first; the build is deterministic (no metadata hash, fixed optimizer).
'use strict';

const fs = require('fs');
const path = require('path');

const CONTRACTS = ['Aqueduct', 'TestStablecoin'];
const root = path.resolve(__dirname, '..');

function extract(name) {
  const file = path.join(root, 'out', `${name}.sol`, `${name}.json`);
  let built;
  try {
    built = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${err.message} (run forge build first)`);
  }
  const bytecode = built.bytecode && built.bytecode.object;
  if (!Array.isArray(built.abi) || typeof bytecode !== 'string' || !/^0x([0-9a-f]{2})+$/.test(bytecode)) {
    throw new Error(`${file}: no ABI or no linked bytecode`);
  }
  return `${JSON.stringify({ abi: built.abi, bytecode }, null, 2)}\n`;
}

function main(mode) {
  let stale = 0;
  for (const name of CONTRACTS) {
    const fresh = extract(name);
    const target = path.join(root, 'artifacts', `${name}.json`);
    if (mode === 'write') {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, fresh);
      console.log(`wrote ${path.relative(root, target)}`);
    } else {
      const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
      if (committed !== fresh) {
        console.error(`${path.relative(root, target)} differs from a fresh build: run \`make -C contracts artifacts\` and commit it`);
        stale += 1;
      } else {
        console.log(`${path.relative(root, target)} matches the fresh build`);
      }
    }
  }
  if (stale > 0) process.exit(1);
}

const mode = process.argv[2];
if (mode !== 'write' && mode !== 'check') {
  console.error('usage: artifacts.js write|check');
  process.exit(2);
}
try {
  main(mode);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
