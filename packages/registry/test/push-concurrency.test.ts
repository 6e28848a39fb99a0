// A complete version's bytes never change, whatever concurrent pushes do.
// Each race is forced through the fault proxy (a request held until the test
// lets it go) and repeated a few times; the check reads every byte back.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { listVersions, push } from '../src';
import { gate, is, startProxy } from './fault-proxy';
import { client, halfPlusTwo, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport, mismatchedFiles } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

jest.setTimeout(120_000);

describe('concurrent pushes never change a complete version', () => {
  it('a push whose read of the claim is delayed until the version completed does not take it over', async () => {
    const original = lookalikeExport(1, halfPlusTwo);
    const other = lookalikeExport(2, original); // same paths, sizes and mtimes: the same export id
    const proxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 3; round++) {
        const loc = freshModel('claim-read');
        const manifestWrite = gate();
        const claimRead = gate();
        proxy.setRule((r) => {
          if (r.path.startsWith(`/models/${loc.prefix}/1/`) && is.put('catwalk-manifest.json')(r))
            return { hold: manifestWrite.opened };
          if (r.path.startsWith(`/models/${loc.prefix}/1/`) && is.get('catwalk-claim.json')(r))
            return { hold: claimRead.opened };
          return 'pass';
        });
        const first = push({ client: client(proxy.endpoint), location: loc, dir: original });
        await proxy.arrival(
          (r) => r.path.endsWith(`${loc.prefix}/1/catwalk-manifest.json`) && r.method === 'PUT',
        );
        // The second push lists version 1 as incomplete, then its read of the claim waits.
        const second = push({ client: client(proxy.endpoint), location: loc, dir: other, leaseMs: 1 });
        await proxy.arrival(
          (r) => r.path.endsWith(`${loc.prefix}/1/catwalk-claim.json`) && r.method === 'GET',
        );
        manifestWrite.open();
        const done = await first;
        expect(done.version).toBe(1);
        claimRead.open();
        const outcome = await second.then(
          (r) => r.version,
          (e: Error) => e.message,
        );
        expect(outcome).not.toBe(1);
        expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
        const v1 = (await listVersions(client(s3.endpoint), loc)).find((v) => v.version === 1)!;
        expect(v1.manifest!.pushId).toBe(done.manifest.pushId);
      }
    } finally {
      await proxy.close();
    }
  });

  it('a late upload of a push that lost its claim never lands in a complete version', async () => {
    const original = lookalikeExport(3, halfPlusTwo);
    const other = lookalikeExport(4, original);
    const proxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 3; round++) {
        const loc = freshModel('late-write');
        const lateWrite = gate();
        let held = false;
        proxy.setRule((r) => {
          // Hold the first push's upload of saved_model.pb: a request stuck in the network.
          if (!held && r.path.startsWith(`/models/${loc.prefix}/`) && is.put('/saved_model.pb')(r)) {
            held = true;
            return { hold: lateWrite.opened };
          }
          return 'pass';
        });
        const slow = push({ client: client(proxy.endpoint), location: loc, dir: original, concurrency: 1 });
        await proxy.arrival((r) => held && r.path.endsWith('/saved_model.pb'), true);
        // Another push of the same export id judges the claim stale (tiny lease) and goes ahead.
        const fast = await push({ client: client(proxy.endpoint), location: loc, dir: other, leaseMs: 1 });
        lateWrite.open(); // the stuck upload lands now
        const slowOutcome = await slow.then(
          (r) => r.version,
          (e: Error) => e.message,
        );
        expect(slowOutcome).not.toBe(fast.version);
        expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
        const stored = (await listVersions(client(s3.endpoint), loc)).find(
          (v) => v.version === fast.version,
        )!;
        expect(stored.manifest!.pushId).toBe(fast.manifest.pushId);
      }
    } finally {
      await proxy.close();
    }
  });

  it('different exports all pushed with --version 1 at once: one wins, the others are refused, nothing is overwritten', async () => {
    const exports = [201, 202, 203, 204].map((seed) => lookalikeExport(seed));
    for (let trial = 0; trial < 4; trial++) {
      const loc = freshModel('version-1');
      const outcomes = await Promise.allSettled(
        exports.map((dir) =>
          push({ client: client(s3.endpoint), location: loc, dir, version: 1, leaseMs: 1 }),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
      expect(won).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === 'rejected') expect((o.reason as Error).name).toBe('VersionExistsError');
      }
      const [v1] = await listVersions(client(s3.endpoint), loc);
      expect(v1!.manifest!.pushId).toBe(
        (won[0] as PromiseFulfilledResult<{ manifest: { pushId: string } }>).value.manifest.pushId,
      );
    }
  });

  it('lookalike exports pushed three times each in parallel, every claim looking stale to the others', async () => {
    const a = lookalikeExport(5, halfPlusTwo);
    const b = lookalikeExport(6, a);
    expect(fs.statSync(path.join(a, 'saved_model.pb')).mtimeMs).toBe(
      fs.statSync(path.join(b, 'saved_model.pb')).mtimeMs,
    );
    for (let trial = 0; trial < 4; trial++) {
      const loc = freshModel('parallel');
      const outcomes = await Promise.allSettled(
        [a, b, a, b, a, b].map((dir) =>
          push({ client: client(s3.endpoint), location: loc, dir, leaseMs: 1 }),
        ),
      );
      const versions = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.version] : []));
      expect(new Set(versions).size).toBe(versions.length);
      expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
    }
  });
});
