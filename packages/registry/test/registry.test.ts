import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  ConditionalWritesUnsupportedError,
  ConflictError,
  findExports,
  InvalidExportError,
  listVersions,
  type ModelLocation,
  prune,
  push,
  release,
  rollback,
  VersionExistsError,
} from '../src';
import {
  BUCKET,
  badHalfPlusTwo,
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
  twoVersions,
  waitFor,
} from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

let n = 0;
const model = (): ModelLocation => ({ bucket: BUCKET, prefix: `team/model-${++n}`, name: `model-${n}` });
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('push', () => {
  it('uploads a real SavedModel with its manifest; the MinIO client, independent of ours, lists and downloads it byte for byte', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    const result = await push({ client: c, location: loc, dir: halfPlusTwo, pushedBy: 'ci@test' });
    expect(result).toMatchObject({ version: 1, files: 4, resumed: false, skippedFiles: 0 });
    expect(result.manifest.files.map((f) => f.path)).toEqual([
      'assets/foo.txt',
      'saved_model.pb',
      'variables/variables.data-00000-of-00001',
      'variables/variables.index',
    ]);
    expect(result.manifest.files[1]!.sha256).toBe(sha(path.join(halfPlusTwo, 'saved_model.pb')));

    const keys = await independentS3(s3.endpoint).keys(`${loc.prefix}/`);
    expect(keys).toEqual(
      [
        'assets/foo.txt',
        'catwalk-claim.json',
        'catwalk-manifest.json',
        'saved_model.pb',
        'variables/variables.data-00000-of-00001',
        'variables/variables.index',
      ].map((k) => `${loc.prefix}/1/${k}`),
    );
    const out = tempDir();
    await independentS3(s3.endpoint).download(`${loc.prefix}/1/`, out);
    for (const f of filesIn(halfPlusTwo)) {
      expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(halfPlusTwo, f)))).toBe(
        true,
      );
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'catwalk-manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'catwalk.manifest/v1',
      model: loc.name,
      version: 1,
      pushedBy: 'ci@test',
    });
  });

  it('pushes each numeric folder of a parent, and the TF2 export, as the next versions', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    const found = await findExports(twoVersions);
    expect(found.map((f) => f.version)).toEqual([123, 124]);
    for (const f of found) await push({ client: c, location: loc, dir: f.dir });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    const versions = await listVersions(c, loc);
    expect(versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'complete'],
      [2, 'complete'],
      [3, 'complete'],
    ]);
    expect(versions[2]!.manifest!.files.map((f) => f.path)).toContain('fingerprint.pb');
  });

  it('sends files above the part size as multipart uploads, byte for byte, in bounded memory', async () => {
    const loc = model();
    const dir = tempDir();
    fs.cpSync(halfPlusTwo, dir, { recursive: true });
    const big = randomBytes(11 * 1024 * 1024 + 123);
    fs.writeFileSync(path.join(dir, 'assets', 'big.bin'), big);
    const seen: number[] = [];
    const result = await push({
      client: client(s3.endpoint),
      location: loc,
      dir,
      partSize: 5 * 1024 * 1024,
      memoryBudget: 5 * 1024 * 1024,
      onProgress: (p) => seen.push(p.bytesDone),
    });
    expect(result.files).toBe(5);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // progress only moves forward
    expect(seen.at(-1)).toBe(result.bytes);
    const other = independentS3(s3.endpoint);
    expect((await other.bytes(`${loc.prefix}/1/assets/big.bin`)).equals(big)).toBe(true);
    const metadata = await other.metadata(`${loc.prefix}/1/assets/big.bin`);
    expect(metadata.sha256).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('refuses bad_half_plus_two, saying what is missing, and writes nothing', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    const [found] = await findExports(badHalfPlusTwo);
    const error = await push({ client: c, location: loc, dir: found!.dir }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidExportError);
    expect(error.message).toContain('00000123 is not a SavedModel export');
    expect(error.message).toContain('no saved_model.pb or saved_model.pbtxt at its root');
    expect(await listVersions(c, loc)).toEqual([]);
  });

  it('refuses to overwrite a complete version', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo, version: 7 });
    const error = await push({ client: c, location: loc, dir: halfPlusTwoTf2, version: 7 }).catch((e) => e);
    expect(error).toBeInstanceOf(VersionExistsError);
    expect(error.message).toContain('versions are never overwritten');
  });

  it('gives two concurrent pushes two distinct versions, even of the same files', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    const results = await Promise.all([
      push({ client: c, location: loc, dir: halfPlusTwo }),
      push({ client: c, location: loc, dir: halfPlusTwoTf2 }),
      push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo }),
    ]);
    expect(new Set(results.map((r) => r.version)).size).toBe(3);
    const versions = await listVersions(c, loc);
    expect(versions.filter((v) => v.state === 'complete')).toHaveLength(3);
    for (const r of results) {
      const v = versions.find((x) => x.version === r.version)!;
      expect(v.manifest!.fingerprint).toBe(r.manifest.fingerprint);
    }
  });
});

describe('interrupted push', () => {
  it('leaves no complete version when the network fails mid-push, and a rerun resumes, skipping uploaded files', async () => {
    const loc = model();
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      let dataPuts = 0;
      proxy.setRule((req) => {
        const isData =
          req.method === 'PUT' && !req.url.includes('catwalk-') && !req.url.includes('.catwalk-probe');
        if (isData && ++dataPuts > 2) return 'reset';
        return 'pass';
      });
      const c = client(proxy.endpoint, 1);
      const error = await push({
        client: c,
        location: loc,
        dir: halfPlusTwo,
        concurrency: 1,
        attempts: 2,
      }).catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      const [v] = await listVersions(c, loc);
      expect(v).toMatchObject({ version: 1, state: 'incomplete' });
      expect(v!.claim!.interrupted).toBe(true);
      const keys = await independentS3(s3.endpoint).keys(`${loc.prefix}/`);
      expect(keys).toContain(`${loc.prefix}/1/catwalk-claim.json`);
      expect(keys).not.toContain(`${loc.prefix}/1/catwalk-manifest.json`);

      proxy.setRule(() => 'pass');
      const resumed = await push({ client: c, location: loc, dir: halfPlusTwo });
      // The interrupted folder is never written again: its verified files are copied into a new version.
      expect(resumed).toMatchObject({ version: 2, resumedFrom: 1, resumed: true, skippedFiles: 2 });
      expect(resumed.uploadedBytes).toBeLessThan(resumed.bytes);
      expect((await listVersions(c, loc)).map((x) => [x.version, x.state])).toEqual([
        [1, 'abandoned'],
        [2, 'complete'],
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('resumes at once after a push process crashed (killed mid-upload, claim left fresh)', async () => {
    const loc = model();
    const proxy = await startFaultProxy(s3.endpoint);
    let release: (a: FaultAction) => void = () => undefined;
    const hold = new Promise<FaultAction>((resolve) => {
      release = resolve;
    });
    let dataPuts = 0;
    proxy.setRule((req) => {
      const isData =
        req.method === 'PUT' && !req.url.includes('catwalk-') && !req.url.includes('.catwalk-probe');
      return isData && ++dataPuts > 2 ? hold : 'pass';
    });
    const script = `
      const reg = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.js'))});
      reg.push({
        client: reg.createS3Client({ endpoint: ${JSON.stringify(proxy.endpoint)}, maxAttempts: 1 }),
        location: ${JSON.stringify(loc)},
        dir: ${JSON.stringify(halfPlusTwo)},
        concurrency: 1,
      }).catch(() => undefined);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore', env: process.env });
    try {
      await waitFor(() => dataPuts > 2, 15_000);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const [v] = await listVersions(client(s3.endpoint), loc);
      expect(v).toMatchObject({ version: 1, state: 'incomplete' });
      expect(v!.claim!.interrupted).toBeUndefined(); // it had no chance to say so
      const resumed = await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
      expect(resumed).toMatchObject({ version: 2, resumedFrom: 1, resumed: true, skippedFiles: 2 });
    } finally {
      release('reset');
      await proxy.close();
    }
  });

  it('stops on Ctrl-C (abort) without completing, and resumes on the next run', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    const stop = new AbortController();
    const error = await push({
      client: c,
      location: loc,
      dir: halfPlusTwoTf2,
      concurrency: 1,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.phase === 'uploading' && p.filesDone === 1) stop.abort();
      },
    }).catch((e) => e);
    expect(error.name).toBe('AbortError');
    expect((await listVersions(c, loc))[0]!.state).toBe('incomplete');
    const again = await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    expect(again).toMatchObject({ version: 2, resumedFrom: 1, resumed: true });
    expect(again.skippedFiles).toBeGreaterThanOrEqual(1);
  });
});

describe('versions, release, rollback, prune', () => {
  it('lists states: complete, incomplete (no manifest), corrupt (a file missing)', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    await c.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${loc.prefix}/3/saved_model.pb`, Body: 'partial' }),
    );
    await independentS3(s3.endpoint).remove(`${loc.prefix}/2/variables/variables.index`);
    const versions = await listVersions(c, loc);
    expect(versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'complete'],
      [2, 'corrupt'],
      [3, 'incomplete'],
    ]);
    expect(versions[1]!.problem).toContain('variables/variables.index is missing');
  });

  it('releases with labels, rolls back, and prunes only what is neither served nor labelled', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    for (const dir of [halfPlusTwo, halfPlusTwoTf2, halfPlusTwo, halfPlusTwoTf2])
      await push({ client: c, location: loc, dir });
    const r1 = await release({
      client: c,
      location: loc,
      request: { serve: [3, 4], labels: { stable: 3, canary: 4 } },
    });
    expect(r1.release).toMatchObject({ generation: 1, serve: [3, 4], labels: { canary: 4, stable: 3 } });
    const r2 = await release({ client: c, location: loc, request: { labels: { stable: 4, canary: null } } });
    expect(r2.release).toMatchObject({ generation: 2, serve: [3, 4], labels: { stable: 4 } });

    const back = await rollback({ client: c, location: loc });
    expect(back).toMatchObject({ from: 4, to: 3 });
    expect(back.release).toMatchObject({
      generation: 3,
      serve: [3],
      labels: { stable: 3 },
      reason: 'rollback',
    });
    expect(back.release.history.map((h) => h.generation)).toEqual([2, 1]);

    const bad = await release({ client: c, location: loc, request: { serve: [9] } }).catch((e) => e);
    expect(bad.message).toContain('version 9 is not complete');

    const pruned = await prune({ client: c, location: loc, keep: 1 });
    expect(pruned.deleted).toEqual([1, 2]); // 4 is the newest complete one, 3 is served
    // Pruned numbers stay as tombstones, so they are never used again.
    const existing = async () =>
      (await listVersions(c, loc)).filter((v) => v.state !== 'pruned').map((v) => v.version);
    expect(await existing()).toEqual([3, 4]);
    const none = await prune({ client: c, location: loc, keep: 0 });
    expect(none.deleted).toEqual([4]);
    expect(await existing()).toEqual([3]);
  });

  it('lets one of two concurrent releases win; the other gets a conflict and changes nothing', async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    // Hold both writes of release.json until both have arrived: each writer has read the same generation.
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      for (const round of [0, 1]) {
        let release2: () => void = () => undefined;
        const bothHere = new Promise<void>((resolve) => {
          release2 = resolve;
        });
        let held = 0;
        proxy.setRule(async (req): Promise<FaultAction> => {
          if (req.method === 'PUT' && req.url.split('?')[0]!.endsWith('/release.json')) {
            if (++held === 2) release2();
            await bothHere;
          }
          return 'pass';
        });
        const outcomes = await Promise.allSettled([
          release({
            client: client(proxy.endpoint),
            location: loc,
            request: { serve: [1], labels: { stable: 1 } },
            updatedBy: 'alice',
          }),
          release({
            client: client(proxy.endpoint),
            location: loc,
            request: { serve: [2], labels: { stable: 2 } },
            updatedBy: 'bob',
          }),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason).toBeInstanceOf(ConflictError);
        expect(lost[0]!.reason.message).toMatch(/was changed by someone else .*Nothing was written/);
        const stored = JSON.parse(
          (await independentS3(s3.endpoint).bytes(`${loc.prefix}/release.json`)).toString('utf8'),
        );
        expect(stored.generation).toBe(round + 1);
      }
    } finally {
      await proxy.close();
    }
  });

  it('refuses a server that ignores conditional writes, saying why', async () => {
    const plain = await startS3({ plain: true });
    try {
      const error = await push({ client: client(plain.endpoint), location: model(), dir: halfPlusTwo }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(ConditionalWritesUnsupportedError);
      expect(error.message).toContain('ignores If-None-Match on PUT');
    } finally {
      await plain.stop();
    }
  });
});
