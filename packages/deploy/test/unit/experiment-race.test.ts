// Two operators on one experiment, through the command loop itself
// (runExperiment): a walking `start` whose helm upgrade is held in flight
// while another operator's `abort` runs to its end. The record is an
// in-memory release.json with the same compare-and-swap rule as the
// registry's (the S3 edge has its own race tests); the cluster is modelled,
// since helm and pods cannot run in the unit suite: an upgrade sets the chart
// values when it lands, and canary pods serve their version once created.
// The cluster suite runs the same commands against a real control plane.

import type { ResolvedModel } from '@catwalk/schema';
import {
  type ExperimentCluster,
  ExperimentRefusedError,
  type ExperimentStore,
  type ObservedCluster,
  runExperiment,
} from '../../src/experiment';
import type { Command, ExperimentValues, RecordChange, ReleaseView } from '../../src/experiment-plan';

class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** release.json in memory: every write is compare-and-swap on the generation, with an audit line. */
function memoryStore(initial: ReleaseView) {
  let release = initial;
  const store = (who: string, beforeRead?: () => Promise<void>): ExperimentStore => ({
    async read() {
      await beforeRead?.();
      return release;
    },
    async write(generation: number, change: RecordChange) {
      if (generation !== release.generation) {
        throw new ConflictError(`release.json is at generation ${release.generation}, not ${generation}`);
      }
      const { experiment: _e, ...rest } = release;
      release = {
        ...rest,
        generation: generation + 1,
        serve: change.state?.serve ?? release.serve,
        labels: change.state?.labels ?? release.labels,
        ...(change.experiment ? { experiment: change.experiment } : {}),
        audit: [
          {
            at: new Date().toISOString(),
            by: who,
            action: change.action,
            from: change.from,
            to: change.to,
            generation: generation + 1,
          },
          ...(release.audit ?? []),
        ],
      };
    },
  });
  return { store, now: () => release };
}

/** The chart's experiment values and the canary Deployment, shared by both operators. */
function modelledCluster() {
  const state: { applied: ExperimentValues | null; canaryVersion: number | null; applies: string[] } = {
    applied: null,
    canaryVersion: null,
    applies: [],
  };
  const clusterFor = (
    who: string,
    hold?: (values: ExperimentValues | null) => Promise<void> | undefined,
  ): ExperimentCluster => ({
    namespace: 'models',
    async observe(): Promise<ObservedCluster> {
      return {
        applied: state.applied,
        main: { pods: 3, ready: true, availableOnAll: [3] },
        canary:
          state.canaryVersion === null
            ? null
            : { pods: 2, ready: true, availableOnAll: [state.canaryVersion] },
        reports: { main: null, canary: null },
      };
    },
    async apply(values) {
      // The upgrade is planned now and lands when the hold lets it: helm running.
      await hold?.(values);
      state.applied = values;
      state.canaryVersion = values === null ? null : values.canaryVersion;
      state.applies.push(`${who} ${values === null ? 'none' : values.canaryWeight}`);
      return { ok: true };
    },
  });
  return { state, clusterFor };
}

const model = { name: 'pricing' } as ResolvedModel;
const initial: ReleaseView = { generation: 3, serve: [3, 4], labels: { stable: 3 } };
const start: Command = { kind: 'start', canary: 4, steps: [50], intervalSeconds: 60, autoPromote: false };

describe('a start whose helm upgrade lands after another operator aborted', () => {
  // Where the start is held while the abort runs: its n-th helm upgrade
  // (creating the canary at 0, then moving it to 50%), or its n-th read of
  // the record after the experiment exists (the read its plan is made from).
  const holds = [
    { at: 'apply', n: 0 },
    { at: 'apply', n: 1 },
    { at: 'read', n: 2 },
    { at: 'read', n: 4 },
    { at: 'read', n: 6 },
  ] as const;

  it.each(holds)(
    'held at its $at #$n: the chart ends as the record says (no canary) and the start stops',
    async ({ at, n }) => {
      const record = memoryStore(initial);
      const cluster = modelledCluster();
      let released!: () => void;
      const gate = new Promise<void>((resolve) => {
        released = resolve;
      });
      let held!: () => void;
      const reached = new Promise<void>((resolve) => {
        held = resolve;
      });
      let applies = 0;
      let reads = 0;
      const holdHere = async () => {
        held();
        await gate;
      };
      const startRun = runExperiment(start, {
        model,
        me: 'ana@laptop',
        pollMs: 1,
        store: record.store('ana@laptop', async () => {
          if (at === 'read' && record.now().experiment && reads++ === n) await holdHere();
        }),
        cluster: cluster.clusterFor('ana', async () => {
          if (at === 'apply' && applies++ === n) await holdHere();
        }),
      }).then(
        (outcome) => outcome,
        (error: Error) => error,
      );
      await reached;
      // The start is in the middle of a step; bo aborts the experiment to its end.
      const aborted = await runExperiment(
        { kind: 'abort' },
        {
          model,
          me: 'bo@desk',
          pollMs: 1,
          store: record.store('bo@desk'),
          cluster: cluster.clusterFor('bo'),
        },
      );
      expect(aborted.ok).toBe(true);
      expect(record.now().experiment).toBeUndefined();
      released();
      const result = await startRun;

      expect(result).toBeInstanceOf(ExperimentRefusedError);
      expect((result as Error).message).toMatch(
        /the experiment this command ran \(canary 4 vs stable 3 .*\) was ended meanwhile by bo@desk \(experiment-aborted/,
      );
      // Whatever the start's upgrade put back, the chart now agrees with the closed record.
      expect(record.now().experiment).toBeUndefined();
      expect(record.now().labels).toEqual({ stable: 3 });
      expect(cluster.state.applied).toBeNull();
      expect(cluster.state.canaryVersion).toBeNull();
      // Traffic left the canary before its Deployment went, after the late upgrade as before it.
      const last = cluster.state.applies.slice(cluster.state.applies.lastIndexOf('bo none') + 1);
      if (last.length > 0) expect(last.slice(-2)).toEqual(['ana 0', 'ana none']);
    },
  );
});
