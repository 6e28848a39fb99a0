// The experiment lifecycle's decisions, without a cluster: the planner is a
// pure function of (release.json, what the cluster reports, the command), so
// every ordering rule is pinned here. A small model of the world carries the
// actions out (a write changes the record, an apply changes the chart's
// values, a wait is over once the pods load the version), which lets the
// tests run whole commands, stop them after any action and rerun them.

import {
  type Action,
  type ClusterView,
  type Command,
  planNext,
  type ReleaseView,
  type TrackView,
  type Verdict,
} from '../../src/experiment-plan';

interface World {
  release: ReleaseView;
  cluster: ClusterView;
  now: number;
  /** When the chart got the values it carries (the command loop's record of its last upgrade). */
  appliedSince: number;
  /** --switch-seconds. */
  switchSeconds: number;
  /** Every action carried out, in order. */
  actions: Action[];
}

/** What the command loop tells the planner about time besides now. */
const timing = (w: World) => ({ appliedSince: w.appliedSince, switchSeconds: w.switchSeconds });

const T0 = Date.parse('2026-11-29T12:00:00Z');

function world(overrides: Partial<ReleaseView> = {}): World {
  return {
    release: { generation: 3, serve: [3, 4], labels: { stable: 3 }, ...overrides },
    cluster: {
      applied: null,
      main: { pods: 3, replicas: 3, minReplicas: 2, ready: true, availableOnAll: [3] },
      canary: null,
    },
    now: T0,
    appliedSince: T0,
    switchSeconds: 30,
    actions: [],
  };
}

/** A track under an HPA whose minimum is raised to `hold` (0: back to `base`). */
function held(track: TrackView, hold: number, base: number): TrackView {
  const replicas = Math.max(track.replicas, hold);
  return {
    ...track,
    minReplicas: Math.max(base, hold),
    replicas,
    pods: replicas,
    // New pods load the version while the command waits for them.
    availableOnAll: replicas > track.replicas ? [] : track.availableOnAll,
  };
}

/** Carries one action out in the modelled world. */
function execute(w: World, action: Action): void {
  w.actions.push(action);
  switch (action.kind) {
    case 'write': {
      const c = action.change;
      w.release = {
        generation: w.release.generation + 1,
        serve: c.state?.serve ?? w.release.serve,
        labels: c.state?.labels ?? w.release.labels,
        ...(c.experiment ? { experiment: c.experiment } : {}),
      };
      return;
    }
    case 'apply': {
      const hold = action.values?.minReplicas;
      // A new canary Deployment's pods are Ready but have not loaded anything yet.
      const canary =
        action.values === null
          ? null
          : (w.cluster.canary ?? { pods: 2, replicas: 2, minReplicas: 2, ready: true, availableOnAll: [] });
      w.appliedSince = w.now;
      w.cluster = {
        ...w.cluster,
        applied: action.values,
        // A hold raises the HPA's minimum; the HPA adds pods (Ready, still loading) and keeps them
        // when the hold goes: no load changes in this model.
        main: held(w.cluster.main, hold?.stable ?? 0, 2),
        canary: canary && held(canary, hold?.canary ?? 0, 2),
      };
      return;
    }
    case 'wait':
      // The pods load the version while the command waits.
      if (action.for === 'canary' && w.cluster.canary) {
        w.cluster = { ...w.cluster, canary: { ...w.cluster.canary, availableOnAll: [action.version] } };
      }
      if (action.for === 'main') {
        w.cluster = { ...w.cluster, main: { ...w.cluster.main, availableOnAll: [action.version] } };
      }
      return;
    case 'wait-until':
      w.now = Math.max(w.now, action.at);
      return;
    default:
      return;
  }
}

const start = (over: Partial<Extract<Command, { kind: 'start' }>> = {}): Command => ({
  kind: 'start',
  canary: 4,
  steps: [5, 10, 25],
  intervalSeconds: 60,
  autoPromote: false,
  ...over,
});

/** Runs a command to its end (done or refuse), or for at most `limit` actions. */
function run(
  w: World,
  command: Command,
  options: { me?: string; verdicts?: Verdict[]; limit?: number } = {},
): Action {
  const verdicts = [...(options.verdicts ?? [])];
  let verdict: Verdict | undefined;
  for (let i = 0; i < (options.limit ?? 200); i++) {
    const action = planNext({
      command,
      release: w.release,
      cluster: w.cluster,
      now: w.now,
      ...timing(w),
      me: options.me ?? 'ana@laptop',
      verdict,
    });
    verdict = undefined;
    if (action.kind === 'done' || action.kind === 'refuse') {
      w.actions.push(action);
      return action;
    }
    if (action.kind === 'analyse') {
      verdict = verdicts.shift();
      if (!verdict) throw new Error('the test gave too few verdicts');
      w.actions.push(action);
      continue;
    }
    execute(w, action);
    if (action.kind === 'write' && action.ends) return action;
  }
  if (options.limit !== undefined) return { kind: 'refuse', say: 'stopped by the test' };
  throw new Error(`no end after 200 actions: ${w.actions.map((a) => a.kind).join(' ')}`);
}

const kinds = (actions: readonly Action[]) =>
  actions.map((a) =>
    a.kind === 'apply'
      ? `apply ${a.values ? a.values.canaryWeight : 'none'}${a.values?.minReplicas ? ` hold ${a.values.minReplicas.stable}/${a.values.minReplicas.canary}` : ''}`
      : a.kind === 'write'
        ? `write ${a.change.action}`
        : a.kind === 'wait'
          ? `wait ${a.for} ${a.version}`
          : a.kind === 'wait-until' && /load balancer switches/.test(a.say)
            ? 'switch-over'
            : a.kind,
  );

describe('experiment start', () => {
  it('labels the canary, creates it at weight 0, waits until it serves the version, then walks the steps', () => {
    const w = world();
    const end = run(w, start());
    expect(end.kind).toBe('done');
    expect(kinds(w.actions)).toEqual([
      'write experiment-start',
      'apply 0',
      'wait canary 4',
      // The canary's 2 pods already cover each step's share of the 5: no phase 1, but the main
      // pods are held through the upgrade that moves the weight and the switch time after it,
      // and released by the next upgrade.
      'write experiment-weight',
      'apply 5 hold 3/2',
      'switch-over',
      'apply 5',
      'wait-until',
      'write experiment-weight',
      'apply 10 hold 3/2',
      'switch-over',
      'apply 10',
      'wait-until',
      'write experiment-weight',
      'apply 25 hold 3/2',
      'switch-over',
      'apply 25',
      'done',
    ]);
    expect(w.release.labels).toEqual({ stable: 3, canary: 4 });
    expect(w.release.experiment).toMatchObject({
      canary: 4,
      stable: 3,
      weight: 25,
      step: 2,
      phase: 'running',
    });
    expect(w.cluster.applied).toEqual({ stableVersion: 3, canaryVersion: 4, canaryWeight: 25 });
    // One interval between steps, measured from when each step's weight was recorded (the switch-over
    // of a step is inside its interval); the last step's switch-over ends the command.
    expect(w.now).toBe(T0 + 2 * 60_000 + 30_000);
  });

  it('never gives the canary traffic before every canary pod reports the version AVAILABLE', () => {
    const w = world();
    const command = start();
    for (let i = 0; i < 40; i++) {
      const action = planNext({
        command,
        release: w.release,
        cluster: w.cluster,
        now: w.now,
        ...timing(w),
        me: 'ana@laptop',
      });
      if (action.kind === 'done') break;
      if (action.kind === 'apply' && action.values && action.values.canaryWeight > 0) {
        expect(w.cluster.canary?.availableOnAll).toContain(4);
      }
      // Pods that never load the version: the command keeps waiting, never moves traffic.
      if (action.kind === 'wait') {
        expect(action.for).toBe('canary');
        w.actions.push(action);
        continue;
      }
      execute(w, action);
    }
    expect(w.cluster.applied?.canaryWeight).toBe(0);
    expect(w.actions.filter((a) => a.kind === 'wait').length).toBeGreaterThan(30);
  });

  it('with a fixed weight it stops once the weight is applied and says what to do next', () => {
    const w = world();
    const end = run(w, start({ steps: [10] }));
    expect(end.kind).toBe('done');
    expect(end.say).toMatch(/promote or abort/);
    expect(w.cluster.applied?.canaryWeight).toBe(10);
  });

  it('refuses a canary that is already stable, a release with no stable label, and falling steps', () => {
    expect(run(world(), start({ canary: 3 })).say).toMatch(/already stable/);
    expect(run(world({ labels: {} }), start()).say).toMatch(/no stable label.*--label stable=/);
    expect(run(world(), start({ steps: [10, 5] })).say).toMatch(/must rise/);
    expect(run(world(), start({ steps: [0] })).say).toMatch(/whole percent from 1 to 100/);
  });

  it("refuses another operator's experiment, naming who holds it", () => {
    const w = world();
    run(w, start({ steps: [10] }), { me: 'bo@desk' });
    const other = run(w, start(), { me: 'ana@laptop' });
    expect(other.kind).toBe('refuse');
    expect(other.say).toMatch(
      /another experiment holds canary 4 vs stable 3 at 10% \(running, started by bo@desk/,
    );
    const otherCanary = run(w, start({ canary: 5 }), { me: 'bo@desk' });
    expect(otherCanary.say).toMatch(/another experiment holds canary 4/);
  });
});

describe('an interrupted command, run again', () => {
  // The whole start → promote path, cut after every possible number of actions and rerun from the state left.
  const full = (w: World) => {
    run(w, start());
    run(w, { kind: 'promote' });
  };

  it('ends in the same state wherever it was stopped, writing each change once', () => {
    const reference = world();
    full(reference);
    const total = reference.actions.length;
    const writes = reference.actions.filter((a) => a.kind === 'write').length;
    for (let cut = 1; cut < total; cut++) {
      const w = world();
      // The first run stops after `cut` actions; then the operator runs the commands again.
      const first = run(w, start(), { limit: cut });
      if (first.kind === 'done') {
        const left = cut - w.actions.length;
        if (left > 0) run(w, { kind: 'promote' }, { limit: left });
        run(w, { kind: 'promote' });
      } else {
        full(w);
      }
      expect(w.release).toEqual(reference.release);
      expect(w.cluster).toEqual(reference.cluster);
      expect(w.actions.filter((a) => a.kind === 'write').length).toBe(writes);
    }
  });

  it('re-applies the weight the record says when the cluster lost it', () => {
    const w = world();
    run(w, start({ steps: [25] }));
    // Someone's helm rollback put the canary back to 0.
    w.cluster = { ...w.cluster, applied: { stableVersion: 3, canaryVersion: 4, canaryWeight: 0 } };
    const again = planNext({
      command: start({ steps: [25] }),
      release: w.release,
      cluster: w.cluster,
      now: w.now,
      ...timing(w),
      me: 'ana@laptop',
    });
    expect(again).toMatchObject({ kind: 'apply', values: { canaryWeight: 25 } });
  });
});

describe('experiment promote', () => {
  it('moves stable in the release, waits for every main pod to serve it, returns the weight, then removes the canary', () => {
    const w = world();
    run(w, start({ steps: [10] }));
    w.actions = [];
    const end = run(w, { kind: 'promote' });
    expect(end.kind).toBe('write');
    expect(kinds(w.actions)).toEqual([
      'write experiment-promote',
      'wait main 4',
      // Main grows to the 5 pods both tracks run, serving version 4, before it gets all the traffic.
      'apply 10 hold 5/0',
      'wait main 4',
      'apply 0 hold 5/2',
      'switch-over',
      'apply none',
      'write experiment-promoted',
    ]);
    // The main pods served version 4 before the canary lost its weight: no moment without capacity for it.
    expect(w.release).toEqual({ generation: expect.any(Number), serve: [4], labels: { stable: 4 } });
    expect(w.cluster.applied).toBeNull();
  });

  it('refuses while an abort is under way, and abort refuses while a promote is', () => {
    const w = world();
    run(w, start({ steps: [10] }));
    run(w, { kind: 'abort' }, { limit: 1 });
    expect(run(w, { kind: 'promote' }).say).toMatch(/being aborted.*experiment abort/);
    const p = world();
    run(p, start({ steps: [10] }));
    run(p, { kind: 'promote' }, { limit: 1 });
    expect(run(p, { kind: 'abort' }).say).toMatch(/being promoted.*experiment promote/);
    expect(run(p, { kind: 'set-weight', weight: 50 }).say).toMatch(/being promoted/);
  });
});

describe('experiment abort', () => {
  it('sets weight 0 first, then removes the canary and its label; stable never changes', () => {
    const w = world();
    run(w, start({ steps: [10, 50] }));
    w.actions = [];
    const stableSeen: number[] = [];
    const command: Command = { kind: 'abort' };
    for (;;) {
      const action = planNext({
        command,
        release: w.release,
        cluster: w.cluster,
        now: w.now,
        ...timing(w),
        me: 'bo@desk',
      });
      stableSeen.push(w.release.labels.stable!);
      if (action.kind === 'done' || action.kind === 'refuse') throw new Error(action.say);
      execute(w, action);
      if (action.kind === 'write' && action.ends) break;
    }
    expect(kinds(w.actions)).toEqual([
      'write experiment-abort',
      // At 50/50 main has 3 pods and the canary 3: the weight goes to 0 at once, main's minimum to the 6
      // pods both run (it grows as fast as it can) and the canary held until main has them.
      'apply 0 hold 6/3',
      'wait main 3',
      'switch-over',
      'apply none',
      'write experiment-aborted',
    ]);
    expect(new Set(stableSeen)).toEqual(new Set([3]));
    expect(w.release.labels).toEqual({ stable: 3 });
    expect(w.release.serve).toEqual([3]);
    expect(w.release.experiment).toBeUndefined();
  });

  it('takes the traffic off the canary in its first upgrade, even while a main pod is not Ready', () => {
    const w = world();
    run(w, start({ steps: [50] }));
    // One main pod is stuck: waiting for main first would leave the canary its traffic for the whole timeout.
    w.cluster = { ...w.cluster, main: { ...w.cluster.main, ready: false } };
    w.actions = [];
    run(w, { kind: 'abort' }, { limit: 2 });
    expect(w.actions.map((a) => a.kind)).toEqual(['write', 'apply']);
    expect(w.actions[1]).toMatchObject({
      kind: 'apply',
      values: { canaryWeight: 0, minReplicas: { stable: 6, canary: 3 } },
    });
    // Then it waits for main to have the pods before the canary goes, never leaving main smaller.
    const next = planNext({
      command: { kind: 'abort' },
      release: w.release,
      cluster: w.cluster,
      now: w.now,
      ...timing(w),
      me: 'ana@laptop',
    });
    expect(next).toMatchObject({ kind: 'wait', for: 'main', version: 3, pods: 6 });
  });

  it('--keep-capacity grows main and has it Ready before the weight moves, as for a healthy canary', () => {
    const w = world();
    run(w, start({ steps: [50] }));
    w.actions = [];
    run(w, { kind: 'abort', keepCapacity: true });
    expect(kinds(w.actions)).toEqual([
      'write experiment-abort',
      'apply 50 hold 6/0',
      'wait main 3',
      'apply 0 hold 6/3',
      'switch-over',
      'apply none',
      'write experiment-aborted',
    ]);
  });

  it('with no experiment left, says so; with only a stray canary in the chart, removes it', () => {
    expect(run(world(), { kind: 'abort' }).say).toBe('no experiment is running');
    const stray = world();
    stray.cluster = { ...stray.cluster, applied: { stableVersion: 3, canaryVersion: 4, canaryWeight: 0 } };
    expect(
      planNext({
        command: { kind: 'abort' },
        release: stray.release,
        cluster: stray.cluster,
        now: T0,
        me: 'x',
      }),
    ).toMatchObject({
      kind: 'apply',
      values: null,
    });
  });
});

describe('another operator in the middle of a walking start', () => {
  it('an abort by someone else stops the start, which says the experiment is being aborted and writes nothing more', () => {
    const w = world();
    run(w, start(), { limit: 6 });
    run(w, { kind: 'abort' }, { me: 'bo@desk', limit: 1 });
    const generation = w.release.generation;
    const resumed = run(w, start());
    expect(resumed.kind).toBe('refuse');
    expect(resumed.say).toMatch(/being aborted.*run catwalk experiment abort to finish it/);
    expect(w.release.generation).toBe(generation);
  });
});

describe('experiment set-weight', () => {
  it('replaces the rest of the plan, so a running start stops walking', () => {
    const w = world();
    run(w, start(), { limit: 5 });
    const end = run(w, { kind: 'set-weight', weight: 50 });
    expect(end.kind).toBe('done');
    expect(w.cluster.applied?.canaryWeight).toBe(50);
    expect(w.release.experiment?.plan.steps).toEqual([50]);
    // The start, run again, finds a one-step plan at its last step and stops there.
    expect(run(w, start()).say).toMatch(/takes 50%/);
  });

  it('drops the analysis of the replaced plan, so a rerun start analyses the new weight before calling it good', () => {
    const w = world();
    const pass: Verdict = { verdict: 'pass', reason: 'within thresholds' };
    // The first step (5%) passes its look; the start is stopped at the second.
    run(w, start({ analysisUrl: 'http://prometheus:9090' }), { verdicts: [pass], limit: 10 });
    expect(w.release.experiment).toMatchObject({ step: 1, analysis: { verdict: 'pass', step: 0 } });
    run(w, { kind: 'set-weight', weight: 50 });
    expect(w.release.experiment).toMatchObject({ weight: 50, step: 0 });
    expect(w.release.experiment?.analysis).toBeUndefined();
    const before = w.actions.length;
    const end = run(w, start({ analysisUrl: 'http://prometheus:9090' }), { verdicts: [pass] });
    expect(kinds(w.actions.slice(before))).toContain('analyse');
    expect(end.say).toMatch(/within the thresholds for the whole plan/);
  });

  it('weight 0 keeps the canary but sends it nothing', () => {
    const w = world();
    run(w, start({ steps: [10] }));
    run(w, { kind: 'set-weight', weight: 0 });
    expect(w.cluster.applied?.canaryWeight).toBe(0);
    expect(w.cluster.canary).not.toBeNull();
  });
});

describe('steps with analysis', () => {
  const analysed = start({ analysisUrl: 'http://prometheus:9090' });
  const pass: Verdict = { verdict: 'pass', reason: 'within thresholds' };

  it('analyses before each step and stops at the last one when every look passes', () => {
    const w = world();
    const end = run(w, analysed, { verdicts: [pass, pass, pass] });
    expect(end.say).toMatch(/within the thresholds for the whole plan.*promote/);
    expect(w.actions.filter((a) => a.kind === 'analyse')).toHaveLength(3);
    expect(w.release.experiment).toMatchObject({ phase: 'running', weight: 25 });
    expect(w.release.experiment?.analysis).toMatchObject({ verdict: 'pass', step: 2 });
  });

  it('aborts by itself when the canary is worse, and says why', () => {
    const w = world();
    const fail: Verdict = { verdict: 'fail', reason: 'canary error rate 3.1% vs stable 1.0%' };
    const end = run(w, analysed, { verdicts: [pass, fail] });
    expect(end).toMatchObject({ kind: 'write', ends: 'fail' });
    // The abort of a failing canary is immediate: the first upgrade after the verdict sends it nothing.
    const verdictAt = w.actions.findIndex(
      (a) => a.kind === 'write' && a.change.action === 'experiment-abort',
    );
    expect(w.actions.slice(verdictAt + 1).find((a) => a.kind === 'apply')).toMatchObject({
      values: { canaryWeight: 0 },
    });
    expect(end.say).toMatch(/aborted by the analysis \(canary error rate 3.1% vs stable 1.0%\)/);
    expect(w.release.labels).toEqual({ stable: 3 });
    expect(w.release.experiment).toBeUndefined();
    expect(w.cluster.applied).toBeNull();
    // The failing look came at step 2: the canary never got the third weight.
    const weights = w.actions.flatMap((a) => (a.kind === 'apply' && a.values ? [a.values.canaryWeight] : []));
    // Each step's weight is applied twice: with the giving track held, then released; the abort's 0 once,
    // straight from 10 (it does not wait for main to grow first).
    expect(weights).toEqual([0, 5, 5, 10, 10, 0]);
  });

  it('holds the weight while the looks are inconclusive, then goes on', () => {
    const w = world();
    const few: Verdict = { verdict: 'inconclusive', reason: 'only 40 requests on the canary, 200 needed' };
    run(w, analysed, { verdicts: [few, few, pass, pass, pass] });
    const weights = w.actions.flatMap((a) => (a.kind === 'apply' && a.values ? [a.values.canaryWeight] : []));
    expect(weights).toEqual([0, 5, 5, 10, 10, 25, 25]);
    // Each inconclusive look waits one more interval.
    expect(w.now).toBe(T0 + 5 * 60_000);
  });

  it('promotes by itself after the last step with --auto-promote', () => {
    const w = world();
    const end = run(w, start({ analysisUrl: 'http://prometheus:9090', autoPromote: true }), {
      verdicts: [pass, pass, pass],
    });
    expect(end).toMatchObject({ kind: 'write', ends: 'done' });
    expect(w.release.labels).toEqual({ stable: 4 });
    expect(w.cluster.applied).toBeNull();
  });
});

describe('capacity while the weight moves', () => {
  /** A running experiment at `weight` with main at `main` pods (its HPA scaled it under load) and the canary at `canary`. */
  function runningAt(weight: number, main: number, canary: number): World {
    const w = world();
    run(w, start({ steps: [weight] }));
    w.cluster = {
      ...w.cluster,
      main: { ...w.cluster.main, pods: main, replicas: main },
      canary: { ...w.cluster.canary!, pods: canary, replicas: canary },
    };
    w.actions = [];
    return w;
  }

  /**
   * Runs the command and checks every helm upgrade that moves the weight:
   * the receiving track already has its share of the pods both tracks had
   * before the command, Ready and serving its version, and the giving
   * track is held at the pods it had.
   */
  function moveChecked(w: World, command: Command, serves: { main: number; canary: number }) {
    const before = { main: w.cluster.main.replicas, canary: w.cluster.canary?.replicas ?? 0 };
    const total = before.main + before.canary;
    for (let i = 0; i < 100; i++) {
      const action = planNext({
        command,
        release: w.release,
        cluster: w.cluster,
        now: w.now,
        ...timing(w),
        me: 'ana@laptop',
      });
      if (action.kind === 'done' || action.kind === 'refuse') return action;
      const applied = w.cluster.applied;
      if (
        action.kind === 'apply' &&
        applied &&
        action.values &&
        action.values.canaryWeight !== applied.canaryWeight
      ) {
        const to = action.values.canaryWeight;
        const receiving = to > applied.canaryWeight ? 'canary' : 'main';
        const giving = receiving === 'canary' ? 'main' : 'canary';
        const share = receiving === 'canary' ? to : 100 - to;
        const track = w.cluster[receiving]!;
        expect(track.pods).toBeGreaterThanOrEqual(Math.ceil((total * share) / 100));
        expect(track.ready && track.availableOnAll.includes(serves[receiving])).toBe(true);
        expect(action.values.minReplicas?.[giving === 'main' ? 'stable' : 'canary']).toBe(before[giving]);
      }
      execute(w, action);
      if (action.kind === 'write' && action.ends) return action;
    }
    throw new Error('the command did not end');
  }

  it('a step up (10 → 50): the canary grows to half of 10 pods and serves, then the weight moves with main held, then the holds go', () => {
    const w = runningAt(10, 8, 2);
    moveChecked(w, { kind: 'set-weight', weight: 50 }, { main: 3, canary: 4 });
    expect(kinds(w.actions)).toEqual([
      'write experiment-weight',
      'apply 10 hold 0/5',
      'wait canary 4',
      'apply 50 hold 8/5',
      'switch-over',
      'apply 50',
    ]);
    expect(w.cluster.applied).toEqual({ stableVersion: 3, canaryVersion: 4, canaryWeight: 50 });
  });

  it('a promote from 50/50: main serves the new version, grows to every pod, then takes the traffic', () => {
    const w = runningAt(50, 4, 4);
    moveChecked(w, { kind: 'promote' }, { main: 4, canary: 4 });
    expect(kinds(w.actions)).toEqual([
      'write experiment-promote',
      'wait main 4',
      'apply 50 hold 8/0',
      'wait main 4',
      'apply 0 hold 8/4',
      'switch-over',
      'apply none',
      'write experiment-promoted',
    ]);
  });

  it('an abort --keep-capacity from 80: main grows to every pod serving the stable version before the weight returns', () => {
    const w = runningAt(80, 2, 6);
    moveChecked(w, { kind: 'abort', keepCapacity: true }, { main: 3, canary: 4 });
    expect(kinds(w.actions)).toEqual([
      'write experiment-abort',
      'apply 80 hold 8/0',
      'wait main 3',
      'apply 0 hold 8/6',
      'switch-over',
      'apply none',
      'write experiment-aborted',
    ]);
  });

  it('a move cut after any of its upgrades and run again ends the same, with the same holds', () => {
    const reference = runningAt(10, 8, 2);
    run(reference, { kind: 'set-weight', weight: 50 });
    const applies = reference.actions.filter((a) => a.kind === 'apply');
    for (let cut = 1; cut < reference.actions.length; cut++) {
      const w = runningAt(10, 8, 2);
      run(w, { kind: 'set-weight', weight: 50 }, { limit: cut });
      run(w, { kind: 'set-weight', weight: 50 });
      // The raised canary is not counted again: the hold stays 5, not a share of 13.
      expect(w.actions.filter((a) => a.kind === 'apply')).toEqual(applies);
      expect(w.cluster).toEqual(reference.cluster);
    }
  });

  it('an abort --keep-capacity in the middle of a step up turns the move round: main, not the raised canary, receives', () => {
    const w = runningAt(10, 8, 2);
    run(w, { kind: 'set-weight', weight: 50 }, { limit: 2 });
    expect(w.cluster.applied?.minReplicas).toEqual({ stable: 0, canary: 5 });
    w.actions = [];
    run(w, { kind: 'abort', keepCapacity: true });
    const first = w.actions.find((a) => a.kind === 'apply');
    // Main takes all of what both run (8 + the 5 canary pods), before the weight returns.
    expect(first).toMatchObject({ values: { canaryWeight: 10, minReplicas: { stable: 13, canary: 0 } } });
    expect(w.release.experiment).toBeUndefined();
    expect(w.cluster.applied).toBeNull();
  });

  it('holds the giving track for --switch-seconds after the new weights are applied, then lets the holds go', () => {
    const w = runningAt(10, 8, 2);
    const command: Command = { kind: 'set-weight', weight: 50 };
    // The record's change, the canary raised, its wait, the new weights with main held.
    run(w, command, { limit: 4 });
    expect(w.cluster.applied).toMatchObject({ canaryWeight: 50, minReplicas: { stable: 8, canary: 5 } });
    const movedAt = w.appliedSince;
    const at = (now: number, switchSeconds = 30) =>
      planNext({
        command,
        release: w.release,
        cluster: w.cluster,
        now,
        appliedSince: movedAt,
        switchSeconds,
        me: 'ana@laptop',
      });
    // The load balancer may still send main its old share: main keeps its pods until the switch time is over.
    expect(at(movedAt)).toMatchObject({ kind: 'wait-until', at: movedAt + 30_000 });
    expect(at(movedAt + 29_999)).toMatchObject({ kind: 'wait-until', at: movedAt + 30_000 });
    const after = at(movedAt + 30_000);
    expect(after).toMatchObject({ kind: 'apply', values: { canaryWeight: 50 } });
    expect((after as Extract<Action, { kind: 'apply' }>).values).not.toHaveProperty('minReplicas');
    // --switch-seconds 0: the holds go as soon as the weights are applied.
    expect(at(movedAt, 0)).toMatchObject({ kind: 'apply', values: { canaryWeight: 50 } });
  });

  it('a rerun that finds the new weights applied with their holds waits the whole switch time again', () => {
    const w = runningAt(10, 8, 2);
    const command: Command = { kind: 'set-weight', weight: 50 };
    run(w, command, { limit: 4 });
    // Interrupted; rerun ten minutes later. The loop knows only when it first saw the chart's values.
    const rerunAt = w.appliedSince + 600_000;
    const first = planNext({
      command,
      release: w.release,
      cluster: w.cluster,
      now: rerunAt,
      appliedSince: rerunAt,
      switchSeconds: 30,
      me: 'ana@laptop',
    });
    expect(first).toMatchObject({ kind: 'wait-until', at: rerunAt + 30_000 });
  });

  it('promote and abort remove the canary only once the switch time after weight 0 is over', () => {
    for (const command of [
      { kind: 'promote' },
      { kind: 'abort' },
      { kind: 'abort', keepCapacity: true },
    ] as Command[]) {
      const w = runningAt(50, 4, 4);
      run(w, command);
      const removal = w.actions.findIndex((a) => a.kind === 'apply' && a.values === null);
      const lastWeight = w.actions.findLastIndex(
        (a) => a.kind === 'apply' && a.values !== null && a.values.canaryWeight === 0,
      );
      expect(removal).toBeGreaterThan(lastWeight);
      // The switch-over comes last: whatever else was waited for, the canary goes right after it.
      expect(kinds([w.actions[removal - 1]!])).toEqual(['switch-over']);
    }
  });

  it('waits on the HPA: a receiving track capped below the need goes on once it has the HPA minimum', () => {
    const w = runningAt(10, 8, 2);
    run(w, { kind: 'set-weight', weight: 50 }, { limit: 2 });
    // The chart capped the canary's hold at autoscaling.maxReplicas (4): its HPA asks for 4.
    w.cluster = {
      ...w.cluster,
      canary: { pods: 4, replicas: 4, minReplicas: 4, ready: true, availableOnAll: [4] },
    };
    const next = planNext({
      command: { kind: 'set-weight', weight: 50 },
      release: w.release,
      cluster: w.cluster,
      now: w.now,
      ...timing(w),
      me: 'ana@laptop',
    });
    expect(next).toMatchObject({
      kind: 'apply',
      values: { canaryWeight: 50, minReplicas: { stable: 8, canary: 5 } },
    });
  });
});
