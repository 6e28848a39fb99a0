// Prune never deletes a version a release serves, even one written while
// prune runs, and never guesses what is served when release.json is absent.
// The races are forced with two fault proxies (one per command) that hold a
// request until the other command has moved on, in a bounded loop.

import { PutObjectCommand } from '@aws-sdk/client-s3';
import { listVersions, prune, push, readRelease, release, rollback, UsageError } from '../src';
import { defaultInitialRelease } from '../src/release';
import { gate, startProxy } from './fault-proxy';
import { BUCKET, client, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

jest.setTimeout(60_000);

const isDelete = (r: { method: string; url: string }) => r.method === 'POST' && /[?&]delete/.test(r.url);

/** Every served version of release.json is complete. */
async function servedAllExist(loc: ReturnType<typeof freshModel>) {
  const c = client(s3.endpoint);
  const versions = await listVersions(c, loc);
  const current = await readRelease(c, loc, defaultInitialRelease, versions);
  const complete = new Set(versions.filter((v) => v.state === 'complete').map((v) => v.version));
  return current.state.serve.filter((v) => !complete.has(v));
}

describe('prune against a concurrent release', () => {
  it('a release that lands while prune deletes never serves a deleted version', async () => {
    const pruneProxy = await startProxy(s3.endpoint);
    const releaseProxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 3; round++) {
        const loc = freshModel('prune-race');
        const c = client(s3.endpoint);
        for (const seed of [1, 2]) await push({ client: c, location: loc, dir: lookalikeExport(50 + seed) });
        await release({ client: c, location: loc, request: { serve: [1] } });

        // Prune's first delete waits until the release (which serves 2, the version prune is after) is done.
        const releaseDone = gate();
        pruneProxy.setRule((r) => (isDelete(r) ? { hold: releaseDone.opened } : 'pass'));
        const pruning = prune({ client: client(pruneProxy.endpoint), location: loc, keep: 0 }).then(
          (r) => r.deleted,
          (e: Error) => e,
        );
        await pruneProxy.arrival(isDelete);
        const released = await release({
          client: client(releaseProxy.endpoint),
          location: loc,
          request: { serve: [2] },
        }).then(
          (r) => r.release.serve,
          (e: Error) => e,
        );
        releaseDone.open();
        const pruned = await pruning;
        expect(await servedAllExist(loc)).toEqual([]);
        // One of the two must have stood back.
        expect(
          released instanceof Error || pruned instanceof Error || !(pruned as number[]).includes(2),
        ).toBe(true);
      }
    } finally {
      await pruneProxy.close();
      await releaseProxy.close();
    }
  });

  it('a release that read release.json before prune began fails its compare-and-swap instead of serving a deleted version', async () => {
    const pruneProxy = await startProxy(s3.endpoint);
    const releaseProxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 3; round++) {
        const loc = freshModel('prune-cas');
        const c = client(s3.endpoint);
        for (const seed of [1, 2]) await push({ client: c, location: loc, dir: lookalikeExport(60 + seed) });
        await release({ client: c, location: loc, request: { serve: [1] } });

        // The release reads, then its write waits until prune has deleted.
        const pruneDone = gate();
        releaseProxy.setRule((r) =>
          r.method === 'PUT' && r.path.endsWith('/release.json') ? { hold: pruneDone.opened } : 'pass',
        );
        const releasing = release({
          client: client(releaseProxy.endpoint),
          location: loc,
          request: { serve: [2] },
        }).then(
          (r) => r.release.serve,
          (e: Error) => e,
        );
        await releaseProxy.arrival((r) => r.method === 'PUT' && r.path.endsWith('/release.json'));
        const pruned = await prune({ client: client(pruneProxy.endpoint), location: loc, keep: 0 }).then(
          (r) => r.deleted,
          (e: Error) => e,
        );
        pruneDone.open();
        const released = await releasing;
        expect(await servedAllExist(loc)).toEqual([]);
        expect(
          released instanceof Error || pruned instanceof Error || !(pruned as number[]).includes(2),
        ).toBe(true);
      }
    } finally {
      await pruneProxy.close();
      await releaseProxy.close();
    }
  });
});

describe('prune by S3 folder with no release.json', () => {
  it('refuses, deleting nothing, instead of assuming the default policy (the spec may serve 3 and 4)', async () => {
    const loc = freshModel('prune-uri');
    const c = client(s3.endpoint);
    for (const seed of [1, 2, 3, 4])
      await push({ client: c, location: loc, dir: lookalikeExport(70 + seed) });
    const error = await prune({ client: c, location: loc, keep: 1 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/no release\.json/);
    expect((await listVersions(c, loc)).map((v) => v.state)).toEqual([
      'complete',
      'complete',
      'complete',
      'complete',
    ]);
  });

  it('with the spec, too, it asks for release.json first; once released, it keeps what is served', async () => {
    const loc = freshModel('prune-spec');
    const c = client(s3.endpoint);
    for (const seed of [1, 2, 3, 4])
      await push({ client: c, location: loc, dir: lookalikeExport(80 + seed) });
    const initial = { versionPolicy: { kind: 'specific', versions: [3, 4] }, versionLabels: {} } as const;
    const refused = await prune({ client: c, location: loc, keep: 0, initial }).catch((e: Error) => e);
    expect((refused as Error).message).toContain("Run 'catwalk release <spec> --serve <versions>' first");
    await release({ client: c, location: loc, initial, request: { serve: [3, 4] } });
    const result = await prune({ client: c, location: loc, keep: 0, initial });
    expect(result.deleted).toEqual([1, 2]);
    expect((await listVersions(c, loc)).filter((v) => v.state === 'complete').map((v) => v.version)).toEqual([
      3, 4,
    ]);
  });
});

describe('version numbers after prune', () => {
  it('push, push, release 2, rollback, prune --keep 0, push: the new version is 3, never 2 again', async () => {
    const loc = freshModel('reuse');
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: lookalikeExport(91) });
    await push({ client: c, location: loc, dir: lookalikeExport(92) });
    await release({ client: c, location: loc, request: { serve: [2], labels: { stable: 2 } } });
    await rollback({ client: c, location: loc });
    const pruned = await prune({ client: c, location: loc, keep: 0 });
    expect(pruned.deleted).toEqual([2]);
    const again = await push({ client: c, location: loc, dir: lookalikeExport(93) });
    expect(again.version).toBe(3);
    const explicit = await push({ client: c, location: loc, dir: lookalikeExport(94), version: 2 }).catch(
      (e: Error) => e,
    );
    expect((explicit as Error).message).toMatch(/was pruned; a version number is never used twice/);
    expect((await listVersions(c, loc)).map((v) => [v.version, v.state])).toEqual([
      [1, 'complete'],
      [2, 'pruned'],
      [3, 'complete'],
    ]);
  });
});

describe('abandoned folders', () => {
  it('prune deletes what a late upload left in an abandoned folder, keeping its retired claim', async () => {
    const loc = freshModel('abandoned');
    const c = client(s3.endpoint);
    const dir = lookalikeExport(120);
    const stop = new AbortController();
    await push({
      client: c,
      location: loc,
      dir,
      concurrency: 1,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.filesDone === 1) stop.abort();
      },
    }).catch(() => undefined);
    const resumed = await push({ client: c, location: loc, dir });
    expect(resumed.resumedFrom).toBe(1);
    await release({ client: c, location: loc, request: { serve: [resumed.version] } });
    // An upload of the interrupted push that was still on its way lands now.
    await c.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${loc.prefix}/1/saved_model.pb`, Body: 'late' }),
    );
    expect((await listVersions(c, loc))[0]).toMatchObject({ version: 1, state: 'abandoned' });
    await prune({ client: c, location: loc, keep: 1 });
    const [v1] = await listVersions(c, loc);
    expect(v1).toMatchObject({ version: 1, state: 'abandoned' });
    expect(v1!.keys).toEqual([`${loc.prefix}/1/catwalk-claim.json`]);
  });
});
