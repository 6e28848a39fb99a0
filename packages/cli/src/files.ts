// Turning the paths a user typed into spec sources. A file named on the
// command line is always read; folders are searched, in a stable order, for
// spec files only: *.yaml, *.yml or *.json whose top level says
// `apiVersion: catwalk/...` or `kind: Model`. Everything else found there
// (generated charts, an embedded S3's data folder, values files) is skipped
// without a word, so a chart folder below the specs never breaks a rerun.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SpecSource } from '@catwalk/schema';
import { exitCodes, UserError } from './io';

const SPEC_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'out']);

/** Reads every spec file named by `inputs` (files or folders), relative to `cwd`. */
export async function readSpecSources(
  inputs: readonly string[],
  cwd: string,
  options: { readonly exclude?: readonly string[] } = {},
): Promise<SpecSource[]> {
  const exclude = new Set((options.exclude ?? []).map((dir) => path.resolve(cwd, dir)));
  const files: string[] = [];
  for (const input of inputs) {
    const absolute = path.resolve(cwd, input);
    const stat = await fs.stat(absolute).catch((error: NodeJS.ErrnoException) => {
      throw new UserError(`cannot read '${input}': ${describeFsError(error)}`, exitCodes.usage);
    });
    if (stat.isDirectory()) {
      const found = await specFilesIn(absolute, exclude);
      if (found.length === 0) {
        throw new UserError(
          `no spec files in '${input}': a spec is a .yaml, .yml or .json file starting with 'apiVersion: catwalk/v1' and 'kind: Model' (catwalk init <name> writes one)`,
          exitCodes.usage,
        );
      }
      files.push(...found);
    } else {
      files.push(absolute);
    }
  }
  const unique = [...new Set(files)];
  return Promise.all(
    unique.map(async (file) => {
      const shown = displayPath(file, cwd);
      const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new UserError(`cannot read '${shown}': ${describeFsError(error)}`, exitCodes.usage);
      });
      return { file: shown, text };
    }),
  );
}

async function specFilesIn(dir: string, exclude: ReadonlySet<string>): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name) && !exclude.has(full))
        out.push(...(await specFilesIn(full, exclude)));
    } else if (entry.isFile() && SPEC_EXTENSIONS.has(path.extname(entry.name)) && (await isSpecFile(full))) {
      out.push(full);
    }
  }
  return out;
}

/** Specs are small; anything larger is some other file and not worth reading. */
const MAX_SPEC_BYTES = 1024 * 1024;

// A top-level key: at the start of a line (block style) or after '{' or ',' (flow
// style and JSON, which is YAML too), quoted or not. Indented keys, such as a
// chart's nested objects, never match. A spec with a wrong apiVersion or broken
// YAML still matches and gets its diagnostics.
const SPEC_MARKER =
  /(?:^|[{,]\s*)["']?(?:apiVersion["']?\s*:\s*["']?catwalk\/|kind["']?\s*:\s*["']?Model\b)/m;

/** Whether a file found in a folder is a Catwalk spec (by its content, not its name). */
export async function isSpecFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (stat.size > MAX_SPEC_BYTES) return false;
    const text = await fs.readFile(file, 'utf8');
    return SPEC_MARKER.test(text);
  } catch {
    return false; // unreadable files in a searched folder are not ours to report
  }
}

/** Paths below the working directory are shown relative to it, others as given. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

export function describeFsError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return error.message;
  }
}

/**
 * Writes a file via a temporary sibling and a rename, so a reader never sees
 * half a file and an interrupted run leaves the old one intact.
 */
export async function writeFileAtomic(file: string, contents: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await fs.writeFile(temp, contents, 'utf8');
  await fs.rename(temp, file);
}
