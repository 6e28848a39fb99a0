// What a process pays for at start: the sync sidecar is timed from `require`
// on (a pod start, a `sync --once`), and @catwalk/savedmodel (TF Serving's
// protobuf messages, about 100 ms), @catwalk/schema's main entry (the spec's
// TypeBox types, 110-170 ms) and prom-client (about 25 ms) are only needed by
// signature checks, models.config and a served /metrics. Parsing the model's
// s3:// URI takes @catwalk/schema/names, which builds no spec.
//
// The packages are observed, not replaced: each jest.doMock factory records
// that the package was asked for and hands back the real module.

import type { ModelLocation } from '../src';
import { createSyncLogger } from '../src/sidecar';
import { BUCKET, client, halfPlusTwo, type S3Server, startS3, tempDir } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

type Registry = typeof import('../src');

const WATCHED = ['@catwalk/savedmodel', '@catwalk/schema', '@sinclair/typebox', 'ajv', 'prom-client'];
const quiet = createSyncLogger({ write: () => undefined }, 'silent');

async function withFreshRegistry(run: (registry: Registry) => Promise<void>): Promise<string[]> {
  const loaded: string[] = [];
  await jest.isolateModulesAsync(async () => {
    for (const name of WATCHED) {
      jest.doMock(name, () => {
        loaded.push(name);
        return jest.requireActual(name);
      });
    }
    await run(require('../src') as Registry);
  });
  return loaded;
}

describe('start-up', () => {
  it('loading the registry loads none of @catwalk/savedmodel, the spec, its validators or prom-client', async () => {
    expect(await withFreshRegistry(async () => undefined)).toEqual([]);
  });

  it('a sync that writes no models.config loads neither; push loads @catwalk/savedmodel to read signatures', async () => {
    const location: ModelLocation = { bucket: BUCKET, prefix: 'startup/model', name: 'model' };
    const pushed = await withFreshRegistry(async (registry) => {
      await registry.push({ client: client(s3.endpoint), location, dir: halfPlusTwo });
    });
    expect(pushed).toContain('@catwalk/savedmodel');
    const synced = await withFreshRegistry(async (registry) => {
      const report = await registry.syncOnce({ client: client(s3.endpoint), location, dest: tempDir() });
      expect(report.complete).toBe(true);
    });
    expect(synced).toEqual([]);
  });

  it('sync --once of an s3:// URI without a metrics port loads none of them', async () => {
    const uri = `s3://${BUCKET}/startup/by-uri/model`;
    await withFreshRegistry(async (registry) => {
      await registry.push({
        client: client(s3.endpoint),
        location: registry.parseModelUri(uri),
        dir: halfPlusTwo,
      });
    });
    let report: import('../src').SyncReport | undefined;
    const loaded = await withFreshRegistry(async (registry) => {
      // What `catwalk sync <uri> --once` does: parse the URI, run the sidecar once, no --port.
      report = await registry.runSidecar({
        client: client(s3.endpoint),
        location: registry.parseModelUri(uri),
        dest: tempDir(),
        once: true,
        logger: quiet,
      });
    });
    expect(report?.complete).toBe(true);
    expect(report?.downloaded).toEqual([1]);
    expect(loaded).toEqual([]);
  });

  it('a sidecar that serves /metrics loads prom-client, and only that', async () => {
    const location: ModelLocation = { bucket: BUCKET, prefix: 'startup/metrics/model', name: 'model' };
    await withFreshRegistry(async (registry) => {
      await registry.push({ client: client(s3.endpoint), location, dir: halfPlusTwo });
    });
    const loaded = await withFreshRegistry(async (registry) => {
      let port = 0;
      await registry.runSidecar({
        client: client(s3.endpoint),
        location,
        dest: tempDir(),
        once: true,
        port: 0,
        host: '127.0.0.1',
        logger: quiet,
        onListening: (p) => {
          port = p;
        },
      });
      expect(port).toBeGreaterThan(0);
    });
    expect(loaded).toEqual(['prom-client']);
  });
});
