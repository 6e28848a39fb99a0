// `catwalk experiment start | set-weight | promote | abort`: the loop that
// runs the pure planner (experiment-plan.ts) against the release record and
// the cluster until the command's goal is reached. Every round reads both
// again, so the loop never acts on a stale view: an interrupted command rerun
// picks up where the record and the cluster stand, and a change by another
// operator is seen before the next action.

import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChartOptions } from '@catwalk/chart-gen';
import type { ResolvedModel } from '@catwalk/schema';
import { PrometheusQueryError, queryInstant } from './analysis';
import { deploy } from './deploy';
import {
  appliedExperiment,
  keptUserValues,
  notServing,
  type TrackReport,
  trackReport,
} from './experiment-cluster';
import {
  type Action,
  type AuditLine,
  type ClusterView,
  type Command,
  defaultSwitchSeconds,
  describeRecord,
  type ExperimentRecord,
  type ExperimentValues,
  planNext,
  type RecordChange,
  type ReleaseView,
  repairAfterRace,
  type Verdict,
} from './experiment-plan';
import { type ClusterTarget, type Connection, connect } from './kube';

/** release.json as the experiment commands use it; the CLI backs it with @catwalk/registry. */
export interface ExperimentStore {
  read(): Promise<ReleaseView>;
  /**
   * Writes the change as the next generation, compare-and-swap: fails with an
   * error named ConflictError when the record is no longer at `generation`.
   */
  write(generation: number, change: RecordChange): Promise<void>;
}

export interface ExperimentOptions extends ClusterTarget {
  readonly model: ResolvedModel;
  readonly store: ExperimentStore;
  /** Who runs the command: the record's startedBy and the audit's "by". */
  readonly me: string;
  /** Extra values files for helm, as for deploy. */
  readonly values?: readonly string[];
  readonly helm?: string;
  readonly chartOptions?: ChartOptions;
  /** Longest wait for pods to serve a version, and for each helm upgrade. @default 600 */
  readonly timeoutSeconds?: number;
  /**
   * Seconds the track giving traffic away stays held after the new weights
   * are applied, while the load balancer switches (--switch-seconds).
   * @default 30
   */
  readonly switchSeconds?: number;
  /** Compares the tracks between steps; needed when the experiment has an analysis URL. */
  readonly analyse?: (
    experiment: ExperimentRecord,
    where: { readonly namespace: string },
  ) => Promise<Verdict>;
  /** One line per action taken and per new wait, with where the experiment stands. */
  readonly onEvent?: (line: string, fields: ExperimentEventFields) => void;
  /** Stops the loop between actions (Ctrl-C); a rerun continues from the record. */
  readonly signal?: AbortSignal;
  /** Failed Prometheus looks in a row (each an inconclusive look, retried an interval later) before the command stops. @default 3 */
  readonly maxAnalysisFailures?: number;
  /** How often waits look again. @default 2000 */
  readonly pollMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * The cluster the commands act on. By default the model's helm release and
   * its pods, found through the kubeconfig; the unit tests give a modelled one.
   */
  readonly cluster?: ExperimentCluster;
}

/** Where the experiment stands when a line is reported: for log lines a machine reads. */
export interface ExperimentEventFields {
  readonly model: string;
  /** The release.json generation the action was planned from. */
  readonly generation: number;
  readonly stable?: number;
  readonly canary?: number;
  /** The canary's percent: the one being applied for a helm upgrade, else the record's. */
  readonly weight: number;
  /** The track a wait is for, or whose Deployment an upgrade creates or removes. */
  readonly track?: 'main' | 'canary';
}

/** What the loop needs of the cluster: what it runs now, and a helm upgrade to new experiment values. */
export interface ExperimentCluster {
  readonly namespace: string;
  observe(): Promise<ObservedCluster>;
  apply(values: ExperimentValues | null): Promise<{ readonly ok: boolean; readonly reason?: string }>;
}

export type ObservedCluster = ClusterView & {
  readonly reports: { readonly main: TrackReport | null; readonly canary: TrackReport | null };
};

export interface ExperimentOutcome {
  /** false when the experiment was aborted by its analysis. */
  readonly ok: boolean;
  readonly message: string;
  readonly release: ReleaseView;
}

/** The command cannot go on: another operator's experiment, a wrong phase, a bad argument. */
export class ExperimentRefusedError extends Error {
  override readonly name = 'ExperimentRefusedError';
}

/** A wait or a helm upgrade did not finish in time, or failed. */
export class ExperimentStuckError extends Error {
  override readonly name = 'ExperimentStuckError';
}

const isConflict = (error: unknown) => error instanceof Error && error.name === 'ConflictError';

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** What the cluster says, in the planner's terms, plus the raw track reports for messages. */
export async function observe(
  conn: Connection,
  options: Pick<ExperimentOptions, 'helm' | 'kubeconfig' | 'context' | 'model'>,
): Promise<ObservedCluster> {
  const name = options.model.name;
  const target = {
    helm: options.helm,
    kubeconfig: options.kubeconfig,
    context: options.context,
    namespace: conn.namespace,
  };
  const [applied, main, canary] = await Promise.all([
    appliedExperiment(target, name),
    trackReport(conn, name, 'main'),
    trackReport(conn, name, 'canary'),
  ]);
  if (applied === undefined) {
    throw new ExperimentRefusedError(
      `${name} is not deployed in namespace ${conn.namespace}; run catwalk deploy first`,
    );
  }
  return {
    applied,
    main: main ?? { pods: 0, replicas: 0, minReplicas: 0, ready: false, availableOnAll: [] },
    canary,
    reports: { main, canary },
  };
}

/** Runs `command` to its end; resolves with the outcome, throws when refused or stuck. */
export async function runExperiment(
  command: Command,
  options: ExperimentOptions,
): Promise<ExperimentOutcome> {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 2000;
  const timeoutSeconds = options.timeoutSeconds ?? 600;
  const report = options.onEvent ?? (() => undefined);
  const fieldsOf = (
    release: ReleaseView,
    extra: Partial<ExperimentEventFields> = {},
  ): ExperimentEventFields => {
    const e = release.experiment;
    const stable = e?.stable ?? release.labels.stable;
    return {
      model: options.model.name,
      generation: release.generation,
      ...(stable !== undefined ? { stable } : {}),
      ...(e ? { canary: e.canary } : {}),
      weight: e?.weight ?? 0,
      ...extra,
    };
  };
  const switchSeconds = options.switchSeconds ?? defaultSwitchSeconds;
  if (!Number.isInteger(switchSeconds) || switchSeconds < 0) {
    throw new ExperimentRefusedError(
      `--switch-seconds ${switchSeconds}: give the whole seconds (0 or more) the giving track stays held after the weights move`,
    );
  }
  if (options.model.experiment && command.kind === 'start') {
    throw new ExperimentRefusedError(
      `the spec of ${options.model.name} sets experiment.canaryVersion, so its chart already runs a fixed A/B test; ` +
        'remove canaryVersion and canaryWeight from the spec (keep experiment.analysis) and deploy it, then start the experiment',
    );
  }
  let verdict: Verdict | undefined;
  let lastSaid = '';
  let waitingSince: { key: string; at: number } | undefined;
  let conflicts = 0;
  // When this command saw the chart get the values it carries: the switch time after a weight move counts from it.
  let appliedSince: { key: string; at: number } | undefined;
  const sinceSeen = (values: ExperimentValues | null) => {
    const key = valuesKey(values);
    if (appliedSince?.key !== key) appliedSince = { key, at: now() };
    return appliedSince.at;
  };
  let helmBusy = 0;
  let analysisFailures = 0;
  const maxAnalysisFailures = options.maxAnalysisFailures ?? 3;
  // The experiment this command has seen in the record; once it is gone, someone else ended it.
  let ours: ExperimentRecord | undefined;
  const scratch: { dir?: string } = {};
  const cluster = options.cluster ?? helmCluster(await connect(options), options, scratch);
  try {
    return await loop();
  } finally {
    if (scratch.dir) await fs.rm(scratch.dir, { recursive: true, force: true });
  }

  /** One helm upgrade; false when helm's lock was held by another upgrade and it should be planned again. */
  async function apply(values: ExperimentValues | null, what: string): Promise<boolean> {
    const result = await cluster.apply(values);
    if (result.ok) {
      // helm returns once the objects are applied and ready: the load balancer starts following from here on.
      appliedSince = { key: valuesKey(values), at: now() };
      return true;
    }
    const reason = result.reason ?? 'helm upgrade failed';
    // Another helm upgrade of the same release (a second operator, a deploy) holds helm's lock.
    if (/another operation .* in progress/i.test(reason) && ++helmBusy <= 30) {
      await sleep(pollMs, options.signal);
      return false;
    }
    throw new ExperimentStuckError(`${what}: ${reason}`);
  }

  /**
   * A helm upgrade planned from one generation of the record that landed
   * after another operator changed it (an abort finished while this start's
   * upgrade ran) puts back what that operator removed: the chart is brought
   * to what the record says now, weight first, before anything else happens.
   */
  async function repair(): Promise<void> {
    for (let round = 0; round < 10; round++) {
      const release = await options.store.read();
      const observed = await cluster.observe();
      const fix = repairAfterRace(release, observed.applied);
      if (!fix) return;
      report(
        `release.json changed while helm ran (generation ${release.generation}); ${fix.say}`,
        fieldsOf(release, {
          weight: fix.values?.canaryWeight ?? 0,
          ...(fix.values === null ? { track: 'canary' as const } : {}),
        }),
      );
      lastSaid = '';
      await apply(fix.values, fix.say);
    }
    throw new ExperimentStuckError(
      'release.json kept changing while this command brought the chart back to it; run the command again',
    );
  }

  async function loop(): Promise<ExperimentOutcome> {
    for (;;) {
      if (options.signal?.aborted) {
        throw new ExperimentStuckError('interrupted; run the same command again to continue from here');
      }
      const release = await options.store.read();
      // An abort that finds the test already ended goes on to clean up what is left; the others stop.
      if (ours && release.experiment?.startedAt !== ours.startedAt && command.kind !== 'abort') {
        const last = release.audit?.[0];
        throw new ExperimentRefusedError(
          `the experiment this command ran (${describeRecord(ours)}) was ended meanwhile` +
            `${last ? ` by ${last.by} (${last.action} at ${last.at})` : ''}; catwalk experiment status shows where it stands`,
        );
      }
      if (release.experiment) ours = release.experiment;
      const observed = await cluster.observe();
      const action: Action = planNext({
        command,
        release,
        cluster: observed,
        now: now(),
        me: options.me,
        verdict,
        appliedSince: sinceSeen(observed.applied),
        switchSeconds,
      });
      verdict = undefined;
      const say = (line: string) => report(line, fieldsOf(release, eventExtra(action, observed.applied)));
      // done, refuse and a closing write end the command: their words are its outcome, printed once by the caller.
      const closing = action.kind === 'write' && action.ends !== undefined;
      if (action.say !== lastSaid && action.kind !== 'done' && action.kind !== 'refuse' && !closing)
        say(action.say);
      lastSaid = action.say;
      if (action.kind !== 'wait') waitingSince = undefined;
      switch (action.kind) {
        case 'done':
          return { ok: true, message: action.say, release };
        case 'refuse':
          throw new ExperimentRefusedError(action.say);
        case 'write':
          try {
            await options.store.write(release.generation, action.change);
          } catch (error) {
            // Someone wrote in between: look again; the planner refuses if the experiment is no longer ours.
            if (!isConflict(error) || ++conflicts > 5) throw error;
            say(
              `release.json changed meanwhile (${(error as Error).message.split('\n')[0]}); reading it again`,
            );
            lastSaid = '';
            continue;
          }
          if (action.change.experiment === null) ours = undefined;
          if (action.ends) {
            const after = await options.store.read();
            return { ok: action.ends === 'done', message: action.say, release: after };
          }
          continue;
        case 'apply': {
          // The plan was made from `release`; helm takes a while, so check it still holds just before.
          if ((await options.store.read()).generation !== release.generation) {
            lastSaid = '';
            continue;
          }
          if (!(await apply(action.values, action.say))) continue;
          if ((await options.store.read()).generation !== release.generation) {
            await repair();
          }
          continue;
        }
        case 'wait': {
          const key = `${action.for}:${action.version}:${action.pods ?? 0}`;
          if (waitingSince?.key !== key) waitingSince = { key, at: now() };
          if (now() - waitingSince.at > timeoutSeconds * 1000) {
            const report = action.for === 'canary' ? observed.reports.canary : observed.reports.main;
            throw new ExperimentStuckError(
              `${action.for} pods did not serve version ${action.version} within ${timeoutSeconds} s:\n  ${notServing(report, action.version, action.pods).join('\n  ')}\nRun the same command again to keep waiting, or catwalk experiment abort.`,
            );
          }
          await sleep(pollMs, options.signal);
          continue;
        }
        case 'wait-until':
          // Looks at the record now and then, so a set-weight or abort by someone else is seen during a long interval.
          await sleep(Math.max(0, Math.min(action.at - now(), pollMs * 5)), options.signal);
          continue;
        case 'analyse': {
          const experiment = release.experiment!;
          if (!options.analyse) {
            throw new ExperimentRefusedError(
              `the experiment is analysed against ${experiment.analysisUrl}, but this command was given no way to analyse`,
            );
          }
          try {
            verdict = await options.analyse(experiment, { namespace: cluster.namespace });
            analysisFailures = 0;
          } catch (error) {
            if (!(error instanceof PrometheusQueryError)) throw error;
            // A Prometheus blip is a look with no answer: the step holds and the next interval looks again.
            if (++analysisFailures >= maxAnalysisFailures) {
              throw new ExperimentStuckError(
                `--analysis prometheus=${experiment.analysisUrl}: ${analysisFailures} looks in a row failed; the last: ${error.message}. ` +
                  `The canary holds ${experiment.weight}%. Bring Prometheus back or fix the URL, then run the same command again ` +
                  '(an experiment started with another URL must be aborted and started again), or run catwalk experiment abort.',
              );
            }
            verdict = {
              verdict: 'inconclusive',
              reason: `Prometheus did not answer (look ${analysisFailures} of at most ${maxAnalysisFailures} in a row): ${error.message}`,
            };
          }
          say(`analysis: ${verdict.verdict}: ${verdict.reason}`);
          lastSaid = '';
          continue;
        }
      }
    }
  }
}

/**
 * Asks Prometheus a trivial query, so a start with a wrong --analysis URL or
 * a server that is down is refused before anything is written; throws
 * PrometheusQueryError naming the URL and what went wrong.
 */
export async function checkPrometheus(url: string, timeoutMs = 5000): Promise<void> {
  await queryInstant({ url, timeoutMs }, 'vector(1)');
}

/** Experiment values as one string, holds of 0 and absent holds alike. */
function valuesKey(values: ExperimentValues | null): string {
  if (!values) return 'none';
  const hold = values.minReplicas;
  return `${values.stableVersion}/${values.canaryVersion}/${values.canaryWeight}/${hold?.stable ?? 0}/${hold?.canary ?? 0}`;
}

/** The weight an upgrade applies, and the track a wait or a canary's creation or removal concerns. */
function eventExtra(action: Action, applied: ExperimentValues | null): Partial<ExperimentEventFields> {
  if (action.kind === 'wait') return { track: action.for };
  if (action.kind !== 'apply') return {};
  const creates = action.values !== null && applied === null;
  return {
    weight: action.values?.canaryWeight ?? 0,
    ...(action.values === null || creates ? { track: 'canary' as const } : {}),
  };
}

/** The model's helm release and pods: upgrades through deploy(), observed through helm and the pod proxy. */
function helmCluster(
  conn: Connection,
  options: ExperimentOptions,
  scratch: { dir?: string },
): ExperimentCluster {
  const helmTarget = {
    helm: options.helm,
    kubeconfig: options.kubeconfig,
    context: options.context,
    namespace: conn.namespace,
  };
  return {
    namespace: conn.namespace,
    observe: () => observe(conn, options),
    async apply(experiment) {
      let values = options.values;
      if (!values?.length) {
        const kept = await keptUserValues(helmTarget, options.model.name);
        scratch.dir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'catwalk-experiment-'));
        const file = path.join(scratch.dir, 'kept-values.json');
        await fs.writeFile(file, JSON.stringify(kept));
        values = [file];
      }
      const result = await deploy({
        models: [options.model],
        kubeconfig: options.kubeconfig,
        context: options.context,
        namespace: conn.namespace,
        values,
        helm: options.helm,
        chartOptions: options.chartOptions,
        timeoutSeconds: options.timeoutSeconds ?? 600,
        experiment,
      });
      const outcome = result.models[0];
      return outcome?.ok ? { ok: true } : { ok: false, reason: outcome?.reason ?? 'helm upgrade failed' };
    },
  };
}

/** Everything `catwalk experiment status` shows: the record, the cluster's weights, each track's pods. */
export interface ExperimentStatus {
  readonly model: string;
  readonly namespace: string;
  readonly release: ReleaseView;
  readonly applied: ClusterView['applied'];
  readonly main: TrackReport | null;
  readonly canary: TrackReport | null;
  readonly audit: readonly AuditLine[];
}

export async function experimentStatus(
  options: Pick<ExperimentOptions, 'model' | 'helm' | 'kubeconfig' | 'context' | 'namespace'> & {
    readonly store: Pick<ExperimentStore, 'read'>;
  },
): Promise<ExperimentStatus> {
  const conn = await connect(options);
  const [release, cluster] = await Promise.all([options.store.read(), observe(conn, options)]);
  return {
    model: options.model.name,
    namespace: conn.namespace,
    release,
    applied: cluster.applied,
    main: cluster.reports.main,
    canary: cluster.reports.canary,
    audit: (release.audit ?? []).filter((a) => a.action.startsWith('experiment')).slice(0, 10),
  };
}

function trackLine(name: string, t: TrackReport | null): string[] {
  if (!t) return [`  ${name.padEnd(7)} no Deployment`];
  const lines = [`  ${name.padEnd(7)} ${t.deployment}: ${t.readyReplicas}/${t.desired} ready`];
  for (const p of t.podReports) {
    const versions = p.versions.map((v) => `${v.version} ${v.state}`).join(', ') || 'no versions';
    lines.push(
      `    ${p.name} ${p.ready ? 'Ready' : 'not Ready'}, generation ${p.generation ?? '-'}, ${versions}${p.problem ? ` (${p.problem})` : ''}`,
    );
  }
  return lines;
}

const percent = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : '-');
const ms = (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)} ms` : '-');

export function formatExperimentStatus(s: ExperimentStatus): string {
  const e = s.release.experiment;
  const lines: string[] = [
    `${s.model} (namespace ${s.namespace}), release generation ${s.release.generation}`,
  ];
  if (!e) {
    lines.push('  no experiment running');
  } else {
    lines.push(
      `  experiment: canary ${e.canary} vs stable ${e.stable}, ${e.phase}, started by ${e.startedBy} at ${e.startedAt}`,
    );
    lines.push(
      `  weight now: canary ${e.weight}% (release), ${s.applied ? `${s.applied.canaryWeight}% in the cluster` : 'not applied to the cluster'}`,
    );
    const hold = s.applied?.minReplicas;
    if (hold) {
      // An interrupted move leaves its holds in the chart; the next command of the experiment finishes it.
      const held = (n: number) => (n > 0 ? `at least ${n} pods` : 'not held');
      lines.push(`  moving the weight: main ${held(hold.stable)}, canary ${held(hold.canary)}`);
    }
    const steps = e.plan.steps.map((w, i) => (i === e.step ? `[${w}]` : `${w}`)).join(' → ');
    lines.push(
      `  plan: ${steps}% every ${e.plan.intervalSeconds} s${e.autoPromote ? ', then promote' : ''}${e.stepStartedAt ? `; this step since ${e.stepStartedAt}` : ''}`,
    );
    if (e.analysisUrl) lines.push(`  analysis: ${e.analysisUrl}`);
    if (e.analysis) {
      lines.push(
        `  last look (${e.analysis.at}, step ${e.analysis.step + 1}): ${e.analysis.verdict}: ${e.analysis.reason}`,
      );
      for (const [track, stats] of Object.entries(e.analysis.tracks ?? {})) {
        const t = stats as Record<string, unknown>;
        lines.push(
          `    ${track.padEnd(7)} ${typeof t.requestRate === 'number' ? `${t.requestRate.toFixed(2)} req/s` : '-'}, errors ${percent(t.errorRate)}, p50 ${ms(t.p50Ms)}, p99 ${ms(t.p99Ms)}, ${t.requests ?? '-'} requests`,
        );
      }
    }
  }
  lines.push(...trackLine('main', s.main), ...trackLine('canary', s.canary));
  if (s.audit.length) {
    lines.push('  history:');
    for (const a of s.audit) lines.push(`    ${a.at} ${a.by} ${a.action}: ${a.from} → ${a.to}`);
  }
  return `${lines.join('\n')}\n`;
}
