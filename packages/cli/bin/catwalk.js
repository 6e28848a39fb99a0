#!/usr/bin/env node
// Thin launcher: the commands live in dist/ (built from src/ by `npm run build`).
let main;
try {
  main = require('../dist/main.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && /dist[\\/]main\.js/.test(String(error.message))) {
    process.stderr.write(
      'catwalk: the CLI is not built yet; run `npm run build` at the repository root first\n',
    );
    process.exit(2);
  }
  throw error;
}
main.runFromProcess();
