import { deploy, KubeconfigError, type ModelProgress, OwnershipError, progressLine } from '@catwalk/deploy';
import { colors } from '../format';
import { exitCodes, type Io, UserError } from '../io';
import { loadModels } from './load';

export interface DeployFlags {
  chart?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  values?: string[];
  timeout?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** `10m`, `90s`, `300` → seconds. */
export function parseTimeout(text: string): number {
  const match = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!match)
    throw new UserError(
      `--timeout ${text}: give seconds or a duration such as 90s, 10m or 1h`,
      exitCodes.usage,
    );
  return Number(match[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(match[2] ?? 's') as 's' | 'm' | 'h'];
}

/** Installs or upgrades each model's chart and follows the rollout; exit 0 only when every model is Ready. */
export async function deployCommand(paths: readonly string[], flags: DeployFlags, io: Io): Promise<number> {
  const models = (await loadModels(paths, io)).map((l) => l.model);
  const c = colors(io.color);
  const live = (io.stdout as { isTTY?: boolean }).isTTY === true && !flags.json;
  let shown: string[] = [];
  const onProgress = (progress: readonly ModelProgress[]) => {
    if (flags.json) return;
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
      timeoutSeconds: flags.timeout ? parseTimeout(flags.timeout) : undefined,
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
