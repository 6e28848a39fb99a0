// Full capacity while `catwalk experiment` moves traffic, against the local
// control plane (real API server, controllers, HPA controller and scheduler,
// kwok's nodes, the real helm and release.json in the embedded S3, sidecars
// answering through the pod proxy: see experiment-support.ts for what is
// simulated). Every change of the Deployments, HPAs and the Ingress is
// recorded from watches while a command runs; the record must show the
// receiving track with its new share of the pods Ready before the load
// balancer gets the new weight, and the giving track held until then
// (capacity.ts states the rule).
//
// Load is simulated: kwok's pods use no CPU and this cluster has no metrics
// API, so the HPAs never scale on their own and keep a Deployment's replicas
// wherever they are within the bounds. The tests scale the main Deployment
// by hand to where its HPA would have taken it under load.

import { experimentStore } from '@catwalk/registry';
import { runExperiment } from '../../src';
import { appliedExperiment } from '../../src/experiment-cluster';
import { k8s } from '../../src/kube';
import { brokenAbortPromises, brokenPromises, heldAfterSwitch, type Moment, recordModel } from './capacity';
import { catwalk, client, deployModel, type Setup, startS3 } from './experiment-support';
import { cluster, resolveSpec, waitFor } from './support';

/** The spec's scaling in these tests: no single replica, so the floor is 2. */
const scaling = { minReplicas: 2, maxReplicas: 6 };
const rule = { floor: 2, maxReplicas: scaling.maxReplicas };

let s3: { endpoint: string; stop(): Promise<void> };
let seed = 900;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

function deployed(tag: string) {
  seed += 2;
  return deployModel({ s3Endpoint: s3.endpoint, tag, seed, scaling });
}

/** Scales the main Deployment as its HPA would under load (the HPA keeps it: it is within the bounds). */
async function loadMain(s: Setup, replicas: number): Promise<void> {
  const lib = await k8s();
  const apps = (await cluster(s.namespace)).kc.makeApiClient(lib.AppsV1Api);
  const scale = await apps.readNamespacedDeploymentScale({ name: 'pricing', namespace: s.namespace });
  await apps.replaceNamespacedDeploymentScale({
    name: 'pricing',
    namespace: s.namespace,
    body: { ...scale, spec: { replicas } },
  });
}

/** Until every Deployment of the model has all its replicas Ready and no pod is terminating. */
async function settled(s: Setup): Promise<Record<string, number>> {
  const lib = await k8s();
  const conn = await cluster(s.namespace);
  const apps = conn.kc.makeApiClient(lib.AppsV1Api);
  const core = conn.kc.makeApiClient(lib.CoreV1Api);
  return waitFor(`the Deployments of ${s.namespace} to settle`, async () => {
    const [deployments, pods] = await Promise.all([
      apps.listNamespacedDeployment({ namespace: s.namespace }),
      core.listNamespacedPod({ namespace: s.namespace }),
    ]);
    if (pods.items.some((p) => p.metadata?.deletionTimestamp)) return undefined;
    const ready: Record<string, number> = {};
    for (const d of deployments.items) {
      const want = d.spec?.replicas ?? 1;
      const status = d.status ?? {};
      if (status.readyReplicas !== want || status.replicas !== want || status.updatedReplicas !== want)
        return undefined;
      ready[d.metadata?.name ?? '?'] = want;
    }
    return ready;
  });
}

type Recorded = { readonly before: Moment; readonly during: readonly Moment[] };

/** Runs one experiment command while recording; returns what it broke of the capacity rule. */
async function move(
  s: Setup,
  to: number,
  argv: string[],
  recorded?: (record: Recorded) => void,
): Promise<string[]> {
  await settled(s);
  const recorder = await recordModel(s.namespace);
  try {
    const from = recorder.mark();
    const [command, ...rest] = argv;
    const run = await catwalk(['experiment', command!, s.specFile, ...rest, ...s.flags]);
    if (run.code !== 0) throw new Error(`catwalk experiment ${argv.join(' ')} failed:\n${run.stderr}`);
    const record = recorder.moments(from);
    recorded?.(record);
    return brokenPromises(record, { ...rule, to });
  } finally {
    await recorder.stop();
  }
}

describe('catwalk experiment keeps full capacity while it moves traffic', () => {
  it('a step up (10 → 50) and a promote from 50/50', async () => {
    const s = await deployed('cap-up');
    try {
      const started = await catwalk([
        'experiment',
        'start',
        s.specFile,
        '--canary',
        '2',
        '--weight',
        '10',
        ...s.flags,
      ]);
      expect(started.code).toBe(0);
      await loadMain(s, 4);
      // A switch-over the test sees end: main must stay held that long after the Ingress got 50/50. It is
      // well above the few seconds phase 3's upgrade itself takes after phase 2 (3.4 s measured here with
      // --switch-seconds 0), so a move that dropped the holds at once fails this check.
      let held: number | null = null;
      const broken = {
        stepUp: await move(s, 50, ['set-weight', '50', '--switch-seconds', '15'], (r) => {
          held = heldAfterSwitch(r, 50);
        }),
        promote: await move(s, 0, ['promote']),
      };
      expect(broken).toEqual({ stepUp: [], promote: [] });
      expect(held).toBeGreaterThanOrEqual(15_000);
      expect(held).not.toBe(Number.POSITIVE_INFINITY);
    } finally {
      await s.agents.stop();
    }
  }, 600_000);

  it('a start straight to 80, and an abort from 80 that moves the weight first', async () => {
    const s = await deployed('cap-abort');
    try {
      await loadMain(s, 4);
      let abortBroken: string[] = [];
      expect(await move(s, 80, ['start', '--canary', '2', '--weight', '80'])).toEqual([]);
      // An abort moves the weight at once, so it keeps its own promises (capacity.ts brokenAbortPromises).
      await move(s, 0, ['abort', '--switch-seconds', '3'], (r) => {
        abortBroken = brokenAbortPromises(r, { ...rule, switchMs: 3000 });
      });
      expect(abortBroken).toEqual([]);
    } finally {
      await s.agents.stop();
    }
  }, 600_000);

  it('a step up interrupted after it raised the canary continues with the same hold when run again', async () => {
    const s = await deployed('cap-rerun');
    try {
      const started = await catwalk([
        'experiment',
        'start',
        s.specFile,
        '--canary',
        '2',
        '--weight',
        '10',
        ...s.flags,
      ]);
      expect(started.code).toBe(0);
      await loadMain(s, 4);
      await settled(s);
      const recorder = await recordModel(s.namespace);
      try {
        const from = recorder.mark();
        // Ctrl-C as the command announces phase 1: its helm upgrade runs, then the command stops.
        const stop = new AbortController();
        const first = await runExperiment(
          { kind: 'set-weight', weight: 50 },
          {
            model: resolveSpec(s.spec),
            namespace: s.namespace,
            me: 'ana',
            values: [s.values],
            store: experimentStore({
              client: client(s3.endpoint),
              location: s.location,
              updatedBy: 'ana',
              initial: { versionPolicy: { kind: 'all' }, versionLabels: {} },
            }),
            pollMs: 300,
            switchSeconds: 1,
            timeoutSeconds: 180,
            signal: stop.signal,
            onEvent: (line) => {
              if (line.startsWith('canary to at least')) stop.abort();
            },
          },
        ).catch((error: Error) => error);
        expect((first as Error).message).toMatch(/interrupted; run the same command again/);
        // Half of the 6 pods both tracks ran: the canary's minimum is raised, the weight not yet moved.
        expect(await appliedExperiment({ namespace: s.namespace }, 'pricing')).toMatchObject({
          canaryWeight: 10,
          minReplicas: { stable: 0, canary: 3 },
        });

        const again = await catwalk(['experiment', 'set-weight', s.specFile, '50', ...s.flags]);
        expect(again.code).toBe(0);
        const record = recorder.moments(from);
        expect(brokenPromises(record, { ...rule, to: 50 })).toEqual([]);
        // The rerun kept the hold: the 3 raised canary pods were not counted again (that would ask for 4 of 7).
        const moved = record.during.find((m) => m.weight === 50);
        expect(moved?.hpas.canary?.min).toBe(3);
        expect(await appliedExperiment({ namespace: s.namespace }, 'pricing')).toEqual({
          stableVersion: 1,
          canaryVersion: 2,
          canaryWeight: 50,
        });
      } finally {
        await recorder.stop();
      }
    } finally {
      await s.agents.stop();
    }
  }, 600_000);
});
