// Push's single-request uploads of version files (files up to the part size)
// are signed and sent beside the SDK, as sync's GETs are (src/s3-direct.ts):
// same endpoint, credentials, clock, retry strategy and error mapping, and
// x-amz-content-sha256 set to the sha256 push already computed. Claims,
// manifests, release.json and multipart uploads stay on the SDK. Checked on
// the bytes that reach the wire, with the independent SigV4 computation of
// sigv4-check.ts (the embedded S3 does not verify V4 signatures), against
// the real embedded S3 over loopback.

import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, push } from '../src';
import { DEFAULT_ATTEMPTS } from '../src/s3';
import { faultPlan, is, type ProxiedRequest, startProxy } from './fault-proxy';
import { client, halfPlusTwo, type S3Server, startS3 } from './helpers';
import { freshModel, mismatchedFiles } from './push-support';
import { recordingProxy } from './recording-proxy';
import { verifySigV4 } from './sigv4-check';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

/** Keys of the PutObject commands a client sends through the SDK. */
function sdkPutKeys(c: S3Client): string[] {
  const keys: string[] = [];
  c.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') keys.push((args.input as { Key?: string }).Key ?? '');
      return next(args);
    },
    { step: 'initialize', name: 'recordSdkPuts' },
  );
  return keys;
}

const isRecord = (key: string) =>
  /(^|\/)(catwalk-[a-z]+\.json|release\.json|\.catwalk-probe[^/]*)$/.test(key);

describe("push's single-request uploads", () => {
  it('leave the SDK for version files; claims, manifests and release.json stay on it; every PUT is signed over the bytes that arrive', async () => {
    const proxy = await recordingProxy(s3.endpoint);
    try {
      const loc = freshModel('direct-put');
      const c = client(proxy.endpoint);
      const viaSdk = sdkPutKeys(c);
      const result = await push({ client: c, location: loc, dir: halfPlusTwo });
      expect(result.version).toBeGreaterThan(0);
      expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);

      // Through the SDK: only the registry's own records (conditional writes among them).
      expect(viaSdk.filter((key) => key.startsWith(loc.prefix) && !isRecord(key))).toEqual([]);
      expect(viaSdk).toEqual(
        expect.arrayContaining([`${loc.prefix}/${result.version}/catwalk-manifest.json`]),
      );

      const versionFiles = proxy.puts.filter(
        (p) => p.rawUrl.includes(`/${loc.prefix}/${result.version}/`) && !isRecord(p.rawUrl.split('?')[0]!),
      );
      expect(versionFiles.length).toBeGreaterThanOrEqual(3); // saved_model.pb, variables.index, variables.data
      for (const put of versionFiles) {
        expect({ url: put.rawUrl, meta: put.headers['x-amz-meta-sha256'] }).toEqual({
          url: put.rawUrl,
          meta: put.actual,
        });
        expect(put.headers['content-type']).toBe('application/octet-stream');
        expect(Number(put.headers['content-length'])).toBe(put.length);
        expect(verifySigV4(put, 'S3RVER')).toMatchObject({
          ok: true,
          signedHeaders: expect.arrayContaining([
            'content-type',
            'x-amz-content-sha256',
            'x-amz-meta-sha256',
          ]),
        });
      }
      for (const put of proxy.puts) {
        expect({ url: put.rawUrl, signed: put.headers['x-amz-content-sha256'] }).toEqual({
          url: put.rawUrl,
          signed: put.actual,
        });
        expect({ url: put.rawUrl, verdict: verifySigV4(put, 'S3RVER') }).toMatchObject({
          url: put.rawUrl,
          verdict: {
            ok: true,
            signedHeaders: expect.arrayContaining(['x-amz-content-sha256']),
          },
        });
      }
    } finally {
      await proxy.close();
    }
  });

  it("503s, resets and lost answers on them are retried within the client's attempts, and the version is intact", async () => {
    const loc = freshModel('direct-put-faults');
    const proxy = await startProxy(s3.endpoint);
    try {
      const inModel = (r: ProxiedRequest) => r.path.includes(`/${loc.prefix}/`);
      proxy.setRule(
        faultPlan(
          [
            [2, { status: 503, code: 'SlowDown' }],
            [3, 'drop-response'],
            [5, 'reset'],
          ],
          (r) => (is.dataPut(r) && inModel(r) ? 'reset' : 'pass'),
        ),
      );
      const result = await push({
        client: createS3Client({ endpoint: proxy.endpoint }),
        location: loc,
        dir: halfPlusTwo,
      });
      expect(result.version).toBeGreaterThan(0);
      expect(await mismatchedFiles(client(s3.endpoint), loc)).toEqual([]);
      const perUrl = new Map<string, number>();
      for (const r of proxy.seen.filter((s) => is.dataPut(s) && inModel(s))) {
        perUrl.set(r.url, (perUrl.get(r.url) ?? 0) + 1);
      }
      expect(Math.max(...perUrl.values())).toBeGreaterThan(1); // the faults did hit
      expect(Math.max(...perUrl.values())).toBeLessThanOrEqual(DEFAULT_ATTEMPTS);
    } finally {
      await proxy.close();
    }
  });
});
