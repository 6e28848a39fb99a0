// Chart generation at scale: 100 and 1,000 models, generated in memory (helm
// excluded). Prints the time per model and the ratio of the two totals
// (near 10 means generation scales linearly). Run with `npm run bench`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import chartGen from '../dist/index.js';
import schema from '../../schema/dist/index.js';

const { generateCharts } = chartGen;
const { validateSpecText } = schema;
const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.resolve(here, '../../../examples/models');
const templates = fs
  .readdirSync(examples)
  .sort()
  .map((f) => fs.readFileSync(path.join(examples, f), 'utf8'));

/** n distinct, valid models made from the examples (names, folders and sizes vary). */
function models(n) {
  return Array.from({ length: n }, (_, i) => {
    const text = templates[i % templates.length]
      .replace(/^( {2}name: )([a-z-]+)$/m, `$1$2-${i}`)
      .replace(/(uri: s3:\/\/[^\n]+)/, `$1-${i}`)
      .replace(/expectedPeakRps: (\d+)/, (_, rps) => `expectedPeakRps: ${Number(rps) + i}`);
    const { model, diagnostics } = validateSpecText({ file: `m${i}.yaml`, text });
    if (!model) throw new Error(JSON.stringify(diagnostics));
    return model;
  });
}

function time(list) {
  const start = process.hrtime.bigint();
  const files = generateCharts(list);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, files: files.length };
}

const small = models(100);
const large = models(1000);
time(models(30)); // warm up the JIT and the template caches
const runs = 3;
const best = (list) => Array.from({ length: runs }, () => time(list)).sort((a, b) => a.ms - b.ms)[0];
const a = best(small);
const b = best(large);
console.log('models  files    total ms  ms/model');
for (const [n, r] of [[100, a], [1000, b]]) {
  console.log(`${String(n).padStart(6)}  ${String(r.files).padStart(5)}  ${r.ms.toFixed(1).padStart(10)}  ${(r.ms / n).toFixed(3).padStart(8)}`);
}
console.log(`ratio of totals, 1000 vs 100 models: ${(b.ms / a.ms).toFixed(2)} (10 = linear)`);
console.log(`1000 models in ${(b.ms / 1000).toFixed(2)} s (target < 2 s): ${b.ms < 2000 ? 'met' : 'NOT met'}`);
