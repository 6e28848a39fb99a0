import { deploy, KubeconfigError, type ModelProgress, OwnershipError, progressLine } from '@catwalk/deploy';
import { createLogger, podName } from '@catwalk/registry';
import { parseDurationSeconds } from '../duration';
import { colors } from '../format';
import { exitCodes, type Io, UserError } from '../io';
import { loadModels } from './load';
import { parseLogFormat } from './sync';

export interface DeployFlags {
  chart?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  values?: string[];
  timeout?: string;
  dryRun?: boolean;
  json?: boolean;
  logFormat?: string;
}

/** Installs or upgrades each model's chart and follows the rollout; exit 0 only when every model is Ready. */
export async function deployCommand(paths: readonly string[], flags: DeployFlags, io: Io): Promise<number> {
  const logFormat = parseLogFormat(flags.logFormat);
  const timeoutSeconds = flags.timeout ? parseDurationSeconds(flags.timeout, '--timeout') : undefined;
  if (logFormat === 'json' && flags.json) {
    throw new UserError(
      '--json and --log-format json both write to stdout: use --json for one result at the end, or --log-format json for a line per change',
      exitCodes.usage,
    );
  }
  const models = (await loadModels(paths, io)).map((l) => l.model);
  const c = colors(io.color);
  const log =
    logFormat === 'json'
      ? createLogger({
          destination: io.stdout,
          format: 'json',
          fields: { component: 'catwalk-deploy', pod: podName() },
        })
      : undefined;
  const live = (io.stdout as { isTTY?: boolean }).isTTY === true && !flags.json && !log;
  let shown: string[] = [];
  const logged = new Map<string, string>();
  const onProgress = (progress: readonly ModelProgress[]) => {
    if (flags.json) return;
    if (log) {
      for (const event of progressEvents(progress)) {
        // One line per track whose state changed since its last line.
        const key = `${event.model}/${event.track ?? ''}`;
        const text = JSON.stringify(event);
        if (logged.get(key) === text) continue;
        logged.set(key, text);
        const { msg, ...fields } = event;
        if (fields.problems?.length) log.warn(fields, msg);
        else log.info(fields, msg);
      }
      return;
    }
    const lines = progress.map(progressLine);
    if (live) {
      // Redraw the block of progress lines in place.
      if (shown.length) io.stdout.write(`\x1b[${shown.length}A`);
      for (const line of lines) io.stdout.write(`\x1b[2K${line}\n`);
    } else {
      lines.forEach((line, i) => {
        if (line !== shown[i]) io.stdout.write(`${line}\n`);
      });
    }
    shown = lines;
  };
  let result: Awaited<ReturnType<typeof deploy>>;
  try {
    result = await deploy({
      models,
      chart: flags.chart,
      context: flags.context,
      namespace: flags.namespace,
      kubeconfig: flags.kubeconfig,
      values: flags.values,
      timeoutSeconds,
      dryRun: flags.dryRun,
      onProgress,
    });
  } catch (error) {
    if (error instanceof OwnershipError || error instanceof KubeconfigError)
      throw new UserError(error.message, exitCodes.invalid);
    if (error instanceof UserError) throw error;
    throw new UserError(`deploy failed: ${(error as Error).message}`, exitCodes.invalid);
  }
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.ok ? exitCodes.ok : exitCodes.invalid;
  }
  if (log) {
    for (const outcome of result.models) {
      if (outcome.ok && flags.dryRun)
        log.info(
          { model: outcome.model, namespace: result.namespace, changes: outcome.changes ?? [] },
          'dry run',
        );
      else if (outcome.ok)
        log.info(
          { model: outcome.model, namespace: result.namespace, seconds: outcome.seconds },
          'rolled out',
        );
      else
        log.error(
          { model: outcome.model, namespace: result.namespace, reason: outcome.reason },
          'deploy failed',
        );
    }
    return result.ok ? exitCodes.ok : exitCodes.invalid;
  }
  for (const outcome of result.models) {
    if (flags.dryRun && outcome.ok) {
      io.stdout.write(`${outcome.model} (namespace ${result.namespace}, dry run):\n`);
      for (const change of outcome.changes ?? []) {
        const fields = change.fields?.length ? `: ${change.fields.join(', ')}` : '';
        const mark = { create: c.green('+'), update: c.yellow('~'), delete: c.red('-'), unchanged: ' ' }[
          change.action
        ];
        io.stdout.write(`  ${mark} ${change.kind}/${change.name} ${change.action}${fields}\n`);
      }
    } else if (outcome.ok) {
      io.stdout.write(
        c.green(`✓ ${outcome.model} rolled out in ${result.namespace} (${outcome.seconds.toFixed(1)} s)\n`),
      );
    } else {
      io.stderr.write(c.red(`✗ ${outcome.model}: ${outcome.reason}\n`));
    }
  }
  return result.ok ? exitCodes.ok : exitCodes.invalid;
}

export interface ProgressEvent {
  readonly model: string;
  /** stable, canary, or absent while no Deployment exists yet. */
  readonly track?: string;
  readonly deployment?: string;
  readonly desired?: number;
  readonly updated?: number;
  readonly ready?: number;
  readonly zones?: Readonly<Record<string, number>>;
  readonly complete: boolean;
  readonly problems?: readonly string[];
  readonly msg: string;
}

/** A rollout's progress as log events: one per model and track. */
export function progressEvents(progress: readonly ModelProgress[]): ProgressEvent[] {
  const events: ProgressEvent[] = [];
  for (const p of progress) {
    const state = p.complete ? 'rolled out' : (p.problems[0] ?? 'rolling out');
    const problems = p.problems.length ? { problems: p.problems } : {};
    if (p.tracks.length === 0) {
      events.push({
        model: p.model,
        complete: p.complete,
        ...problems,
        msg: `waiting for the Deployment: ${state}`,
      });
    }
    for (const t of p.tracks) {
      events.push({
        model: p.model,
        track: t.track,
        deployment: t.deployment,
        desired: t.desired,
        updated: t.updated,
        ready: Math.min(t.ready, t.desired),
        zones: t.zones,
        complete: p.complete,
        ...problems,
        msg: `${t.track} ${Math.min(t.ready, t.desired)}/${t.desired} ready: ${state}`,
      });
    }
  }
  return events;
}
