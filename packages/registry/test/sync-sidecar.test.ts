// The sidecar's HTTP contract with the chart and `catwalk status`:
// /ready/serving (TF Serving has a version AVAILABLE), /status, the track
// fallback when the release lacks the pod's label, and clear failures for
// a port in use and for local file errors.

import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
// TF Serving itself cannot run here: its model-status endpoint is played by
// @catwalk/testing's fake, which answers with TF Serving's JSON shape.
import { type FakeServing, halfPlusTwo as fakeHalfPlusTwo, startFakeServing } from '@catwalk/testing';
import pino from 'pino';
import { type ModelLocation, push, release, runSidecar, type SidecarOptions, SyncFailedError } from '../src';
import {
  BUCKET,
  client,
  halfPlusTwo,
  halfPlusTwoTf2,
  type S3Server,
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
const model = (): ModelLocation => ({ bucket: BUCKET, prefix: `sidecar/model-${++n}`, name: `model-${n}` });
const quiet = pino({ level: 'silent' });

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

/** Starts a sidecar on a free port; stop() aborts it and waits for it to end. */
async function sidecar(options: Omit<SidecarOptions, 'port' | 'signal'>) {
  const stop = new AbortController();
  let port = 0;
  const running = runSidecar({
    intervalMs: 100,
    host: '127.0.0.1',
    logger: quiet,
    ...options,
    port: 0,
    signal: stop.signal,
    onListening: (p) => {
      port = p;
    },
  });
  running.catch(() => undefined);
  await waitFor(() => port > 0);
  const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
  const json = async (p: string) => {
    const r = await get(p);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  return {
    get,
    json,
    stop: async () => {
      stop.abort();
      await running;
    },
  };
}

describe('/ready/serving', () => {
  let serving: FakeServing;
  beforeAll(async () => {
    serving = await startFakeServing({
      models: [fakeHalfPlusTwo({ name: 'pricing', versions: [1] })],
      grpc: false,
    });
  });
  afterAll(() => serving?.close());

  it('is 200 only while TF Serving reports a version AVAILABLE (not LOADING, not END)', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const car = await sidecar({
      client: client(s3.endpoint),
      location: loc,
      dest: tempDir(),
      servingUrl: `${serving.restUrl}/v1/models/pricing`,
    });
    try {
      serving.setVersionState('pricing', 1, 'LOADING');
      let r = await car.json('/ready/serving');
      expect(r).toEqual({
        status: 503,
        body: {
          ready: false,
          versions: [{ version: 1, state: 'LOADING' }],
          error: 'no version is AVAILABLE (1: LOADING)',
        },
      });

      serving.setVersionState('pricing', 1, 'AVAILABLE');
      r = await car.json('/ready/serving');
      expect(r).toEqual({
        status: 200,
        body: { ready: true, versions: [{ version: 1, state: 'AVAILABLE' }] },
      });

      serving.setVersionState('pricing', 1, 'END', { code: 'UNKNOWN', message: 'failed to load' });
      r = await car.json('/ready/serving');
      expect(r.status).toBe(503);
      expect(r.body.versions).toEqual([{ version: 1, state: 'END' }]);
    } finally {
      await car.stop();
    }
  });

  it('is 503 with the reason when TF Serving does not answer, or when no --serving-url was given', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    // A server that accepts the connection and never answers: TF Serving stuck loading.
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1/models/pricing`;
    const car = await sidecar({
      client: client(s3.endpoint),
      location: loc,
      dest: tempDir(),
      servingUrl: url,
    });
    const bare = await sidecar({ client: client(s3.endpoint), location: loc, dest: tempDir() });
    try {
      const r = await car.json('/ready/serving');
      expect(r.status).toBe(503);
      expect(r.body.error).toBe(`${url}: no answer within 2000 ms`);
      const none = await bare.json('/ready/serving');
      expect(none.status).toBe(503);
      expect(none.body.error).toContain('no --serving-url');
    } finally {
      await car.stop();
      await bare.stop();
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe('/status and the track fallback', () => {
  it("reports what the pod serves; a pod whose label is missing from the release serves the spec's policy and says so", async () => {
    const loc = model();
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    await release({ client: c, location: loc, request: { serve: [1], labels: { stable: 1 } } });
    const dest = tempDir();
    const car = await sidecar({
      client: c,
      location: loc,
      dest,
      track: 'canary',
      initial: { versionPolicy: { kind: 'latest', count: 1 }, versionLabels: {} },
      config: { out: path.join(tempDir(), 'models.config'), source: template(loc.name) },
    });
    try {
      await waitFor(async () => (await car.get('/readyz')).status === 200, 10_000);
      const status = (await car.json('/status')).body;
      expect(status).toMatchObject({
        model: loc.name,
        track: 'canary',
        generation: 1,
        servedVersions: [2],
        labels: {},
        onDisk: [{ version: 2, identity: expect.stringMatching(/^[0-9a-f]{64}$/) }],
        lastError: null,
      });
      expect(status.fallback).toBe(
        "the release (generation 1) has no 'canary' label (labels: stable); this pod follows --track canary, " +
          "so it serves the spec's version policy instead (versions 2)",
      );
      expect(typeof status.lastGoodSyncAt).toBe('string');
      expect(status.lastGoodSyncAgeSeconds).toBeGreaterThanOrEqual(0);
      expect((await car.json('/readyz')).body.fallback).toBe(status.fallback);
      expect(metric(await (await car.get('/metrics')).text(), 'catwalk_sync_track_fallback')).toBe(1);

      // The experiment starts: the canary label appears and the pod follows it.
      await release({ client: c, location: loc, request: { serve: [1, 2], labels: { canary: 1 } } });
      await waitFor(async () => (await car.json('/status')).body.generation === 2, 10_000);
      const after = (await car.json('/status')).body;
      expect(after).toMatchObject({ servedVersions: [1], labels: { canary: 1 }, fallback: null });
      expect(metric(await (await car.get('/metrics')).text(), 'catwalk_sync_track_fallback')).toBe(0);
    } finally {
      await car.stop();
    }
  });
});

describe('failures outside S3', () => {
  it('a port in use fails with the port and what to do', async () => {
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const error = await runSidecar({
        client: client(s3.endpoint),
        location: model(),
        dest: tempDir(),
        port,
        host: '127.0.0.1',
        logger: quiet,
      }).catch((e) => e);
      expect(error).toBeInstanceOf(SyncFailedError);
      expect(error.message).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(error.message).toContain('--port');
    } finally {
      taken.close();
    }
  });

  it('counts a destination or --config-out that cannot be written as kind="local_file", not as network', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const root = tempDir();
    const aFile = path.join(root, 'not-a-folder');
    fs.writeFileSync(aFile, 'x');
    const car = await sidecar({
      client: client(s3.endpoint),
      location: loc,
      dest: path.join(aFile, 'models'), // ENOTDIR
    });
    const other = await sidecar({
      client: client(s3.endpoint),
      location: loc,
      dest: tempDir(),
      config: { out: path.join(aFile, 'models.config'), source: template(loc.name) }, // ENOTDIR
    });
    try {
      for (const s of [car, other]) {
        let metrics = '';
        await waitFor(async () => {
          metrics = await (await s.get('/metrics')).text();
          return (metric(metrics, 'catwalk_sync_errors_total{kind="local_file"}') ?? 0) >= 1;
        }, 10_000);
        expect(metrics).not.toContain('kind="network"');
        const readyz = await s.json('/readyz');
        expect(readyz.status).toBe(503);
        expect(readyz.body.reason).toMatch(/E(NOTDIR|EXIST)/); // mkdir through a file: EEXIST on Linux
        expect(readyz.body.reason).toContain(`cannot write ${aFile}`);
        expect(readyz.body.reason).toContain('check that --dest and --config-out are writable');
      }
    } finally {
      await car.stop();
      await other.stop();
    }
  });
});
