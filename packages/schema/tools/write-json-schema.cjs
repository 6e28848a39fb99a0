#!/usr/bin/env node
// Writes schema/model.schema.json from the TypeBox definitions (via the
// build output). The file is committed so editors and other tools can use it
// without running anything; a test fails when it is stale.
const fs = require('node:fs');
const path = require('node:path');
const { modelJsonSchema } = require('../dist/index.js');

const target = path.join(__dirname, '..', 'schema', 'model.schema.json');
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.writeFileSync(target, `${JSON.stringify(modelJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
