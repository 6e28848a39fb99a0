// src/generated/ is what `npm run codegen` makes from proto/: regenerate into a
// temporary folder with the same script and compare file by file.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const pkg = path.resolve(__dirname, '..');

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = fs.readFileSync(full, 'utf8');
    }
  };
  walk(dir);
  return out;
}

test('src/generated is up to date with proto/ (run npm run codegen in packages/savedmodel if not)', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'savedmodel-codegen-check-'));
  try {
    execFileSync(process.execPath, [path.join(pkg, 'tools/codegen.cjs'), '--out', work], { stdio: 'pipe' });
    expect(files(path.join(work, 'src/generated'))).toEqual(files(path.join(pkg, 'src/generated')));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}, 120_000);

// The package generates only the messages it alone needs (SavedModel, MetaGraphDef, PredictionLog and
// its LogMetadata) and takes TF Serving's shared messages from @catwalk/client/wire, so there is one
// definition of each: a PredictRequest built with the client's schema is the one a warm-up record holds.
test('shared TF Serving messages are the client’s own, not copies', async () => {
  const wire = await import('@catwalk/client/wire');
  const { SavedModelSchema, MetaGraphDefSchema } = await import(
    '../src/generated/proto/tensorflow/core/protobuf/saved_model_pb.js'
  );
  const { PredictLogSchema } = await import(
    '../src/generated/proto/tensorflow_serving/apis/prediction_log_pb.js'
  );
  expect(PredictLogSchema.field.request!.message).toBe(wire.PredictRequestSchema);
  expect(MetaGraphDefSchema.field.signatureDef!.message).toBe(wire.SignatureDefSchema);
  expect(SavedModelSchema.field.metaGraphs!.message).toBe(MetaGraphDefSchema);
  const own = Object.keys(files(path.join(pkg, 'src/generated'))).sort();
  expect(own).toEqual([
    'proto/tensorflow/core/protobuf/saved_model_pb.ts',
    'proto/tensorflow_serving/apis/prediction_log_pb.ts',
    'proto/tensorflow_serving/core/logging_pb.ts',
  ]);
});
