import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import {
  type ConfigSource,
  listVersions,
  type ModelLocation,
  push,
  release,
  rollback,
  runSidecar,
  SyncFailedError,
  syncOnce,
} from '../src';
import {
  BUCKET,
  client,
  type FaultAction,
  filesIn,
  halfPlusTwo,
  halfPlusTwoTf2,
  type S3Server,
  startFaultProxy,
  startS3,
  tempDir,
  waitFor,
} from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

let n = 0;
const model = (): ModelLocation => ({ bucket: BUCKET, prefix: `sync/model-${++n}`, name: `model-${n}` });
const quiet = pino({ level: 'silent' });
const same = (a: string, b: string) => {
  expect(filesIn(a).filter((f) => f !== 'catwalk-manifest.json')).toEqual(filesIn(b));
  for (const f of filesIn(b))
    expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)))).toBe(true);
};
/** Every file under dest belongs to a complete version folder or is models.config: nothing partial. */
const onlyWholeVersions = (dest: string, sources: Record<number, string>) => {
  for (const entry of fs.readdirSync(dest)) {
    const version = Number(entry);
    expect(Number.isInteger(version)).toBe(true);
    same(path.join(dest, entry), sources[version]!);
  }
};

const template = (name: string): ConfigSource => ({
  kind: 'template',
  file: 'models.config',
  modelName: name,
  text: `model_config_list {\n  config {\n    name: "${name}"\n    base_path: "/models/${name}"\n    model_platform: "tensorflow"\n    model_version_policy { latest { num_versions: 1 } }\n  }\n}\n`,
});

describe('sync', () => {
  it('materialises the released versions, writes models.config, follows a rollback and never goes to zero', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    const dest = tempDir();
    const configOut = path.join(tempDir(), 'models.config');
    const options = {
      client: c,
      location: loc,
      dest,
      config: { out: configOut, source: template(loc.name) },
    };

    // No release.json yet: the template's policy (latest 1) applies.
    let report = await syncOnce(options);
    expect(report).toMatchObject({
      generation: 0,
      wanted: [2],
      present: [2],
      downloaded: [2],
      complete: true,
    });
    onlyWholeVersions(dest, { 2: halfPlusTwoTf2 });
    expect(fs.readFileSync(configOut, 'utf8')).toContain(
      'model_version_policy {\n      specific {\n        versions: 2',
    );

    await release({ client: c, location: loc, request: { serve: [1, 2], labels: { stable: 2, canary: 1 } } });
    report = await syncOnce(options);
    expect(report).toMatchObject({ generation: 1, present: [1, 2], downloaded: [1], removed: [] });
    const config = fs.readFileSync(configOut, 'utf8');
    expect(config).toMatch(/version_labels \{\n\s+key: "canary"\n\s+value: 1\n\s+\}/);
    expect(config).toContain('base_path: "/models/');

    await rollback({ client: c, location: loc }); // stable 2 -> 1, stop serving 2
    report = await syncOnce(options);
    expect(report).toMatchObject({ generation: 2, present: [1], removed: [2], configChanged: true });
    onlyWholeVersions(dest, { 1: halfPlusTwo });
    expect(fs.readFileSync(configOut, 'utf8')).not.toContain('versions: 2');

    // --track stable in another pod folder: only what stable points to.
    const stableDest = tempDir();
    report = await syncOnce({ ...options, dest: stableDest, track: 'stable', config: undefined });
    expect(report.present).toEqual([1]);
    // No canary label in the release: a canary pod serves the spec's policy (latest 1 here) and says so.
    await release({ client: c, location: loc, request: { labels: { canary: null } } });
    const canary = await syncOnce({ ...options, dest: tempDir(), track: 'canary', config: undefined });
    expect(canary).toMatchObject({ complete: true, present: [2] });
    expect(canary.fallback).toContain("has no 'canary' label");
    expect(canary.fallback).toContain("serves the spec's version policy instead (versions 2)");
  });

  it('retries 503 SlowDown, 500, connection resets, truncated and corrupted bodies; nothing partial reaches dest', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      const faults = new Map<string, Array<ReturnType<Parameters<typeof proxy.setRule>[0]>>>([
        ['saved_model.pb', [{ status: 503, code: 'SlowDown' }, { truncateAfter: 100 }]],
        ['variables.index', ['reset', { corrupt: true }]],
        ['variables.data-00000-of-00001', [{ status: 500, code: 'InternalError' }]],
      ]);
      proxy.setRule((req) => {
        if (req.method !== 'GET') return 'pass';
        const file = [...faults.keys()].find((f) => req.url.split('?')[0]!.endsWith(`/${f}`));
        return (file && faults.get(file)!.shift()) || 'pass';
      });
      const dest = tempDir();
      const retried: string[] = [];
      const report = await syncOnce({
        client: client(proxy.endpoint, 2),
        location: loc,
        dest,
        onRetry: (_e, what) => retried.push(what),
      });
      expect(report.complete).toBe(true);
      onlyWholeVersions(dest, { 1: halfPlusTwo });
      expect([...faults.values()].flat()).toEqual([]); // every fault was served
      expect(retried.length).toBeGreaterThanOrEqual(2);
      expect(proxy.seen.filter((s) => s.action !== 'pass').length).toBe(5);
    } finally {
      await proxy.close();
    }
  });

  it('never lets a corrupt object into dest, and keeps serving while S3 is down', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    const proxy = await startFaultProxy(s3.endpoint);
    const dest = tempDir();
    try {
      const options = { client: client(proxy.endpoint, 1), location: loc, dest, attempts: 2 };
      await syncOnce(options);
      // Version 2 is pushed, then one of its objects is replaced behind the registry's back.
      await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
      await release({ client: c, location: loc, request: { serve: [2] } });
      await c.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${loc.prefix}/2/variables/variables.index`,
          Body: Buffer.alloc(1, 0),
        }),
      );
      expect((await listVersions(c, loc))[1]!.state).toBe('corrupt'); // the size no longer matches
      const report = await syncOnce(options);
      expect(report).toMatchObject({ present: [1], complete: false });
      expect(report.missing[0]!.reason).toContain('version 2 is corrupt in S3');

      // Same size, different bytes: only the checksum can tell.
      const original = fs.readFileSync(path.join(halfPlusTwoTf2, 'variables/variables.index'));
      await c.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${loc.prefix}/2/variables/variables.index`,
          Body: Buffer.alloc(original.length, 7),
        }),
      );
      const checked = await syncOnce(options);
      expect(checked).toMatchObject({ present: [1], complete: false, served: { versions: [1] } });
      expect(checked.failed).toEqual([{ version: 2, reason: expect.stringMatching(/manifest says/) }]);
      expect(fs.readdirSync(dest)).toEqual(['1']);

      proxy.setRule(() => 'reset');
      await expect(syncOnce(options)).rejects.toThrow();
      expect(fs.readdirSync(dest)).toEqual(['1']);
      onlyWholeVersions(dest, { 1: halfPlusTwo });
    } finally {
      await proxy.close();
    }
  });

  it('fetches the files of a push in progress, so its version appears as soon as the manifest lands', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    const dest = tempDir();
    await syncOnce({ client: c, location: loc, dest });
    // Hold the new version's manifest write until the sidecar has had a look.
    const proxy = await startFaultProxy(s3.endpoint);
    let letGo: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    let manifestWaiting = false;
    proxy.setRule(async (req): Promise<FaultAction> => {
      if (req.method === 'PUT' && req.url.split('?')[0]!.endsWith('/2/catwalk-manifest.json')) {
        manifestWaiting = true;
        await held;
      }
      return 'pass';
    });
    try {
      const pushing = push({ client: client(proxy.endpoint), location: loc, dir: halfPlusTwoTf2 });
      await waitFor(() => manifestWaiting);
      const during = await syncOnce({ client: c, location: loc, dest });
      expect(during).toMatchObject({ present: [1], pushInProgress: true });
      expect(during.bytes).toBeGreaterThan(0);
      expect(fs.readdirSync(dest).sort()).toEqual(['.catwalk-stage-2', '.catwalk-stage-2.json', '1']);
      letGo();
      await pushing;
      const after = await syncOnce({ client: c, location: loc, dest });
      expect(after).toMatchObject({
        present: [2],
        downloaded: [2],
        removed: [1],
        bytes: 0,
        pushInProgress: false,
      });
      onlyWholeVersions(dest, { 2: halfPlusTwoTf2 });
    } finally {
      letGo();
      await proxy.close();
    }
  });

  it('reads each manifest once per poller: complete versions never change', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      const options = {
        client: client(proxy.endpoint),
        location: loc,
        dest: tempDir(),
        manifestCache: new Map(),
      };
      const manifestGets = () =>
        proxy.seen.filter(
          (r) => r.method === 'GET' && r.url.split('?')[0]!.endsWith('/catwalk-manifest.json'),
        ).length;
      // Each listed manifest once: that read is also the wanted one's identity (sha256) and file list.
      await syncOnce(options);
      expect(manifestGets()).toBe(2);
      await syncOnce(options);
      expect(manifestGets()).toBe(2);
      await push({ client: c, location: loc, dir: halfPlusTwo });
      expect((await syncOnce(options)).present).toEqual([3]);
      expect(manifestGets()).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a manifest whose paths would escape dest', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    const pushed = await push({ client: c, location: loc, dir: halfPlusTwo });
    const evil = {
      ...pushed.manifest,
      version: 2,
      files: [...pushed.manifest.files, { path: '../../escaped.txt', size: 1, sha256: 'a'.repeat(64) }],
      totalBytes: pushed.manifest.totalBytes + 1,
    };
    for (const f of pushed.manifest.files) {
      await c.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${loc.prefix}/2/${f.path}`,
          Body: fs.readFileSync(path.join(halfPlusTwo, f.path)),
        }),
      );
    }
    // The embedded S3 refuses the object's key itself; the manifest still names it.
    const refused = await c
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: `${loc.prefix}/2/../../escaped.txt`, Body: 'x' }))
      .catch((e) => e);
    expect(refused.$metadata.httpStatusCode).toBe(400);
    await c.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${loc.prefix}/2/catwalk-manifest.json`,
        Body: JSON.stringify(evil),
      }),
    );
    const root = tempDir();
    const dest = path.join(root, 'models', 'm');
    const version = (await listVersions(c, loc)).find((v) => v.version === 2)!;
    expect(version.state).toBe('corrupt');
    expect(version.problem).toContain("'..' segment that would leave the version folder");
    // No release.json: the spec's policy asks for version 2 exactly.
    const error = await runSidecar({
      client: c,
      location: loc,
      dest,
      once: true,
      onceAttempts: 1,
      logger: quiet,
      initial: { versionPolicy: { kind: 'specific', versions: [2] }, versionLabels: {} },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.message).toContain('version 2 is corrupt in S3');
    expect(error.message).toContain('../../escaped.txt');
    expect(fs.readdirSync(dest)).toEqual([]);
    expect(fs.existsSync(path.join(root, 'escaped.txt'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'models', 'escaped.txt'))).toBe(false);
    const bad = await release({ client: c, location: loc, request: { serve: [2] } }).catch((e) => e);
    expect(bad.message).toContain('version 2 is not complete');
  });
});

describe('the sidecar', () => {
  it('serves /healthz, /readyz and /metrics, applies a rollback within one poll, and stops on abort', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    await release({ client: c, location: loc, request: { serve: [2], labels: { stable: 2 } } });
    const dest = tempDir();
    const configOut = path.join(tempDir(), 'models.config');
    const stop = new AbortController();
    let port = 0;
    const reports: number[][] = [];
    const running = runSidecar({
      client: c,
      location: loc,
      dest,
      intervalMs: 100,
      port: 0,
      host: '127.0.0.1',
      logger: quiet,
      signal: stop.signal,
      config: { out: configOut, source: template(loc.name) },
      onListening: (p) => {
        port = p;
      },
      onSync: (r) => reports.push([...r.present]),
    });
    await waitFor(() => port > 0);
    const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
    expect((await get('/healthz')).status).toBe(200);
    await waitFor(async () => (await get('/readyz')).status === 200);
    expect(fs.readdirSync(dest)).toEqual(['2']);

    await rollback({ client: c, location: loc, to: 1 });
    await waitFor(() => fs.readFileSync(configOut, 'utf8').includes('versions: 1\n'), 5000);
    await waitFor(() => fs.readdirSync(dest).join() === '1', 5000);

    let metrics = '';
    await waitFor(async () => {
      metrics = await (await get('/metrics')).text();
      return /catwalk_sync_release_generation 2/.test(metrics);
    });
    expect(metrics).toMatch(/catwalk_sync_versions_present 1/);
    expect(metrics).toMatch(/catwalk_sync_bytes_total \d+/);
    expect(metrics).toContain('catwalk_sync_duration_seconds_bucket');
    expect(metrics).toContain('catwalk_sync_last_success_timestamp_seconds');
    expect(metrics).toContain('process_resident_memory_bytes');
    stop.abort();
    await running;
    await expect(get('/healthz')).rejects.toThrow();
  });

  it('keeps serving and stays ready while S3 is unreachable, counting the errors', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startFaultProxy(s3.endpoint);
    const dest = tempDir();
    const stop = new AbortController();
    let port = 0;
    const running = runSidecar({
      client: client(proxy.endpoint, 1),
      location: loc,
      dest,
      intervalMs: 50,
      attempts: 1,
      port: 0,
      host: '127.0.0.1',
      logger: quiet,
      signal: stop.signal,
      onListening: (p) => {
        port = p;
      },
    });
    try {
      await waitFor(() => port > 0);
      const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
      await waitFor(async () => (await get('/readyz')).status === 200);
      proxy.setRule(() => 'reset');
      await waitFor(async () =>
        /catwalk_sync_errors_total\{kind="network"\} [1-9]/.test(await (await get('/metrics')).text()),
      );
      expect((await get('/readyz')).status).toBe(200);
      onlyWholeVersions(dest, { 1: halfPlusTwo });
      proxy.setRule(() => 'pass');
      const before = (await (await get('/metrics')).text()).match(
        /^catwalk_sync_last_success_timestamp_seconds (\S+)$/m,
      )![1];
      await waitFor(async () => {
        const now = (await (await get('/metrics')).text()).match(
          /^catwalk_sync_last_success_timestamp_seconds (\S+)$/m,
        )![1];
        return Number(now) > Number(before);
      });
    } finally {
      stop.abort();
      await running;
      await proxy.close();
    }
  });

  it('--once fails clearly when no complete sync is possible', async () => {
    const loc = model();
    const error = await runSidecar({
      client: client(s3.endpoint),
      location: loc,
      dest: tempDir(),
      once: true,
      onceAttempts: 1,
      logger: quiet,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.message).toContain(`no complete sync of s3://${BUCKET}/${loc.prefix}`);
  });
});
