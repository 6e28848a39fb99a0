// Marks dist/esm as ES modules; dist/cjs follows this package's default (CommonJS).
const fs = require('node:fs');
const path = require('node:path');

fs.writeFileSync(path.join(__dirname, '..', 'dist', 'esm', 'package.json'), '{ "type": "module" }\n');
