#!/usr/bin/env node
// Thin launcher: the commands live in dist/ (built from src/ by `npm run build`).

// The AWS SDK warns on every registry command when Node is older than it will
// soon require; that notice is for the SDK's direct users, not for ours (the
// supported Node range is in package.json's engines). Set before the SDK loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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
