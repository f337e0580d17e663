#!/usr/bin/env node
'use strict';
require('../dist/src/cli/main.js')
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code ?? 0),
    (err) => {
      const message = err && err.message ? err.message : String(err);
      // Messages that already name the command ("dnas search: ...") are not prefixed again.
      console.error(message.startsWith('dnas') ? message : `dnas: ${message}`);
      // A run stopped by a signal exits with the shell's code for it (130 for Ctrl-C).
      process.exit(err && Number.isInteger(err.exitCode) ? err.exitCode : 1);
    },
  );
