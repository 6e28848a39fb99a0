// `catwalk experiment` end to end against the local control plane: the real
// API server, controllers and scheduler, kwok's simulated nodes, the real helm,
// the registry's release.json in the embedded S3, and real sync sidecars
// answering for the pods through the API server's pod proxy. What is
// simulated, and how: see experiment-support.ts (kwok pods run no
// containers; TF Serving is @catwalk/testing's fake following the sidecar's
// folder). Every test checks the weights in the Ingress, the Deployments and
// release.json after each command, and while a command runs.

import * as fs from 'node:fs';
import { experimentStore, listVersions, type Release, readRelease } from '@catwalk/registry';
import {
  type ExperimentCommand as Command,
  ExperimentRefusedError,
  type ExperimentStore,
  runExperiment,
} from '../../src';
import { trackReport } from '../../src/experiment-cluster';
import { k8s } from '../../src/kube';
import { experimentWeights } from '../../src/status';
import { catwalk, client, deployModel, type Setup, startS3 } from './experiment-support';
import { cluster, resolveSpec, waitFor } from './support';

/** What release.json serves before anyone released, for the stores below (every test releases first). */
const all = { versionPolicy: { kind: 'all' as const }, versionLabels: {} };

let s3: { endpoint: string; stop(): Promise<void> };
let seed = 500;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

/** A model with versions 1 (stable) and 2 in the registry, deployed with 2 pods whose sidecars answer. */
function deployed(tag: string) {
  seed += 2;
  return deployModel({ s3Endpoint: s3.endpoint, tag, seed });
}

/** What the cluster and the registry say right now. */
async function snapshot(s: Setup) {
  const conn = await cluster(s.namespace);
  const lib = await k8s();
  const [ingresses, deployments] = await Promise.all([
    conn.kc.makeApiClient(lib.NetworkingV1Api).listNamespacedIngress({ namespace: s.namespace }),
    conn.kc.makeApiClient(lib.AppsV1Api).listNamespacedDeployment({ namespace: s.namespace }),
  ]);
  const ingress = ingresses.items.find((i) => i.metadata?.name === 'pricing');
  const c = client(s3.endpoint);
  const current = await readRelease(
    c,
    s.location,
    { versionPolicy: { kind: 'all' }, versionLabels: {} },
    await listVersions(c, s.location),
  );
  return {
    weights: ingress ? experimentWeights(ingress) : null,
    deployments: deployments.items
      .filter((d) => !d.metadata?.deletionTimestamp)
      .map((d) => d.metadata?.name ?? '?')
      .sort(),
    release: current.release as Release,
  };
}

/**
 * Samples the cluster while `work` runs; returns the distinct canary weights
 * seen, in order, and each canary weight above 0 seen while a canary pod did
 * not yet report `canaryVersion` AVAILABLE (there must be none).
 */
async function watchWeights<T>(
  s: Setup,
  work: () => Promise<T>,
  canaryVersion = 2,
): Promise<{ result: T; seen: (number | null)[]; unserved: number[] }> {
  const seen: (number | null)[] = [];
  const unserved: number[] = [];
  const conn = await cluster(s.namespace);
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const snap = await snapshot(s).catch(() => undefined);
      const w = snap ? (snap.weights?.['pricing-canary'] ?? null) : undefined;
      if (w !== undefined && seen[seen.length - 1] !== w) seen.push(w);
      if (w) {
        const canary = await trackReport(conn, 'pricing', 'canary').catch(() => null);
        if (canary && !canary.availableOnAll.includes(canaryVersion)) unserved.push(w);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  try {
    const result = await work();
    return { result, seen, unserved };
  } finally {
    done = true;
    await sampler;
  }
}

describe('catwalk experiment', () => {
  it('start with steps → status → promote: traffic moves only once the canary serves, stable moves before the canary goes', async () => {
    const s = await deployed('promote');
    try {
      const before = await snapshot(s);
      expect(before.weights).toBeNull();
      expect(before.deployments).toEqual(['pricing']);

      const {
        result: started,
        seen,
        unserved: unservedWhileStarting,
      } = await watchWeights(s, () =>
        catwalk([
          'experiment',
          'start',
          s.specFile,
          '--canary',
          '2',
          '--steps',
          '10,50',
          '--step-interval',
          '5s',
          ...s.flags,
        ]),
      );
      expect(started.stderr).toBe('');
      expect(started.code).toBe(0);
      expect(started.stdout).toContain('pricing: labelling version 2 canary in the release');
      expect(started.stdout).toContain(
        'pricing: waiting for the canary pods to be Ready with version 2 AVAILABLE',
      );
      expect(started.stdout).toMatch(/✓ pricing: the canary takes 50% of unaddressed requests/);
      // The weights the load balancer was given, in order: none, 0 while the canary loads, then each step.
      expect(seen).toEqual([null, 0, 10, 50]);
      expect(unservedWhileStarting).toEqual([]);
      const running = await snapshot(s);
      expect(running.weights).toEqual({ pricing: 50, 'pricing-canary': 50 });
      expect(running.deployments).toEqual(['pricing', 'pricing-canary']);
      expect(running.release.labels).toEqual({ canary: 2, stable: 1 });
      expect(running.release.serve).toEqual([1, 2]);
      expect(running.release.experiment).toMatchObject({
        canary: 2,
        stable: 1,
        weight: 50,
        step: 1,
        phase: 'running',
      });
      expect(running.release.audit!.slice(0, 3).map((a) => [a.action, a.from, a.to])).toEqual([
        ['experiment-weight', '10%', '50%'],
        ['experiment-weight', '0%', '10%'],
        ['experiment-start', 'stable=1', expect.stringMatching(/^canary=2 at 0%/)],
      ]);
      // The canary pods really were asked through the pod proxy.
      expect(s.agents.pods.canary.size).toBeGreaterThan(0);

      const status = await catwalk(['experiment', 'status', s.specFile, ...s.flags]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain('experiment: canary 2 vs stable 1, running');
      expect(status.stdout).toContain('weight now: canary 50% (release), 50% in the cluster');
      expect(status.stdout).toContain('plan: 10 → [50]% every 5 s');
      expect(status.stdout).toMatch(/canary {2}pricing-canary: 2\/2 ready/);
      expect(status.stdout).toMatch(/experiment-start: stable=1 → canary=2/);

      const { result: promoted, seen: duringPromote } = await watchWeights(s, () =>
        catwalk(['experiment', 'promote', s.specFile, ...s.flags]),
      );
      expect(promoted.stderr).toBe('');
      expect(promoted.code).toBe(0);
      expect(promoted.stdout).toContain('waiting for every main pod to report version 2 AVAILABLE');
      // Weight back to main before the canary goes; never a moment with no split target.
      expect(duringPromote).toEqual([50, 0, null]);
      const after = await snapshot(s);
      expect(after.weights).toBeNull();
      expect(after.deployments).toEqual(['pricing']);
      expect(after.release.labels).toEqual({ stable: 2 });
      expect(after.release.serve).toEqual([2]);
      expect(after.release.experiment).toBeUndefined();
      expect(after.release.audit!.slice(0, 2).map((a) => a.action)).toEqual([
        'experiment-promoted',
        'experiment-promote',
      ]);
    } finally {
      await s.agents.stop();
    }
  });

  it('start → abort: weight 0 first, then the canary and its label go; stable never changes', async () => {
    const s = await deployed('abort');
    try {
      const started = await catwalk([
        'experiment',
        'start',
        s.specFile,
        '--canary',
        '2',
        '--weight',
        '20',
        ...s.flags,
      ]);
      expect(started.code).toBe(0);
      expect((await snapshot(s)).weights).toEqual({ pricing: 80, 'pricing-canary': 20 });

      const { result: aborted, seen } = await watchWeights(s, () =>
        catwalk(['experiment', 'abort', s.specFile, ...s.flags, '--log-format', 'json']),
      );
      expect(aborted.code).toBe(0);
      expect(seen).toEqual([20, 0, null]);
      // One JSON object per line, each with where the experiment stood.
      const lines = aborted.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const line of lines) {
        expect(line).toMatchObject({ component: 'catwalk-experiment', model: 'pricing', stable: 1 });
        expect(typeof line.generation).toBe('number');
      }
      // The canary's 20% goes back to main in the first upgrade, which also raises main to the 4 pods
      // both tracks run and holds the canary's 2; the canary goes once main has them and the switch-over
      // is over. Whether the command still has to wait for either depends on how fast main's pods load.
      const waits = [
        'waiting for 4 main pods to be Ready with version 1 AVAILABLE before the canary goes',
        'weights main/canary 100/0 applied; the giving track stays held 1 s while the load balancer switches',
      ];
      const said = lines.filter((l) => !waits.includes(String(l.msg)));
      expect(said.map((l) => [l.msg, l.weight, l.track ?? null])).toEqual([
        ['aborting: canary weight to 0 in the release', 20, null],
        [
          'weights main/canary 100/0 at once; main to at least 4 pods, the canary held at 2 until main has them',
          0,
          null,
        ],
        ['removing the canary Deployment', 0, 'canary'],
        ['aborted; version 1 stayed stable throughout', 0, null],
      ]);
      // Any wait comes between the weight's upgrade and the canary's removal.
      const removal = lines.findIndex((l) => l.msg === 'removing the canary Deployment');
      lines.forEach((l, i) => {
        if (waits.includes(String(l.msg))) expect([i > 1, i < removal]).toEqual([true, true]);
      });
      expect(lines.at(-1)).toMatchObject({ outcome: 'done', level: 'info' });
      const after = await snapshot(s);
      expect(after.deployments).toEqual(['pricing']);
      expect(after.release.labels).toEqual({ stable: 1 });
      expect(after.release.serve).toEqual([1]);
      expect(after.release.experiment).toBeUndefined();
      // Every generation written during the test kept stable=1.
      expect(after.release.history.filter((h) => h.labels.stable !== 1)).toEqual([]);
      expect(after.release.audit!.slice(0, 2).map((a) => a.action)).toEqual([
        'experiment-aborted',
        'experiment-abort',
      ]);
      // Aborting again is harmless.
      const again = await catwalk(['experiment', 'abort', s.specFile, ...s.flags]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('no experiment is running');
    } finally {
      await s.agents.stop();
    }
  });

  it('a start interrupted half-way (after its release write, then while waiting for the canary) continues when run again', async () => {
    const s = await deployed('rerun');
    try {
      const model = resolveSpec(s.spec);
      const c = client(s3.endpoint);
      const writes: string[] = [];
      const registry = experimentStore({ client: c, location: s.location, updatedBy: 'ana', initial: all });
      const store = (killAfterWrite?: string): ExperimentStore => ({
        read: () => registry.read(),
        async write(generation, change) {
          await registry.write(generation, change);
          writes.push(change.action);
          // The process dies right after its write reached S3: nothing after it runs.
          if (change.action === killAfterWrite) throw new Error('killed');
        },
      });
      const command: Command = {
        kind: 'start',
        canary: 2,
        steps: [30],
        intervalSeconds: 1,
        autoPromote: false,
      };
      const options = {
        model,
        namespace: s.namespace,
        me: 'ana',
        values: [s.values],
        pollMs: 300,
        switchSeconds: 1,
        timeoutSeconds: 180,
      };

      const first = await runExperiment(command, { ...options, store: store('experiment-start') }).catch(
        (e: Error) => e,
      );
      expect((first as Error).message).toBe('killed');
      let snap = await snapshot(s);
      expect(snap.release.experiment).toMatchObject({ phase: 'starting', weight: 0 });
      expect(snap.deployments).toEqual(['pricing']);

      // Second run: Ctrl-C while it waits for the canary pods.
      const stop = new AbortController();
      const second = await runExperiment(command, {
        ...options,
        store: store(),
        signal: stop.signal,
        onEvent: (line) => {
          if (line.startsWith('waiting for the canary')) stop.abort();
        },
      }).catch((e: Error) => e);
      expect((second as Error).message).toMatch(/interrupted; run the same command again/);
      snap = await snapshot(s);
      expect(snap.deployments).toEqual(['pricing', 'pricing-canary']);
      expect(snap.weights).toEqual({ pricing: 100, 'pricing-canary': 0 });
      expect(snap.release.experiment).toMatchObject({ phase: 'starting', weight: 0 });

      const third = await runExperiment(command, { ...options, store: store() });
      expect(third.ok).toBe(true);
      snap = await snapshot(s);
      expect(snap.weights).toEqual({ pricing: 70, 'pricing-canary': 30 });
      expect(snap.release.experiment).toMatchObject({ phase: 'running', weight: 30 });
      // Each change was written once across the three runs.
      expect(writes).toEqual(['experiment-start', 'experiment-weight']);
      expect(snap.release.audit!.filter((a) => a.action === 'experiment-start')).toHaveLength(1);
    } finally {
      await s.agents.stop();
    }
  });

  it('two operators starting at once: one runs the experiment, the other is refused with its holder named; nothing mixed', async () => {
    const s = await deployed('race');
    try {
      const model = resolveSpec(s.spec);
      for (let round = 0; round < 2; round++) {
        const canary = 2;
        const generationBefore = (await snapshot(s)).release.generation;
        // Both read the record before either writes: the first write waits until the second has read.
        let reads = 0;
        let bothRead: () => void = () => undefined;
        const read = new Promise<void>((r) => {
          bothRead = r;
        });
        const storeFor = (who: string): ExperimentStore => {
          const registry = experimentStore({
            client: client(s3.endpoint),
            location: s.location,
            updatedBy: who,
            initial: all,
          });
          let first = true;
          return {
            async read() {
              const current = await registry.read();
              if (first) {
                first = false;
                if (++reads === 2) bothRead();
              }
              return current;
            },
            async write(generation, change) {
              await read;
              await registry.write(generation, change);
            },
          };
        };
        const command: Command = {
          kind: 'start',
          canary,
          steps: [10],
          intervalSeconds: 1,
          autoPromote: false,
        };
        const attempt = (who: string) =>
          runExperiment(command, {
            model,
            namespace: s.namespace,
            me: who,
            values: [s.values],
            store: storeFor(who),
            pollMs: 300,
            switchSeconds: 1,
            timeoutSeconds: 180,
          }).then(
            () => who,
            (e: Error) => e,
          );
        const results = await Promise.all([attempt('ana'), attempt('bo')]);
        const winners = results.filter((r): r is string => typeof r === 'string');
        expect(winners).toHaveLength(1);
        const loser = results.find((r) => r instanceof Error) as Error;
        expect(loser).toBeInstanceOf(ExperimentRefusedError);
        expect(loser.message).toContain(`started by ${winners[0]}`);
        const snap = await snapshot(s);
        expect(snap.release.experiment).toMatchObject({ startedBy: winners[0], canary, weight: 10 });
        expect(snap.weights).toEqual({ pricing: 90, 'pricing-canary': 10 });
        expect(snap.deployments).toEqual(['pricing', 'pricing-canary']);
        // One start was written in this round, by the winner.
        const starts = snap.release.audit!.filter(
          (a) => a.action === 'experiment-start' && a.generation > generationBefore,
        );
        expect(starts.map((a) => a.by)).toEqual([winners[0]]);
        const aborted = await catwalk(['experiment', 'abort', s.specFile, ...s.flags]);
        expect(aborted.code).toBe(0);
        expect((await snapshot(s)).deployments).toEqual(['pricing']);
      }
    } finally {
      await s.agents.stop();
    }
  });

  it('steps with analysis: a failing look aborts the run by itself, weight 0 before the canary goes', async () => {
    const s = await deployed('verdict');
    try {
      const model = resolveSpec(s.spec);
      const c = client(s3.endpoint);
      const store: ExperimentStore = experimentStore({
        client: c,
        location: s.location,
        updatedBy: 'ana',
        initial: all,
      });
      // The comparison itself is tested against a real Prometheus in analysis.test.ts; here the
      // verdicts are given, to check what the lifecycle does with them on a real cluster.
      const verdicts = [
        { verdict: 'pass' as const, reason: 'within thresholds' },
        { verdict: 'fail' as const, reason: 'error rate: canary 3.10% vs stable 1.02%' },
      ];
      const looked: number[] = [];
      const { result, seen, unserved } = await watchWeights(s, () =>
        runExperiment(
          {
            kind: 'start',
            canary: 2,
            steps: [10, 30, 60],
            intervalSeconds: 2,
            autoPromote: false,
            analysisUrl: 'http://prometheus.invalid:9090',
          },
          {
            model,
            namespace: s.namespace,
            me: 'ana',
            values: [s.values],
            store,
            pollMs: 300,
            switchSeconds: 1,
            timeoutSeconds: 180,
            analyse: async (e) => {
              looked.push(e.weight);
              return verdicts.shift()!;
            },
          },
        ),
      );
      expect(result.ok).toBe(false);
      expect(result.message).toMatch(/aborted by the analysis \(error rate: canary 3.10% vs stable 1.02%\)/);
      expect(looked).toEqual([10, 30]);
      // The canary never got the third weight; it went to 0 before it was removed.
      expect(seen).toEqual([null, 0, 10, 30, 0, null]);
      expect(unserved).toEqual([]);
      const after = await snapshot(s);
      expect(after.deployments).toEqual(['pricing']);
      expect(after.release.labels).toEqual({ stable: 1 });
      expect(after.release.experiment).toBeUndefined();
      expect(after.release.audit!.find((a) => a.action === 'experiment-abort')?.to).toMatch(
        /analysis: error rate/,
      );
    } finally {
      await s.agents.stop();
    }
  });

  it('a catwalk deploy of a changed spec in the middle keeps the weights, the canary and the record', async () => {
    const s = await deployed('respec');
    try {
      const started = await catwalk([
        'experiment',
        'start',
        s.specFile,
        '--canary',
        '2',
        '--weight',
        '25',
        ...s.flags,
      ]);
      expect(started.code).toBe(0);
      const before = await snapshot(s);

      const changed = JSON.parse(JSON.stringify(s.spec));
      changed.metadata.labels = { costCenter: 'cc-42' };
      fs.writeFileSync(s.specFile, JSON.stringify(changed));
      const redeployed = await catwalk([
        'deploy',
        s.specFile,
        '--namespace',
        s.namespace,
        '--values',
        s.values,
      ]);
      expect(redeployed.stderr).not.toMatch(/✗/);
      expect(redeployed.code).toBe(0);

      const after = await snapshot(s);
      expect(after.weights).toEqual({ pricing: 75, 'pricing-canary': 25 });
      expect(after.deployments).toEqual(['pricing', 'pricing-canary']);
      expect(after.release.generation).toBe(before.release.generation);
      // The spec change itself reached the cluster.
      const conn = await cluster(s.namespace);
      const lib = await k8s();
      const main = await conn.kc
        .makeApiClient(lib.AppsV1Api)
        .readNamespacedDeployment({ name: 'pricing', namespace: s.namespace });
      expect(JSON.stringify(main.metadata?.labels)).toContain('cc-42');

      await waitFor('the abort to finish', async () => {
        const aborted = await catwalk(['experiment', 'abort', s.specFile, ...s.flags]);
        return aborted.code === 0 ? true : undefined;
      });
    } finally {
      await s.agents.stop();
    }
  });
});
