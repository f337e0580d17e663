#!/usr/bin/env node
'use strict';
require('../dist/src/cli/main.js').main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    console.error(`dnas: ${err && err.message ? err.message : err}`);
    // A run stopped by a signal exits with the shell's code for it (130 for Ctrl-C).
    process.exit(err && Number.isInteger(err.exitCode) ? err.exitCode : 1);
  },
);
