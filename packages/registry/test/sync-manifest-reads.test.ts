// A sync reads each manifest once: the catalog's read (on sync's direct GET
// path) is also the one the version's identity and its downloads come from,
// so what is downloaded is always what that read said. Counted on the wire
// through the recording proxy, against the real embedded S3.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { type ModelLocation, push, syncOnce } from '../src';
import type { ManifestCache } from '../src/catalog';
import { newSyncState } from '../src/sync';
import { type FaultProxy, is, startProxy } from './fault-proxy';
import { BUCKET, client, halfPlusTwo, halfPlusTwoTf2, type S3Server, startS3, tempDir } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

let n = 0;
async function twoVersions(): Promise<ModelLocation> {
  const location: ModelLocation = {
    bucket: BUCKET,
    prefix: `manifest-reads/model-${++n}`,
    name: `model-${n}`,
  };
  await push({ client: client(s3.endpoint), location, dir: halfPlusTwo });
  await push({ client: client(s3.endpoint), location, dir: halfPlusTwoTf2 });
  return location;
}

/** Manifest GETs the proxy saw, by version folder. */
function manifestGets(proxy: FaultProxy, location: ModelLocation): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of proxy.seen.filter(is.get('/catwalk-manifest.json'))) {
    const version = r.path.split(`/${location.prefix}/`)[1]?.split('/')[0] ?? '?';
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

async function storedManifest(location: ModelLocation, version: number): Promise<Buffer> {
  const r = await client(s3.endpoint).send(
    new GetObjectCommand({ Bucket: BUCKET, Key: `${location.prefix}/${version}/catwalk-manifest.json` }),
  );
  return Buffer.from(await r.Body!.transformToByteArray());
}

describe('manifest reads per sync', () => {
  it('a fresh sync GETs each listed manifest once, the served one included, and a poll with the cache GETs none', async () => {
    const location = await twoVersions();
    const proxy = await startProxy(s3.endpoint);
    try {
      const dest = tempDir();
      const manifestCache: ManifestCache = new Map();
      const state = newSyncState();
      const options = { client: client(proxy.endpoint), location, dest, manifestCache, state };
      const report = await syncOnce(options);
      expect(report).toMatchObject({ complete: true, downloaded: [2] });
      expect(manifestGets(proxy, location)).toEqual({ '1': 1, '2': 1 });
      // The identity recorded on disk is that one read's bytes.
      expect(fs.readFileSync(path.join(dest, '2', 'catwalk-manifest.json'))).toEqual(
        await storedManifest(location, 2),
      );

      const before = proxy.seen.length;
      expect(await syncOnce(options)).toMatchObject({ complete: true, downloaded: [] });
      expect(proxy.seen.slice(before).filter(is.get('/catwalk-manifest.json'))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a manifest read cut short is read again, and the version downloaded matches the read that completed', async () => {
    const location = await twoVersions();
    const proxy = await startProxy(s3.endpoint);
    try {
      let cut = 0;
      proxy.setRule((r) => {
        if (is.get('/2/catwalk-manifest.json')(r) && cut++ === 0) return { truncateAfter: 20 };
        return 'pass';
      });
      const dest = tempDir();
      const report = await syncOnce({ client: client(proxy.endpoint), location, dest });
      expect(report).toMatchObject({ complete: true, downloaded: [2], failed: [] });
      expect(manifestGets(proxy, location)).toEqual({ '1': 1, '2': 2 });
      expect(fs.readFileSync(path.join(dest, '2', 'catwalk-manifest.json'))).toEqual(
        await storedManifest(location, 2),
      );
      expect(fs.readFileSync(path.join(dest, '2', 'saved_model.pb'))).toEqual(
        fs.readFileSync(path.join(halfPlusTwoTf2, 'saved_model.pb')),
      );
    } finally {
      await proxy.close();
    }
  });
});
