#!/usr/bin/env node
// Runs the linter, then every compiled test file (dist/**/*.test.js) with node's built-in test runner.
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=conv).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
/** What the formatter covers (package.json's `format` script writes the same). */
const FORMATTED = ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/*.js', 'bin/*.js', 'examples/**/*.js', 'eslint.config.mjs'];
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(path.relative(root, p));
  }
})(path.join(root, 'dist'));
files.sort();
if (files.length === 0) {
  console.error('no test files found under dist/; run `npm test` (it compiles first)');
  process.exit(1);
}
const extra = process.argv.slice(2);
// The formatter's check and the linter first (.prettierrc.json, eslint.config.mjs); `npm run
// format` rewrites the files; DNAS_NO_LINT=1 skips both while iterating on tests.
if (process.env.DNAS_NO_LINT !== '1') {
  const checks = [
    ['prettier', [path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '--log-level', 'warn', ...FORMATTED], 'run `npm run format`'],
    ['eslint', [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.'], 'fix them'],
  ];
  for (const [name, args, fix] of checks) {
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`${name} found problems (above): ${fix}, or run with DNAS_NO_LINT=1 to test meanwhile`);
      process.exit(r.status ?? 1);
    }
  }
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...extra, ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
