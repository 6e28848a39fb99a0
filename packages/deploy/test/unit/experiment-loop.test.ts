// The command loop itself (runExperiment): two operators on one experiment
// (a walking `start` whose helm upgrade is held in flight while another
// operator's `abort` runs to its end), and Prometheus failing under an
// analysed start. The record is an
// in-memory release.json with the same compare-and-swap rule as the
// registry's (the S3 edge has its own race tests); the cluster is modelled,
// since helm and pods cannot run in the unit suite: an upgrade sets the chart
// values when it lands, and canary pods serve their version once created.
// The cluster suite runs the same commands against a real control plane.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResolvedModel } from '@catwalk/schema';
import { queryInstant } from '../../src/analysis';
import {
  type ExperimentCluster,
  ExperimentRefusedError,
  type ExperimentStore,
  ExperimentStuckError,
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
        main: { pods: 3, replicas: 3, minReplicas: 2, ready: true, availableOnAll: [3] },
        canary:
          state.canaryVersion === null
            ? null
            : { pods: 2, replicas: 2, minReplicas: 2, ready: true, availableOnAll: [state.canaryVersion] },
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
        // The switch-over after a weight move is the planner's (experiment-plan.test.ts); here it would only add real waits.
        switchSeconds: 0,
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
          switchSeconds: 0,
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

describe('an analysed start while Prometheus fails', () => {
  // The loop's handling of a failed look is what is tested: the look is a
  // real HTTP query (queryInstant) to a loopback server that answers as
  // Prometheus does or fails; the verdict after a good answer is fixed here,
  // since the analysis itself is tested in analysis-*.test.ts and against a
  // real Prometheus in the cluster suite.
  const analysedStart = (url: string): Command => ({
    kind: 'start',
    canary: 4,
    steps: [10, 50],
    intervalSeconds: 0,
    autoPromote: false,
    analysisUrl: url,
  });
  const look = async (e: { analysisUrl?: string }) => {
    await queryInstant({ url: e.analysisUrl!, timeoutMs: 2000 }, 'vector(1)');
    return { verdict: 'pass' as const, reason: 'within thresholds' };
  };

  it('a look that fails once holds the step and the next look goes on', async () => {
    let requests = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      // The first query meets a Prometheus that is restarting.
      if (requests++ === 0) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '1'] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const record = memoryStore(initial);
      const outcome = await runExperiment(analysedStart(url), {
        model,
        me: 'ana@laptop',
        pollMs: 1,
        switchSeconds: 0,
        store: record.store('ana@laptop'),
        cluster: modelledCluster().clusterFor('ana'),
        analyse: look,
      });
      expect(outcome.ok).toBe(true);
      expect(outcome.message).toMatch(/stayed within the thresholds for the whole plan/);
      expect(record.now().experiment).toMatchObject({ weight: 50, analysis: { verdict: 'pass', step: 1 } });
      const held = record
        .now()
        .audit!.filter((a) => a.action === 'experiment-analysis' && /inconclusive/.test(a.to));
      expect(held).toHaveLength(1);
      expect(held[0]!.to).toMatch(/holding 10%: Prometheus did not answer .*HTTP 503/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a Prometheus that stays down stops the start after three looks, naming --analysis and the way on', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const record = memoryStore(initial);
    const error = await runExperiment(analysedStart(url), {
      model,
      me: 'ana@laptop',
      pollMs: 1,
      switchSeconds: 0,
      store: record.store('ana@laptop'),
      cluster: modelledCluster().clusterFor('ana'),
      analyse: look,
    }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ExperimentStuckError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `--analysis prometheus=${url}: 3 looks in a row failed.*ECONNREFUSED.*holds 10%.*run the same command again`,
      ),
    );
    // The experiment is left where it stood, for a rerun: 10%, two inconclusive looks recorded.
    expect(record.now().experiment).toMatchObject({
      weight: 10,
      phase: 'running',
      analysis: { verdict: 'inconclusive' },
    });
    expect(record.now().audit!.filter((a) => a.action === 'experiment-analysis')).toHaveLength(2);
  });
});

describe('the lines a command reports', () => {
  it('carry the model, the release generation, both versions, the weight, and the track a wait is for', async () => {
    const record = memoryStore(initial);
    const events: { line: string; fields: Record<string, unknown> }[] = [];
    await runExperiment(start, {
      model,
      me: 'ana@laptop',
      pollMs: 1,
      switchSeconds: 0,
      store: record.store('ana@laptop'),
      cluster: modelledCluster().clusterFor('ana'),
      onEvent: (line, fields) => events.push({ line, fields: { ...fields } }),
    });
    const find = (pattern: RegExp) => events.find((e) => pattern.test(e.line));
    expect(find(/labelling version 4 canary/)?.fields).toEqual({
      model: 'pricing',
      generation: 3,
      stable: 3,
      weight: 0,
    });
    // The upgrade that creates the canary Deployment (at weight 0).
    expect(find(/weights main\/canary 100\/0/)?.fields).toEqual({
      model: 'pricing',
      generation: 4,
      stable: 3,
      canary: 4,
      weight: 0,
      track: 'canary',
    });
    expect(find(/weights main\/canary 50\/50/)?.fields).toMatchObject({
      generation: 5,
      canary: 4,
      weight: 50,
    });
    // The closing write's line is the outcome's message, which the caller prints once; not twice.
    const abortLines: string[] = [];
    const aborted = await runExperiment(
      { kind: 'abort' },
      {
        model,
        me: 'ana@laptop',
        pollMs: 1,
        switchSeconds: 0,
        store: record.store('ana@laptop'),
        cluster: modelledCluster().clusterFor('ana'),
        onEvent: (line) => abortLines.push(line),
      },
    );
    expect(aborted.message).toMatch(/^aborted; version 3 stayed stable throughout/);
    expect(abortLines).not.toContain(aborted.message);
    expect(abortLines[0]).toMatch(/aborting: canary weight to 0/);
  });
});

describe('a weight move interrupted after its new weights were applied, run again', () => {
  // The chart carries 50/50 with main held (phase 2 done) when the rerun
  // starts: the loop cannot know when that upgrade landed, so it counts the
  // switch time from its own first look and keeps the hold that long. The
  // clock is injected (a second per look at it); the waits between looks are
  // the loop's own polls of 1 ms.
  it('keeps the giving track held for the whole switch time from its first look, then drops the holds', async () => {
    let clock = Date.parse('2026-11-29T12:00:00Z');
    const now = () => (clock += 1000);
    const experiment = {
      canary: 4,
      stable: 3,
      weight: 50,
      plan: { steps: [50], intervalSeconds: 60 },
      step: 0,
      phase: 'running' as const,
      startedAt: '2026-11-29T11:00:00.000Z',
      startedBy: 'ana@laptop',
      stepStartedAt: '2026-11-29T11:30:00.000Z',
    };
    const record = memoryStore({ ...initial, labels: { stable: 3, canary: 4 }, experiment });
    let applied: ExperimentValues | null = {
      stableVersion: 3,
      canaryVersion: 4,
      canaryWeight: 50,
      minReplicas: { stable: 3, canary: 2 },
    };
    let firstLook: number | undefined;
    const applies: { values: ExperimentValues | null; at: number }[] = [];
    const cluster: ExperimentCluster = {
      namespace: 'models',
      async observe(): Promise<ObservedCluster> {
        firstLook ??= clock;
        return {
          applied,
          main: { pods: 3, replicas: 3, minReplicas: 3, ready: true, availableOnAll: [3] },
          canary: { pods: 2, replicas: 2, minReplicas: 2, ready: true, availableOnAll: [4] },
          reports: { main: null, canary: null },
        };
      },
      async apply(values) {
        applies.push({ values, at: clock });
        applied = values;
        return { ok: true };
      },
    };
    const outcome = await runExperiment(
      { kind: 'set-weight', weight: 50 },
      { model, me: 'ana@laptop', pollMs: 1, now, switchSeconds: 20, store: record.store('ana'), cluster },
    );
    expect(outcome.ok).toBe(true);
    expect(applies).toHaveLength(1);
    expect(applies[0]!.values).toEqual({ stableVersion: 3, canaryVersion: 4, canaryWeight: 50 });
    expect(applies[0]!.at - firstLook!).toBeGreaterThanOrEqual(20_000);
  });

  it('refuses a switch time that is not whole seconds of 0 or more, naming the flag', async () => {
    for (const switchSeconds of [-1, 1.5, Number.NaN]) {
      const error = await runExperiment(
        { kind: 'set-weight', weight: 50 },
        {
          model,
          me: 'ana@laptop',
          switchSeconds,
          store: memoryStore(initial).store('ana'),
          cluster: modelledCluster().clusterFor('ana'),
        },
      ).catch((e: Error) => e);
      expect(error).toBeInstanceOf(ExperimentRefusedError);
      expect((error as Error).message).toMatch(/--switch-seconds .*: give the whole seconds \(0 or more\)/);
    }
  });
});
