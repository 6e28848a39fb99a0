// `catwalk deploy` and `catwalk status` end to end: the CLI as a user runs it,
// against the local control plane (real API server, controllers and
// scheduler; kwok's simulated kubelets make the pods Ready).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cluster, freshNamespace, helm, runCatwalk, specOf, waitFor } from './support';

const catwalk = runCatwalk;

const specDir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-deploy-specs-'));
function specFile(spec: object): string {
  const name = (spec as { metadata: { name: string } }).metadata.name;
  const file = path.join(specDir, `${name}-${Math.random().toString(36).slice(2, 8)}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  return file;
}

describe('catwalk deploy', () => {
  it('installs a model, follows the rollout with a progress line, and exits 0 once every replica is Ready', async () => {
    const namespace = await freshNamespace('deploy-ok');
    const file = specFile(
      specOf({ name: 'pricing', team: 'marketplace', scaling: { minReplicas: 3, maxReplicas: 6 } }),
    );
    const result = await catwalk(['deploy', file, '--namespace', namespace, '--timeout', '3m']);
    expect(result.stderr).not.toMatch(/✗/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/pricing {2}main \d\/3 ready/);
    expect(result.stdout).toMatch(/pricing {2}main 3\/3 ready {2}rolled out/);
    expect(result.stdout).toMatch(/✓ pricing rolled out in deploy-ok-\S+ \(\d+\.\d s\)/);

    // What it said is what the cluster has.
    const conn = await cluster(namespace);
    const k = await import('@kubernetes/client-node');
    const deployment = await conn.kc
      .makeApiClient(k.AppsV1Api)
      .readNamespacedDeployment({ name: 'pricing', namespace });
    expect(deployment.status?.readyReplicas).toBe(3);
    // The cluster serves the Prometheus Operator's API: the chart's alerts went in with the model.
    const rule = (await conn.kc.makeApiClient(k.CustomObjectsApi).getNamespacedCustomObject({
      group: 'monitoring.coreos.com',
      version: 'v1',
      namespace,
      plural: 'prometheusrules',
      name: 'pricing',
    })) as { spec: { groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string }> }> } };
    expect(rule.spec.groups.map((g) => g.name)).toEqual([
      'catwalk.pricing.recording',
      'catwalk.pricing.alerts',
    ]);
    const alerts = rule.spec.groups[1]!.rules;
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['CatwalkSyncStale', 'CatwalkHpaAtMaxReplicas']),
    );
    for (const r of alerts) expect(r.expr).toContain(`namespace="${namespace}"`);

    // A second deploy of the same spec is an upgrade, and is just as clean.
    const again = await catwalk(['deploy', file, '--namespace', namespace]);
    expect(again.code).toBe(0);
    const history = await helm(['history', 'pricing', '-o', 'json'], namespace);
    expect(JSON.parse(history.stdout)).toHaveLength(2);

    // status: one screen from the cluster, as JSON and as text.
    const status = await catwalk(['status', 'pricing', '--namespace', namespace, '--json']);
    expect(status.code).toBe(0);
    const [model] = JSON.parse(status.stdout);
    expect(model.found).toBe(true);
    expect(model.tracks).toEqual([
      {
        track: 'main',
        deployment: 'pricing',
        ready: 3,
        desired: 3,
        zones: { 'zone-a': 1, 'zone-b': 1, 'zone-c': 1 },
      },
    ]);
    expect(model.hpas[0]).toMatchObject({
      name: 'pricing',
      min: 3,
      max: 6,
      current: 3,
      targetCpuPercent: 70,
    });
    expect(model.pdbs[0]).toMatchObject({ name: 'pricing', currentHealthy: 3 });
    expect(model.ingresses[0].urls).toEqual(['https://models.example.com/v1/models/pricing']);
    expect(model.pods).toHaveLength(3);
    for (const pod of model.pods) {
      expect(pod.ready).toBe(true);
      // kwok's pods have no processes to answer; the API server says why, and status says it per pod.
      expect(pod.sidecar).toBeNull();
      expect(pod.sidecarError).toMatch(/HTTP \d{3}/);
    }
    const text = await catwalk(['status', 'pricing', '--namespace', namespace]);
    expect(text.stdout).toContain('main    pricing: 3/3 ready (zone-a 1, zone-b 1, zone-c 1)');
    expect(text.stdout).toContain('hpa     pricing: 3 replicas (min 3, max 6');
    expect(text.stdout).toMatch(/pdb {5}pricing: .*3\/\d+ healthy/);
  });

  it("fails with the scheduler's message when no node can take the pods, and rolls the install back", async () => {
    const namespace = await freshNamespace('deploy-unschedulable');
    // Eight GPUs on each GPU node; each replica asks for twelve.
    const file = specFile(specOf({ name: 'huge', gpu: 12, cpu: '2', memory: '4Gi' }));
    const result = await catwalk(['deploy', file, '--namespace', namespace, '--timeout', '25s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /✗ huge: unschedulable: 0\/\d+ nodes are available: .*Insufficient nvidia\.com\/gpu/,
    );
    // --rollback-on-failure: a failed first install leaves no release behind.
    await waitFor('release removed', async () =>
      (await helm(['status', 'huge'], namespace)).code !== 0 ? true : undefined,
    );
  });

  it("refuses a model name that another team's release uses in the namespace", async () => {
    const namespace = await freshNamespace('deploy-owner');
    const first = await catwalk([
      'deploy',
      specFile(specOf({ name: 'shared', team: 'payments' })),
      '--namespace',
      namespace,
    ]);
    expect(first.code).toBe(0);
    const second = await catwalk([
      'deploy',
      specFile(specOf({ name: 'shared', team: 'catalog' })),
      '--namespace',
      namespace,
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `catwalk: model name "shared" is already used in namespace "${namespace}" by team "payments" (release shared); rename the model (metadata.name) or deploy to another namespace`,
    );
    // Nothing of the second team's spec reached the cluster.
    const history = await helm(['history', 'shared', '-o', 'json'], namespace);
    expect(JSON.parse(history.stdout)).toHaveLength(1);
  });

  it('--dry-run lists what would change, object by object, and changes nothing', async () => {
    const namespace = await freshNamespace('deploy-dry');
    const fresh = await catwalk([
      'deploy',
      specFile(specOf({ name: 'ranker' })),
      '--namespace',
      namespace,
      '--dry-run',
    ]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('+ Deployment/ranker create');
    expect(fresh.stdout).toContain('+ HorizontalPodAutoscaler/ranker create');
    expect((await helm(['status', 'ranker'], namespace)).code).not.toBe(0);

    expect(
      (await catwalk(['deploy', specFile(specOf({ name: 'ranker' })), '--namespace', namespace])).code,
    ).toBe(0);
    const conn = await cluster(namespace);
    const k = await import('@kubernetes/client-node');
    const apps = conn.kc.makeApiClient(k.AppsV1Api);
    const before = await apps.readNamespacedDeployment({ name: 'ranker', namespace });

    const changed = await catwalk([
      'deploy',
      specFile(specOf({ name: 'ranker', cpu: '1' })),
      '--namespace',
      namespace,
      '--dry-run',
    ]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toMatch(
      /~ Deployment\/ranker update: .*spec\.template\.spec\.containers\[\d\]\.resources\.(limits|requests)\.cpu/,
    );
    // The chart version (and with it the helm.sh/chart label) carries the spec's hash: every object relabels.
    expect(changed.stdout).toContain('~ Service/ranker update: metadata.labels.helm.sh/chart\n');
    const after = await apps.readNamespacedDeployment({ name: 'ranker', namespace });
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });
});
