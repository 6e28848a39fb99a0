// A warm-up request is written in the form `catwalk predict --input` takes:
// the same inputs are accepted or refused by both, and a request that is
// accepted becomes the same tensor shape. The predict side calls
// @catwalk/testing's fake over loopback REST (TF Serving cannot run here);
// the warm-up side is push's own writer over TF Serving's half_plus_two export.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeTensor } from '@catwalk/client/wire';
import { readExportSignatures, warmupFileBytes } from '@catwalk/registry';
import { readWarmupFile } from '@catwalk/savedmodel';
import { type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import { catwalk, repoRoot } from './run';

const exportDir = path.resolve(
  repoRoot,
  '../shared/testdata/tfserving/saved_model_half_plus_two_cpu/00000123',
);

let fake: FakeServing;
beforeAll(async () => {
  fake = await startFakeServing({ models: [halfPlusTwo()] });
});
afterAll(async () => {
  await fake.close();
});

/** The shape predict sends x as (half_plus_two's y has x's shape), or undefined when it refuses. */
async function predictShape(x: unknown): Promise<number[] | undefined> {
  const r = await catwalk([
    'predict',
    `${fake.restUrl}/v1/models/half_plus_two`,
    '--input',
    JSON.stringify({ x }),
    '--json',
  ]);
  if (r.code !== 0) {
    expect(r.stderr).toMatch(/^catwalk: INVALID_ARGUMENT: /);
    return undefined;
  }
  return JSON.parse(r.stdout).outputs.y.shape;
}

/** The shape the warm-up record holds for x, or undefined when push would refuse it. */
async function warmupShape(x: unknown): Promise<number[] | undefined> {
  const read = await readExportSignatures(exportDir, fs.readdirSync(exportDir));
  let bytes: Uint8Array;
  try {
    bytes = warmupFileBytes('half_plus_two', read, { requests: [{ x }], source: 'requests.json' });
  } catch (error) {
    expect((error as Error).message).toMatch(/^requests\.json: request 0: input x: /);
    return undefined;
  }
  const [log] = readWarmupFile(bytes);
  if (log?.logType.case !== 'predictLog') throw new Error('expected a predict log');
  return [...decodeTensor(log.logType.value.request!.inputs.x!).shape];
}

describe('predict and push --warmup take inputs in the same form', () => {
  test.each([
    ['a flat list', [1.0, 2.0], [2, 1]],
    ['rows of one value', [[1.0], [2.0]], [2, 1]],
    ['a single value in a list', [3], [1, 1]],
    ['rows of two values', [[1, 2]], undefined],
    ['a bare number', 5, undefined],
    ['a list of three levels', [[[1]]], undefined],
  ])('%s: both give the same shape, or both refuse', async (_what, x, shape) => {
    expect(await predictShape(x)).toEqual(shape);
    expect(await warmupShape(x)).toEqual(shape);
  });
});
