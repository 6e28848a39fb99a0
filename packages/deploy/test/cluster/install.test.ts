// helm install of every example chart and of charts generated from a varied
// corpus of specs, against a real API server, controller-manager and
// scheduler; kwok plays the kubelets, so pods are scheduled for real and
// become Ready without containers running.

import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  assertManifestObjectsExist,
  expectNothingLeft,
  expectZoneSpread,
  waitForPdbStatus,
  waitForTracks,
} from './assertions';
import { chartDir, cluster, freshNamespace, helm, helmOk, repoRoot, resolveSpec, specOf } from './support';

// The control-plane scripts are plain CommonJS without types.
const { startCluster } = require('../../../../tools/cluster/cluster.cjs') as {
  startCluster: (options: object) => Promise<{ kubeconfig: string; stop(): Promise<void> }>;
};

const ZONES = 3;
const GPU_NODES = new Set(['gpu-a1', 'gpu-b1']);

const corpus = [
  { why: 'CPU, defaults', spec: specOf({ name: 'plain' }) },
  {
    why: 'GPU with batching',
    spec: specOf({
      name: 'tagger',
      gpu: 1,
      cpu: '2',
      memory: '4Gi',
      batching: { maxBatchSize: 32, batchTimeoutMicros: 5000, numBatchThreads: 4, maxEnqueuedBatches: 20 },
    }),
  },
  {
    why: 'gRPC with a traffic estimate',
    spec: specOf({ name: 'scorer', grpc: true, traffic: { expectedPeakRps: 300, replicaRps: 100 } }),
  },
  {
    why: 'experiment on',
    spec: specOf({
      name: 'ranker',
      versionPolicy: { specific: [3, 4] },
      versionLabels: { stable: 3, canary: 4 },
      experiment: { canaryVersion: 4, canaryWeight: 10 },
      scaling: { minReplicas: 3, maxReplicas: 6 },
    }),
  },
  {
    why: 'no host, no traffic estimate, no Prometheus',
    spec: specOf({ name: 'internal-only', host: null, traffic: null, prometheus: false }),
  },
];

async function installAndCheck(release: string, chart: string, namespace: string, extra: string[] = []) {
  await helmOk(['install', release, chart, '--wait=watcher', '--timeout', '150s', ...extra], namespace);
  const objects = await assertManifestObjectsExist(release, namespace);
  const tracks = await waitForTracks(release, namespace);
  const pdbs = await waitForPdbStatus(release, namespace);
  return { objects, tracks, pdbs };
}

describe('helm install on the local control plane', () => {
  const exampleCharts = fs
    .readdirSync(path.join(repoRoot, 'charts'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(repoRoot, 'charts', e.name, 'Chart.yaml')))
    .map((e) => e.name);

  it('finds the example charts', () => {
    expect(exampleCharts.length).toBeGreaterThanOrEqual(3);
  });

  it.each(exampleCharts)(
    'installs the example chart %s: every object accepted, pods Ready and spread, PDB status',
    async (name) => {
      const namespace = await freshNamespace(`example-${name}`);
      const { objects, tracks, pdbs } = await installAndCheck(
        name,
        path.join(repoRoot, 'charts', name),
        namespace,
      );
      expect(objects).toEqual(
        expect.arrayContaining([
          `Deployment/${name}`,
          `Service/${name}`,
          `HorizontalPodAutoscaler/${name}`,
          `PodDisruptionBudget/${name}`,
        ]),
      );
      for (const state of Object.values(tracks)) {
        const onGpu = state.nodes.every((n) => GPU_NODES.has(n));
        if (onGpu) continue; // a GPU model has one GPU node to go to
        expectZoneSpread(state, ZONES);
      }
      for (const pdb of pdbs) {
        const track = pdb.metadata!.labels!['catwalk.dev/track'] ?? 'main';
        expect(pdb.status!.currentHealthy).toBe(tracks[track]!.ready);
      }
      await helmOk(['uninstall', name, '--wait'], namespace);
      await expectNothingLeft(name, namespace);
    },
  );

  it.each(corpus)('installs a chart generated from a spec ($why)', async ({ spec }) => {
    const model = resolveSpec(spec);
    const namespace = await freshNamespace(`corpus-${model.name}`);
    const { objects, tracks, pdbs } = await installAndCheck(model.name, chartDir(model), namespace);
    expect(objects).toContain(`Deployment/${model.name}`);
    expect(Object.keys(tracks).sort()).toEqual(model.experiment ? ['canary', 'main'] : ['main']);
    expect(tracks.main!.desired).toBe(model.scaling.minReplicas);
    if (model.resources.gpu) {
      // Only the GPU nodes have nvidia.com/gpu; the pods tolerate their taint and select them.
      expect(tracks.main!.nodes.every((n) => GPU_NODES.has(n))).toBe(true);
    } else {
      expectZoneSpread(tracks.main!, ZONES);
      expect(tracks.main!.nodes.some((n) => GPU_NODES.has(n))).toBe(false);
    }
    expect(pdbs.length).toBe(Object.keys(tracks).length);
    const conn = await cluster(namespace);
    const k = await import('@kubernetes/client-node');
    const hpa = await conn.kc
      .makeApiClient(k.AutoscalingV2Api)
      .readNamespacedHorizontalPodAutoscaler({ name: model.name, namespace });
    expect(hpa.spec!.minReplicas).toBe(model.scaling.minReplicas);
    expect(hpa.spec!.maxReplicas).toBe(model.scaling.maxReplicas);
    await helmOk(['uninstall', model.name, '--wait'], namespace);
    await expectNothingLeft(model.name, namespace);
  });

  it('creates the ServiceMonitor where the CRD exists, goes without it where it does not, and fails loudly when forced there', async () => {
    const model = resolveSpec(specOf({ name: 'monitored', prometheus: true }));
    const chart = chartDir(model);
    const withCrd = await freshNamespace('with-crd');
    const installed = await installAndCheck('monitored', chart, withCrd);
    expect(installed.objects).toContain('ServiceMonitor/monitored');
    await helmOk(['uninstall', 'monitored', '--wait'], withCrd);
    await expectNothingLeft('monitored', withCrd);

    // A cluster without the Prometheus Operator's CRD: a second, one-node control plane
    // (deleting and re-creating a CRD in the shared one leaves the API server's
    // server-side-apply schema for it stale for a while).
    const bare = await startCluster({
      binDir: process.env.CATWALK_CLUSTER_BIN,
      nodes: [{ name: 'solo', zone: 'zone-a', cpu: '64', memory: '256Gi' }],
    });
    try {
      const env = { KUBECONFIG: bare.kubeconfig };
      // The default (auto): helm sees no Prometheus Operator API, so no ServiceMonitor, and the install works.
      const auto = await helm(
        ['install', 'monitored', chart, '--wait=watcher', '--timeout', '120s'],
        'default',
        env,
      );
      expect(auto.stderr).toBe('');
      expect(auto.code).toBe(0);
      const manifest = await helm(['get', 'manifest', 'monitored'], 'default', env);
      expect(manifest.stdout).toContain('kind: Deployment');
      expect(manifest.stdout).not.toContain('kind: ServiceMonitor');
      // Asked for explicitly, it fails loudly instead of silently going without.
      const forced = await helm(
        [
          'install',
          'forced',
          chart,
          '--set',
          'metrics.serviceMonitor.enabled=true',
          '--wait=watcher',
          '--timeout',
          '60s',
        ],
        'default',
        env,
      );
      expect(forced.code).not.toBe(0);
      expect(forced.stderr).toMatch(
        /no matches for kind "ServiceMonitor" in version "monitoring.coreos.com\/v1"/,
      );
    } finally {
      await bare.stop();
    }
  });

  it('rejects what the API server rejects, with its message (a chart that is not valid never "installs")', async () => {
    const model = resolveSpec(specOf({ name: 'broken' }));
    const chart = chartDir(model);
    // An impossible value the chart's schema does not catch but the API server does.
    const values = path.join(chart, 'bad-values.yaml');
    fs.writeFileSync(values, 'podAnnotations:\n  "not a valid/annotation/key": "x"\n');
    const namespace = await freshNamespace('broken');
    const run = await helm(
      ['install', 'broken', chart, '--values', values, '--wait=watcher', '--timeout', '60s'],
      namespace,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/metadata\.annotations|annotations/i);
  });
});
