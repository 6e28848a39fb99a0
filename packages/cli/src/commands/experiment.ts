// `catwalk experiment start | status | set-weight | promote | abort`: an A/B
// test run from the terminal. The state lives in the model's release.json
// (every write a compare-and-swap, with an audit line); the cluster follows it
// through the chart's experiment values. The work is in @catwalk/deploy.

import * as path from 'node:path';
import {
  analyseExperiment,
  checkPrometheus,
  type ExperimentCommand,
  type ExperimentRecord,
  ExperimentRefusedError,
  type ExperimentStore,
  ExperimentStuckError,
  experimentStatus,
  formatExperimentStatus,
  KubeconfigError,
  PrometheusQueryError,
  runExperiment,
  stepStarts,
  type Verdict,
} from '@catwalk/deploy';
import {
  checkReleaseSignatures,
  createLogger,
  defaultLogFormat,
  experimentStore,
  whoAmI,
} from '@catwalk/registry';
import { analysisThresholds, validateSpecs } from '@catwalk/schema';
import { parseDurationSeconds } from '../duration';
import { readSpecSources } from '../files';
import { exitCodes, type Io, UserError } from '../io';
import {
  parseVersion,
  resolveTarget,
  type S3Flags,
  type Target,
  withRegistryErrors,
  withSignals,
} from '../registry-target';
import { parseLogFormat } from './sync';

export interface ExperimentFlags extends S3Flags {
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  values?: string[];
  timeout?: string;
  switchSeconds?: string;
  json?: boolean;
  logFormat?: string;
}

export interface StartFlags extends ExperimentFlags {
  canary?: string;
  weight?: string;
  steps?: string;
  stepInterval?: string;
  analysis?: string;
  autoPromote?: boolean;
  allowBreaking?: boolean;
}

/**
 * S3 failures named as such (bucket, endpoint, the fix); a compare-and-swap
 * conflict passes as it is, since the loop reads again and goes on.
 */
function s3Errors<T>(fn: () => Promise<T>, target: Target): Promise<T> {
  return fn().catch((error: unknown) => {
    if (error instanceof Error && error.name === 'ConflictError') throw error;
    return withRegistryErrors(() => Promise.reject(error), target);
  });
}

/** The registry behind the experiment: release.json read with its ETag, written compare-and-swap. */
function storeOf(target: Target, me: string): ExperimentStore {
  const store = experimentStore({
    client: target.client,
    location: target.location,
    updatedBy: me,
    initial: target.initial,
  });
  return {
    read: () => s3Errors(() => store.read(), target),
    write: (generation, change) => s3Errors(() => store.write(generation, change), target),
  };
}

/** "5,10,25,50" → [5, 10, 25, 50]. */
function parseSteps(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) {
    throw new UserError(
      `--steps '${text}': give whole percents separated by commas, e.g. --steps 5,10,25,50`,
      exitCodes.usage,
    );
  }
  return parts.map(Number);
}

function parsePercent(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 100) {
    throw new UserError(`${flag} '${text}': give a whole percent from 0 to 100`, exitCodes.usage);
  }
  return Number(text);
}

/** --switch-seconds: whole seconds, 0 (drop the holds as soon as the weights are applied) or more. */
function parseSwitchSeconds(text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UserError(
      `--switch-seconds '${text}': give the whole seconds (0 or more) the track giving traffic away keeps its pods after the weights move, e.g. --switch-seconds 30`,
      exitCodes.usage,
    );
  }
  return Number(text.trim());
}

/** --analysis prometheus=<url> → the URL. */
function parseAnalysis(text: string): string {
  const match = /^prometheus=(.+)$/.exec(text);
  const url = match && URL.canParse(match[1]!) ? new URL(match[1]!) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UserError(
      `--analysis '${text}': write prometheus=<url of the Prometheus server>, e.g. --analysis prometheus=http://prometheus.monitoring:9090`,
      exitCodes.usage,
    );
  }
  return match![1]!;
}

async function setUp(spec: string, flags: ExperimentFlags, io: Io) {
  if (!/\.(ya?ml|json)$/.test(spec)) {
    throw new UserError(
      `'${spec}' is not a spec file (.yaml, .yml, .json); experiments need the model's spec`,
      exitCodes.usage,
    );
  }
  const target = await resolveTarget(spec, flags, io);
  const me = whoAmI();
  return { target, model: target.model!, store: storeOf(target, me), me };
}

/**
 * The comparison between steps: TF Serving's metrics in Prometheus, per track
 * (the ServiceMonitor puts the pods' catwalk.dev/track on every series as
 * catwalk_dev_track: main or canary), every step since the start over its own
 * window, as the sequential test requires, with the spec's experiment.analysis
 * thresholds.
 */
async function analyserFor(spec: string, io: Io, store: ExperimentStore) {
  const report = validateSpecs(await readSpecSources([path.resolve(io.cwd, spec)], io.cwd));
  const raw = report.results[0]?.spec;
  const model = report.results[0]?.model;
  if (!raw || !model) return undefined;
  const thresholds = analysisThresholds(raw);
  return async (e: ExperimentRecord, where: { namespace: string }): Promise<Verdict> => {
    const decision = await analyseExperiment({
      prometheusUrl: e.analysisUrl!,
      model: model.name,
      namespace: where.namespace,
      window: Math.max(1, (Date.now() - Date.parse(e.startedAt)) / 1000),
      // Each step over its own window: the canary's share rises step by step, so pooled counts would
      // weigh its data towards later periods and a drifting error rate would bias the comparison.
      stepStarts: stepStarts(e, (await store.read()).audit ?? []),
      thresholds,
      trackSelector: { stable: 'catwalk_dev_track="main"', canary: 'catwalk_dev_track="canary"' },
    });
    return {
      verdict: decision.verdict,
      reason: decision.reason,
      tracks: decision.tracks as unknown as Record<string, unknown>,
    };
  };
}

/** Runs one lifecycle command, printing each action; maps refusals to one-line errors. */
async function drive(
  command: ExperimentCommand,
  spec: string,
  flags: ExperimentFlags,
  io: Io,
  before?: (target: Target, store: ExperimentStore) => Promise<void>,
): Promise<number> {
  const format = parseLogFormat(flags.logFormat);
  const timeoutSeconds = flags.timeout ? parseDurationSeconds(flags.timeout, '--timeout') : undefined;
  const switchSeconds =
    flags.switchSeconds !== undefined ? parseSwitchSeconds(flags.switchSeconds) : undefined;
  const { target, model, store, me } = await setUp(spec, flags, io);
  const analyse = await analyserFor(spec, io, store);
  // With --json, stdout carries the result alone and the lines go to stderr.
  const destination = (flags.json ? io.stderr : io.stdout) as Io['stdout'] & { isTTY?: boolean };
  const log =
    (format ?? defaultLogFormat(destination)) === 'json'
      ? createLogger({ destination, format: 'json', fields: { component: 'catwalk-experiment' } })
      : undefined;
  if (before) await withRegistryErrors(() => before(target, store), target);
  try {
    // Only the store's S3 calls are S3's: the cluster's and helm's failures are named below.
    const outcome = await withSignals((signal) =>
      runExperiment(command, {
        model,
        store,
        me,
        kubeconfig: flags.kubeconfig,
        context: flags.context,
        namespace: flags.namespace,
        values: flags.values,
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...(switchSeconds !== undefined ? { switchSeconds } : {}),
        ...(analyse ? { analyse } : {}),
        signal,
        onEvent: (line, fields) =>
          log ? log.info(fields, line) : destination.write(`${model.name}: ${line}\n`),
      }),
    );
    if (flags.json) io.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
    if (log) {
      const e = outcome.release.experiment;
      const fields = {
        model: model.name,
        generation: outcome.release.generation,
        stable: outcome.release.labels.stable,
        ...(e ? { canary: e.canary } : {}),
        weight: e?.weight ?? 0,
        outcome: outcome.ok ? 'done' : 'aborted',
      };
      if (outcome.ok) log.info(fields, outcome.message);
      else log.error(fields, outcome.message);
      return outcome.ok ? exitCodes.ok : exitCodes.invalid;
    }
    if (!outcome.ok) {
      io.stderr.write(`✗ ${model.name}: ${outcome.message}\n`);
      return exitCodes.invalid;
    }
    if (!flags.json) io.stdout.write(`✓ ${model.name}: ${outcome.message}\n`);
    return exitCodes.ok;
  } catch (error) {
    throw asUserError(error, model.name);
  }
}

/** What stops a command, as one line: refusals and timeouts as they are, S3 already named, the rest as the cluster's. */
function asUserError(error: unknown, model: string): unknown {
  if (
    error instanceof ExperimentRefusedError ||
    error instanceof ExperimentStuckError ||
    error instanceof KubeconfigError
  ) {
    return new UserError(`${model}: ${error.message}`, exitCodes.invalid);
  }
  if (error instanceof UserError) return error;
  if (error instanceof PrometheusQueryError) return prometheusError(error);
  return new UserError(
    `${model}: the Kubernetes cluster or helm failed: ${firstLine(error)}. ` +
      'Check --kubeconfig, --context and that the cluster answers, then run the same command again: it continues from where it stopped.',
    exitCodes.invalid,
  );
}

const firstLine = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();

function prometheusError(error: PrometheusQueryError): UserError {
  return new UserError(
    `--analysis prometheus=${error.url}: ${error.message}; check the URL and that Prometheus is up, or start without --analysis`,
    exitCodes.invalid,
  );
}

export async function experimentStartCommand(spec: string, flags: StartFlags, io: Io): Promise<number> {
  if (flags.canary === undefined) {
    throw new UserError('--canary <version> is required: the version to test', exitCodes.usage);
  }
  if (flags.steps !== undefined && flags.weight !== undefined) {
    throw new UserError(
      '--weight and --steps both set the canary weight: give --weight for a fixed weight, or --steps for a staged plan',
      exitCodes.usage,
    );
  }
  const canary = parseVersion(flags.canary, '--canary');
  const steps =
    flags.steps !== undefined ? parseSteps(flags.steps) : [parsePercent(flags.weight ?? '10', '--weight')];
  const intervalSeconds = parseDurationSeconds(flags.stepInterval ?? '10m', '--step-interval');
  const analysisUrl = flags.analysis !== undefined ? parseAnalysis(flags.analysis) : undefined;
  const command: ExperimentCommand = {
    kind: 'start',
    canary,
    steps,
    intervalSeconds,
    autoPromote: flags.autoPromote === true,
    ...(analysisUrl ? { analysisUrl } : {}),
  };
  return drive(command, spec, flags, io, async (target, store) => {
    const release = await store.read();
    // A rerun continues an experiment whose canary was checked when it started.
    if (release.experiment?.canary === canary) return;
    // The same check catwalk release makes when it serves the canary next to stable.
    const result = await checkReleaseSignatures({
      store: target.client,
      model: target.location,
      from: release.labels.stable,
      served: release.serve,
      to: [canary],
      ...(target.model?.serving.signatures ? { signatureNames: target.model.serving.signatures } : {}),
      allowBreaking: flags.allowBreaking === true,
    });
    for (const u of result.unchecked) {
      io.stderr.write(
        `warning: the signatures of version ${u.version} were not checked against stable version ${result.stable}: ${u.reason}\n`,
      );
    }
    for (const change of result.allowed) {
      io.stderr.write(
        `warning: version ${change.version} breaks callers (--allow-breaking): ${change.message}\n`,
      );
    }
    for (const change of result.additions) {
      io.stdout.write(`${target.location.name}: version ${change.version}, compatible: ${change.message}\n`);
    }
    // A wrong URL or a Prometheus that is down is found before anything is written.
    if (analysisUrl)
      await checkPrometheus(analysisUrl).catch((error: unknown) => {
        throw error instanceof PrometheusQueryError ? prometheusError(error) : error;
      });
  });
}

export async function experimentStatusCommand(spec: string, flags: ExperimentFlags, io: Io): Promise<number> {
  const { model, store } = await setUp(spec, flags, io);
  const status = await experimentStatus({
    model,
    store,
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    namespace: flags.namespace,
  }).catch((error: unknown) => {
    throw asUserError(error, model.name);
  });
  io.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : formatExperimentStatus(status));
  return exitCodes.ok;
}

export function experimentSetWeightCommand(
  spec: string,
  percent: string,
  flags: ExperimentFlags,
  io: Io,
): Promise<number> {
  return drive({ kind: 'set-weight', weight: parsePercent(percent, 'percent') }, spec, flags, io);
}

export function experimentPromoteCommand(spec: string, flags: ExperimentFlags, io: Io): Promise<number> {
  return drive({ kind: 'promote' }, spec, flags, io);
}

export function experimentAbortCommand(
  spec: string,
  flags: ExperimentFlags & { keepCapacity?: boolean },
  io: Io,
): Promise<number> {
  return drive({ kind: 'abort', ...(flags.keepCapacity ? { keepCapacity: true } : {}) }, spec, flags, io);
}
