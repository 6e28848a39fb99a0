// What the sync sidecar guarantees beyond "nothing partial reaches dest":
// a version folder always holds the bytes of the manifest S3 has now, one
// corrupt version never blocks the rest of a release, a hung S3 never hangs
// the sidecar while it says it is ready, and TF Serving gets a poll to let
// go of a version before its folder goes.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import {
  createS3Client,
  type ModelLocation,
  push,
  release,
  runSidecar,
  type SyncReport,
  syncOnce,
} from '../src';
import { newSyncState } from '../src/sync';
import {
  BUCKET,
  client,
  type FaultAction,
  filesIn,
  halfPlusTwo,
  halfPlusTwoTf2,
  independentS3,
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
const model = (): ModelLocation => ({
  bucket: BUCKET,
  prefix: `guarantees/model-${++n}`,
  name: `model-${n}`,
});
const quiet = pino({ level: 'silent' });
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** dest/<v> holds exactly the files of `source` (plus our manifest copy). */
const holds = (folder: string, source: string) => {
  expect(filesIn(folder).filter((f) => f !== 'catwalk-manifest.json')).toEqual(filesIn(source));
  for (const f of filesIn(source))
    expect(fs.readFileSync(path.join(folder, f)).equals(fs.readFileSync(path.join(source, f)))).toBe(true);
};

/**
 * Writes a complete version straight to S3, as a push would leave it, without
 * the push code: a stand-in for a version number reused by another writer.
 */
async function writeVersion(c: S3Client, loc: ModelLocation, version: number, dir: string, pushId: string) {
  const files = filesIn(dir).map((p) => {
    const bytes = fs.readFileSync(path.join(dir, p));
    return { path: p, size: bytes.length, sha256: sha256(bytes) };
  });
  for (const f of files) {
    await c.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${loc.prefix}/${version}/${f.path}`,
        Body: fs.readFileSync(path.join(dir, f.path)),
        Metadata: { sha256: f.sha256 },
      }),
    );
  }
  const manifest = {
    format: 'catwalk.manifest/v1',
    model: loc.name,
    version,
    files,
    totalBytes: files.reduce((s, f) => s + f.size, 0),
    fingerprint: sha256(files.map((f) => `${f.path} ${f.size} ${f.sha256}\n`).join('')),
    pushedAt: new Date().toISOString(),
    pushedBy: 'test',
    pushId,
    tool: 'test',
  };
  await c.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `${loc.prefix}/${version}/catwalk-manifest.json`,
      Body: `${JSON.stringify(manifest, null, 2)}\n`,
    }),
  );
}

async function deleteVersion(c: S3Client, loc: ModelLocation, version: number) {
  const keys = await independentS3(s3.endpoint).keys(`${loc.prefix}/${version}/`);
  await c.send(
    new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
  );
}

/** Same size, other bytes: only a checksum can tell. */
async function corruptInPlace(
  c: S3Client,
  loc: ModelLocation,
  version: number,
  file: string,
  source: string,
) {
  const original = fs.readFileSync(path.join(source, file));
  await c.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `${loc.prefix}/${version}/${file}`,
      Body: Buffer.alloc(original.length, 7),
    }),
  );
}

const template = (name: string) => ({
  kind: 'template' as const,
  file: 'models.config',
  modelName: name,
  text: `model_config_list {\n  config {\n    name: "${name}"\n    base_path: "/models/${name}"\n    model_platform: "tensorflow"\n    model_version_policy { latest { num_versions: 1 } }\n  }\n}\n`,
});

const metric = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('version identity', () => {
  it('replaces a version folder whose manifest differs from the one in S3 (a version number written again)', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await writeVersion(c, loc, 1, halfPlusTwo, 'push-a');
    await writeVersion(c, loc, 2, halfPlusTwoTf2, 'push-b');
    await release({ client: c, location: loc, request: { serve: [2] } });
    const dest = tempDir();
    // One options object across polls, as the sidecar keeps its manifest cache.
    const options = { client: c, location: loc, dest, manifestCache: new Map(), state: newSyncState() };
    expect((await syncOnce(options)).present).toEqual([2]);
    holds(path.join(dest, '2'), halfPlusTwoTf2);

    // Version 2 goes (prune) and a different export lands under the same number.
    await deleteVersion(c, loc, 2);
    await writeVersion(c, loc, 2, halfPlusTwo, 'push-c');
    const report = await syncOnce(options);
    expect(report).toMatchObject({ present: [2], downloaded: [2], replaced: [2], complete: true });
    holds(path.join(dest, '2'), halfPlusTwo);

    // The identity on disk is the sha256 of the manifest object's bytes in S3.
    const inS3 = await independentS3(s3.endpoint).bytes(`${loc.prefix}/2/catwalk-manifest.json`);
    expect(report.onDisk).toEqual([{ version: 2, identity: sha256(inS3) }]);
    expect(sha256(fs.readFileSync(path.join(dest, '2', 'catwalk-manifest.json')))).toBe(sha256(inS3));

    // Nothing changed since: the next poll downloads nothing.
    expect((await syncOnce(options)).downloaded).toEqual([]);
    // A fresh sidecar over the same folder (a restarted container) agrees without downloading.
    expect((await syncOnce({ client: c, location: loc, dest })).downloaded).toEqual([]);
  });
});

describe('folders the sidecar did not write', () => {
  it('a zero-padded version folder in dest (TF Serving accepts 00000001) is left alone and never fails a poll', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await writeVersion(c, loc, 1, halfPlusTwo, 'push-a');
    await writeVersion(c, loc, 2, halfPlusTwoTf2, 'push-b');
    await release({ client: c, location: loc, request: { serve: [2] } });
    const dest = tempDir();
    fs.cpSync(halfPlusTwo, path.join(dest, '00000001'), { recursive: true });
    const options = { client: c, location: loc, dest, manifestCache: new Map(), state: newSyncState() };
    for (let poll = 0; poll < 3; poll++) {
      expect(await syncOnce(options)).toMatchObject({ present: [2], complete: true });
    }
    holds(path.join(dest, '2'), halfPlusTwoTf2);
    expect(fs.existsSync(path.join(dest, '00000001', 'saved_model.pb'))).toBe(true);
  });
});

describe('a corrupt released version', () => {
  it('does not block the rest of the release: what verifies is served, the bad one is reported, a rollback applies within one poll', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    // Generation 1 serves 1 and 2; then 2 is damaged in S3 behind the registry's back.
    await release({ client: c, location: loc, request: { serve: [1, 2], labels: { stable: 1, canary: 2 } } });
    await corruptInPlace(c, loc, 2, 'variables/variables.index', halfPlusTwoTf2);

    const dest = tempDir();
    const configOut = path.join(tempDir(), 'models.config');
    const stop = new AbortController();
    let port = 0;
    const reports: SyncReport[] = [];
    const running = runSidecar({
      client: c,
      location: loc,
      dest,
      intervalMs: 100,
      attempts: 2,
      port: 0,
      host: '127.0.0.1',
      logger: quiet,
      signal: stop.signal,
      config: { out: configOut, source: template(loc.name) },
      onListening: (p) => {
        port = p;
      },
      onSync: (r) => reports.push(r),
    });
    const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
    try {
      await waitFor(() => port > 0);
      let metrics = '';
      await waitFor(async () => {
        metrics = await (await get('/metrics')).text();
        return metric(metrics, 'catwalk_sync_release_generation') === 1;
      }, 15_000);
      expect(metric(metrics, 'catwalk_sync_versions_failed')).toBe(1);
      const config = fs.readFileSync(configOut, 'utf8');
      expect(config).toContain('versions: 1');
      expect(config).not.toContain('versions: 2');
      expect(fs.readdirSync(dest)).toEqual(['1']);
      const readyz = await get('/readyz');
      expect(readyz.status).toBe(200); // version 1 serves; the sync itself is healthy
      const detail = (await readyz.json()) as { failedVersions: unknown };
      expect(detail.failedVersions).toEqual([
        { version: 2, reason: expect.stringMatching(/variables\/variables\.index.*sha256/) },
      ]);
      const last = reports.at(-1)!;
      expect(last.failed.map((f) => f.version)).toEqual([2]);

      // Back to version 1 alone (what a rollback writes): the first poll that starts afterwards applies it.
      await release({ client: c, location: loc, request: { serve: [1], labels: { canary: null } } });
      const before = reports.length;
      await waitFor(() => reports.at(-1)!.generation === 2, 15_000);
      expect(reports.length - before).toBeLessThanOrEqual(2); // the poll in flight, then the next
      expect(reports.at(-1)!.failed).toEqual([]);
      await waitFor(
        async () => metric(await (await get('/metrics')).text(), 'catwalk_sync_versions_failed') === 0,
      );
    } finally {
      stop.abort();
      await running;
    }
  });
});

describe('timeouts and deadlines', () => {
  it('S3 requests time out instead of waiting forever on a server that never answers', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startFaultProxy(s3.endpoint);
    const never = new Promise<FaultAction>(() => undefined);
    proxy.setRule((req) => (req.method === 'GET' ? never : 'pass'));
    try {
      const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 1, socketTimeoutMs: 300 });
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        syncOnce({ client: c, location: loc, dest: tempDir() }).then(
          () => 'synced',
          (e: Error) => e,
        ),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('still waiting'), 10_000);
        }),
      ]);
      clearTimeout(timer);
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).message).toMatch(/timed out after 300 ms of inactivity/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await proxy.close();
    }
  });

  it('abandons a poll past its deadline, counts it, and goes unready once the last good sync is too old', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startFaultProxy(s3.endpoint);
    let hold = false;
    let letGo: () => void = () => undefined;
    let held = Promise.resolve();
    proxy.setRule(async (): Promise<FaultAction> => {
      if (hold) await held;
      return 'pass';
    });
    const dest = tempDir();
    const stop = new AbortController();
    let port = 0;
    const running = runSidecar({
      // No request timeout on this client: only the poll deadline can end a hung poll.
      client: client(proxy.endpoint, 1),
      location: loc,
      dest,
      intervalMs: 100,
      // Wide enough that an ordinary poll on a loaded machine never overruns.
      pollDeadlineMs: 2000,
      staleAfterMs: 4000,
      port: 0,
      host: '127.0.0.1',
      logger: quiet,
      signal: stop.signal,
      onListening: (p) => {
        port = p;
      },
    });
    const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
    try {
      await waitFor(() => port > 0);
      await waitFor(async () => (await get('/readyz')).status === 200);
      held = new Promise<void>((resolve) => {
        letGo = resolve;
      });
      hold = true;
      await waitFor(
        async () =>
          (metric(await (await get('/metrics')).text(), 'catwalk_sync_poll_overruns_total') ?? 0) >= 1,
        20_000,
      );
      await waitFor(async () => (await get('/readyz')).status === 503, 20_000);
      const detail = (await (await get('/readyz')).json()) as Record<string, unknown>;
      expect(detail.ready).toBe(false);
      expect(detail.lastGoodSyncAgeSeconds).toBeGreaterThanOrEqual(4);
      expect(detail.reason).toMatch(/last good sync .* ago/);
      expect((await get('/healthz')).status).toBe(200);
      expect(fs.readdirSync(dest)).toEqual(['1']); // TF Serving keeps what is on disk

      hold = false;
      letGo();
      await waitFor(async () => (await get('/readyz')).status === 200, 20_000);
    } finally {
      hold = false;
      letGo();
      stop.abort();
      await running;
      await proxy.close();
    }
  }, 60_000);
});

describe('removing versions', () => {
  it('keeps a version TF Serving no longer serves on disk until its next config poll (plus margin) has passed', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    await release({ client: c, location: loc, request: { serve: [2] } });
    const dest = tempDir();
    const configOut = path.join(tempDir(), 'models.config');
    const options = {
      client: c,
      location: loc,
      dest,
      config: { out: configOut, source: template(loc.name) },
      // Long enough for the release and poll in between on a loaded machine.
      removeAfterMs: 3000,
      state: newSyncState(),
    };
    expect((await syncOnce(options)).present).toEqual([2]);

    await release({ client: c, location: loc, request: { serve: [1] } });
    const report = await syncOnce(options);
    const configWrittenAt = Date.now();
    expect(report.configChanged).toBe(true);
    expect(fs.readFileSync(configOut, 'utf8')).not.toContain('versions: 2');
    expect(fs.readdirSync(dest).sort()).toEqual(['1', '2']); // 2 waits for TF Serving's poll
    expect(report.removed).toEqual([]);

    // Back to 2 while its folder is still there: nothing to download.
    await release({ client: c, location: loc, request: { serve: [2] } });
    const back = await syncOnce(options);
    expect(back).toMatchObject({ downloaded: [], present: [1, 2] });
    expect(fs.readFileSync(configOut, 'utf8')).toContain('versions: 2');

    await release({ client: c, location: loc, request: { serve: [1] } });
    await syncOnce(options);
    const leftAt = Date.now();
    let removedAt = 0;
    await waitFor(async () => {
      const r = await syncOnce(options);
      if (r.removed.includes(2)) removedAt = Date.now();
      return removedAt > 0;
    }, 20_000);
    expect(removedAt - leftAt).toBeGreaterThanOrEqual(2900);
    expect(removedAt - configWrittenAt).toBeGreaterThanOrEqual(3000);
    expect(fs.readdirSync(dest)).toEqual(['1']);
  }, 60_000);
});
