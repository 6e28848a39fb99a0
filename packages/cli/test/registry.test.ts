import { spawn } from 'node:child_process';
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

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('registry commands', () => {
  it('push, versions, release, rollback, prune and sync --once work end to end', async () => {
    const uri = 's3://models/team/half';
    const s3 = ['--endpoint', endpoint];
    const pushed = await catwalk([
      'push',
      path.join(tfserving, 'saved_model_half_plus_two_2_versions'),
      '--model',
      uri,
      '--json',
      '--force', // 00000123 and 00000124 hold the same files
      ...s3,
    ]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    // The folders' own numbers, as TF Serving would read them.
    expect(JSON.parse(pushed.stdout).map((r: any) => [r.version, r.files, r.resumed])).toEqual([
      [123, 4, false],
      [124, 4, false],
    ]);
    const plain = await catwalk([
      'push',
      path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu'),
      '--model',
      uri,
      ...s3,
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(
      /^pushed s3:\/\/models\/team\/half\/125\/ : 5 files, [\d.]+ KiB in [\d.]+ s\n$/,
    );
    expect(plain.stderr).toMatch(/uploading 5 files \(.*\) as version 125/);
    expect(plain.stderr).toContain(
      '00000123 names version 123, which is taken (complete); pushed it as version 125',
    );

    const released = await catwalk([
      'release',
      uri,
      '--serve',
      '124,125',
      '--label',
      'stable=124',
      '--label',
      'canary=125',
      // 125 (the TF2 export) takes x of shape [1] where 124 took [?, 1]: served on purpose here.
      '--allow-breaking',
      ...s3,
    ]);
    expect(released.code).toBe(0);
    expect(released.stdout).toContain('generation 1: serve 124,125, canary=125 stable=124');

    const listed = await catwalk(['versions', uri, '--json', ...s3]);
    const report = JSON.parse(listed.stdout);
    expect(report.release).toMatchObject({
      generation: 1,
      serve: [124, 125],
      labels: { stable: 124, canary: 125 },
    });
    expect(report.versions.map((v: any) => [v.version, v.state, v.served, v.labels])).toEqual([
      [123, 'complete', false, []],
      [124, 'complete', true, ['stable']],
      [125, 'complete', true, ['canary']],
    ]);
    const table = await catwalk(['versions', uri, ...s3]);
    expect(table.stdout).toMatch(/│ 125 +│ complete │/);
    expect(table.stdout).toContain('release generation 1');

    const dest = path.join(tempDir(), 'half');
    const configOut = path.join(path.dirname(dest), 'models.config');
    const template = path.join(tempDir(), 'models.config');
    fs.writeFileSync(
      template,
      'model_config_list {\n  config {\n    name: "half"\n    base_path: "/models/half"\n    model_platform: "tensorflow"\n  }\n}\n',
    );
    // The argument style of the chart's sync containers.
    const synced = await catwalk([
      'sync',
      `--source=${uri}`,
      `--dest=${dest}`,
      '--interval=10s',
      '--track=all',
      `--config-template=${template}`,
      `--config-out=${configOut}`,
      '--once',
      `--endpoint=${endpoint}`,
    ]);
    expect(synced.code).toBe(0);
    expect(fs.readdirSync(dest).sort()).toEqual(['124', '125']);
    expect(fs.readFileSync(configOut, 'utf8')).toMatch(/versions: 124\n\s+versions: 125/);
    const logs = synced.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(logs.map((l) => l.msg)).toContain('sync applied the release');

    const back = await catwalk(['rollback', uri, '--json', ...s3]);
    expect(back.code).toBe(0);
    // stable pointed at 2, the bad one; with no earlier stable, it goes to the highest complete version below it.
    expect(JSON.parse(back.stdout)).toMatchObject({
      generation: 2,
      serve: [123, 125],
      labels: { canary: 125, stable: 123 },
    });
    const again = await catwalk(['rollback', uri, '--to', '123', ...s3]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('version 123 is the one being rolled back');

    const dry = await catwalk(['prune', uri, '--keep', '0', '--dry-run', ...s3]);
    expect(dry.stdout).toMatch(/^would delete versions? /);
  });

  it('takes the model from its spec: location, and the initial release from versionPolicy and versionLabels', async () => {
    const dir = tempDir();
    const spec = path.join(dir, 'ranker.yaml');
    fs.writeFileSync(
      spec,
      [
        'apiVersion: catwalk/v1',
        'kind: Model',
        'metadata: { name: ranker, team: search }',
        'spec:',
        '  source: { uri: s3://models/search/ranker }',
        '  serving: { versionPolicy: { latest: 2 } }',
        '',
      ].join('\n'),
    );
    const exportDir = path.join(tfserving, 'saved_model_half_plus_two_2_versions');
    const pushed = await catwalk([
      'push',
      exportDir,
      '--model',
      spec,
      '--endpoint',
      endpoint,
      '--json',
      '--force',
    ]);
    expect(pushed.code).toBe(0);
    expect(JSON.parse(pushed.stdout).map((r: any) => r.uri)).toEqual([
      's3://models/search/ranker/123',
      's3://models/search/ranker/124',
    ]);
    const more = await catwalk([
      'push',
      path.join(tfserving, 'saved_model_half_plus_two_cpu'),
      '--model',
      spec,
      '--endpoint',
      endpoint,
    ]);
    expect(more.code).toBe(0);
    const listed = JSON.parse((await catwalk(['versions', spec, '--endpoint', endpoint, '--json'])).stdout);
    expect(listed.model).toBe('ranker');
    expect(listed.release).toMatchObject({ generation: 0, fromSpec: true, serve: [124, 125], labels: {} });
  });

  it('explains refusals in one line, exit 1, no stack trace', async () => {
    const s3 = ['--endpoint', endpoint];
    const bad = await catwalk([
      'push',
      path.join(tfserving, 'bad_half_plus_two'),
      '--model',
      's3://models/team/bad',
      ...s3,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not a SavedModel export');
    expect(bad.stderr).toContain('no saved_model.pb or saved_model.pbtxt at its root');
    noStack(bad.stderr);

    const dir = path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123');
    expect(
      (await catwalk(['push', dir, '--model', 's3://models/team/fixed', '--version', '5', ...s3])).code,
    ).toBe(0);
    const twice = await catwalk(['push', dir, '--model', 's3://models/team/fixed', '--version', '5', ...s3]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('versions are never overwritten');

    const notServed = await catwalk(['release', 's3://models/team/fixed', '--serve', '6', ...s3]);
    expect(notServed.code).toBe(2);
    expect(notServed.stderr).toContain('version 6 is not complete (complete: 5); push it first');

    const usage = await catwalk(['release', 's3://models/team/fixed', '--label', 'stable', ...s3]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--label 'stable': write label=version");

    const down = await catwalk(['versions', 's3://models/team/fixed', '--endpoint', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^catwalk: S3: /);
    noStack(down.stderr);

    const once = await catwalk([
      'sync',
      '--source',
      's3://models/team/none',
      '--dest',
      tempDir(),
      '--once',
      '--interval',
      '100ms',
      ...s3,
    ]);
    expect(once.code).toBe(1);
    expect(once.stderr).toContain('no complete sync of s3://models/team/none');
  });

  it('runs as a sidecar until SIGTERM, then stops cleanly with exit 0', async () => {
    const uri = 's3://models/team/sidecar';
    const dir = path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123');
    expect((await catwalk(['push', dir, '--model', uri, '--endpoint', endpoint])).code).toBe(0);
    const dest = path.join(tempDir(), 'sidecar');
    const port = await new Promise<number>((resolve) => {
      const probe = require('node:net').createServer();
      probe.listen(0, '127.0.0.1', () => {
        const p = probe.address().port;
        probe.close(() => resolve(p));
      });
    });
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'packages/cli/bin/catwalk.js'),
        'sync',
        '--source',
        uri,
        '--dest',
        dest,
        '--interval',
        '200ms',
        '--port',
        String(port),
        '--endpoint',
        endpoint,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: process.env },
    );
    let logs = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (
      !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error(`sidecar not ready: ${logs}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The export folder's own number (00000123), as TF Serving would read it.
    expect(fs.readdirSync(dest)).toEqual(['123']);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const messages = logs
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).msg);
    expect(messages[0]).toBe('sync starting');
    expect(messages.at(-1)).toBe('sync stopped');
    // The export folder's own number (00000123), as TF Serving would read it.
    expect(fs.readdirSync(dest)).toEqual(['123']);
  });

  it('shows examples in --help', async () => {
    for (const command of ['push', 'versions', 'release', 'rollback', 'prune', 'sync']) {
      const help = await catwalk([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Examples:\n  catwalk ${command}`);
    }
  });
});
