// How long `catwalk codegen` takes: reading signatures from saved_model.pb and
// writing the TypeScript module, for TF Serving's test models and for a
// synthetic signature with 500 inputs; then the whole command as a process,
// against `node -e 0` measured in the same run. Run with `npm run bench`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { Bench } from 'tinybench';
import savedmodel from '../dist/index.js';
import savedModelPb from '../dist/generated/proto/tensorflow/core/protobuf/saved_model_pb.js';

const { generateTypeScriptModule, readSignatures } = savedmodel;
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
const models = {
  half_plus_two: 'saved_model_half_plus_two_cpu/00000123',
  half_plus_two_tf2: 'saved_model_half_plus_two_tf2_cpu/00000123',
  counter: 'saved_model_counter/00000123',
  matrix: 'matrix_half_plus_two/1',
};
const bytes = Object.fromEntries(
  Object.entries(models).map(([name, dir]) => [name, fs.readFileSync(path.join(tfserving, dir, 'saved_model.pb'))]),
);

// A SavedModel whose serving_default has 500 inputs of assorted dtypes and shapes.
const dtypes = [1, 2, 3, 7, 9, 10];
const tensor = (i, prefix) => ({
  encoding: { case: 'name', value: `${prefix}_${i}:0` },
  dtype: dtypes[i % dtypes.length],
  tensorShape: { dim: [{ size: -1n }, ...(i % 3 === 0 ? [] : [{ size: BigInt(i % 17) + 1n }])] },
});
const wide = toBinary(
  savedModelPb.SavedModelSchema,
  create(savedModelPb.SavedModelSchema, {
    metaGraphs: [
      {
        metaInfoDef: { tags: ['serve'] },
        signatureDef: {
          serving_default: {
            methodName: 'tensorflow/serving/predict',
            inputs: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`feature_${i}`, tensor(i, 'in')])),
            outputs: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`score_${i}`, tensor(i, 'out')])),
          },
        },
      },
    ],
  }),
);
bytes.synthetic_500_inputs = wide;

const bench = new Bench({ time: 500, warmupTime: 100 });
for (const [name, pb] of Object.entries(bytes)) {
  bench.add(`${name} (${pb.length} bytes): read signatures`, () => readSignatures(pb));
  bench.add(`${name}: read + generate module`, () =>
    generateTypeScriptModule({ model: name, version: 1, source: name, signatures: readSignatures(pb).signatures }),
  );
}
await bench.run();
console.log(`in-process, tinybench ${bench.opts?.time ?? 500} ms per task (Node ${process.version})`);
console.log('| task | mean ms | p99 ms |');
console.log('|---|---:|---:|');
for (const task of bench.tasks) {
  const r = task.result;
  const mean = r.latency?.mean ?? r.mean;
  const p99 = r.latency?.p99 ?? r.p99;
  console.log(`| ${task.name} | ${mean.toFixed(3)} | ${p99.toFixed(3)} |`);
}

// The whole command, as a user runs it (Node start-up, CLI load, file write).
const cli = path.join(repoRoot, 'packages/cli/bin/catwalk.js');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-codegen-bench-'));
const wideDir = path.join(out, 'wide', '1');
fs.mkdirSync(wideDir, { recursive: true });
fs.writeFileSync(path.join(wideDir, 'saved_model.pb'), wide);
const median = (args) => {
  const times = [];
  for (let i = 0; i < 7; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status}`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[3];
};
console.log('\nwhole command, median of 7 runs');
console.log('| command | median ms |');
console.log('|---|---:|');
console.log(`| baseline: node -e 0 | ${median(['-e', '0']).toFixed(0)} |`);
for (const [name, dir] of [
  ['half_plus_two', path.join(tfserving, 'saved_model_half_plus_two_cpu')],
  ['synthetic 500 inputs', path.join(out, 'wide')],
]) {
  const ms = median([cli, 'codegen', dir, '--out', path.join(out, `${name.replace(/ /g, '_')}.ts`)]);
  console.log(`| catwalk codegen ${name} | ${ms.toFixed(0)} |`);
}
const lines = fs.readFileSync(path.join(out, 'synthetic_500_inputs.ts'), 'utf8').split('\n').length;
console.log(`\nthe 500-input module has ${lines} lines`);
fs.rmSync(out, { recursive: true, force: true });
