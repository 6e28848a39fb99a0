// `catwalk predict` against @catwalk/testing's fake TF Serving (TF Serving
// itself cannot run here), over real REST and gRPC on loopback.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateSpecText } from '@catwalk/schema';
import { type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import { specEndpoint } from '../src/commands/predict';
import { run } from '../src/main';
import { catwalk, repoRoot, tempDir } from './run';

let fake: FakeServing;
let url = '';
beforeAll(async () => {
  fake = await startFakeServing({ models: [halfPlusTwo({ labels: { stable: 123 } })] });
  url = `${fake.restUrl}/v1/models/half_plus_two`;
});
afterAll(async () => {
  await fake.close();
});

describe('catwalk predict', () => {
  test('REST, as a table with the time taken', async () => {
    const r = await catwalk(['predict', url, '--input', '{"x": [[1], [2], [5]]}']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/│ y\s+│ float32 │ \[3, 1\] │ 2\.5 3 4\.5 │/);
    expect(r.stdout).toMatch(/half_plus_two serving_default over rest: \d+\.\d ms\n$/);
    expect(fake.requests.at(-1)).toMatchObject({
      transport: 'rest',
      method: 'predict',
      model: 'half_plus_two',
    });
  });

  test("gRPC with --json, a pinned version and a file of inputs in TF Serving's columnar form", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'request.json'), JSON.stringify({ inputs: { x: [[0], [4]] } }));
    const r = await catwalk(
      [
        'predict',
        url,
        '--transport',
        'grpc',
        '--grpc-address',
        fake.grpcAddress,
        '--version',
        '123',
        '--input-file',
        'request.json',
        '--json',
      ],
      { cwd: dir },
    );
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const body = JSON.parse(r.stdout);
    expect(body).toMatchObject({
      model: 'half_plus_two',
      version: 123,
      signature: 'serving_default',
      transport: 'grpc',
      outputs: { y: { dtype: 'float32', shape: [2, 1], values: [[2], [4]] } },
    });
    expect(typeof body.elapsedMs).toBe('number');
    expect(fake.requests.at(-1)).toMatchObject({ transport: 'grpc', method: 'predict' });
  });

  test('a URL without the model path names the model with --model, as the hint says', async () => {
    const unnamed = await catwalk(['predict', `${fake.restUrl}/`, '--input', '{"x": [[1]]}']);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain('or with --model <name>');
    const r = await catwalk([
      'predict',
      `${fake.restUrl}/`,
      '--model',
      'half_plus_two',
      '--input',
      '{"x": [[1], [2]]}',
      '--json',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({
      model: 'half_plus_two',
      outputs: { y: { shape: [2, 1], values: [[2.5], [3]] } },
    });
    expect(fake.requests.at(-1)).toMatchObject({ model: 'half_plus_two', method: 'predict' });
  });

  test('inputs from standard input with -', async () => {
    let stdout = '';
    let stderr = '';
    const code = await run(
      ['predict', `${fake.restUrl}/v1/models/half_plus_two/labels/stable`, '-', '--json'],
      {
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
        cwd: repoRoot,
        color: false,
        stdin: (async function* () {
          yield '{"x": [[1],';
          yield Buffer.from(' [3]]}');
        })(),
      },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toMatchObject({ label: 'stable', outputs: { y: { values: [[2.5], [3.5]] } } });
  });

  test('an input the signature lacks is refused by the SDK before sending, in one line', async () => {
    const before = fake.requests.filter((r) => r.method === 'predict').length;
    const r = await catwalk(['predict', url, '--input', '{"features": [[1]]}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^catwalk: INVALID_ARGUMENT: .*features/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fake.requests.filter((q) => q.method === 'predict').length).toBe(before);
  });

  test("server and connection errors are the SDK's codes, without a stack trace", async () => {
    const missing = await catwalk(['predict', `${fake.restUrl}/v1/models/nope`, '--input', '{"x": [[1]]}']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^catwalk: NOT_FOUND: /);
    const label = await catwalk(['predict', url, '--label', 'canary', '--input', '{"x": [[1]]}']);
    expect(label.code).toBe(1);
    expect(label.stderr).toMatch(/^catwalk: NOT_FOUND: .*canary/);
    const closed = await startFakeServing({ models: [halfPlusTwo()] });
    const deadUrl = `${closed.restUrl}/v1/models/half_plus_two`;
    await closed.close();
    const refused = await catwalk(['predict', deadUrl, '--input', '{"x": [[1]]}', '--timeout', '3000']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^catwalk: (UNAVAILABLE|DEADLINE_EXCEEDED): /);
    for (const r of [missing, label, refused]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('usage mistakes say what to do', async () => {
    const none = await catwalk(['predict', url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give the inputs once');
    const notJson = await catwalk(['predict', url, '--input', '{x: 1}']);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toContain('--input: not JSON');
    const transport = await catwalk(['predict', url, '--transport', 'http2', '--input', '{}']);
    expect(transport.stderr).toContain("--transport 'http2' is not rest or grpc");
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'pricing.yaml'),
      fs
        .readFileSync(path.join(repoRoot, 'examples/models/pricing.yaml'), 'utf8')
        .replace(/^\s*(host|grpc):.*\n/gm, ''),
    );
    const spec = await catwalk(['predict', 'pricing.yaml', '--input', '{"x": [[1]]}'], { cwd: dir });
    expect([spec.code, spec.stderr]).toEqual([2, expect.stringContaining('the spec sets no endpoint.host')]);
  });

  test("a spec's endpoint: the host over HTTPS, gRPC on <name>.grpc.<host>:443, as the chart routes them", async () => {
    const text = fs.readFileSync(path.join(repoRoot, 'examples/models/pricing.yaml'), 'utf8');
    const model = (t: string) => validateSpecText({ file: 'pricing.yaml', text: t }).model!;
    expect(specEndpoint(model(text))).toEqual({
      url: 'https://models.example.com/v1/models/pricing',
      grpc: { address: 'pricing.grpc.models.example.com:443', tls: true },
      spec: true,
    });
    expect(
      specEndpoint(model(text.replace('host: models.example.com', 'host: "*.models.example.com"'))),
    ).toEqual({
      url: 'https://pricing.models.example.com/v1/models/pricing',
      grpc: { address: 'pricing.grpc.models.example.com:443', tls: true },
      spec: true,
    });
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'pricing.yaml'), text.replace('grpc: true', 'grpc: false'));
    const r = await catwalk(['predict', 'pricing.yaml', '--transport', 'grpc', '--input', '{"x": [[1]]}'], {
      cwd: dir,
    });
    expect([r.code, r.stderr]).toEqual([
      2,
      expect.stringContaining('the spec does not expose gRPC (spec.endpoint.grpc is false)'),
    ]);
  });
});
