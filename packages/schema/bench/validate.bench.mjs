// Validation cost relative to only parsing the YAML, measured in the same run
// so machine speed cancels out. Run with `npm run bench` at the repository root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { parse } from 'yaml';
import schema from '../dist/index.js';

const { tfServingArgs, tfServingFiles, validateSpecText, validateSpecs } = schema;
const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.resolve(here, '../../../examples/models');
const sources = fs
  .readdirSync(examples)
  .sort()
  .map((f) => ({ file: f, text: fs.readFileSync(path.join(examples, f), 'utf8') }));
// A folder of 100 models, as a platform team's repository might hold.
const folder = Array.from({ length: 100 }, (_, i) => {
  const source = sources[i % sources.length];
  return { file: `m${i}.yaml`, text: source.text.replace(/name: ([a-z-]+)/, `name: $1-${i}`).replace(/(uri: s3:\/\/[^\n]+)/, `$1-${i}`) };
});

const bench = new Bench({ time: 1000, warmupTime: 200 });
bench
  .add('baseline: YAML parse only (3 specs)', () => {
    for (const s of sources) parse(s.text);
  })
  .add('validate + resolve (3 specs)', () => {
    for (const s of sources) validateSpecText(s);
  })
  .add('validate + resolve + TF Serving files and args (3 specs)', () => {
    for (const s of sources) {
      const { model } = validateSpecText(s);
      tfServingFiles(model);
      tfServingArgs(model);
    }
  })
  .add('validate a folder of 100 specs with cross-file checks', () => {
    validateSpecs(folder);
  });

await bench.run();
const baseline = bench.tasks[0].result.latency.mean;
console.log('\ntask'.padEnd(60), 'mean ms'.padStart(10), 'x baseline'.padStart(12));
for (const task of bench.tasks) {
  const mean = task.result.latency.mean;
  console.log(task.name.padEnd(59), mean.toFixed(3).padStart(10), (mean / baseline).toFixed(2).padStart(12));
}
