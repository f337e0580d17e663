#!/usr/bin/env node
/**
 * `npm install dnas` (the package's install script): builds the native addon against the libtorch
 * found on this machine (LIBTORCH, a Python torch, or Debian's libtorch-dev: scripts/setup.sh
 * --addon-only says what it found, or how to provide one). The JavaScript ships compiled.
 * In a checkout (src/ and tsconfig.json present) it does nothing: `npm run setup` builds there.
 * DNAS_SKIP_BUILD=1 skips the build (then DNAS_ADDON must name a built dnas.node).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
if (fs.existsSync(path.join(root, 'src')) && fs.existsSync(path.join(root, 'tsconfig.json'))) process.exit(0);
if (process.env.DNAS_SKIP_BUILD === '1') {
  console.error('[dnas] DNAS_SKIP_BUILD=1: the native addon was not built; set DNAS_ADDON to a built dnas.node');
  process.exit(0);
}
const r = spawnSync('bash', [path.join(root, 'scripts', 'setup.sh'), '--addon-only'], { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`[dnas] the native addon could not be built: ${r.error.message} (bash is needed)`);
  process.exit(1);
}
process.exit(r.status ?? 1);
