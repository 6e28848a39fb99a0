import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { catwalk, type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
const uri = 's3://models/team/half';
let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();
const out = tempDir();

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
  // Version 123: the TF1 export; 124: the TF2 one (whose x is [1], not [?, 1]).
  for (const dir of ['saved_model_half_plus_two_cpu', 'saved_model_half_plus_two_tf2_cpu']) {
    const pushed = await catwalk(['push', path.join(tfserving, dir), '--model', uri, '--endpoint', endpoint]);
    expect(pushed.code).toBe(0);
  }
  const released = await catwalk([
    'release',
    uri,
    '--serve',
    '123,124',
    '--label',
    'stable=123',
    '--label',
    'canary=124',
    // 124's x takes [1] where 123's took [?, 1]: a breaking change, served on purpose here.
    '--allow-breaking',
    '--endpoint',
    endpoint,
  ]);
  expect(released.code).toBe(0);
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const body = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('// Source:'));

describe('catwalk codegen from the registry', () => {
  test('the stable version by default, the same module as from its export folder', async () => {
    const fromS3 = path.join(out, 's3.ts');
    const r = await catwalk(['codegen', uri, '--out', fromS3, '--endpoint', endpoint]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('half version 123, 1 typed signature');
    const text = fs.readFileSync(fromS3, 'utf8');
    expect(text).toContain('// Source: s3://models/team/half/123\n');
    const fromExport = path.join(out, 'export.ts');
    await catwalk([
      'codegen',
      path.join(tfserving, 'saved_model_half_plus_two_cpu'),
      '--model',
      'half',
      '--out',
      fromExport,
    ]);
    expect(body(fromS3)).toEqual(body(fromExport));
    // A spec names the same folder.
    const specDir = tempDir();
    expect((await catwalk(['init', 'half', '--team', 'team', '--source', uri], { cwd: specDir })).code).toBe(
      0,
    );
    const fromSpec = await catwalk(['codegen', 'half.yaml', '--endpoint', endpoint], { cwd: specDir });
    expect(fromSpec).toMatchObject({ code: 0, stderr: '' });
    expect(fromSpec.stdout.split('\n').filter((l) => !l.startsWith('// Source:'))).toEqual(body(fromS3));
  });

  test('a label or a version folder picks the version; --check shows what the canary changes', async () => {
    const canary = await catwalk(['codegen', uri, '--label', 'canary', '--endpoint', endpoint]);
    expect(canary.code).toBe(0);
    expect(canary.stdout).toContain('// Version: 124');
    expect(canary.stdout).toContain("x: { dtype: 'float32'; rank: 1 };");
    const pinned = await catwalk(['codegen', `${uri}/124`, '--endpoint', endpoint]);
    expect(pinned.stdout).toBe(canary.stdout);
    const stableFile = path.join(out, 'stable.ts');
    await catwalk(['codegen', uri, '--label', 'stable', '--out', stableFile, '--endpoint', endpoint]);
    const check = await catwalk([
      'codegen',
      uri,
      '--label',
      'canary',
      '--out',
      stableFile,
      '--check',
      '--endpoint',
      endpoint,
    ]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain("-    x: { dtype: 'float32'; rank: 2 };");
    expect(check.stdout).toContain("+    x: { dtype: 'float32'; rank: 1 };");
  });

  test('a missing label or version, and a damaged file, are one clear line', async () => {
    const label = await catwalk(['codegen', uri, '--label', 'blue', '--endpoint', endpoint]);
    expect([label.code, label.stderr]).toEqual([
      1,
      expect.stringContaining('no label blue; labels are canary, stable'),
    ]);
    const version = await catwalk(['codegen', `${uri}/7`, '--endpoint', endpoint]);
    expect([version.code, version.stderr]).toEqual([
      1,
      expect.stringContaining('version 7 is not a complete version (complete: 123, 124)'),
    ]);
    // Damage the stored saved_model.pb of version 123 behind the registry's back: same size, one byte
    // changed, so only its sha256 tells; then cut it short, which the registry's listing reports.
    const client = new S3Client({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const key = 'team/half/123/saved_model.pb';
    const original = fs.readFileSync(
      path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123/saved_model.pb'),
    );
    const flipped = Uint8Array.from(original);
    flipped[100] = (flipped[100] as number) ^ 0xff;
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: flipped }));
    // The signatures recorded in the manifest at push are all codegen reads: saved_model.pb is not downloaded.
    const recorded = await catwalk(['codegen', `${uri}/123`, '--endpoint', endpoint]);
    expect(recorded).toMatchObject({ code: 0, stderr: '' });
    expect(recorded.stdout).toContain('// Version: 123');
    // A version pushed before signatures were recorded is read from its saved_model.pb, checked first.
    const manifestKey = 'team/half/123/catwalk-manifest.json';
    const manifest = JSON.parse(
      await (
        await client.send(new GetObjectCommand({ Bucket: 'models', Key: manifestKey }))
      ).Body!.transformToString(),
    );
    delete manifest.signatures;
    await client.send(
      new PutObjectCommand({ Bucket: 'models', Key: manifestKey, Body: JSON.stringify(manifest) }),
    );
    const damaged = await catwalk(['codegen', `${uri}/123`, '--endpoint', endpoint]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(
      /^catwalk: s3:\/\/models\/team\/half\/123\/saved_model\.pb: its sha256 is [0-9a-f]{64}, not the manifest's [0-9a-f]{64}; the stored file is damaged\n$/,
    );
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: original.subarray(0, 10) }));
    client.destroy();
    const cut = await catwalk(['codegen', `${uri}/123`, '--endpoint', endpoint]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(
      /^catwalk: s3:\/\/models\/team\/half: version 123 is corrupt \(.+\); pick another with --version or --label\n$/,
    );
  });
});
