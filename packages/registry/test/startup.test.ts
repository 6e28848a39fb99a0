// What a process pays for at start: the sync sidecar is timed from `require`
// on (a pod start, a `sync --once`), and @catwalk/savedmodel (TF Serving's
// protobuf messages, about 100 ms) and @catwalk/schema (the spec's types,
// about 200 ms) are only needed by signature checks and models.config.
//
// The two packages are observed, not replaced: each jest.doMock factory
// records that the package was asked for and hands back the real module.

import type { ModelLocation } from '../src';
import { BUCKET, client, halfPlusTwo, type S3Server, startS3, tempDir } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

type Registry = typeof import('../src');

async function withFreshRegistry(run: (registry: Registry) => Promise<void>): Promise<string[]> {
  const loaded: string[] = [];
  await jest.isolateModulesAsync(async () => {
    for (const name of ['@catwalk/savedmodel', '@catwalk/schema']) {
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
  it('loading the registry loads neither @catwalk/savedmodel nor @catwalk/schema', async () => {
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
});
