// What a SavedModel export must hold before we push it, checked from the
// file system alone (no TensorFlow here): TF Serving fails late, with an
// obscure load error, on a folder that misses one of these.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidExportError } from './errors';
import { parseVersionFolder, RESERVED_FILES } from './location';
import { unsafePathProblem } from './records';

export interface ExportFile {
  /** Relative path with '/' separators: the key below the version folder. */
  readonly path: string;
  readonly absolute: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface CheckedExport {
  readonly dir: string;
  readonly files: readonly ExportFile[];
  readonly totalBytes: number;
}

/** Every regular file below `dir`, sorted by path; symlinks and special files are problems. */
async function walk(dir: string, problems: string[]): Promise<ExportFile[]> {
  const out: ExportFile[] = [];
  const visit = async (rel: string) => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const absolute = path.join(dir, relPath);
      if (entry.isSymbolicLink()) {
        // A link could point outside the export, and S3 has no links: refuse rather than guess.
        problems.push(`${relPath} is a symbolic link; copy the file it points to instead`);
      } else if (entry.isDirectory()) {
        await visit(relPath);
      } else if (entry.isFile()) {
        // A path the manifest cannot hold would make a version every reader calls corrupt.
        const unsafe = unsafePathProblem(relPath);
        if (unsafe) {
          problems.push(`${relPath} has ${unsafe}; rename it`);
          continue;
        }
        const stat = await fs.stat(absolute);
        out.push({ path: relPath, absolute, size: stat.size, mtimeMs: stat.mtimeMs });
      } else {
        problems.push(`${relPath} is not a regular file`);
      }
    }
  };
  await visit('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Data shards named by TF's checkpoint writer: variables.data-00000-of-00002. */
const SHARD = /^variables\/variables\.data-(\d{5})-of-(\d{5})$/;

/** The SavedModel problems of a list of relative paths (pure, for tests and for push). */
export function savedModelProblems(paths: readonly string[]): string[] {
  const problems: string[] = [];
  const set = new Set(paths);
  if (!set.has('saved_model.pb') && !set.has('saved_model.pbtxt')) {
    problems.push(
      'no saved_model.pb or saved_model.pbtxt at its root: export with tf.saved_model.save(model, dir) ' +
        '(a checkpoint or a .meta graph is not a SavedModel)',
    );
  }
  const inVariables = paths.filter((p) => p.startsWith('variables/'));
  if (inVariables.length > 0) {
    if (!set.has('variables/variables.index')) {
      problems.push('variables/ has no variables.index: the export was cut short; export it again');
    }
    const shards = inVariables.map((p) => SHARD.exec(p)).filter((m): m is RegExpExecArray => m !== null);
    if (shards.length === 0) {
      problems.push('variables/ has no data shard (variables.data-00000-of-0000N); export it again');
    } else {
      const total = Number(shards[0]![2]);
      const have = new Set(shards.filter((m) => Number(m[2]) === total).map((m) => Number(m[1])));
      const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !have.has(i));
      if (missing.length > 0 || shards.some((m) => Number(m[2]) !== total)) {
        const name = (i: number) =>
          `variables.data-${String(i).padStart(5, '0')}-of-${String(total).padStart(5, '0')}`;
        problems.push(
          `variables/ is missing data shard${missing.length === 1 ? '' : 's'} ` +
            `${missing.map(name).join(', ') || '(shard counts disagree)'}; export it again`,
        );
      }
    }
  }
  for (const reserved of RESERVED_FILES) {
    if (set.has(reserved)) problems.push(`${reserved} is reserved for Catwalk's own records; remove it`);
  }
  return problems;
}

/** Checks one export folder; throws InvalidExportError listing every problem. */
export async function checkExport(dir: string): Promise<CheckedExport> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InvalidExportError(dir, ['it does not exist or is not a folder']);
  const problems: string[] = [];
  const files = await walk(dir, problems);
  problems.push(...savedModelProblems(files.map((f) => f.path)));
  if (problems.length > 0) throw new InvalidExportError(dir, problems);
  return { dir, files, totalBytes: files.reduce((n, f) => n + f.size, 0) };
}

export interface FoundExport {
  readonly dir: string;
  /** The folder's number when its name is one (00000123), as TF Serving would read it. */
  readonly version?: number;
}

/**
 * The exports in `dir`: the folder itself when it holds saved_model.pb(txt),
 * else each numeric child folder (TF Serving's own layout), lowest first.
 */
export async function findExports(dir: string): Promise<FoundExport[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => {
    throw new InvalidExportError(dir, ['it does not exist or is not a folder']);
  });
  if (entries.some((e) => e.isFile() && /^saved_model\.pb(txt)?$/.test(e.name))) {
    // An export in a numbered folder (TF Serving's layout) carries its version in the name.
    const own = parseVersionFolder(path.basename(dir));
    return [{ dir, ...(own !== undefined ? { version: own } : {}) }];
  }
  const versions = entries
    .filter((e) => e.isDirectory())
    .map((e) => ({ name: e.name, version: parseVersionFolder(e.name) }))
    .filter((e): e is { name: string; version: number } => e.version !== undefined)
    .sort((a, b) => a.version - b.version);
  if (versions.length === 0) return [{ dir }]; // let checkExport say what is missing
  return versions.map((v) => ({ dir: path.join(dir, v.name), version: v.version }));
}
