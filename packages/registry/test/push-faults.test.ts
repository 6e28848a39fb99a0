// Push under a hostile network and a changing disk: the heavy fault plan of
// the reliability runs (every 3rd request 503, every 4th reset, every 5th
// cut short) on a 200 MiB model, and an export overwritten while it uploads.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createS3Client, listVersions, push } from '../src';
import { DEFAULT_ATTEMPTS } from '../src/s3';
import { faultPlan, gate, is, type ProxiedRequest, startProxy } from './fault-proxy';
import { client, halfPlusTwo, type S3Server, startS3, tempDir } from './helpers';
import { freshModel, mismatchedFiles } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const MiB = 1024 * 1024;

function exportWithBigFile(bytes: number): { dir: string; big: string } {
  const dir = tempDir('catwalk-export-');
  fs.cpSync(halfPlusTwo, dir, { recursive: true });
  const big = path.join(dir, 'assets', 'big.bin');
  const fd = fs.openSync(big, 'w');
  for (let written = 0; written < bytes; written += 8 * MiB) {
    fs.writeSync(fd, randomBytes(Math.min(8 * MiB, bytes - written)));
  }
  fs.closeSync(fd);
  return { dir, big };
}

describe('push under faults', () => {
  it('a 200 MiB push completes under the heavy fault plan, with one retry layer (the S3 client attempts, never multiplied)', async () => {
    const loc = freshModel('heavy');
    const { dir } = exportWithBigFile(200 * MiB);
    const proxy = await startProxy(s3.endpoint);
    try {
      const inModel = (r: ProxiedRequest) => r.path.includes(`/${loc.prefix}`) || r.url.includes(loc.prefix);
      proxy.setRule(
        faultPlan(
          [
            [3, { status: 503, code: 'SlowDown' }],
            // A reset after the server did the work (the answer is lost), else before it saw the request.
            [8, 'drop-response'],
            [4, 'reset'],
            [5, { truncateAfter: 10 }],
          ],
          (r) => (inModel(r) ? 'reset' : 'pass'),
        ),
      );
      // The client the CLI builds (default attempts), through the proxy.
      const c = createS3Client({ endpoint: proxy.endpoint });
      const result = await push({ client: c, location: loc, dir });
      expect(result.bytes).toBeGreaterThan(200 * MiB);
      expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
      // One layer of retries: no upload request is sent more often than the client's attempts.
      const perRequest = new Map<string, number>();
      for (const r of proxy.seen.filter((s) => is.dataPut(s) && inModel(s))) {
        perRequest.set(r.url, (perRequest.get(r.url) ?? 0) + 1);
      }
      expect(Math.max(...perRequest.values())).toBeLessThanOrEqual(DEFAULT_ATTEMPTS);
    } finally {
      await proxy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('one retry layer', () => {
  it('gives up on an endpoint where nothing listens after a few attempts, not after every retry', async () => {
    const loc = freshModel('nobody');
    const nobody = await startProxy(s3.endpoint);
    const endpoint = nobody.endpoint;
    await nobody.close(); // the port is free again: connections are refused
    const started = Date.now();
    const error = await listVersions(createS3Client({ endpoint }), loc).catch((e: unknown) => e);
    expect(String((error as Error).message ?? error)).toMatch(/ECONNREFUSED|connect/);
    // 20 attempts with backoff would take half a minute; three take about a second.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a request that keeps failing is sent exactly maxAttempts times, not maxAttempts times another layer', async () => {
    const loc = freshModel('stacked');
    const proxy = await startProxy(s3.endpoint);
    try {
      proxy.setRule((r) =>
        is.dataPut(r) && r.path.includes(loc.prefix) ? { status: 503, code: 'SlowDown' } : 'pass',
      );
      const error = await push({
        client: createS3Client({ endpoint: proxy.endpoint, maxAttempts: 3 }),
        location: loc,
        dir: halfPlusTwo,
        concurrency: 1,
      }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      const sends = proxy.seen.filter((r) => is.dataPut(r) && r.path.includes(loc.prefix));
      const perUrl = new Map<string, number>();
      for (const r of sends) perUrl.set(r.url, (perUrl.get(r.url) ?? 0) + 1);
      expect([...perUrl.values()]).toEqual([3]);
    } finally {
      await proxy.close();
    }
  });
});

describe('an export that changes while it uploads', () => {
  it('4 KiB overwritten in a big file mid-upload (same size): the push fails naming the file, or what is stored matches', async () => {
    const proxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 2; round++) {
        const loc = freshModel('changing');
        const { dir, big } = exportWithBigFile(16 * MiB);
        const overwritten = gate();
        let held = false;
        proxy.setRule((r) => {
          // Hold the first part until the file has changed under the push.
          if (
            !held &&
            r.method === 'PUT' &&
            r.path.endsWith('/assets/big.bin') &&
            /partNumber=1\b/.test(r.url)
          ) {
            held = true;
            return { hold: overwritten.opened };
          }
          return 'pass';
        });
        const pushing = push({
          client: client(proxy.endpoint),
          location: loc,
          dir,
          partSize: 5 * MiB,
          memoryBudget: 5 * MiB,
        }).then(
          (r) => r,
          (e: Error) => e,
        );
        await proxy.arrival((r) => held && r.path.endsWith('/assets/big.bin'), true);
        const fd = fs.openSync(big, 'r+');
        fs.writeSync(fd, randomBytes(4096), 0, 4096, 11 * MiB);
        fs.closeSync(fd);
        overwritten.open();
        const outcome = await pushing;
        if (outcome instanceof Error) {
          expect(outcome.message).toMatch(/assets\/big\.bin changed while it was being pushed/);
          expect(
            (await listVersions(client(s3.endpoint), loc)).filter((v) => v.state === 'complete'),
          ).toEqual([]);
        } else {
          expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await proxy.close();
    }
  }, 120_000);
});
