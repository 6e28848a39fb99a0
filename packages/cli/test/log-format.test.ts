// --log-format on the long-running commands: catwalk sync writes JSON lines
// with pod, model, track, generation and version (text when asked), against
// the embedded S3; bad values are usage errors that name the flag and the fix.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { catwalk, type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();
const savedPod = process.env.POD_NAME;

beforeAll(async () => {
  process.env.POD_NAME = 'half-stable-5f6d7-abcde';
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  if (savedPod === undefined) delete process.env.POD_NAME;
  else process.env.POD_NAME = savedPod;
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('catwalk sync --log-format', () => {
  const uri = 's3://models/team/half';
  beforeAll(async () => {
    const pushed = await catwalk([
      'push',
      path.join(tfserving, 'saved_model_half_plus_two_cpu'),
      '--model',
      uri,
      '--endpoint',
      endpoint,
    ]);
    expect(pushed.code).toBe(0);
    const released = await catwalk([
      'release',
      uri,
      '--serve',
      '123',
      '--label',
      'stable=123',
      '--endpoint',
      endpoint,
    ]);
    expect(released.stderr).toBe('');
    expect(released.code).toBe(0);
  });

  const sync = (...args: string[]) =>
    catwalk([
      'sync',
      '--source',
      uri,
      '--dest',
      path.join(tempDir(), 'half'),
      '--once',
      '--track',
      'stable',
      '--endpoint',
      endpoint,
      ...args,
    ]);

  it('writes JSON lines by default off a terminal, every line naming pod, model and track', async () => {
    const result = await sync();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const line of lines) {
      expect(line).toMatchObject({ pod: 'half-stable-5f6d7-abcde', model: 'half', track: 'stable' });
      expect(line.level).toMatch(/^(info|warn|error)$/);
      expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
    }
    const downloaded = lines.find((l) => l.msg === 'version 123 downloaded and verified');
    expect(downloaded).toMatchObject({ level: 'info', version: 123 });
    expect(downloaded!.generation).toEqual(expect.any(Number));
    expect(downloaded!.generation).toBeGreaterThan(0);
  });

  it('writes text with --log-format text', async () => {
    const result = await sync('--log-format', 'text');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^\S+Z INFO {2}sync starting {2}component=catwalk-sync pod=half-stable-5f6d7-abcde model=half track=stable /,
    );
    expect(result.stdout).toMatch(
      /INFO {2}version 123 downloaded and verified {2}.* generation=\d+ version=123\n/,
    );
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });

  it.each([
    [['--log-format', 'yaml'], "--log-format 'yaml': use json or text"],
    [['--log-level', 'loud'], "--log-level 'loud': use trace, debug, info, warn, error, fatal, silent"],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const result = await sync(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    noStack(result.stderr);
  });
});

describe('catwalk deploy --log-format', () => {
  const spec = path.join(repoRoot, 'examples/models/pricing.yaml');

  it('refuses an unknown format before touching anything', async () => {
    const result = await catwalk(['deploy', spec, '--log-format', 'xml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--log-format 'xml': use json or text");
    noStack(result.stderr);
  });

  it('refuses --json with --log-format json: both would write to stdout', async () => {
    const result = await catwalk(['deploy', spec, '--json', '--log-format', 'json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--json and --log-format json both write to stdout');
    noStack(result.stderr);
  });
});
