// Tests for solc-shim.js: run with `node --test` (make -C contracts test does).
'use strict';

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');

const SHIM = path.join(__dirname, 'solc-shim.js');

function run(args, input, cwd) {
  return spawnSync(process.execPath, [SHIM, ...args], { input, cwd, encoding: 'utf8', timeout: 60_000 });
}

function standardJson(sources) {
  return JSON.stringify({
    language: 'Solidity',
    sources,
    settings: { outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  });
}

// A project dir with the main source, and a separate "library" dir for --include-path;
// removed when the test ends.
function fixture(t) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'solc-shim-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'project', 'src'), { recursive: true });
  fs.mkdirSync(path.join(root, 'lib', 'pkg'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'project', 'src', 'Base.sol'),
    '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract Base { uint256 public x = 1; }\n',
  );
  fs.writeFileSync(
    path.join(root, 'lib', 'pkg', 'Lib.sol'),
    '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nlibrary Lib { function two() internal pure returns (uint256) { return 2; } }\n',
  );
  fs.writeFileSync(path.join(root, 'secret.sol'), 'contract Secret {}\n');
  return root;
}

const MAIN =
  '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport "src/Base.sol";\nimport "pkg/Lib.sol";\n' +
  'contract Main is Base { function f() external pure returns (uint256) { return Lib.two(); } }\n';

test('--version prints the native two-line banner and nothing else', () => {
  const out = run(['--version']);
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /^solc, the solidity compiler commandline interface\nVersion: 0\.8\.30\+commit\.[0-9a-f]{8}\S*\n$/);
});

test('compiles standard JSON, reading imports from the base path and include paths', (t) => {
  const root = fixture(t);
  const out = run(
    ['--base-path', 'project', '--include-path', 'lib', '--allow-paths', `${root}/lib`, '--standard-json'],
    standardJson({ 'Main.sol': { content: MAIN } }),
    root,
  );
  assert.equal(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout); // stdout is exactly one JSON document
  const errors = (result.errors || []).filter((e) => e.severity === 'error');
  assert.deepEqual(errors, []);
  assert.match(result.contracts['Main.sol'].Main.evm.bytecode.object, /^[0-9a-f]+$/);
  assert.ok(result.contracts['src/Base.sol'].Base);
  assert.ok(result.contracts['pkg/Lib.sol'].Lib);
});

test('an import outside the base and include paths is not read', (t) => {
  const root = fixture(t);
  const source = '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport "../secret.sol";\ncontract A {}\n';
  const out = run(['--base-path', 'project', '--standard-json'], standardJson({ 'A.sol': { content: source } }), root);
  assert.equal(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout);
  assert.ok(result.errors.some((e) => e.severity === 'error' && /not found/.test(e.message)), out.stdout);
  assert.equal(result.contracts, undefined);
});

test('an unknown flag is refused with a message on stderr and an empty stdout', () => {
  const out = run(['--bin', 'x.sol']);
  assert.equal(out.status, 2);
  assert.equal(out.stdout, '');
  assert.match(out.stderr, /unsupported argument --bin/);
});
