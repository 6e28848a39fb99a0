// The per-pod path of `catwalk status`, for real: the CLI asks the real API
// server's pod proxy for /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/...;
// the API server tunnels to the pod through its egress proxy (tools/cluster
// runs it on loopback and sends every tunnel to 127.0.0.1 on the same port),
// where a real sync sidecar (@catwalk/registry's, syncing from the embedded S3)
// and a TF Serving stand-in answer. kwok's pods have no processes, so this pod
// is played by the test: it sits on a node no kwok manages, and the test
// writes its status as a kubelet would (its IP, from the documentation range,
// is never dialled: the egress proxy only ever connects to loopback).
// TF Serving itself cannot run here: @catwalk/testing's fake answers its
// model-status endpoint with TF Serving's JSON shape.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { push, release, runSidecar } from '@catwalk/registry';
import { halfPlusTwo as fakeHalfPlusTwo, startFakeServing } from '@catwalk/testing';
import pino from 'pino';
import { k8s } from '../../src/kube';
import { cluster, freshNamespace, runCatwalk, specOf, waitFor } from './support';

// The registry's own test helpers (embedded S3, the SavedModel fixture), loaded
// untyped like the CLI below: their sources are typed by that package's checks.
const { BUCKET, client, halfPlusTwo, startS3 } = require('../../../registry/test/helpers') as {
  BUCKET: string;
  client: (endpoint: string) => Parameters<typeof push>[0]['client'];
  halfPlusTwo: string;
  startS3: () => Promise<S3Server>;
};
interface S3Server {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const catwalk = runCatwalk;

describe('catwalk status through the pod proxy', () => {
  let s3: S3Server;
  let serving: Awaited<ReturnType<typeof startFakeServing>>;
  const stop = new AbortController();
  let sidecarDone: Promise<unknown> | undefined;

  beforeAll(async () => {
    s3 = await startS3();
    serving = await startFakeServing({
      models: [fakeHalfPlusTwo({ name: 'pricing', versions: [1] })],
      grpc: false,
    });
  });
  afterAll(async () => {
    stop.abort();
    await sidecarDone;
    await serving?.close();
    await s3?.stop();
  });

  it("reads each pod's sidecar /status and TF Serving's model status, and flags a pod behind the registry", async () => {
    const location = { bucket: BUCKET, prefix: 'proxy/pricing', name: 'pricing' };
    await push({ client: client(s3.endpoint), location, dir: halfPlusTwo });
    await release({ client: client(s3.endpoint), location, request: { serve: [1], labels: { stable: 1 } } });

    let sidecarPort = 0;
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-proxy-models-'));
    sidecarDone = runSidecar({
      client: client(s3.endpoint),
      location,
      dest,
      // Long enough that the sidecar is still on the old generation when the registry moves on.
      intervalMs: 600_000,
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'silent' }),
      signal: stop.signal,
      servingUrl: `${serving.restUrl}/v1/models/pricing`,
      onListening: (p) => {
        sidecarPort = p;
      },
    });
    await waitFor('sidecar listening and synced', async () => {
      if (!sidecarPort) return undefined;
      const res = await fetch(`http://127.0.0.1:${sidecarPort}/status`);
      const body = (await res.json()) as { generation: number | null };
      return body.generation !== null ? true : undefined;
    });

    const namespace = await freshNamespace('status-proxy');
    const conn = await cluster(namespace);
    const lib = await k8s();
    const core = conn.kc.makeApiClient(lib.CoreV1Api);
    await core
      .createNode({
        body: { metadata: { name: 'proxy-node', labels: { 'topology.kubernetes.io/zone': 'zone-b' } } },
      })
      .catch(() => undefined);
    const servingPort = Number(new URL(serving.restUrl).port);
    const labels = {
      'catwalk.dev/model': 'pricing',
      'catwalk.dev/track': 'main',
      'app.kubernetes.io/instance': 'pricing',
    };
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'pricing-proxy', labels },
        spec: {
          nodeName: 'proxy-node',
          containers: [
            {
              name: 'tfserving',
              image: 'tensorflow/serving:2.19.0',
              ports: [{ name: 'http', containerPort: servingPort }],
            },
            {
              name: 'model-sync',
              image: 'catwalk/model-sync:0.1.0',
              ports: [{ name: 'sync-metrics', containerPort: sidecarPort }],
            },
          ],
        },
      },
    });
    // What a kubelet would report for a running pod.
    await core.replaceNamespacedPodStatus({
      name: 'pricing-proxy',
      namespace,
      body: {
        ...(await core.readNamespacedPod({ name: 'pricing-proxy', namespace })),
        status: {
          phase: 'Running',
          podIP: '192.0.2.10',
          podIPs: [{ ip: '192.0.2.10' }],
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      },
    });

    const spec = specOf({ name: 'pricing', team: 'marketplace' }) as { spec: { source: object } };
    spec.spec.source = { uri: `s3://${BUCKET}/proxy/pricing`, region: 'us-east-1', endpoint: s3.endpoint };
    const specFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-proxy-spec-')), 'pricing.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));

    const first = await catwalk(['status', specFile, '--namespace', namespace, '--json']);
    const [before] = JSON.parse(first.stdout);
    expect(before.pods).toHaveLength(1);
    const pod = before.pods[0];
    expect(pod.sidecarError).toBeNull();
    expect(pod.sidecar).toMatchObject({
      model: 'pricing',
      servedVersions: [1],
      labels: { stable: 1 },
      lastError: null,
      fallback: null,
    });
    expect(pod.sidecar.onDisk.map((d: { version: number }) => d.version)).toEqual([1]);
    expect(pod.serving).toEqual([{ version: '1', state: 'AVAILABLE' }]);
    expect(before.release.generation).toBe(pod.sidecar.generation);
    expect(before.behind).toEqual([]);

    // The registry moves on; this pod's sidecar has not polled yet.
    await release({
      client: client(s3.endpoint),
      location,
      request: { serve: [1], labels: { stable: 1, canary: 1 } },
    });
    const second = await catwalk(['status', specFile, '--namespace', namespace]);
    expect(second.stdout).toMatch(
      new RegExp(
        `registry generation ${before.release.generation + 1}: serving 1; (stable=1 canary=1|canary=1 stable=1)`,
      ),
    );
    expect(second.stdout).toContain(`sync: generation ${pod.sidecar.generation}, on disk 1`);
    expect(second.stdout).toContain('tf serving: 1 AVAILABLE');
    expect(second.stdout).toContain(
      `! pricing-proxy is on release generation ${pod.sidecar.generation}; the registry is at ${before.release.generation + 1}`,
    );

    await core.deleteNamespacedPod({ name: 'pricing-proxy', namespace, gracePeriodSeconds: 0 });
    await core.deleteNode({ name: 'proxy-node' });
  });
});
