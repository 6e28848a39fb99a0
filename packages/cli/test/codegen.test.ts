// `catwalk codegen`: typed handles from a SavedModel export or from TF Serving.
// TF Serving itself cannot run here, so the server side is @catwalk/testing's
// fake, whose metadata equals TF Serving's recorded answers; the SavedModels
// are TF Serving's own test exports.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CatwalkClient, createClient, InvalidInputError, type Model, tensor } from '@catwalk/client';
import { type FakeModel, type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import * as ts from 'typescript';
import { catwalk, repoRoot, tempDir } from './run';

const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
const clientSrc = path.join(repoRoot, 'packages/client/src/index.ts');

/** Type-checks files under `tsc --strict` with @catwalk/client from its sources; diagnostics by file. */
function typeCheck(files: string[]): Map<string, string[]> {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(repoRoot, 'node_modules/@types')],
    paths: { '@catwalk/client': [clientSrc] },
  });
  const byFile = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? path.basename(d.file.fileName) : '(global)';
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    const list = byFile.get(file) ?? [];
    list.push(`${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    byFile.set(file, list);
  }
  return byFile;
}

describe('catwalk codegen from an export folder', () => {
  const dir = tempDir();

  test('modules for every test SavedModel compile under tsc --strict; wrong names and dtypes do not', async () => {
    const models = {
      half_plus_two: 'saved_model_half_plus_two_cpu',
      counter: 'saved_model_counter',
      matrix: 'matrix_half_plus_two',
      tf2: 'saved_model_half_plus_two_tf2_cpu/00000123',
      two_versions: 'saved_model_half_plus_two_2_versions',
    };
    for (const [name, source] of Object.entries(models)) {
      const r = await catwalk([
        'codegen',
        path.join(tfserving, source),
        '--model',
        name,
        '--out',
        path.join(dir, `${name}.ts`),
      ]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
    }
    expect(fs.readFileSync(path.join(dir, 'two_versions.ts'), 'utf8')).toContain('// Version: 124');
    // An export in text format with names that are not identifiers, a reserved word for a model name,
    // and dtypes the SDK cannot carry.
    const odd = path.join(dir, 'odd-export', '7');
    fs.mkdirSync(odd, { recursive: true });
    fs.writeFileSync(
      path.join(odd, 'saved_model.pbtxt'),
      `meta_graphs {
  meta_info_def { tags: "serve" }
  signature_def {
    key: "serving_default"
    value {
      inputs { key: "my-input" value { name: "a:0" dtype: DT_INT64 tensor_shape { dim { size: -1 } } } }
      inputs { key: "class" value { name: "b:0" dtype: DT_STRING tensor_shape { dim { size: -1 } } } }
      outputs { key: "scores" value { name: "c:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 3 } } } }
      outputs { key: "state" value { name: "d:0" dtype: DT_VARIANT tensor_shape { unknown_rank: true } } }
      method_name: "tensorflow/serving/predict"
    }
  }
  signature_def {
    key: "lookup"
    value {
      inputs { key: "table" value { name: "t:0" dtype: DT_RESOURCE } }
      outputs { key: "v" value { name: "v:0" dtype: DT_FLOAT } }
      method_name: "tensorflow/serving/predict"
    }
  }
}
`,
    );
    const oddRun = await catwalk([
      'codegen',
      path.dirname(odd),
      '--model',
      'default',
      '--out',
      path.join(dir, 'odd.ts'),
    ]);
    expect(oddRun).toMatchObject({ code: 0, stderr: '' });
    expect(oddRun.stdout).toContain(
      'default version 7, 1 typed signature (1 left out, listed in its header)',
    );
    const oddText = fs.readFileSync(path.join(dir, 'odd.ts'), 'utf8');
    expect(oddText).toContain('//   lookup (input table is DT_RESOURCE, which the SDK cannot send)');
    expect(oddText).toContain('// state: DT_VARIANT has no SDK dtype and is left out.');
    fs.writeFileSync(
      path.join(dir, 'good.ts'),
      `import { createClient, type Tensor } from '@catwalk/client';
import { halfPlusTwo } from './half_plus_two';
import { counter } from './counter';
import { matrix } from './matrix';
import { defaultModel } from './odd';
export async function main(): Promise<number> {
  const client = createClient({ baseUrl: 'http://127.0.0.1:8501' });
  const out = await halfPlusTwo(client, { label: 'stable' }).predict({ x: [[1], [2]] });
  const y: Tensor<'float32'> = out.y;
  const m = await matrix(client).predict({ x: [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]] });
  const byDelta = await counter(client, { signature: 'incr_counter_by' }).predict({ delta: 2 });
  const odd = await defaultModel(client).predict({ 'my-input': [1n, 2], class: ['a', new Uint8Array([1])] });
  const scores: Tensor<'float32'> = odd.scores;
  const now = await counter(client).predict({});
  return y.data[0]! + m.y.data[0]! + byDelta.output.data[0]! + now.output.data[0]! + scores.data[0]!;
}
`,
    );
    fs.writeFileSync(
      path.join(dir, 'wrong_name.ts'),
      `import { type CatwalkClient, createClient, type Model } from '@catwalk/client';
import { halfPlusTwo } from './half_plus_two';
export const call = () => halfPlusTwo(createClient({ baseUrl: 'http://h' })).predict({ features: [[1]] });
`,
    );
    fs.writeFileSync(
      path.join(dir, 'wrong_dtype.ts'),
      `import { type CatwalkClient, createClient, type Model } from '@catwalk/client';
import { halfPlusTwo } from './half_plus_two';
export const call = () => halfPlusTwo(createClient({ baseUrl: 'http://h' })).predict({ x: [['one']] });
`,
    );
    fs.writeFileSync(
      path.join(dir, 'wrong_output.ts'),
      `import { type CatwalkClient, createClient, type Model } from '@catwalk/client';
import { counter } from './counter';
export const call = async () => (await counter(createClient({ baseUrl: 'http://h' }), { signature: 'incr_counter_by' }).predict({ delta: 1 })).result;
`,
    );
    fs.writeFileSync(
      path.join(dir, 'wrong_left_out.ts'),
      `import { createClient } from '@catwalk/client';
import { defaultModel } from './odd';
export const call = async () => (await defaultModel(createClient({ baseUrl: 'http://h' })).predict({ 'my-input': [1], class: ['a'] })).state;
`,
    );
    const names = [
      ...Object.keys(models),
      'odd',
      'good',
      'wrong_name',
      'wrong_dtype',
      'wrong_output',
      'wrong_left_out',
    ];
    const files = names.map((f) => path.join(dir, `${f}.ts`));
    const errors = typeCheck(files);
    for (const f of [...Object.keys(models), 'odd', 'good'])
      expect([f, errors.get(`${f}.ts`) ?? []]).toEqual([f, []]);
    expect(errors.get('wrong_left_out.ts')?.join('\n')).toContain("Property 'state' does not exist on type");
    expect(errors.get('wrong_name.ts')?.join('\n')).toContain(
      "TS2353 Object literal may only specify known properties, and 'features' does not exist in type",
    );
    expect(errors.get('wrong_dtype.ts')?.join('\n')).toContain(
      "Type 'string' is not assignable to type 'number'",
    );
    expect(errors.get('wrong_output.ts')?.join('\n')).toContain("Property 'result' does not exist on type");
    // A whole tsc program over the SDK's sources: seconds on an idle machine, more on a loaded CI one.
  }, 180_000);

  test('--check passes on a current file and fails with a diff once the model changed', async () => {
    const out = path.join(dir, 'pricing.ts');
    const cpu = path.join(tfserving, 'saved_model_half_plus_two_cpu');
    expect((await catwalk(['codegen', cpu, '--model', 'pricing', '--out', out])).code).toBe(0);
    const ok = await catwalk(['codegen', cpu, '--model', 'pricing', '--out', out, '--check']);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toContain('is up to date');
    const before = fs.readFileSync(out, 'utf8');
    // The retrained model: the TF2 export, whose x is [1] instead of [?, 1].
    const tf2 = path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu');
    const stale = await catwalk(['codegen', tf2, '--model', 'pricing', '--out', out, '--check']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain("-    x: { dtype: 'float32'; rank: 2 };");
    expect(stale.stdout).toContain("+    x: { dtype: 'float32'; rank: 1 };");
    expect(stale.stderr).toContain(
      `is out of date; regenerate it with: catwalk codegen ${tf2} --model pricing --out ${out}`,
    );
    expect(fs.readFileSync(out, 'utf8')).toBe(before); // --check never writes
    const missing = await catwalk(['codegen', cpu, '--out', path.join(dir, 'none.ts'), '--check']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('none.ts does not exist');
  });

  test('--check compares what the module declares, not where it was generated from', async () => {
    const out = path.join(dir, 'moved.ts');
    const cpu = path.join(tfserving, 'saved_model_half_plus_two_cpu');
    expect((await catwalk(['codegen', cpu, '--model', 'pricing', '--out', out])).code).toBe(0);
    // The same export, copied elsewhere (a CI checkout, another machine): only the Source line differs.
    const copy = path.join(dir, 'elsewhere', 'pricing');
    fs.cpSync(cpu, copy, { recursive: true });
    const ok = await catwalk(['codegen', copy, '--model', 'pricing', '--out', out, '--check']);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toContain('is up to date with');
    // A real change still fails, and the diff shows the declarations that changed, not the Source line.
    const tf2 = path.join(dir, 'elsewhere', 'tf2');
    fs.cpSync(path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu'), tf2, { recursive: true });
    const stale = await catwalk(['codegen', tf2, '--model', 'pricing', '--out', out, '--check']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain("+    x: { dtype: 'float32'; rank: 1 };");
    expect(stale.stdout).toMatch(/^\+\/\/ Signatures fingerprint: /m);
    expect(stale.stdout).not.toMatch(/^[-+]\/\/ Source:/m);
  });

  test('bad exports get one clear line, no stack trace', async () => {
    const bad = await catwalk(['codegen', path.join(tfserving, 'bad_half_plus_two')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('holds no saved_model.pb or saved_model.pbtxt');
    const cut = path.join(dir, 'cut', '7');
    fs.mkdirSync(cut, { recursive: true });
    const pb = fs.readFileSync(path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123/saved_model.pb'));
    fs.writeFileSync(path.join(cut, 'saved_model.pb'), pb.subarray(0, 1000));
    const truncated = await catwalk(['codegen', path.join(dir, 'cut')]);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(
      /saved_model\.pb: not a SavedModel: the protobuf is truncated or corrupt/,
    );
    expect(truncated.stderr).not.toMatch(/\n\s+at /);
    const check = await catwalk(['codegen', path.join(tfserving, 'saved_model_counter'), '--check']);
    expect(check).toMatchObject({ code: 2 });
    expect(check.stderr).toContain('--check compares a file: name it with --out <file.ts>');
  });
});

describe('catwalk codegen from TF Serving (the fake), and the generated handle over REST and gRPC', () => {
  let fake: FakeServing;
  const dir = tempDir();
  beforeAll(async () => {
    fake = await startFakeServing({ models: [halfPlusTwo()] });
  });
  afterAll(async () => {
    await fake.close();
  });

  test('the module read from the server has the same types as the one read from the export', async () => {
    const fromServer = path.join(dir, 'server.ts');
    const fromExport = path.join(dir, 'export.ts');
    const r = await catwalk(['codegen', `${fake.restUrl}/v1/models/half_plus_two`, '--out', fromServer]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      'half_plus_two version 123, 1 typed signature (4 left out, listed in its header)',
    );
    await catwalk([
      'codegen',
      path.join(tfserving, 'saved_model_half_plus_two_cpu'),
      '--model',
      'half_plus_two',
      '--out',
      fromExport,
    ]);
    const body = (file: string) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('// Source:'));
    expect(body(fromServer)).toEqual(body(fromExport));
  });

  test.each(['rest', 'grpc'] as const)(
    'the generated handle predicts through the SDK over %s',
    async (transport) => {
      const file = path.join(dir, 'export.ts');
      if (!fs.existsSync(file)) {
        await catwalk([
          'codegen',
          path.join(tfserving, 'saved_model_half_plus_two_cpu'),
          '--model',
          'half_plus_two',
          '--out',
          file,
        ]);
      }
      // The generated TypeScript itself, compiled by jest's transform like any test source.
      const generated = require(file) as {
        halfPlusTwo: (client: CatwalkClient) => Model;
        halfPlusTwoSource: { model: string; version: number; fingerprint: string };
      };
      const client =
        transport === 'rest'
          ? createClient({ baseUrl: fake.restUrl })
          : createClient({ transport: 'grpc', grpcAddress: fake.grpcAddress });
      try {
        const out = await generated.halfPlusTwo(client).predict({ x: [[1], [2], [5]] });
        expect(out.y?.dtype).toBe('float32');
        expect(Array.from(out.y?.data as Float32Array)).toEqual([2.5, 3, 4.5]);
        expect(generated.halfPlusTwoSource).toMatchObject({ model: 'half_plus_two', version: 123 });
        const seen = fake.requests.at(-1)!;
        expect(seen).toMatchObject({ model: 'half_plus_two', transport, method: 'predict' });
      } finally {
        await client.close();
      }
    },
  );

  test('--check passes when the same model is served under another host name', async () => {
    const out = path.join(dir, 'hosts.ts');
    const at = (host: string) => `${fake.restUrl.replace('127.0.0.1', host)}/v1/models/half_plus_two`;
    expect((await catwalk(['codegen', at('127.0.0.1'), '--out', out])).code).toBe(0);
    const check = await catwalk(['codegen', at('localhost'), '--out', out, '--check']);
    expect(check).toMatchObject({ code: 0, stderr: '' });
  });

  test('server errors are one line with the SDK code, no stack', async () => {
    const r = await catwalk(['codegen', `${fake.restUrl}/v1/models/no_such_model`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^catwalk: NOT_FOUND: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const unnamed = await catwalk(['codegen', fake.restUrl]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain(
      'name the model, as http(s)://host:port/v1/models/<name> or with --model <name>',
    );
  });
});

describe('the generated handle of a signature without inputs (saved_model_counter)', () => {
  // The fake's counter stands in for TF Serving loading saved_model_counter, which cannot run here.
  let count = 0;
  const output = { output: { dtype: 'DT_FLOAT', shape: [], tensorName: 'counter:0' } };
  const value = () => ({ output: tensor(new Float32Array([count]), [], 'float32') });
  const counterModel: FakeModel = {
    name: 'counter',
    versions: [123],
    signatures: {
      get_counter: { methodName: 'tensorflow/serving/predict', inputs: {}, outputs: output, predict: value },
      incr_counter: {
        methodName: 'tensorflow/serving/predict',
        inputs: {},
        outputs: output,
        predict: () => {
          count += 1;
          return value();
        },
      },
    },
  };
  let fake: FakeServing;
  const dir = tempDir();
  beforeAll(async () => {
    fake = await startFakeServing({ models: [counterModel] });
  });
  afterAll(async () => {
    await fake.close();
  });

  test('predict({}) calls it over gRPC; over REST the SDK says TF Serving cannot, and to use gRPC', async () => {
    const file = path.join(dir, 'counter.ts');
    const r = await catwalk([
      'codegen',
      path.join(tfserving, 'saved_model_counter'),
      '--model',
      'counter',
      '--out',
      file,
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const generated = require(file) as {
      counter: (client: CatwalkClient, options?: { signature?: string }) => Model;
    };
    const grpc = createClient({ transport: 'grpc', grpcAddress: fake.grpcAddress });
    try {
      await generated.counter(grpc, { signature: 'incr_counter' }).predict({});
      const now = await generated.counter(grpc).predict({});
      expect(Array.from(now.output?.data as Float32Array)).toEqual([1]);
      expect(fake.requests.at(-1)).toMatchObject({ model: 'counter', transport: 'grpc', method: 'predict' });
    } finally {
      await grpc.close();
    }
    const rest = createClient({ baseUrl: fake.restUrl });
    try {
      const refused = await generated
        .counter(rest)
        .predict({})
        .catch((e: Error) => e);
      expect(refused).toBeInstanceOf(InvalidInputError);
      expect((refused as Error).message).toContain("TF Serving's REST API cannot call such a signature");
    } finally {
      await rest.close();
    }
  });
});
