import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ALB_LIMITS, type ChartFile, type GroupPlan, generateCharts, planGroups } from '@catwalk/chart-gen';
import { imageProblem } from '@catwalk/schema';
import { createTwoFilesPatch } from 'diff';
import { displayPath, writeFileAtomic } from '../files';
import { colors, summaryTable } from '../format';
import { exitCodes, type Io, UserError } from '../io';
import { loadModels } from './load';

export interface GenerateOptions {
  readonly out: string;
  /** Compare with what is on disk instead of writing; exit 1 when stale. */
  readonly check?: boolean;
  /** Sidecar image of every chart (a mirror, for instance). */
  readonly syncImage?: string;
  /** Environment: the default load balancer group catwalk-<environment>. */
  readonly environment?: string;
  /** The account's rules-per-ALB quota, when raised above the default 100. */
  readonly rulesQuota?: string;
}

/** Checks the options before anything is generated; a bad one is a usage error naming it. */
function resolveOptions(options: GenerateOptions) {
  if (options.syncImage !== undefined) {
    const problem = imageProblem(options.syncImage);
    if (problem) throw new UserError(`--sync-image: ${problem.message}; ${problem.fix}`, exitCodes.usage);
  }
  if (options.environment !== undefined && !/^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/.test(options.environment)) {
    throw new UserError(
      `--environment '${options.environment}': use lower-case letters, digits and '-', at most 20 characters (e.g. prod)`,
      exitCodes.usage,
    );
  }
  let rulesQuota: number | undefined;
  if (options.rulesQuota !== undefined) {
    rulesQuota = Number(options.rulesQuota);
    if (!Number.isInteger(rulesQuota) || rulesQuota < ALB_LIMITS.rules) {
      throw new UserError(
        `--rules-quota '${options.rulesQuota}': give the account's rules-per-ALB quota, a whole number of at least ${ALB_LIMITS.rules}`,
        exitCodes.usage,
      );
    }
  }
  return {
    chart: {
      ...(options.syncImage !== undefined ? { syncImage: options.syncImage } : {}),
      ...(options.environment !== undefined ? { environment: options.environment } : {}),
    },
    groups: {
      ...(options.environment !== undefined ? { environment: options.environment } : {}),
      ...(rulesQuota !== undefined ? { rulesQuota } : {}),
    },
    rulesLimit: rulesQuota ?? ALB_LIMITS.rules,
  };
}

/** One line per load balancer group: its models and how full its ALB is. */
function groupReport(groups: readonly GroupPlan[], rulesLimit: number): string {
  const rows = groups.map((g) => [
    g.name,
    String(g.models.length),
    `${g.targetGroups}/${ALB_LIMITS.targetGroups}`,
    `${g.rules}/${rulesLimit}`,
    `${g.experimentTargetGroups} TG, ${g.experimentRules} rules`,
    `${g.scheme}${g.tls ? ', HTTPS' : ', HTTP only'}`,
  ]);
  const head = [
    'LOAD BALANCER GROUP',
    'MODELS',
    'TARGET GROUPS',
    'RULES',
    'IF ALL IN A/B TESTS',
    'LISTENERS',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

/** Marks a chart folder as Catwalk's own, so only those are ever cleaned or flagged. */
const OWN_CHART_MARK = 'catwalk.dev/spec-hash';

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Chart folders under `out` that Catwalk generated (their Chart.yaml carries its mark). */
async function ownChartFolders(out: string): Promise<string[]> {
  const entries = await fs.readdir(out, { withFileTypes: true }).catch(() => []);
  const own: string[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const chart = await readIfExists(path.join(out, entry.name, 'Chart.yaml'));
    if (chart?.includes(OWN_CHART_MARK)) own.push(entry.name);
  }
  return own;
}

interface Drift {
  readonly changed: string[];
  readonly missing: string[];
  readonly extra: string[];
  readonly patches: string[];
}

async function compare(files: readonly ChartFile[], out: string): Promise<Drift> {
  const drift: Drift = { changed: [], missing: [], extra: [], patches: [] };
  const expected = new Set(files.map((f) => f.path));
  for (const file of files) {
    const current = await readIfExists(path.join(out, file.path));
    if (current === undefined) drift.missing.push(file.path);
    else if (current !== file.contents) {
      drift.changed.push(file.path);
      drift.patches.push(
        createTwoFilesPatch(
          `a/${file.path}`,
          `b/${file.path}`,
          current,
          file.contents,
          'on disk',
          'generated',
        ),
      );
    }
  }
  for (const chart of await ownChartFolders(out)) {
    for (const file of await listFiles(path.join(out, chart))) {
      if (!expected.has(`${chart}/${file}`)) drift.extra.push(`${chart}/${file}`);
    }
  }
  return drift;
}

/** Writes a Helm chart per model to <out>/<model>/, or with --check verifies the committed ones are current. */
export async function generateCommand(
  paths: readonly string[],
  options: GenerateOptions,
  io: Io,
): Promise<number> {
  const resolved = resolveOptions(options);
  const out = path.resolve(io.cwd, options.out);
  const loaded = await loadModels(paths, io, { exclude: [out] }); // never read our own output
  const models = loaded.map((l) => l.model);
  const shownOut = displayPath(out, io.cwd) || '.';
  const c = colors(io.color);

  // Models of a group share one ALB: they must agree on its settings and fit its limits.
  const plan = planGroups(models, resolved.groups);
  const errors = plan.problems.filter((p) => p.severity === 'error');
  for (const problem of plan.problems) {
    const tag = problem.severity === 'error' ? c.red('error') : c.yellow('warning');
    io.stderr.write(`${tag}: ${problem.message}\n  fix: ${problem.fix}\n`);
  }
  if (errors.length > 0) {
    io.stderr.write(
      `catwalk: ${errors.length} load balancer group problem${errors.length === 1 ? '' : 's'}; nothing written\n`,
    );
    return exitCodes.invalid;
  }
  const files = generateCharts(models, resolved.chart);

  if (options.check) {
    const drift = await compare(files, out);
    const stale = drift.changed.length + drift.missing.length + drift.extra.length;
    if (stale === 0) {
      io.stdout.write(
        c.green(`✓ ${shownOut} is up to date: ${models.length} charts, ${files.length} files\n`),
      );
      return exitCodes.ok;
    }
    for (const patch of drift.patches) io.stdout.write(`${patch}\n`);
    for (const file of drift.missing) io.stdout.write(`${c.red('missing')}  ${shownOut}/${file}\n`);
    for (const file of drift.extra)
      io.stdout.write(`${c.red('stale')}    ${shownOut}/${file} (no longer generated)\n`);
    io.stderr.write(
      `catwalk: ${stale} file${stale === 1 ? ' is' : 's are'} out of date in ${shownOut}; regenerate with: catwalk generate ${paths.join(' ')} --out ${options.out}\n`,
    );
    return exitCodes.invalid;
  }

  io.stdout.write(summaryTable(models, c));
  io.stdout.write(`\n${groupReport(plan.groups, resolved.rulesLimit)}`);
  for (const file of files) await writeFileAtomic(path.join(out, file.path), file.contents);
  // Files a previous run wrote that this one no longer does, in charts of models still specified.
  const drift = await compare(files, out);
  const current = new Set(models.map((m) => m.name));
  for (const file of drift.extra) {
    const chart = file.split('/')[0]!;
    if (current.has(chart)) await fs.rm(path.join(out, file));
  }
  const orphaned = (await ownChartFolders(out)).filter((chart) => !current.has(chart));
  io.stdout.write(
    `\nwrote ${models.length} chart${models.length === 1 ? '' : 's'} (${files.length} files) to ${shownOut}/\n`,
  );
  for (const chart of orphaned) {
    io.stderr.write(
      `warning: ${shownOut}/${chart} is a generated chart with no spec among the inputs; delete it if the model is gone\n`,
    );
  }
  return exitCodes.ok;
}
