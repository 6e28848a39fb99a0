// `catwalk push --warmup requests.json`, run as a user runs it against the
// real embedded S3: the requests land in the version as TF Serving's warm-up
// file, and reach the folder TF Serving reads through `catwalk sync`; bad
// requests are refused with the request and input named, before anything is
// written.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readWarmupFile } from '@catwalk/savedmodel';
import { catwalk, type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const halfPlusTwo = path.resolve(
  repoRoot,
  '../shared/testdata/tfserving/saved_model_half_plus_two_cpu/00000123',
);
let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

function requestsFile(content: string): string {
  const file = path.join(tempDir(), 'warmup.json');
  fs.writeFileSync(file, content);
  return file;
}

describe('catwalk push --warmup', () => {
  it('adds the warm-up file to the version, and sync puts it where TF Serving looks', async () => {
    const uri = 's3://models/team/warm';
    const file = requestsFile(JSON.stringify([{ x: [[1.0], [2.0]] }, { x: [[3.5]] }]));
    const pushed = await catwalk([
      'push',
      halfPlusTwo,
      '--model',
      uri,
      '--warmup',
      file,
      '--endpoint',
      endpoint,
    ]);
    expect(pushed).toMatchObject({ code: 0 });
    expect(pushed.stdout).toContain('with 2 warm-up requests in assets.extra/tf_serving_warmup_requests');

    const json = await catwalk([
      'push',
      halfPlusTwo,
      '--model',
      `${uri}-json`,
      '--json',
      '--warmup',
      file,
      '--endpoint',
      endpoint,
    ]);
    expect(JSON.parse(json.stdout)[0]).toMatchObject({
      warmupRequests: 2,
      signatures: {
        fingerprint: expect.stringMatching(/^sha256:/),
        names: expect.arrayContaining(['serving_default']),
      },
    });

    const dest = path.join(tempDir(), 'warm');
    const synced = await catwalk([
      'sync',
      `--source=${uri}`,
      `--dest=${dest}`,
      '--track=all',
      '--once',
      `--endpoint=${endpoint}`,
    ]);
    expect(synced.code).toBe(0);
    const warmFile = path.join(dest, '123', 'assets.extra', 'tf_serving_warmup_requests');
    const logs = readWarmupFile(fs.readFileSync(warmFile));
    expect(
      logs.map((l) =>
        l.logType.case === 'predictLog' ? l.logType.value.request?.inputs.x?.floatVal : undefined,
      ),
    ).toEqual([[1, 2], [3.5]]);
  });

  it('refuses requests that do not fit, naming the file, request and input; nothing is pushed', async () => {
    const uri = 's3://models/team/warm-bad';
    const s3 = ['--endpoint', endpoint];
    const wrongName = await catwalk([
      'push',
      halfPlusTwo,
      '--model',
      uri,
      '--warmup',
      requestsFile('[{"x": [[1]]}, {"features": [[1]]}]'),
      ...s3,
    ]);
    expect(wrongName.code).toBe(1);
    noStack(wrongName.stderr);
    expect(wrongName.stderr).toMatch(
      /warmup\.json: request 1: serving_default has no input features; its inputs are x/,
    );

    const notJson = await catwalk([
      'push',
      halfPlusTwo,
      '--model',
      uri,
      '--warmup',
      requestsFile('[{"x": '),
      ...s3,
    ]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/--warmup .*warmup\.json is not JSON/);

    const missing = await catwalk(['push', halfPlusTwo, '--model', uri, '--warmup', 'nowhere.json', ...s3]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--warmup nowhere.json: no such file');

    const lonely = await catwalk(['push', halfPlusTwo, '--model', uri, '--warmup-signature', 'x', ...s3]);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toContain('give --warmup too');

    const listed = await catwalk(['versions', uri, '--json', ...s3]);
    expect(JSON.parse(listed.stdout).versions).toEqual([]);
  });
});
