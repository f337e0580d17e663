#!/usr/bin/env node
'use strict';
require('../dist/src/cli/main.js').main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    console.error(`dnas: ${err && err.message ? err.message : err}`);
    process.exit(1);
  },
);
