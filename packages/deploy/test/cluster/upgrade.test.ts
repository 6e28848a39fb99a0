// helm upgrade across the spec changes users make, then rollback and
// uninstall, against the real API server: an immutable field changed between
// two revisions (a Deployment selector, a Service clusterIP, a PDB selector)
// fails the upgrade here exactly as it would in production.

import fc from 'fast-check';
import { expectNothingLeft, waitForTracks } from './assertions';
import { chartDir, freshNamespace, helm, helmOk, resolveSpec, type SpecInput, specOf } from './support';

async function upgradeTo(release: string, input: SpecInput, namespace: string): Promise<void> {
  const model = resolveSpec(specOf(input));
  const run = await helm(
    // --history-max 0: keep every revision, so the test can roll back to the first.
    [
      'upgrade',
      '--install',
      release,
      chartDir(model),
      '--wait=watcher',
      '--timeout',
      '150s',
      '--history-max',
      '0',
    ],
    namespace,
  );
  if (run.code !== 0) throw new Error(`upgrade to ${JSON.stringify(input)} failed:\n${run.stderr}`);
  const tracks = await waitForTracks(release, namespace);
  expect(Object.keys(tracks).sort()).toEqual(model.experiment ? ['canary', 'main'] : ['main']);
  expect(tracks.main!.desired).toBeGreaterThanOrEqual(model.scaling.minReplicas);
}

const base: SpecInput = { name: 'pricing', team: 'marketplace' };
const experiment = {
  versionPolicy: { specific: [3, 4] },
  versionLabels: { stable: 3, canary: 4 },
  experiment: { canaryVersion: 4, canaryWeight: 10 },
};
const batching = { maxBatchSize: 32, batchTimeoutMicros: 2000, numBatchThreads: 4, maxEnqueuedBatches: 50 };

describe('helm upgrade between specs', () => {
  it('goes through the changes users make without an immutable-field error, then rolls back and uninstalls cleanly', async () => {
    const namespace = await freshNamespace('upgrades');
    const steps: SpecInput[] = [
      base,
      { ...base, versionPolicy: { latest: 2 } },
      { ...base, versionPolicy: { latest: 2 }, labels: { tier: 'critical', 'cost-center': 'mk-1' } },
      { ...base, versionPolicy: { latest: 2 }, cpu: '1', memory: '2Gi' },
      { ...base, scaling: { minReplicas: 3, maxReplicas: 8 } },
      { ...base, ...experiment },
      { ...base, versionPolicy: { specific: [3, 4] }, versionLabels: { stable: 3, canary: 4 } },
      { ...base, ...experiment, experiment: { canaryVersion: 4, canaryWeight: 50 } },
      { ...base, batching },
      { ...base },
      { ...base, grpc: true },
      { ...base, grpc: false },
      { ...base, team: 'pricing-team' },
      { ...base, team: 'pricing-team', host: null },
    ];
    for (const step of steps) await upgradeTo('pricing', step, namespace);

    const history = await helmOk(['history', 'pricing', '-o', 'json'], namespace);
    expect(JSON.parse(history)).toHaveLength(steps.length);
    // A rollback is a revision too: keep them all, so revision 1 stays reachable.
    const rollback = (revision: number) =>
      helmOk(
        [
          'rollback',
          'pricing',
          String(revision),
          '--wait=watcher',
          '--timeout',
          '150s',
          '--history-max',
          '0',
        ],
        namespace,
      );
    await rollback(1);
    expect(Object.keys(await waitForTracks('pricing', namespace))).toEqual(['main']);
    // To the revision with a 50% canary (step 8), and from it back to the first, which has none.
    await rollback(8);
    expect(Object.keys(await waitForTracks('pricing', namespace)).sort()).toEqual(['canary', 'main']);
    await rollback(1);
    expect(Object.keys(await waitForTracks('pricing', namespace))).toEqual(['main']);

    await helmOk(['uninstall', 'pricing', '--wait'], namespace);
    await expectNothingLeft('pricing', namespace);
  }, 900_000);

  const specArb: fc.Arbitrary<SpecInput> = fc
    .record({
      name: fc.constant('model'),
      team: fc.constantFrom('team-a', 'team-b'),
      labels: fc.option(
        fc.dictionary(fc.constantFrom('tier', 'owner', 'cost-center'), fc.constantFrom('a', 'b', 'critical')),
        { nil: undefined },
      ),
      policy: fc.constantFrom('latest1', 'latest2', 'specific', 'experiment'),
      batching: fc.boolean(),
      gpu: fc.constantFrom(0, 0, 1),
      cpu: fc.constantFrom('250m', '500m', '1'),
      grpc: fc.boolean(),
      host: fc.boolean(),
      minReplicas: fc.integer({ min: 2, max: 3 }),
      prometheus: fc.boolean(),
    })
    .map(
      (r): SpecInput => ({
        name: r.name,
        team: r.team,
        labels: r.labels,
        ...(r.policy === 'latest1' ? { versionPolicy: { latest: 1 } } : {}),
        ...(r.policy === 'latest2' ? { versionPolicy: { latest: 2 } } : {}),
        ...(r.policy === 'specific'
          ? { versionPolicy: { specific: [3, 4] }, versionLabels: { stable: 3, canary: 4 } }
          : {}),
        ...(r.policy === 'experiment' ? experiment : {}),
        batching: r.batching ? batching : null,
        gpu: r.gpu,
        cpu: r.cpu,
        // gRPC through the shared load balancer needs a host name (the spec says so).
        grpc: r.grpc && r.host,
        host: r.host ? 'models.example.com' : null,
        scaling: { minReplicas: r.minReplicas, maxReplicas: 6 },
        prometheus: r.prometheus,
      }),
    );

  it('upgrades between random pairs of valid specs without an immutable-field error', async () => {
    const runs = Number(process.env.CATWALK_UPGRADE_RUNS ?? 4);
    let index = 0;
    await fc.assert(
      fc.asyncProperty(specArb, specArb, async (from, to) => {
        const namespace = await freshNamespace(`pairs-${index++}`);
        try {
          await upgradeTo('model', from, namespace);
          await upgradeTo('model', to, namespace);
        } finally {
          // Also after a failure: its pods would hold the nodes' capacity for the tests after it.
          await helm(['uninstall', 'model', '--wait'], namespace);
        }
        await expectNothingLeft('model', namespace);
      }),
      { numRuns: runs, endOnFailure: true },
    );
  }, 900_000);
});
