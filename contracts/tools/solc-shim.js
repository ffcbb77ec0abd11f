#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// contracts/tools/solc-shim.js - makes solcjs (npm `solc`, pinned in
// tools/npm/package.json) look like a native solc binary to forge, which runs
// offline here: it answers `--version` and serves `--standard-json` from stdin
// through require('solc').compile(). Path flags (--allow-paths, --base-path,
// --include-path) are accepted and ignored; sources are read relative to the
// current directory when forge leaves their content out.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', '..', 'tools', 'npm', 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' +
                       solc.version() + '\n');
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
  process.exit(2);
}
const input = fs.readFileSync(0, 'utf8');
function findImports(p) {
  try {
    return { contents: fs.readFileSync(p, 'utf8') };
  } catch (e) {
    return { error: 'file not found: ' + p };
  }
}
process.stdout.write(solc.compile(input, { import: findImports }));
