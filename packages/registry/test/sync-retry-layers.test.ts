// Sync's retry layers. Each GET is retried by the S3 client's retry strategy
// (maxAttempts, one budget per client); sync's own loop around a download or
// a manifest read exists only for what that strategy cannot see: a body cut
// short or reset after the headers came, bytes that fail their sha256. An
// error that already came out of the client's retries is final, so a GET that
// keeps failing is sent maxAttempts times, not maxAttempts times sync's
// attempts. Real embedded S3 over loopback, faults injected by the proxy.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ModelLocation, push, syncOnce } from '../src';
import { createS3Client } from '../src/s3';
import { type ProxiedRequest, startProxy } from './fault-proxy';
import { BUCKET, client, filesIn, halfPlusTwo, type S3Server, startS3, tempDir } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

let n = 0;
const model = (): ModelLocation => ({ bucket: BUCKET, prefix: `layers/model-${++n}`, name: `model-${n}` });

const MAX_ATTEMPTS = 3;

describe("sync's retries", () => {
  it.each([
    ['a version file', 'variables/variables.data-00000-of-00001'],
    ['a manifest', 'catwalk-manifest.json'],
  ])(
    'send a GET of %s that always answers 503 exactly maxAttempts times',
    async (_what, file) => {
      const loc = model();
      await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
      const proxy = await startProxy(s3.endpoint);
      const target = `/${BUCKET}/${loc.prefix}/1/${file}`;
      const isTarget = (r: ProxiedRequest) => r.method === 'GET' && r.path === target;
      proxy.setRule((r) => (isTarget(r) ? { status: 503, code: 'SlowDown' } : 'pass'));
      try {
        const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: MAX_ATTEMPTS });
        const dest = tempDir();
        const outcome = await syncOnce({ client: c, location: loc, dest }).then(
          () => 'synced',
          (error: Error) => error,
        );
        expect(outcome).toMatchObject({ name: 'SlowDown' });
        expect(proxy.seen.filter(isTarget).length).toBe(MAX_ATTEMPTS);
        // Nothing partial reached the folder TF Serving watches.
        expect(fs.readdirSync(dest).filter((e) => !e.startsWith('.catwalk-'))).toEqual([]);
      } finally {
        await proxy.close();
      }
    },
    30_000,
  );

  it('still start a file over when its body is cut short after the headers, and every sha256 is checked', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    // Every version file and the manifest: the first GET of each is cut 7 bytes into its body,
    // a cut the client's retries never see (its answer was a 200).
    const cut = new Set<string>();
    const isVersionGet = (r: ProxiedRequest) => r.method === 'GET' && r.path.includes(`/${loc.prefix}/1/`);
    proxy.setRule((r) => {
      if (!isVersionGet(r) || cut.has(r.path)) return 'pass';
      cut.add(r.path);
      return { truncateAfter: 7 };
    });
    try {
      const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 1 });
      const dest = tempDir();
      const report = await syncOnce({ client: c, location: loc, dest });
      expect(report).toMatchObject({ complete: true, downloaded: [1] });
      for (const f of filesIn(halfPlusTwo)) {
        expect(
          fs.readFileSync(path.join(dest, '1', f)).equals(fs.readFileSync(path.join(halfPlusTwo, f))),
        ).toBe(true);
      }
      // Each path was cut once and then sent again whole: 2 GETs per path, with the client allowed only 1 each.
      const gets = proxy.seen.filter(isVersionGet);
      expect(cut.size).toBe(filesIn(halfPlusTwo).length + 1);
      expect(gets.map((r) => r.action).filter((a) => a === 'truncate')).toHaveLength(cut.size);
      expect(gets.length).toBe(2 * cut.size);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('retry a file whose bytes fail their sha256, and give up on it after sync attempts, not attempts times maxAttempts', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    // The object overwritten in place with other bytes of the same size: the listing still says complete.
    const key = `${loc.prefix}/1/saved_model.pb`;
    const size = fs.statSync(path.join(halfPlusTwo, 'saved_model.pb')).size;
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await client(s3.endpoint).send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.alloc(size, 7) }),
    );
    const proxy = await startProxy(s3.endpoint);
    try {
      const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: MAX_ATTEMPTS });
      const dest = tempDir();
      const report = await syncOnce({ client: c, location: loc, dest, attempts: 2 });
      expect(report.failed).toEqual([{ version: 1, reason: expect.stringMatching(/sha256/) }]);
      expect(proxy.seen.filter((r) => r.method === 'GET' && r.path === `/${BUCKET}/${key}`).length).toBe(2);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
