#!/usr/bin/env node
// A native-style `solc` command for forge, built on the npm `solc` package (the official
// compiler compiled to WebAssembly), so the toolchain comes from the npm registry alone.
//
// forge runs two commands:
//   solc --version
//   solc [--allow-paths A,B] [--base-path P] [--include-path I]... --standard-json   (input on stdin)
// The npm compiler has no command line of that shape, so this file parses those flags, reads
// the Standard JSON input, compiles it with `compile()` and prints only the JSON output on
// stdout (forge parses stdout as JSON; anything else there breaks the build). Imports that
// forge did not already put in the input are read from the base path and include paths, and
// only from inside the base, include and allowed directories, as the native compiler does.
'use strict';

const fs = require('fs');
const path = require('path');

// The compiler prints Emscripten notices through these on some errors; keep stdout for JSON.
const realStdoutWrite = process.stdout.write.bind(process.stdout);
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);
console.warn = (...args) => console.error(...args);

function usage(message) {
  process.stderr.write(`solc-shim: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    // Accept both `--flag value` and `--flag=value`.
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : null;
    const value = () => {
      if (inline !== null) return inline;
      i += 1;
      if (i >= argv.length) usage(`${name} needs a value`);
      return argv[i];
    };
    switch (name) {
      case '--version':
      case '-v':
        opts.version = true;
        break;
      case '--standard-json':
        opts.standardJson = true;
        break;
      case '--base-path':
        opts.basePath = value();
        break;
      case '--include-path':
        opts.includePaths.push(value());
        break;
      case '--allow-paths':
        opts.allowPaths.push(...value().split(',').filter((p) => p.length > 0));
        break;
      case '-':
        break; // "read from stdin": the only input mode supported anyway
      default:
        usage(`unsupported argument ${arg} (only --version and --standard-json are implemented)`);
    }
  }
  return opts;
}

// A directory prefix check that does not confuse /a/bc with /a/b.
function isInside(file, dir) {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function makeImportCallback(opts) {
  const cwd = process.cwd();
  const base = path.resolve(cwd, opts.basePath || '.');
  const includes = opts.includePaths.map((p) => path.resolve(cwd, p));
  const allowed = [base, ...includes, ...opts.allowPaths.map((p) => path.resolve(cwd, p))];
  const roots = [base, ...includes];

  return (sourceUnitName) => {
    const candidates = path.isAbsolute(sourceUnitName)
      ? [path.normalize(sourceUnitName)]
      : roots.map((root) => path.resolve(root, sourceUnitName));
    for (const file of candidates) {
      if (!allowed.some((dir) => isInside(file, dir))) continue;
      try {
        return { contents: fs.readFileSync(file, 'utf8') };
      } catch (err) {
        if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') {
          return { error: `${file}: ${err.message}` };
        }
      }
    }
    return { error: `File not found inside the base path or any include path: ${sourceUnitName}` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  // Loaded after argument parsing so a usage error is quick; loading the compiler takes a second.
  const solc = require('solc');

  if (opts.version) {
    // The same two lines the native binary prints; forge reads the version from "Version:".
    realStdoutWrite(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) usage('pass --standard-json (input on stdin) or --version');

  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: makeImportCallback(opts) });
  realStdoutWrite(output.endsWith('\n') ? output : `${output}\n`);
}

main();
