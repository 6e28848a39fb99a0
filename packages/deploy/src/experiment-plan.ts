// The experiment lifecycle as a pure function: (what release.json says, what
// the cluster reports, the command) → the one next action. The commands run
// it in a loop, observing again after every action, so an interrupted command
// rerun from scratch continues where the first one stopped, and a command that
// finds another operator's change in the record stops instead of mixing the two.

import {
  type AuditEntry,
  describeExperiment,
  type ExperimentChange,
  type ExperimentRecordView,
  type ExperimentState,
  type ExperimentVerdict,
} from '@catwalk/registry';

/** The experiment record kept in release.json: the registry's own type. */
export type ExperimentRecord = ExperimentState;

/** A look's verdict as the record keeps it. */
export type RecordedVerdict = ExperimentVerdict;

/** What the analysis between two steps concluded. */
export interface Verdict {
  readonly verdict: 'pass' | 'fail' | 'inconclusive';
  readonly reason: string;
  readonly tracks?: Readonly<Record<string, unknown>>;
}

/** One line of release.json's audit trail. */
export type AuditLine = AuditEntry;

/** release.json as the planner needs it (the registry's experimentStore reads it so). */
export type ReleaseView = ExperimentRecordView;

/**
 * The chart's experiment.minReplicas: the fewest pods each track keeps while
 * traffic moves (stable is the main track), over what its weight derives;
 * 0 leaves a track to its weight.
 */
export interface ReplicaHold {
  readonly stable: number;
  readonly canary: number;
}

/** The chart's A/B values (experiment.* in values.yaml) while a test runs. */
export interface ExperimentValues {
  readonly stableVersion: number;
  readonly canaryVersion: number;
  /** The canary's percent of unaddressed requests; main gets the rest. */
  readonly canaryWeight: number;
  /** Present only while a weight move is under way (see moveTraffic). */
  readonly minReplicas?: ReplicaHold;
}

/** A track's pods as they report themselves through the pod proxy. */
export interface TrackView {
  /** Live pods of the track (not terminating). */
  readonly pods: number;
  /** The Deployment's replicas: what its HPA asks for now, under the load it sees. */
  readonly replicas: number;
  /** The HPA's minReplicas (the Deployment's replicas when it has no HPA). */
  readonly minReplicas: number;
  /** Every live pod is Ready and the Deployment has all its replicas. */
  readonly ready: boolean;
  /** Versions every live pod's TF Serving reports AVAILABLE (through its sidecar's /ready/serving). */
  readonly availableOnAll: readonly number[];
}

export interface ClusterView {
  /** The experiment values the experiment commands last applied to the chart; null when none is applied. */
  readonly applied: ExperimentValues | null;
  readonly main: TrackView;
  readonly canary: TrackView | null;
}

export type Command =
  | {
      readonly kind: 'start';
      readonly canary: number;
      readonly steps: readonly number[];
      readonly intervalSeconds: number;
      readonly autoPromote: boolean;
      readonly analysisUrl?: string;
    }
  | { readonly kind: 'set-weight'; readonly weight: number }
  | { readonly kind: 'promote' }
  | {
      readonly kind: 'abort';
      readonly reason?: string;
      /**
       * Main grown and Ready before the weight returns to it, as a promote
       * does (for a healthy canary); by default the weight goes to 0 at once.
       */
      readonly keepCapacity?: boolean;
    };

/** A change of release.json (compare-and-swap on the generation the plan was made from). */
export type RecordChange = ExperimentChange;

export type Action =
  | {
      readonly kind: 'write';
      readonly change: RecordChange;
      readonly say: string;
      /** The command ends once this is written: 'fail' when the experiment was aborted by its analysis. */
      readonly ends?: 'done' | 'fail';
    }
  /** helm upgrade with these experiment values (null: no experiment, the canary Deployment goes). */
  | { readonly kind: 'apply'; readonly values: ExperimentValues | null; readonly say: string }
  | {
      readonly kind: 'wait';
      readonly for: 'canary' | 'main';
      readonly version: number;
      /** Pods the track must have Ready (at least its HPA's minimum) besides serving the version. */
      readonly pods?: number;
      readonly say: string;
    }
  | { readonly kind: 'wait-until'; readonly at: number; readonly say: string }
  | { readonly kind: 'analyse'; readonly say: string }
  | { readonly kind: 'done'; readonly say: string; readonly failed?: boolean }
  | { readonly kind: 'refuse'; readonly say: string };

export interface PlanInput {
  readonly command: Command;
  readonly release: ReleaseView;
  readonly cluster: ClusterView;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** Who runs the command (the record's startedBy for a start). */
  readonly me: string;
  /** The analysis just made for the current step, when the last action was 'analyse'. */
  readonly verdict?: Verdict;
  /**
   * When the chart got the experiment values it carries now, as far as this
   * command knows: the end of its own helm upgrade, or its first look at the
   * chart (a rerun). Milliseconds since the epoch; unknown counts as now.
   */
  readonly appliedSince?: number;
  /**
   * Seconds the giving track stays held after the new weights are applied
   * (--switch-seconds): the load balancer follows the Ingress with a delay.
   * @default 30
   */
  readonly switchSeconds?: number;
}

/** The switch-over a weight move leaves the load balancer, unless a command says otherwise. */
export const defaultSwitchSeconds = 30;

/** How long the new weights have been in the chart, and how long the load balancer is given to follow. */
export interface Switching {
  readonly now: number;
  readonly appliedSince: number;
  readonly switchSeconds: number;
}

const switchingOf = (input: PlanInput): Switching => ({
  now: input.now,
  appliedSince: input.appliedSince ?? input.now,
  switchSeconds: input.switchSeconds ?? defaultSwitchSeconds,
});

/**
 * Until the switch time after the new weights is over: the wait, else undefined.
 * The time counts from when this command saw the values applied, so a rerun
 * after an interruption waits the whole time again: the chart keeps no time
 * of its own (charts generated before the holds would refuse another key),
 * and waiting again only keeps pods a little longer, never drops them early.
 */
function switchWait(
  switching: Switching,
  weight: number,
): Extract<Action, { kind: 'wait-until' }> | undefined {
  const at = switching.appliedSince + switching.switchSeconds * 1000;
  if (switching.now >= at) return undefined;
  return {
    kind: 'wait-until',
    at,
    say: `weights main/canary ${weightsText(weight)} applied; the giving track stays held ${switching.switchSeconds} s while the load balancer switches`,
  };
}

const weightsText = (weight: number) => `${100 - weight}/${weight}`;

/** "canary 4 vs stable 3 at 10% (running, started by ana@host at …)", as the registry's conflicts say it. */
export const describeRecord: (e: ExperimentRecord) => string = describeExperiment;

const ascending = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

/** The chart values the record asks for right now (the weight the cluster should carry). */
export function wantedValues(e: ExperimentRecord): ExperimentValues {
  return { stableVersion: e.stable, canaryVersion: e.canary, canaryWeight: e.weight };
}

const sameHold = (a?: ReplicaHold, b?: ReplicaHold) =>
  (a?.stable ?? 0) === (b?.stable ?? 0) && (a?.canary ?? 0) === (b?.canary ?? 0);

const sameValues = (a: ExperimentValues | null, b: ExperimentValues | null) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.stableVersion === b.stableVersion &&
    a.canaryVersion === b.canaryVersion &&
    a.canaryWeight === b.canaryWeight &&
    sameHold(a.minReplicas, b.minReplicas));

const withoutHold = ({ minReplicas: _hold, ...values }: ExperimentValues): ExperimentValues => values;

type Track = 'main' | 'canary';
const holdKey = (track: Track) => (track === 'main' ? 'stable' : 'canary');
const holdOf = (pods: Partial<Record<Track, number>>): ReplicaHold => ({
  stable: pods.main ?? 0,
  canary: pods.canary ?? 0,
});

/**
 * The pods the track that receives traffic needs before a move of the
 * canary's weight from `from` to `to`: its new share of what both tracks run
 * now, rounded up. "What they run" is each Deployment's replicas, which its
 * HPA sets from the load it sees: Ready pods lag behind a scale-up the HPA
 * has already asked for, and the load those pods are for is already there.
 * The chart caps the hold at autoscaling.maxReplicas.
 */
export function receivingNeed(
  from: number,
  to: number,
  cluster: ClusterView,
): { track: Track; pods: number } {
  const total = cluster.main.replicas + (cluster.canary?.replicas ?? 0);
  const track: Track = to > from ? 'canary' : 'main';
  const share = track === 'canary' ? to : 100 - to;
  return { track, pods: Math.ceil((total * share) / 100) };
}

/** Every pod of the track is Ready, there are as many as its HPA's minimum, and each serves `version`. */
const trackServes = (view: TrackView | null, version: number) =>
  !!view &&
  view.pods > 0 &&
  view.ready &&
  view.pods >= view.minReplicas &&
  view.availableOnAll.includes(version);

/**
 * One weight move as three helm upgrades, so capacity never dips: (1) the
 * receiving track's minimum rises to its new share of what both tracks run
 * (skipped when it already has those pods), and the command waits until they
 * are Ready and serve the track's version; (2) the new weights, with the
 * giving track held at the pods it has; (3) the holds go, and each track's
 * HPA returns to the bounds its weight derives (the giving track is cut at
 * once to a lower maximum, and scales down from there at its HPA's pace),
 * but only once the switch time after phase 2 is over: the load balancer
 * (the AWS Load Balancer Controller reconciling the Ingress, then the ALB)
 * follows the new weights with a delay, and the giving track serves its old
 * share until it has.
 * Each phase is read back from the chart's values (a
 * hold on one track only: phase 1 done; the new weight with holds: phase 2
 * done), so a rerun continues from the one it reached. Undefined once the
 * chart carries `wanted` without holds.
 */
export function moveTraffic(
  wanted: ExperimentValues,
  cluster: ClusterView,
  serves: { readonly main: number; readonly canary: number },
  switching: Switching,
): Extract<Action, { kind: 'apply' | 'wait' | 'wait-until' }> | undefined {
  const applied = cluster.applied;
  const target = withoutHold(wanted);
  if (applied === null)
    return { kind: 'apply', values: target, say: `weights main/canary ${weightsText(target.canaryWeight)}` };
  if (sameValues(applied, target)) return undefined;
  if (applied.canaryWeight === target.canaryWeight) {
    const switchingOver = applied.minReplicas ? switchWait(switching, target.canaryWeight) : undefined;
    if (switchingOver) return switchingOver;
    return {
      kind: 'apply',
      values: target,
      say: applied.minReplicas
        ? 'the traffic has moved; each track back to the bounds its weight derives'
        : `weights main/canary ${weightsText(target.canaryWeight)}`,
    };
  }
  const need = receivingNeed(applied.canaryWeight, target.canaryWeight, cluster);
  const receiving = need.track;
  const giving: Track = receiving === 'canary' ? 'main' : 'canary';
  const view = (track: Track) => (track === 'main' ? cluster.main : cluster.canary);
  const hold = applied.minReplicas;
  // A hold on the receiving track alone is this move's phase 1 (its total was counted before it raised the track).
  const raised =
    hold && hold[holdKey(receiving)] > 0 && hold[holdKey(giving)] === 0
      ? hold[holdKey(receiving)]
      : undefined;
  const pods = raised ?? need.pods;
  const serving = trackServes(view(receiving), serves[receiving]);
  if (raised === undefined && !(serving && (view(receiving)?.replicas ?? 0) >= pods)) {
    return {
      kind: 'apply',
      values: { ...withoutHold(applied), minReplicas: holdOf({ [receiving]: pods }) },
      say: `${receiving} to at least ${pods} pods before the weights move to ${weightsText(target.canaryWeight)}`,
    };
  }
  // The chart caps the hold at autoscaling.maxReplicas: the HPA's minimum says how many pods that is.
  if (!serving) {
    return {
      kind: 'wait',
      for: receiving,
      version: serves[receiving],
      pods,
      say: `waiting for ${pods} ${receiving} pods to be Ready with version ${serves[receiving]} AVAILABLE`,
    };
  }
  const held = view(giving)?.replicas ?? 0;
  const receivingPods = Math.max(pods, view(receiving)?.replicas ?? 0);
  return {
    kind: 'apply',
    values: { ...target, minReplicas: holdOf({ [receiving]: receivingPods, [giving]: held }) },
    say: `weights main/canary ${weightsText(target.canaryWeight)}, ${giving} held at ${held} pods until the traffic has moved`,
  };
}

const canaryAvailable = (cluster: ClusterView, version: number) =>
  !!cluster.canary &&
  cluster.canary.pods > 0 &&
  cluster.canary.ready &&
  cluster.canary.availableOnAll.includes(version);

const mainAvailable = (cluster: ClusterView, version: number) =>
  cluster.main.pods > 0 && cluster.main.ready && cluster.main.availableOnAll.includes(version);

/** Checks a list of step weights: whole percents from 1 to 100, rising. */
export function checkSteps(steps: readonly number[]): string | undefined {
  if (steps.length === 0) return 'give at least one weight';
  for (const w of steps) {
    if (!Number.isInteger(w) || w < 1 || w > 100) return `${w} is not a whole percent from 1 to 100`;
  }
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]! <= steps[i - 1]!) return `the weights must rise (${steps[i - 1]} then ${steps[i]})`;
  }
  return undefined;
}

/**
 * Moves the experiment on (or keeps it) given what the release and the
 * cluster say; converges the cluster on the record first, so every command
 * finishes what an interrupted one left.
 */
function converge(e: ExperimentRecord, input: PlanInput): Action | undefined {
  const wanted = wantedValues(e);
  const applied = input.cluster.applied;
  if (sameValues(applied, wanted)) return undefined;
  // Traffic reaches the canary only once its pods serve the canary version.
  if (wanted.canaryWeight > 0 && (applied === null || applied.canaryWeight === 0)) {
    if (applied === null) {
      return {
        kind: 'apply',
        values: { ...wanted, canaryWeight: 0 },
        say: `creating the canary (version ${e.canary}) at weight 0`,
      };
    }
    if (!canaryAvailable(input.cluster, e.canary)) {
      return {
        kind: 'wait',
        for: 'canary',
        version: e.canary,
        say: `waiting for the canary pods to be Ready with version ${e.canary} AVAILABLE`,
      };
    }
  }
  return moveTraffic(wanted, input.cluster, { main: e.stable, canary: e.canary }, switchingOf(input));
}

const iso = (ms: number) => new Date(ms).toISOString();

function abortChange(e: ExperimentRecord, reason: string): RecordChange {
  return {
    experiment: { ...e, phase: 'aborting', weight: 0 },
    action: 'experiment-abort',
    from: describeRecord(e),
    to: `aborting: weight 0, then the canary goes (${reason})`,
  };
}

function promoteChange(e: ExperimentRecord, release: ReleaseView): RecordChange {
  const labels = { ...release.labels, stable: e.canary };
  return {
    state: { serve: ascending([...release.serve, e.canary]), labels },
    experiment: { ...e, phase: 'promoting' },
    action: 'experiment-promote',
    from: `stable=${e.stable}`,
    to: `stable=${e.canary}`,
  };
}

/** The record once the canary is gone: no experiment, no canary label, the losing version no longer served. */
function endChange(e: ExperimentRecord, release: ReleaseView, promoted: boolean): RecordChange {
  const labels: Record<string, number> = { ...release.labels };
  delete labels.canary;
  const loser = promoted ? e.stable : e.canary;
  const stillLabelled = Object.values(labels).includes(loser);
  const serve = release.serve.filter((v) => v !== loser || stillLabelled);
  return {
    state: { serve, labels },
    experiment: null,
    action: promoted ? 'experiment-promoted' : 'experiment-aborted',
    from: describeRecord(e),
    to: promoted
      ? `version ${e.canary} is stable, the canary is removed`
      : `the canary is removed, version ${e.stable} stays stable`,
  };
}

/** The next step of a running experiment (steps, analysis, the end of the plan). */
function walk(e: ExperimentRecord, input: PlanInput): Action {
  const last = e.plan.steps.length - 1;
  const analysed = e.analysisUrl !== undefined;
  const atLast = e.step >= last;
  if (atLast && !analysed && !e.autoPromote) {
    return {
      kind: 'done',
      say: `the canary takes ${e.weight}% of unaddressed requests; run catwalk experiment promote or abort when you have decided`,
    };
  }
  if (atLast && !input.verdict && e.analysis?.step === e.step && e.analysis.verdict === 'pass') {
    return {
      kind: 'done',
      say: `the canary stayed within the thresholds for the whole plan (${e.analysis.reason}); run catwalk experiment promote (or abort)`,
    };
  }
  const since = Date.parse(e.stepStartedAt ?? e.startedAt);
  // An inconclusive look holds the step: the next look is one interval after it.
  const lastLook =
    e.analysis && e.analysis.step === e.step && e.analysis.verdict === 'inconclusive'
      ? Date.parse(e.analysis.at)
      : since;
  const due = lastLook + e.plan.intervalSeconds * 1000;
  if (input.verdict) {
    const v = input.verdict;
    const recorded: RecordedVerdict = {
      at: iso(input.now),
      verdict: v.verdict,
      reason: v.reason,
      step: e.step,
      ...(v.tracks ? { tracks: v.tracks } : {}),
    };
    if (v.verdict === 'fail') {
      const change = abortChange({ ...e, analysis: recorded }, `analysis: ${v.reason}`);
      return { kind: 'write', change, say: `the canary is worse: ${v.reason}; aborting` };
    }
    if (v.verdict === 'inconclusive') {
      return {
        kind: 'write',
        change: {
          experiment: { ...e, analysis: recorded },
          action: 'experiment-analysis',
          from: `step ${e.step + 1} of ${last + 1}`,
          to: `inconclusive, holding ${e.weight}%: ${v.reason}`,
        },
        say: `no verdict yet (${v.reason}); holding ${e.weight}% for another ${e.plan.intervalSeconds} s`,
      };
    }
    return advance({ ...e, analysis: recorded }, input, true);
  }
  if (input.now < due) {
    return {
      kind: 'wait-until',
      at: due,
      say: `step ${e.step + 1} of ${last + 1} at ${e.weight}%; next look at ${iso(due)}`,
    };
  }
  if (analysed) return { kind: 'analyse', say: `analysing step ${e.step + 1} of ${last + 1}` };
  return advance(e, input, false);
}

/** After a step passed (or its interval ran out with no analysis): the next weight, or the end of the plan. */
function advance(e: ExperimentRecord, input: PlanInput, looked: boolean): Action {
  const last = e.plan.steps.length - 1;
  if (e.step >= last) {
    if (e.autoPromote) {
      return {
        kind: 'write',
        change: promoteChange(e, input.release),
        say: `the plan passed; promoting version ${e.canary}`,
      };
    }
    if (looked) {
      // Record the passing look; the next round stops at the last step.
      return {
        kind: 'write',
        change: {
          experiment: e,
          action: 'experiment-analysis',
          from: `step ${e.step + 1} of ${last + 1}`,
          to: `pass: ${e.analysis?.reason ?? ''}`,
        },
        say: `the last step passed (${e.analysis?.reason ?? ''})`,
      };
    }
    return {
      kind: 'done',
      say: `the canary stayed within the thresholds for the whole plan at ${e.weight}%; run catwalk experiment promote (or abort)`,
    };
  }
  const weight = e.plan.steps[e.step + 1]!;
  return {
    kind: 'write',
    change: {
      experiment: { ...e, step: e.step + 1, weight, stepStartedAt: iso(input.now) },
      action: 'experiment-weight',
      from: `${e.weight}%`,
      to: `${weight}%`,
    },
    say: `step ${e.step + 2} of ${last + 1}: canary to ${weight}%`,
  };
}

/**
 * The end of a promote or an abort once the record says so: weight back,
 * canary gone, record closed. A promote, and an abort with keepCapacity,
 * move the weight as any move does (main grown and serving first). Any other
 * abort takes the traffic off the canary in its first upgrade: that upgrade
 * also raises main's minimum to every pod both tracks run, so main grows as
 * fast as it can, and holds the canary's pods; the canary goes once main has
 * its pods and the load balancer has had the switch time, so main is never
 * left smaller than both tracks were.
 */
function finish(e: ExperimentRecord, input: PlanInput, gradual: boolean): Action {
  const { cluster, release } = input;
  const promoting = e.phase === 'promoting';
  const mainVersion = promoting ? e.canary : e.stable;
  if (promoting && !mainAvailable(cluster, e.canary)) {
    return {
      kind: 'wait',
      for: 'main',
      version: e.canary,
      say: `waiting for every main pod to report version ${e.canary} AVAILABLE`,
    };
  }
  const applied = cluster.applied;
  if (applied !== null && applied.canaryWeight > 0) {
    if (!gradual) {
      const canaryPods = cluster.canary?.replicas ?? 0;
      const mainPods = cluster.main.replicas + canaryPods;
      return {
        kind: 'apply',
        values: {
          ...withoutHold(applied),
          canaryWeight: 0,
          minReplicas: holdOf({ main: mainPods, canary: canaryPods }),
        },
        say: `weights main/canary 100/0 at once; main to at least ${mainPods} pods, the canary held at ${canaryPods} until main has them`,
      };
    }
    // All traffic to main: main first grows to every pod both tracks run, then the weight moves.
    const serves = { main: mainVersion, canary: e.canary };
    return moveTraffic({ ...withoutHold(applied), canaryWeight: 0 }, cluster, serves, switchingOf(input))!;
  }
  if (applied !== null) {
    const hold = applied.minReplicas;
    if (hold && hold.stable > 0 && !trackServes(cluster.main, mainVersion)) {
      return {
        kind: 'wait',
        for: 'main',
        version: mainVersion,
        pods: hold.stable,
        say: `waiting for ${hold.stable} main pods to be Ready with version ${mainVersion} AVAILABLE before the canary goes`,
      };
    }
    // The canary's pods may still get requests until the load balancer has followed weight 0.
    const switchingOver = hold ? switchWait(switchingOf(input), 0) : undefined;
    if (switchingOver) return switchingOver;
    // Main holds its pods with the canary gone: its bounds are the whole fleet's again.
    return { kind: 'apply', values: null, say: 'removing the canary Deployment' };
  }
  const failed = !promoting && e.analysis?.verdict === 'fail';
  return {
    kind: 'write',
    change: endChange(e, release, promoting),
    say: promoting
      ? `version ${e.canary} is stable; the experiment is over`
      : `aborted${failed ? ` by the analysis (${e.analysis!.reason})` : ''}; version ${e.stable} stayed stable throughout`,
    ends: failed ? 'fail' : 'done',
  };
}

/**
 * After a helm upgrade that was planned from an older generation of the
 * record landed: the upgrade that brings the chart back to what the record
 * says now, or undefined when it already does. Traffic leaves the canary
 * before its Deployment goes, and only returns to it through the planner
 * (which waits for the canary pods first).
 */
export function repairAfterRace(
  release: ReleaseView,
  applied: ExperimentValues | null,
): Extract<Action, { kind: 'apply' }> | undefined {
  const e = release.experiment;
  if (!e) {
    if (applied === null) return undefined;
    if (applied.canaryWeight > 0) {
      return { kind: 'apply', values: { ...applied, canaryWeight: 0 }, say: 'weights main/canary 100/0' };
    }
    return { kind: 'apply', values: null, say: 'removing the canary Deployment' };
  }
  const wanted = wantedValues(e);
  const settled = e.phase === 'aborting' ? { ...wanted, canaryWeight: 0 } : wanted;
  if (sameValues(applied, settled)) return undefined;
  // Lower the canary's share at once; a higher one is the planner's to give, after its wait.
  if (applied !== null && applied.canaryWeight > settled.canaryWeight) {
    return {
      kind: 'apply',
      values: settled,
      say: `weights main/canary ${weightsText(settled.canaryWeight)}`,
    };
  }
  return undefined;
}

/** The one next action for `input.command`. */
export function planNext(input: PlanInput): Action {
  const { command, release, cluster, me } = input;
  const e = release.experiment;
  switch (command.kind) {
    case 'start': {
      if (!e) {
        // The record is closed: done only if this command's experiment already ran to its end.
        if (cluster.applied !== null) {
          return {
            kind: 'refuse',
            say: 'the chart carries experiment values but release.json has no experiment; run catwalk experiment abort to clean up',
          };
        }
        const stable = release.labels.stable;
        if (stable === undefined) {
          return {
            kind: 'refuse',
            say: `the release has no stable label to compare with; run catwalk release <spec> --label stable=<version> first (labels now: ${Object.keys(release.labels).join(', ') || 'none'})`,
          };
        }
        if (stable === command.canary) {
          return {
            kind: 'refuse',
            say: `version ${command.canary} is already stable; give --canary the new version to test`,
          };
        }
        const problem = checkSteps(command.steps);
        if (problem) return { kind: 'refuse', say: `--steps/--weight: ${problem}` };
        const experiment: ExperimentRecord = {
          canary: command.canary,
          stable,
          weight: 0,
          plan: { steps: [...command.steps], intervalSeconds: command.intervalSeconds },
          step: -1,
          phase: 'starting',
          startedAt: iso(input.now),
          startedBy: me,
          ...(command.autoPromote ? { autoPromote: true } : {}),
          ...(command.analysisUrl ? { analysisUrl: command.analysisUrl } : {}),
        };
        return {
          kind: 'write',
          change: {
            state: {
              serve: ascending([...release.serve, command.canary]),
              labels: { ...release.labels, canary: command.canary },
            },
            experiment,
            action: 'experiment-start',
            from: `stable=${stable}`,
            to: `canary=${command.canary} at 0%, plan ${command.steps.join(',')}% every ${command.intervalSeconds} s`,
          },
          say: `labelling version ${command.canary} canary in the release`,
        };
      }
      if (e.canary !== command.canary || e.startedBy !== me) {
        return {
          kind: 'refuse',
          say: `another experiment holds ${describeRecord(e)}; it must be promoted or aborted first (catwalk experiment status shows it)`,
        };
      }
      if (e.phase === 'promoting' || e.phase === 'aborting') {
        const verb = e.phase === 'promoting' ? 'promote' : 'abort';
        // The plan's own ending (its analysis failed, or it passed with --auto-promote): finish it here.
        // An abort on a failing analysis takes the traffic off the canary at once.
        if (e.phase === 'aborting' && e.analysis?.verdict === 'fail') return finish(e, input, false);
        if (e.phase === 'promoting' && e.autoPromote) return finish(e, input, true);
        return {
          kind: 'refuse',
          say: `the experiment is being ${e.phase === 'promoting' ? 'promoted' : 'aborted'} (${describeRecord(e)}); run catwalk experiment ${verb} to finish it`,
        };
      }
      const converging = converge(e, input);
      if (converging) return converging;
      if (e.phase === 'starting') {
        if (!canaryAvailable(cluster, e.canary)) {
          return {
            kind: 'wait',
            for: 'canary',
            version: e.canary,
            say: `waiting for the canary pods to be Ready with version ${e.canary} AVAILABLE`,
          };
        }
        const weight = e.plan.steps[0]!;
        return {
          kind: 'write',
          change: {
            experiment: { ...e, phase: 'running', step: 0, weight, stepStartedAt: iso(input.now) },
            action: 'experiment-weight',
            from: '0%',
            to: `${weight}%`,
          },
          say: `the canary serves version ${e.canary}; step 1 of ${e.plan.steps.length}: canary to ${weight}%`,
        };
      }
      return walk(e, input);
    }
    case 'set-weight': {
      if (!e)
        return { kind: 'refuse', say: 'no experiment is running; start one with catwalk experiment start' };
      if (e.phase === 'promoting' || e.phase === 'aborting') {
        return {
          kind: 'refuse',
          say: `the experiment is being ${e.phase === 'promoting' ? 'promoted' : 'aborted'} (${describeRecord(e)}); its weight can no longer change`,
        };
      }
      const w = command.weight;
      if (!Number.isInteger(w) || w < 0 || w > 100) {
        return { kind: 'refuse', say: `weight ${w}: give a whole percent from 0 to 100` };
      }
      // A manual weight replaces what is left of the plan: a running start stops walking.
      if (e.weight !== w || e.phase !== 'running' || e.plan.steps.length !== 1 || e.plan.steps[0] !== w) {
        // The last look judged another weight of another plan: it says nothing about this one.
        const { analysis: _replaced, ...kept } = e;
        return {
          kind: 'write',
          change: {
            experiment: {
              ...kept,
              phase: 'running',
              weight: w,
              step: 0,
              plan: { steps: [w], intervalSeconds: e.plan.intervalSeconds },
              stepStartedAt: iso(input.now),
            },
            action: 'experiment-weight',
            from: `${e.weight}%`,
            to: `${w}% (set by hand)`,
          },
          say: `canary weight to ${w}% in the release`,
        };
      }
      const converging = converge(e, input);
      if (converging) return converging;
      return { kind: 'done', say: `weights main/canary ${weightsText(w)}` };
    }
    case 'promote': {
      if (!e) return { kind: 'refuse', say: 'no experiment is running, so there is nothing to promote' };
      if (e.phase === 'aborting') {
        return {
          kind: 'refuse',
          say: `the experiment is being aborted (${describeRecord(e)}); run catwalk experiment abort to finish it`,
        };
      }
      if (e.phase !== 'promoting') {
        // The canary must be serving its version before the main pods take it on.
        if (!canaryAvailable(cluster, e.canary) && cluster.applied !== null) {
          return {
            kind: 'wait',
            for: 'canary',
            version: e.canary,
            say: `waiting for the canary pods to serve version ${e.canary} before promoting it`,
          };
        }
        return {
          kind: 'write',
          change: promoteChange(e, release),
          say: `moving the stable label to version ${e.canary}`,
        };
      }
      return finish(e, input, true);
    }
    case 'abort': {
      if (!e) {
        // Chart values left without a record (an interrupted repair): traffic first, then the Deployment.
        const cleanup = repairAfterRace(release, cluster.applied);
        if (cleanup) return cleanup;
        return { kind: 'done', say: 'no experiment is running' };
      }
      if (e.phase === 'promoting') {
        return {
          kind: 'refuse',
          say: `the experiment is being promoted (${describeRecord(e)}); run catwalk experiment promote to finish it, then catwalk rollback if needed`,
        };
      }
      if (e.phase !== 'aborting') {
        return {
          kind: 'write',
          change: abortChange(e, command.reason ?? `by ${me}`),
          say: 'aborting: canary weight to 0 in the release',
        };
      }
      return finish(e, input, command.keepCapacity === true);
    }
  }
}

/**
 * When each weight of the running experiment took effect, oldest first, read
 * from the audit trail: the analysis compares the tracks within each step's
 * own window, so a drift of the error rate while the canary's share rises
 * biases nothing. Steps older than the bounded audit trail are left out
 * (less data, never a wrong comparison); empty means the analysis pools.
 */
export function stepStarts(record: ExperimentRecord, audit: readonly AuditLine[]): Date[] {
  const started = Date.parse(record.startedAt);
  return audit
    .filter((a) => a.action === 'experiment-weight' && Date.parse(a.at) >= started)
    .map((a) => new Date(a.at))
    .sort((a, b) => a.getTime() - b.getTime());
}
