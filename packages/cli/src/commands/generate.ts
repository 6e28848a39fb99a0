import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type ChartFile, generateCharts } from '@catwalk/chart-gen';
import { createTwoFilesPatch } from 'diff';
import { displayPath, writeFileAtomic } from '../files';
import { colors, summaryTable } from '../format';
import { exitCodes, type Io } from '../io';
import { loadModels } from './load';

export interface GenerateOptions {
  readonly out: string;
  /** Compare with what is on disk instead of writing; exit 1 when stale. */
  readonly check?: boolean;
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
  const loaded = await loadModels(paths, io);
  const models = loaded.map((l) => l.model);
  const files = generateCharts(models);
  const out = path.resolve(io.cwd, options.out);
  const shownOut = displayPath(out, io.cwd) || '.';
  const c = colors(io.color);

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
