// The registry commands at their edges: what a user sees for a missing
// folder, a bad label, a numbered export folder, an identical re-push, an S3
// error, a damaged version, a version number too large to keep exactly.
// Against Catwalk's embedded S3 on loopback.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '@catwalk/registry';
import { catwalk, type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
const halfPlusTwo = path.join(tfserving, 'saved_model_half_plus_two_cpu');
const tf2 = path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu');
let server: LocalS3;
let endpoint = '';
const s3Dir = tempDir();

beforeAll(async () => {
  server = await startLocalS3(s3Dir);
  endpoint = server.endpoint;
});

afterAll(async () => {
  await server?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);
let n = 0;
const uri = () => `s3://models/edges/m${++n}`;

describe('registry command edges', () => {
  it.each([
    ['0', "--concurrency '0': give a whole number of files from 1 to 64"],
    ['abc', "--concurrency 'abc': give a whole number of files from 1 to 64"],
    ['1000', "--concurrency '1000': give a whole number of files from 1 to 64"],
  ])('push --concurrency %s is a usage error that says what it takes', async (value, message) => {
    const result = await catwalk([
      'push',
      halfPlusTwo,
      '--model',
      uri(),
      '--endpoint',
      endpoint,
      '--concurrency',
      value,
    ]);
    expect(result.stderr).toContain(message);
    expect(result.code).toBe(2);
    noStack(result.stderr);
  });

  it('a missing export folder and a missing spec file are both usage errors (exit 2) naming the path', async () => {
    const s3 = ['--endpoint', endpoint];
    const noExport = await catwalk(['push', '/nonexistent/export', '--model', uri(), ...s3]);
    const noSpec = await catwalk(['push', halfPlusTwo, '--model', '/nonexistent/model.yaml', ...s3]);
    expect([noExport.code, noSpec.code]).toEqual([2, 2]);
    expect(noExport.stderr).toContain('/nonexistent/export');
    expect(noSpec.stderr).toContain('/nonexistent/model.yaml');
    noStack(noExport.stderr);
  });

  it('release --label Stable=2 is refused: labels are lowercase TF Serving label names, known ones suggested', async () => {
    const model = uri();
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['push', halfPlusTwo, '--model', model, ...s3])).code).toBe(0);
    expect((await catwalk(['release', model, '--serve', '123', '--label', 'stable=123', ...s3])).code).toBe(
      0,
    );
    const bad = await catwalk(['release', model, '--label', 'Stable=123', ...s3]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/label 'Stable'.*lowercase.*did you mean 'stable'\?/);
    const listed = JSON.parse((await catwalk(['versions', model, '--json', ...s3])).stdout);
    expect(listed.release.labels).toEqual({ stable: 123 });
  });

  it('honours the number of a folder like 00000123 when it is free, and says so when it is not', async () => {
    const model = uri();
    const s3 = ['--endpoint', endpoint];
    const first = await catwalk(['push', halfPlusTwo, '--model', model, ...s3]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`${model}/123/`);
    const second = await catwalk(['push', tf2, '--model', model, ...s3]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`${model}/124/`);
    expect(second.stderr).toMatch(
      /00000123 names version 123, which is taken \(complete\); pushed it as version 124/,
    );
  });

  it('re-pushing an identical export says which version it is identical to and stops, unless --force', async () => {
    const model = uri();
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['push', halfPlusTwo, '--model', model, ...s3])).code).toBe(0);
    const again = await catwalk(['push', halfPlusTwo, '--model', model, ...s3]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/is identical to .*\/123 .*nothing was pushed.*--force/);
    const listed = JSON.parse((await catwalk(['versions', model, '--json', ...s3])).stdout);
    expect(listed.versions.map((v: { version: number }) => v.version)).toEqual([123]);
    const forced = await catwalk(['push', halfPlusTwo, '--model', model, '--force', ...s3]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`${model}/124/`);
  });

  it('S3 errors name the bucket and what to do', async () => {
    const missingBucket = await catwalk(['versions', 's3://no-such-bucket/team/m', '--endpoint', endpoint]);
    expect(missingBucket.code).toBe(1);
    expect(missingBucket.stderr).toMatch(/bucket 'no-such-bucket' does not exist.*create it or fix/);
    const down = await catwalk(['versions', 's3://models/team/m', '--endpoint', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach S3 at http:\/\/127\.0\.0\.1:9 \(bucket 'models'\).*--endpoint/);
    noStack(down.stderr);
  });

  it('the progress display ends at the full count', async () => {
    const pushed = await catwalk(['push', tf2, '--model', uri(), '--endpoint', endpoint]);
    expect(pushed.code).toBe(0);
    const lines = pushed.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/: 5\/5 files, ([\d.]+ \w+) of \1 /);
  });

  it('versions --verify reads every byte back and reports a same-size overwrite (exit 1)', async () => {
    const model = uri();
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['push', halfPlusTwo, '--model', model, ...s3])).code).toBe(0);
    const key = `${model.slice('s3://models/'.length)}/123/saved_model.pb`;
    const size = fs.statSync(path.join(halfPlusTwo, '00000123/saved_model.pb')).size;
    await createS3Client({ endpoint }).send(
      new PutObjectCommand({ Bucket: 'models', Key: key, Body: Buffer.alloc(size, 1) }),
    );
    const plain = await catwalk(['versions', model, '--json', ...s3]);
    expect(JSON.parse(plain.stdout).versions[0].state).toBe('complete');
    const verified = await catwalk(['versions', model, '--verify', '--json', ...s3]);
    expect(verified.code).toBe(1);
    const v = JSON.parse(verified.stdout).versions[0];
    expect(v.state).toBe('corrupt');
    expect(v.problem).toMatch(/saved_model\.pb holds \d+ bytes with sha256/);
    // A newer version is what the default policy serves; releasing 123 starts serving it.
    expect((await catwalk(['push', tf2, '--model', model, ...s3])).code).toBe(0);
    const refused = await catwalk(['release', model, '--serve', '123', ...s3]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('version 123 does not match its manifest in S3');
    const unchecked = await catwalk(['release', model, '--serve', '123', '--no-verify', ...s3]);
    expect(unchecked.code).toBe(0);
  });

  it('versions lists pruned numbers in one line instead of rows', async () => {
    const model = uri();
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['push', halfPlusTwo, '--model', model, ...s3])).code).toBe(0);
    expect((await catwalk(['push', tf2, '--model', model, ...s3])).code).toBe(0);
    expect((await catwalk(['release', model, '--serve', '124', ...s3])).code).toBe(0);
    const pruned = await catwalk(['prune', model, '--keep', '0', ...s3]);
    expect(pruned.stdout).toMatch(/^deleted version 123 /);
    const table = await catwalk(['versions', model, ...s3]);
    expect(table.stdout).not.toMatch(/│ 123 /);
    expect(table.stdout).toMatch(/│ 124 +│ complete │/);
    expect(table.stdout).toContain('numbers never used again: pruned 123');
  });

  it('a version number beyond 2^53 - 1 is refused with the limit, not rounded', async () => {
    for (const version of ['99999999999999999999', '9007199254740993']) {
      const r = await catwalk([
        'push',
        halfPlusTwo,
        '--model',
        uri(),
        '--version',
        version,
        '--endpoint',
        endpoint,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--version ${version}`);
      expect(r.stderr).toContain('9007199254740991');
    }
  });
});
